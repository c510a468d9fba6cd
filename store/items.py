"""Items with their clocks and late entries (补录), the aggregate an item workflow writes: snapshot upserts,
reads and item queries.

Write functions commit by default (``commit=True``); pass ``commit=False`` to group several
writes in one transaction. Every write is safe under concurrent callers on PostgreSQL and SQLite:
they are single INSERT ... ON CONFLICT statements (upserts / insert-or-ignore), never
read-then-write.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from domain.flags import MAY_BE_MARK, flag_bits, values_with
from domain.model import ClockSnapshot, ItemSnapshot
from domain.shanghai import SHANGHAI
from store.models import SUMMARY_MAX, Clock, EventRecord, Item, LateEntryRecord, utcnow
from store.models import table as sa_table
from store.scope import Departments, department_clause, where_departments


def _insert(session: Session, table):
    return insert_for(session.get_bind().dialect.name, table)


def insert_for(name: str, table):
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect: {name}")


_ITEM_SET = ("type", "department", "title", "state", "version", "data", "applicant_key", "flags", "updated_at")


_CLOCK_SET = (
    "region",
    "start",
    "due",
    "due_instant",
    "state",
    "met_on",
    "lateness_working_days",
    "provisional",
    "paused_days",
    "ladder_step",
    "explanation",
    "summary",
    "updated_at",
)


@functools.cache
def _upserts(dialect: str):
    """The item and clock upserts, built once per dialect and executed with parameters: rebuilding them for
    every write (the `excluded` columns, the compile) was most of a snapshot write's CPU."""
    table, ctable = sa_table(Item), sa_table(Clock)
    ins = insert_for(dialect, table)
    item = ins.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={k: ins.excluded[k] for k in _ITEM_SET},
        where=table.c.version < ins.excluded.version,
    ).returning(table.c.id)
    cins = insert_for(dialect, ctable)
    clock = cins.on_conflict_do_update(
        index_elements=[ctable.c.item_id, ctable.c.rule], set_={k: cins.excluded[k] for k in _CLOCK_SET}
    )
    return item, clock


def parse_instant(value: str | datetime | None) -> datetime | None:
    """ISO datetime -> aware UTC datetime; ``+08:00`` is assumed when no offset is given."""
    if value is None or value == "":
        return None
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.astimezone(UTC)


def _clock_values(item_id: str, c: ClockSnapshot, now: datetime) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "rule": c.rule,
        "region": c.region,
        "start": c.start,
        "due": c.due,
        "due_instant": parse_instant(c.due_instant),
        "state": c.state,
        "met_on": c.met_on,
        "lateness_working_days": c.lateness_working_days,
        "provisional": c.provisional,
        "paused_days": c.paused_days,
        "ladder_step": c.ladder_step,
        "explanation": c.explanation or {},
        "summary": _summary(c.explanation),
        "updated_at": now,
    }


def _summary(explanation: dict[str, Any] | None) -> str | None:
    summary = (explanation or {}).get("summary")
    if not isinstance(summary, str):
        return None
    return summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…"


def _iso_instant_local(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(SHANGHAI).isoformat()


def save_snapshot(session: Session, snap: ItemSnapshot, *, commit: bool = True) -> bool:
    """Upsert the item and its clocks if ``snap.version`` is newer than the stored one.

    Returns True when the snapshot was written, False when it was older or equal (ignored).
    The item row is written first by one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
    item.version < excluded.version``: on PostgreSQL that statement locks the row until commit, on
    SQLite it takes the database write lock, so concurrent writers of the same item are serialised
    and the newest version's clocks win.
    """
    now = utcnow()
    values = {
        "id": snap.id,
        "type": snap.type,
        "department": snap.department,
        "title": snap.title,
        "state": snap.state,
        "version": snap.version,
        "data": snap.data or {},
        "applicant_key": snap.applicant_key,
        "flags": flag_bits(snap.type, snap.data),
        "created_at": now,
        "updated_at": now,
    }
    item_upsert, clock_upsert = _upserts(session.get_bind().dialect.name)
    try:
        written = session.execute(item_upsert, values).first() is not None
        if written and snap.clocks:
            session.execute(clock_upsert, [_clock_values(snap.id, c, now) for c in snap.clocks])
        if written and snap.late_entries:
            _save_late_entries(session, snap)
        if commit:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return written


def _snapshot(item: Item, clocks: Iterable[Clock]) -> ItemSnapshot:
    return ItemSnapshot(
        id=item.id,
        type=item.type,
        department=item.department,
        title=item.title,
        state=item.state,
        version=item.version,
        data=item.data or {},
        clocks=[
            ClockSnapshot(
                rule=c.rule,
                start=c.start,
                due=c.due,
                due_instant=_iso_instant_local(c.due_instant),
                state=c.state,
                met_on=c.met_on,
                lateness_working_days=c.lateness_working_days,
                provisional=c.provisional,
                paused_days=c.paused_days,
                region=c.region,
                explanation=c.explanation or {},
                ladder_step=c.ladder_step,
            )
            for c in sorted(clocks, key=lambda c: c.id or 0)
        ],
    )


def get_item(session: Session, id: str) -> ItemSnapshot | None:
    item = session.get(Item, id)
    if item is None:
        return None
    clocks = session.execute(select(Clock).where(col(Clock.item_id) == id)).scalars().all()
    snap = _snapshot(item, clocks)
    snap.late_entries = [late_entry_model(r) for r in late_entries(session, status=None, item_id=id)]
    return snap


def late_entry_model(r: LateEntryRecord):
    from domain.review import LateEntry

    recorded_at = _iso_instant_local(r.recorded_at) or ""
    return LateEntry(
        event_id=r.event_id,
        type=r.type,
        on=r.occurred_on,
        recorded_at=recorded_at,
        recorded_on=recorded_at[:10],
        recorded_by=r.recorded_by,
        role=r.role,
        reason=r.reason,
        status=r.status,
        decided_by=r.decided_by,
        decided_at=_iso_instant_local(r.decided_at),
        decision_reason=r.decision_reason,
        content_hash=r.content_hash,
        data=r.payload or {},
        upload=r.upload,
        depends_on=r.depends_on,
    )


def list_items(
    session: Session,
    department: Departments = None,
    state: str | None = None,
    type: str | None = None,
    *,
    after: str | None = None,
    limit: int | None = None,
    ids: list[str] | None = None,
) -> list[ItemSnapshot]:
    """Snapshots ordered by id, filtered by department / item state / item type; `after` + `limit` page
    by id (keyset: a page costs the same at any depth)."""
    conds = []
    if after is not None:
        conds.append(col(Item.id) > after)
    if ids is not None:
        conds.append(col(Item.id).in_(ids))
    if (c := department_clause(col(Item.department), department)) is not None:
        conds.append(c)
    if state is not None:
        conds.append(col(Item.state) == state)
    if type is not None:
        conds.append(col(Item.type) == type)
    where = and_(true(), *conds)
    q_items = select(Item).where(where).order_by(col(Item.id))
    if limit is not None:
        q_items = q_items.limit(limit)
    items = session.execute(q_items).scalars().all()
    by_item: dict[str, list[Clock]] = {i.id: [] for i in items}
    if items and limit is not None:
        q = select(Clock).where(col(Clock.item_id).in_([i.id for i in items]))
        for c in session.execute(q).scalars():
            by_item.setdefault(c.item_id, []).append(c)
    elif items:
        q = select(Clock).join(Item, col(Item.id) == col(Clock.item_id)).where(where)
        for c in session.execute(q).scalars():
            by_item.setdefault(c.item_id, []).append(c)
    return [_snapshot(i, by_item[i.id]) for i in items]


def _save_late_entries(session: Session, snap: ItemSnapshot) -> None:
    table = sa_table(LateEntryRecord)
    rows = [
        {
            "event_id": e.event_id,
            "item_id": snap.id,
            "department": snap.department,
            "type": e.type,
            "occurred_on": e.on,
            "recorded_at": parse_instant(e.recorded_at),
            "recorded_by": e.recorded_by,
            "role": e.role,
            "reason": e.reason,
            "status": e.status,
            "decided_by": e.decided_by,
            "decided_at": parse_instant(e.decided_at),
            "decision_reason": e.decision_reason,
            "content_hash": e.content_hash,
            "payload": e.data,
            "upload": e.upload,
            "depends_on": e.depends_on,
        }
        for e in snap.late_entries
    ]
    ins = _insert(session, table).values(rows)
    session.execute(
        ins.on_conflict_do_update(
            index_elements=[table.c.event_id],
            set_={
                k: ins.excluded[k]
                for k in ("status", "decided_by", "decided_at", "decision_reason", "reason", "depends_on")
            },
        )
    )


def find_late_entry(session: Session, event_id: str) -> LateEntryRecord | None:
    return session.get(LateEntryRecord, event_id)


def late_entries(
    session: Session,
    status: str | None = "held",
    department: Departments = None,
    item_id: str | None = None,
    *,
    upload: str | None = None,
    ids: list[str] | None = None,
    occurred: tuple[str, str] | None = None,
) -> list[LateEntryRecord]:
    """The review queue (status held) or the decided entries, oldest recorded first; `upload`: of one
    ledger upload; `ids`: these event ids; `occurred`: own date in [first, last] (ISO days)."""
    q = select(LateEntryRecord)
    if upload is not None:
        q = q.where(col(LateEntryRecord.upload) == upload)
    if ids is not None:
        q = q.where(col(LateEntryRecord.event_id).in_(ids))
    if occurred is not None:
        after = (date.fromisoformat(occurred[1]) + timedelta(days=1)).isoformat()
        q = q.where(col(LateEntryRecord.occurred_on) >= occurred[0], col(LateEntryRecord.occurred_on) < after)
    if status is not None:
        q = q.where(col(LateEntryRecord.status) == status)
    q = where_departments(q, col(LateEntryRecord.department), department)
    if item_id is not None:
        q = q.where(col(LateEntryRecord.item_id) == item_id)
    q = q.order_by(col(LateEntryRecord.recorded_at), col(LateEntryRecord.event_id))
    return list(session.execute(q).scalars().all())


def finished_items_with_met_clocks(session: Session, after: str | None, limit: int) -> list[str]:
    """Ids (ordered, keyset-paged) of items no longer open that have a met or missed clock: what a
    calendar change re-projects outside the item workflows, which have ended."""
    q = (
        select(col(Clock.item_id))
        .join(Item, col(Item.id) == col(Clock.item_id))
        .where(col(Item.state) != "open", col(Clock.state).in_(("met", "missed")))
        .distinct()
        .order_by(col(Clock.item_id))
        .limit(limit)
    )
    if after is not None:
        q = q.where(col(Clock.item_id) > after)
    return list(session.execute(q).scalars().all())


def document_ids_with_marks(session: Session, department: Departments = None) -> list[str]:
    """Ids of the documents that can be scored as marks: withheld or disclosed on request, and normative
    documents without their interpretation (domain.flags.MAY_BE_MARK, from the item's flags index)."""
    withheld = select(col(Item.id)).where(
        col(Item.flags).is_not(None), col(Item.flags).in_(values_with(MAY_BE_MARK)), col(Item.type) == "document"
    )
    withheld = where_departments(withheld, col(Item.department), department)
    return list(session.execute(withheld).scalars())


def items_with_held_entries(session: Session, department: Departments = None) -> set[str]:
    """Ids of the items with a late entry waiting for review (待审核)."""
    q = select(col(LateEntryRecord.item_id)).where(col(LateEntryRecord.status) == "held")
    q = where_departments(q, col(LateEntryRecord.department), department)
    return set(session.execute(q.distinct()).scalars())


def held_late_entry_counts(session: Session) -> list[tuple[str | None, int]]:
    """(department, late entries held for review)."""
    q = (
        select(col(LateEntryRecord.department), func.count())
        .where(col(LateEntryRecord.status) == "held")
        .group_by(col(LateEntryRecord.department))
    )
    return [(d, n) for d, n in session.execute(q)]


def holds_no_items_or_events(session: Session) -> bool:
    """True when the read model holds neither an item nor an event (a fresh store)."""
    return (
        session.execute(select(col(Item.id)).limit(1)).first() is None
        and session.execute(select(col(EventRecord.event_id)).limit(1)).first() is None
    )
