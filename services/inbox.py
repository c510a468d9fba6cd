"""站内消息 (the built-in inbox): post a message to a person, list and mark a person's messages.

Every notice goes here as well as to the person's external channels (activities/notify.py), and so do the
messages that are not item notices (invites, review decisions, onboarding batches). A message is written once per
(key, person), so a retried step or a repeated call does not duplicate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, StrictInt

from domain import labels
from domain.shanghai import SHANGHAI
from store import inbox as store
from store.db import session

if TYPE_CHECKING:
    from services.access import Principal


class InboxMessageOut(BaseModel):
    id: int
    kind: str
    kind_name: str
    title: str
    body: str
    link: str | None = None  # a path inside the app
    item_id: str | None = None
    created_at: str | None = None  # Beijing time, ISO
    read: bool
    read_at: str | None = None
    state_name: str  # 已送达 / 已读


class InboxPage(BaseModel):
    messages: list[InboxMessageOut] = Field(default_factory=list)
    total: int
    unread: int
    offset: int
    limit: int


class MarkRead(BaseModel):
    # strict: `false` or "1" is not a message id (pydantic would coerce them)
    ids: list[StrictInt] | None = Field(default=None, description="要标为已读的消息编号；省略则全部标为已读")


class MarkedRead(BaseModel):
    marked: int
    unread: int


class NoPerson(Exception):
    """The principal is no person (an API token created without --person, the anonymous reader)."""


def person_of(who: Principal) -> str:
    """Whose inbox `who` reads: their own, always (services.access.Principal.person)."""
    if not who.person:
        raise NoPerson(
            "站内消息属于具体人员：当前令牌或访问未关联人员（创建令牌时请用 shixian token create --person 人员编号）"
        )
    return who.person


@dataclass(frozen=True)
class Posted:
    id: int
    created: bool


def post(
    person: str,
    *,
    key: str,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    item_id: str | None = None,
    department: str | None = None,
    db=None,
) -> Posted:
    """Put one message in `person`'s inbox (idempotent per key). `link` is a path inside the app."""
    if kind not in labels.INBOX_KINDS:
        raise ValueError(f"unknown inbox kind {kind!r}")
    with session(db) as s:
        row, created = store.add_message(
            s,
            key=key,
            person=person,
            kind=kind,
            title=title,
            body=body,
            link=link,
            item_id=item_id,
            department=department,
        )
        assert row.id is not None
        return Posted(id=row.id, created=created)


def _local(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def message_json(m: store.InboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "kind_name": labels.INBOX_KINDS.get(m.kind, m.kind),
        "title": m.title,
        "body": m.body,
        "link": m.link,
        "item_id": m.item_id,
        "created_at": _local(m.created_at),
        "read": m.read_at is not None,
        "read_at": _local(m.read_at),
        "state_name": labels.INBOX_STATES["read" if m.read_at else "unread"],
    }


def messages(person: str, *, unread_only: bool = False, offset: int = 0, limit: int = 50, db=None) -> dict[str, Any]:
    """A page of the person's messages (unread first), with the totals."""
    with session(db) as s:
        rows = store.messages_for(s, person, unread_only=unread_only, offset=offset, limit=limit)
        return {
            "messages": [message_json(m) for m in rows],
            "total": store.count_for(s, person, unread_only=unread_only),
            "unread": store.count_for(s, person, unread_only=True),
            "offset": offset,
            "limit": limit,
        }


def unread_count(person: str | None, db=None) -> int:
    if not person:
        return 0
    with session(db) as s:
        return store.count_for(s, person, unread_only=True)


def header_unread(who: Any) -> int:
    """The header badge's count for a page's principal; 0 (no badge) when there is no person or the store
    cannot answer (the page itself still renders)."""
    person = getattr(who, "person", None)
    if not person:
        return 0
    try:
        return unread_count(person)
    except Exception:  # a store problem is the page's own business, not the badge's
        return 0


def open_message(person: str, message_id: int, db=None) -> dict[str, Any] | None:
    """The person's message `message_id`, marked read (opening it is reading it); None when it is not theirs."""
    with session(db) as s:
        m = store.get_message(s, person, message_id)
        if m is None:
            return None
        if m.read_at is None:
            store.mark_read(s, person, [message_id])
            m = store.get_message(s, person, message_id)
            assert m is not None
        return message_json(m)


def mark_read(person: str, ids: list[int] | None = None, db=None) -> int:
    """Mark the person's messages read (all when `ids` is None); another person's ids are ignored."""
    with session(db) as s:
        return store.mark_read(s, person, ids)
