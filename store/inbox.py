"""站内消息: the built-in inbox. Every notice also lands here, so reminders reach people with no external
channel configured, and an external channel failing never loses the inbox copy.

One row per (key, person): `key` is the notice's delivery key (or any stable id of the message), so a retried
activity or a re-run step writes the message once (insert-or-get, like the delivery log). `read_at` is set
when the person opens it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow

KINDS = ("reminder", "digest", "urge", "review", "onboarding", "invite", "delivery_failed", "test", "notice")


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox_message"
    __table_args__ = (
        UniqueConstraint("key", "person", name="uq_inbox_message_key_person"),
        Index("ix_inbox_message_person_read", "person", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=512)
    person: str = Field(index=True)
    kind: str = "notice"  # one of KINDS (labels.INBOX_KINDS)
    title: str = ""
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    link: str | None = None  # a path inside the app (never an external address)
    item_id: str | None = Field(default=None, index=True)
    department: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(timezone=True)))


def find_message(s: Session, key: str, person: str) -> InboxMessage | None:
    return s.exec(select(InboxMessage).where(InboxMessage.key == key, InboxMessage.person == person)).first()


def get_message(s: Session, person: str, message_id: int) -> InboxMessage | None:
    """Message `message_id` if it is `person`'s (another person's id reads as missing)."""
    return s.exec(select(InboxMessage).where(InboxMessage.id == message_id, InboxMessage.person == person)).first()


def add_message(
    s: Session,
    *,
    key: str,
    person: str,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    item_id: str | None = None,
    department: str | None = None,
) -> tuple[InboxMessage, bool]:
    """Insert the message once per (key, person); returns (row, created). Commits."""
    row = find_message(s, key, person)
    if row is not None:
        return row, False
    row = InboxMessage(
        key=key, person=person, kind=kind, title=title, body=body, link=link, item_id=item_id, department=department
    )
    s.add(row)
    try:
        s.commit()
    except IntegrityError:  # a concurrent writer of the same message won
        s.rollback()
        existing = find_message(s, key, person)
        assert existing is not None
        return existing, False
    s.refresh(row)
    return row, True


def add_messages(s: Session, rows: list[dict[str, Any]]) -> None:
    """`add_message` for many (key, person) rows in one commit; existing ones are left as they are."""
    if not rows:
        return
    have = set()
    keys = list({r["key"] for r in rows})
    for i in range(0, len(keys), 500):
        for k, p in s.exec(
            select(InboxMessage.key, InboxMessage.person).where(col(InboxMessage.key).in_(keys[i : i + 500]))
        ).all():
            have.add((k, p))
    fresh = [r for r in rows if (r["key"], r["person"]) not in have]
    if not fresh:
        return
    from sqlalchemy import insert

    now = utcnow()
    try:
        s.execute(insert(InboxMessage), [{"created_at": now, **r} for r in fresh])  # Core: no ORM object per row
        s.commit()
    except IntegrityError:  # a concurrent writer won some: fall back to one at a time
        s.rollback()
        for r in rows:
            add_message(s, **r)


def messages_for(
    s: Session, person: str, *, unread_only: bool = False, offset: int = 0, limit: int = 50
) -> list[InboxMessage]:
    """The person's messages, unread first, newest first within each."""
    q = select(InboxMessage).where(InboxMessage.person == person)
    if unread_only:
        q = q.where(col(InboxMessage.read_at).is_(None))
    q = q.order_by(
        col(InboxMessage.read_at).is_not(None), col(InboxMessage.created_at).desc(), col(InboxMessage.id).desc()
    )
    return list(s.exec(q.offset(offset).limit(limit)))


def count_for(s: Session, person: str, *, unread_only: bool = False) -> int:
    q = select(func.count()).select_from(InboxMessage).where(InboxMessage.person == person)
    if unread_only:
        q = q.where(col(InboxMessage.read_at).is_(None))
    return int(s.exec(q).one())


def mark_read(s: Session, person: str, ids: list[int] | None = None, *, at: datetime | None = None) -> int:
    """Mark the person's messages `ids` (all unread ones when None) read; returns how many changed. Commits.
    Only the person's own messages: another person's id is ignored."""
    q = select(InboxMessage).where(InboxMessage.person == person, col(InboxMessage.read_at).is_(None))
    if ids is not None:
        if not ids:
            return 0
        q = q.where(col(InboxMessage.id).in_(ids))
    rows = list(s.exec(q))
    when = at or utcnow()
    for r in rows:
        r.read_at = when
        s.add(r)
    s.commit()
    return len(rows)


def read_state_for_item(s: Session, item_id: str) -> dict[tuple[str, str], datetime | None]:
    """(key, person) -> read_at of the inbox copies of an item's notices (the item page's 已送达/已读)."""
    rows = s.exec(select(InboxMessage).where(InboxMessage.item_id == item_id))
    return {(r.key, r.person): r.read_at for r in rows}


def read_states(s: Session, keys: list[str]) -> dict[tuple[str, str], datetime | None]:
    """(key, person) -> read_at of the inbox copies of the notices `keys` (the delivery log's 站内消息 column)."""
    if not keys:
        return {}
    out: dict[tuple[str, str], datetime | None] = {}
    for i in range(0, len(keys), 500):  # keep the IN list short
        rows = s.exec(select(InboxMessage).where(col(InboxMessage.key).in_(keys[i : i + 500])))
        out.update({(r.key, r.person): r.read_at for r in rows})
    return out


def message_ids(s: Session, person: str, keys: list[str]) -> dict[str, int]:
    """key -> id of the person's messages of `keys`."""
    out: dict[str, int] = {}
    for i in range(0, len(keys), 500):
        stmt = select(InboxMessage.key, InboxMessage.id).where(
            InboxMessage.person == person, col(InboxMessage.key).in_(keys[i : i + 500])
        )
        out.update({k: n for k, n in s.exec(stmt) if n is not None})
    return out
