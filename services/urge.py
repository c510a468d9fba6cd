"""督办: a supervisor's urge on an item, stored (store.accounts.add_urge) and sent to the department's liaisons
and heads; the item page's form calls it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.pii import mask_text
from services.access import Principal


class UrgeRefused(ValueError):
    """The note is unusable (empty, too long); the message is Chinese."""


@dataclass(frozen=True)
class Urged:
    urge_id: int
    delivered: list[str] = field(default_factory=list)  # names of the people reached
    failed: list[str] = field(default_factory=list)
    recipients: int = 0


def clean_note(text: str) -> str:
    note = mask_text(text.strip())  # personal data typed into the note (domain/pii.py)
    if not note:
        raise UrgeRefused("督办意见不能为空")
    if len(note) > 2000:
        raise UrgeRefused("督办意见不能超过 2000 字")
    return note


def person_name(who: Principal) -> str:
    from services.views import directory

    p = directory().people.get(who.person or "")
    return p.name if p else who.actor


async def urge(snap, who: Principal, text: str, recorded: Callable[[int], None] = lambda _id: None) -> Urged:
    """Store `who`'s urge on the item `snap` (`recorded(urge_id)` right after: the caller's audit entry), then
    notify the department's liaisons and heads. UrgeRefused for a bad note, before anything is stored."""
    from activities.notify import NotificationRequest, deliver, recipients
    from domain.engine import engine
    from services.views import directory
    from store.accounts import add_urge
    from store.db import session

    note = clean_note(text)
    item_id = snap.id
    with session() as s:
        row = add_urge(s, item_id, snap.department, who.actor, note)
    assert row.id is not None  # set by the insert
    recorded(row.id)
    people_dir = directory()
    people = recipients(people_dir, snap.department, ["liaison", "head"])
    rules = engine().rule_names
    due = next((c.due for c in snap.clocks if c.state in ("open", "paused") and c.due), None)
    results = []
    for pid in people:
        req = NotificationRequest(
            item_id=item_id,
            rule="urge",
            step="urge",
            person_id=pid,
            occurrence=f"urge@{row.id}",
            context={
                "item_title": snap.title or item_id,
                "department": snap.department,
                "note": note,
                "by_name": person_name(who),
                "due": due,
                "rule_name": next(
                    (rules.get(c.rule, c.rule) for c in snap.clocks if c.state in ("open", "paused")), ""
                ),
            },
        )
        results.append(await deliver(req))
    return Urged(
        urge_id=row.id,
        delivered=[people_dir.people[r.person_id].name for r in results if r.delivered],
        failed=[people_dir.people[r.person_id].name for r in results if not r.delivered],
        recipients=len(people),
    )
