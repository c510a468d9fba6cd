"""站内消息 (the built-in inbox): post a message to a person, list and mark a person's messages.

Every notice goes here as well as to the person's external channels (activities/notify.py), and so do the
messages that are not item notices (invites, review decisions, onboarding batches). A message is written once per
(key, person), so a retried step or a repeated call does not duplicate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import labels
from domain.shanghai import SHANGHAI
from store import inbox as store
from store.db import session


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


def mark_read(person: str, ids: list[int] | None = None, db=None) -> int:
    """Mark the person's messages read (all when `ids` is None); another person's ids are ignored."""
    with session(db) as s:
        return store.mark_read(s, person, ids)
