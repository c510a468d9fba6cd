"""Delivery log: one `Delivery` row per (item, rule, step, person) and every channel attempt.

The row is claimed (inserted with state `intent`) *before* anything is sent; its unique key is what makes
a notice exactly-once as the receivers see it (see activities/notify.py for the remaining window).
States: intent -> sent | failed (a failed row may be claimed again and go back to intent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import Item
from store.scope import Departments, department_clause

STATES = ("intent", "sent", "failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


def delivery_key(item_id: str, rule: str, step: str, person_id: str) -> str:
    return f"{item_id}:{rule}:{step}:{person_id}"


class Delivery(SQLModel, table=True):
    __tablename__ = "notify_delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=512)
    item_id: str = Field(index=True)
    rule: str = ""
    step: str = ""
    person: str = Field(default="", index=True)
    state: str = Field(default="intent", index=True)  # intent | sent | failed
    channel_used: str | None = None  # masked URL of the channel that accepted the notice
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "notify_delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, max_length=512)
    item_id: str = Field(index=True)
    step: str = ""
    person: str = ""
    channel: str = ""  # masked URL, or "" when the person has no channel at all
    channel_index: int = -1
    attempt: int = 1  # Temporal activity attempt number (1 outside Temporal)
    status: str = "failed"  # ok | failed | skipped (older rows: an SMS passed over in the quiet hours)
    error: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def _get(session: Session, key: str) -> Delivery | None:
    return session.exec(select(Delivery).where(Delivery.key == key)).first()


def claim(session: Session, key: str, *, item_id: str, rule: str = "", step: str = "", person: str = "") -> Delivery:
    """Insert the intent row for `key`, or return the existing one (insert-or-get; SQLite and PostgreSQL).

    Committed before returning, so the intent is durable before anything is sent.
    """
    row = _get(session, key)
    if row is not None:
        return row
    dialect = session.get_bind().dialect.name
    values: dict[str, Any] = dict(
        key=key, item_id=item_id, rule=rule, step=step, person=person, state="intent", created_at=utcnow()
    )
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        if dialect == "sqlite":
            session.execute(sqlite.insert(Delivery).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        else:
            session.execute(postgresql.insert(Delivery).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        session.commit()
    else:  # generic: race on the unique index, the loser reads the winner's row
        try:
            session.add(Delivery(**values))
            session.commit()
        except IntegrityError:
            session.rollback()
    row = _get(session, key)
    assert row is not None
    return row


def claim_many(
    session: Session, rows: list[dict[str, str]], *, not_before: datetime | None = None
) -> dict[str, Delivery]:
    """`claim` for many keys in one statement and one commit (the daily sweep's batch): each row a dict with
    key, item_id, rule, step, person. New rows are stamped now, or `not_before` when that is later (the
    sweep's instant). Returns the rows by key (the existing ones as they were)."""
    if not rows:
        return {}
    # In UTC as every other stamp: SQLite keeps a datetime's wall clock, so a +08:00 instant would read 8 h late.
    now = max(utcnow(), not_before.astimezone(UTC)) if not_before is not None else utcnow()
    values = [{**r, "state": "intent", "created_at": now} for r in rows]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        ins = sqlite.insert(Delivery) if dialect == "sqlite" else postgresql.insert(Delivery)
        session.execute(ins.values(values).on_conflict_do_nothing(index_elements=["key"]))
        session.commit()
    else:
        for r in rows:
            claim(session, r["key"], item_id=r["item_id"], rule=r["rule"], step=r["step"], person=r["person"])
    keys = [r["key"] for r in rows]
    found = session.exec(select(Delivery).where(col(Delivery.key).in_(keys))).all()
    return {d.key: d for d in found}


def mark_sent_many(session: Session, keys: list[str], channel: str) -> None:
    """Mark many claimed keys sent in one statement and one commit (a consolidated message carried them)."""
    if not keys:
        return
    from sqlalchemy import update

    now = utcnow()
    session.execute(
        update(Delivery)
        .where(col(Delivery.key).in_(keys), col(Delivery.state) != "sent")
        .values(state="sent", channel_used=channel, sent_at=now, error=None, updated_at=now)
    )
    session.commit()


def reopen_many(session: Session, keys: list[str]) -> None:
    """`reopen` for many keys: failed ones go back to intent."""
    if not keys:
        return
    from sqlalchemy import update

    session.execute(
        update(Delivery)
        .where(col(Delivery.key).in_(keys), col(Delivery.state) == "failed")
        .values(state="intent", updated_at=utcnow())
    )
    session.commit()


def add_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many `add_attempt` rows in one commit (one consolidated message tried on one channel)."""
    if not rows:
        return
    from sqlalchemy import insert

    now = utcnow()
    session.execute(insert(DeliveryAttempt), [{"at": now, **r} for r in rows])  # Core: no ORM object per row
    session.commit()


def _update(session: Session, key: str, **fields) -> Delivery:
    row = _get(session, key)
    if row is None:
        raise KeyError(f"no delivery {key!r}")
    for k, v in fields.items():
        setattr(row, k, v)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def mark_sent(session: Session, key: str, channel: str) -> Delivery:
    now = utcnow()
    return _update(session, key, state="sent", channel_used=channel, sent_at=now, error=None)


def mark_failed(session: Session, key: str, error: str) -> Delivery:
    return _update(session, key, state="failed", error=error)


def reopen(session: Session, key: str) -> Delivery | None:
    """A failed delivery asked for again goes back to intent (a sent one never does)."""
    row = _get(session, key)
    if row is not None and row.state == "failed":
        return _update(session, key, state="intent")
    return row


def add_attempt(
    session: Session,
    key: str,
    *,
    item_id: str,
    step: str,
    person: str,
    channel: str,
    status: str,
    error: str | None = None,
    channel_index: int = -1,
    attempt: int = 1,
) -> DeliveryAttempt:
    row = DeliveryAttempt(
        key=key,
        item_id=item_id,
        step=step,
        person=person,
        channel=channel,
        channel_index=channel_index,
        attempt=attempt,
        status=status,
        error=error,
        at=utcnow(),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def get_delivery(session: Session, key: str) -> Delivery | None:
    return _get(session, key)


def attempts_for(session: Session, key: str) -> list[DeliveryAttempt]:
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.key == key).order_by(col(DeliveryAttempt.id))
    return list(session.exec(stmt))


def list_deliveries(
    status: str | None = None,
    *,
    session: Session | None = None,
    item_id: str | None = None,
    before_id: int | None = None,
    limit: int | None = None,
    departments: Departments = None,
) -> list[Delivery]:
    """Deliveries, newest first; `status` is intent, sent or failed; `before_id` + `limit` page by id;
    `departments` (store.scope): only the notices of those departments' items (None: every notice)."""
    if status is not None and status not in STATES:
        raise ValueError(f"unknown delivery status {status!r} (one of {', '.join(STATES)})")
    own = session is None
    if session is None:
        from store.db import session as open_session

        session = open_session(expire_on_commit=False)
    try:
        stmt = select(Delivery)
        if status:
            stmt = stmt.where(Delivery.state == status)
        if item_id:
            stmt = stmt.where(Delivery.item_id == item_id)
        clause = department_clause(Item.department, departments)
        if clause is not None:  # a notice is of its item's department (notices of no item: unscoped only)
            stmt = stmt.where(col(Delivery.item_id).in_(select(Item.id).where(clause)))
        if before_id is not None:
            stmt = stmt.where(col(Delivery.id) < before_id)
        stmt = stmt.order_by(col(Delivery.id).desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(session.exec(stmt))
    finally:
        if own:
            session.close()


def deliveries_for_item(session: Session, item_id: str) -> list[Delivery]:
    """An item's notices, oldest first (the item page's 已发送提醒)."""
    return list(
        session.exec(select(Delivery).where(Delivery.item_id == item_id).order_by(col(Delivery.created_at))).all()
    )


def attempt_counts(session: Session) -> list[tuple[str, str, int]]:
    """(channel, status, attempts) over the whole delivery log."""
    from sqlalchemy import func
    from sqlalchemy import select as sa_select

    q = sa_select(col(DeliveryAttempt.channel), col(DeliveryAttempt.status), func.count()).group_by(
        col(DeliveryAttempt.channel), col(DeliveryAttempt.status)
    )
    return [(c, st, n) for c, st, n in session.execute(q)]


def deliveries_by_keys(session: Session, keys: list[str]) -> list[Delivery]:
    out: list[Delivery] = []
    for i in range(0, len(keys), 500):
        out += list(session.exec(select(Delivery).where(col(Delivery.key).in_(keys[i : i + 500]))))
    return out
