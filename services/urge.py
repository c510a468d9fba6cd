"""督办: a supervisor's urge on an item — a numbered 督办单 (督办〔2026〕第12号, per jurisdiction and year) with
a colour by how overdue the item is (蓝/橙/红, config/urge.toml), stored (store.accounts.add_urge), sent to
the department's liaisons and heads (workflows/urge.py: retried with backoff, then the supervisors told),
and answered inside the system: the liaison or head writes 办理情况 on the item page (`reply`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain import labels
from domain.pii import mask_text
from services.access import Principal

REPLIERS = ("liaison", "head", "supervisor", "admin")  # the department's own people (scope) and the supervisors
FIRST_ROUND_WAIT = 30.0  # seconds the page waits to say who was reached; the retries go on after


class UrgeRefused(ValueError):
    """The note is unusable (empty, too long); the message is Chinese."""


@dataclass(frozen=True)
class Urged:
    urge_id: int
    delivered: list[str] = field(default_factory=list)  # names of the people reached
    failed: list[str] = field(default_factory=list)  # not reached at the first try (retried in the background)
    recipients: int = 0
    number: str = ""  # 督办〔2026〕第12号
    colour: str = ""  # blue / orange / red
    pending: list[str] = field(default_factory=list)  # still being tried when the page answered


def clean_note(text: str, what: str = "督办意见") -> str:
    note = mask_text(text.strip())  # personal data typed into the note (domain/pii.py)
    if not note:
        raise UrgeRefused(f"{what}不能为空")
    if len(note) > 2000:
        raise UrgeRefused(f"{what}不能超过 2000 字")
    return note


def person_name(who: Principal) -> str:
    from services.views import directory

    p = directory().people.get(who.person or "")
    return p.name if p else who.actor


def jurisdiction_of(department: str) -> str:
    """The jurisdiction node of `department` (config/jurisdictions.toml): 督办单 are numbered per node."""
    from services.views import directory

    return directory().node_of(department) or department


def earlier_keys(department: str) -> tuple[str, ...]:
    """The key urges of `department` were numbered under before nodes (its node's government unit, as
    departments.toml `parent` was): this year's numbers continue from them."""
    from services.views import directory

    d = directory().departments.get(department)
    unit = (d.parent or d.id) if d else None
    return (unit,) if unit and unit != jurisdiction_of(department) else ()


def overdue_now(snap) -> int:
    """The most working days any open clock of the item is overdue today (0: none overdue)."""
    from domain.shanghai import today
    from services.views import working_days_left

    day = today()
    worst = 0
    for c in snap.clocks:
        if c.state in ("open", "paused") and c.due:
            left = working_days_left(c, day)
            if left is not None and left < 0:
                worst = max(worst, -left)
    return worst


async def urge(
    snap, who: Principal, text: str, recorded: Callable[[int], None] = lambda _id: None, client=None
) -> Urged:
    """Store `who`'s urge on the item `snap` (`recorded(urge_id)` right after: the caller's audit entry), then
    notify the department's liaisons and heads: through Temporal (`client`) with retries, or directly
    (no client: one try of every channel). UrgeRefused for a bad note, before anything is stored."""
    from activities.notify import NotificationRequest, recipients
    from domain.engine import engine
    from domain.shanghai import today
    from services.access import require_write
    from services.views import directory
    from store.accounts import add_urge, urges_for_item
    from store.db import session

    require_write(who, [snap.department], verb="督办", what="事项", item_id=snap.id)
    note = clean_note(text)
    item_id = snap.id
    practice = engine().urge
    overdue = overdue_now(snap)
    jurisdiction = jurisdiction_of(snap.department)
    with session() as s:
        before = [u for u in urges_for_item(s, item_id) if u.colour]
        colour = practice.colour(overdue, before[-1].colour if before else None)
        row = add_urge(
            s,
            item_id,
            snap.department,
            who.actor,
            note,
            jurisdiction=jurisdiction,
            continues=earlier_keys(snap.department),
            year=today().year,
            colour=colour,
            overdue_working_days=overdue,
        )
    assert row.id is not None  # set by the insert
    number = practice.number_text(row.jurisdiction, row.year, row.number)
    recorded(row.id)
    people_dir = directory()
    people = recipients(people_dir, snap.department, ["liaison", "head"])
    rules = engine().rule_names
    due = next((c.due for c in snap.clocks if c.state in ("open", "paused") and c.due), None)
    reqs = [
        NotificationRequest(
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
                "urge_number": number,
                "urge_colour": labels.label(labels.URGE_COLOURS, colour),
                "overdue_working_days": overdue,
                "rule_name": next(
                    (rules.get(c.rule, c.rule) for c in snap.clocks if c.state in ("open", "paused")), ""
                ),
            },
        )
        for pid in people
    ]
    name = lambda pid: people_dir.people[pid].name if pid in people_dir.people else pid  # noqa: E731
    done = Urged(urge_id=row.id, recipients=len(people), number=number, colour=colour)
    if not reqs:
        return done
    first = await (_through_temporal(client, row.id, reqs) if client is not None else _directly(reqs))
    if first is None:
        return Urged(**{**done.__dict__, "pending": [name(p) for p in people]})
    return Urged(
        **{
            **done.__dict__,
            "delivered": [name(r.person_id) for r in first if r.delivered],
            "failed": [name(r.person_id) for r in first if not r.delivered],
        }
    )


async def _directly(reqs) -> list:
    from activities.notify import deliver

    return [await deliver(r) for r in reqs]


async def _through_temporal(client, urge_id: int, reqs) -> list | None:
    """Start the urge's delivery workflow; its first round's results, or None when not ready in time."""
    from temporalio.common import WorkflowIDReusePolicy

    from domain.settings import get_settings
    from workflows.urge import UrgeDelivery, UrgeDeliveryWorkflow

    handle = await client.start_workflow(
        UrgeDeliveryWorkflow.run,
        UrgeDelivery(urge_id=urge_id, requests=reqs),
        # unique per call: the urge row was just created (a re-post is a new urge), and a store reset against the
        # same Temporal server must not collide with an earlier store's urge of the same number; the delivery
        # log's keys keep each notice once
        id=f"urge-delivery-{urge_id}-{uuid.uuid4().hex[:12]}",
        task_queue=get_settings().task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    loop = asyncio.get_running_loop()
    end = loop.time() + FIRST_ROUND_WAIT
    while loop.time() < end:
        try:
            first = await handle.query(UrgeDeliveryWorkflow.first_round)
        except Exception:  # not yet picked up by a worker
            first = None
        if first is not None:
            return first
        await asyncio.sleep(0.25)
    return None


# ------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class UrgeView:
    """One 督办单 as pages show it."""

    id: int
    item_id: str
    department: str
    department_name: str
    number: str
    colour: str  # blue / orange / red, "" for an urge of before the practice
    colour_name: str
    overdue_working_days: int | None
    note: str
    by: str
    by_name: str
    at: str  # Beijing time, as an office writes it
    day: str  # ISO date in Beijing (the timeline's sort key)
    reply: str
    replied_by: str
    replied_at: str
    reply_state: str


def view(row) -> UrgeView:
    from domain.engine import engine
    from domain.notice_text import beijing_text
    from domain.shanghai import SHANGHAI_OFFSET
    from services.views import directory

    d = directory()
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    person = lambda pid: d.people[pid].name if pid and pid in d.people else (pid or "")  # noqa: E731
    return UrgeView(
        id=row.id,
        item_id=row.item_id,
        department=row.department,
        department_name=d.departments[row.department].name if row.department in d.departments else row.department,
        number=engine().urge.number_text(row.jurisdiction, row.year, row.number),
        colour=row.colour or "",
        colour_name=labels.label(labels.URGE_COLOURS, row.colour) if row.colour else "",
        overdue_working_days=row.overdue_working_days,
        note=row.note,
        by=row.by,
        by_name=person(row.by),
        at=beijing_text(created),
        day=created.astimezone(SHANGHAI_OFFSET).date().isoformat(),
        reply=row.reply or "",
        replied_by=person(row.replied_by),
        replied_at=beijing_text(row.replied_at),
        reply_state=labels.URGE_REPLY_STATES["replied" if row.reply else "waiting"],
    )


def item_urges(item_id: str) -> list[UrgeView]:
    from store.accounts import urges_for_item
    from store.db import session

    with session() as s:
        return [view(u) for u in urges_for_item(s, item_id)]


def urge_list(
    who: Principal, department: str | None = None, limit: int = 50, *, node: str | None = None
) -> list[UrgeView]:
    """The newest 督办单 (the board's 督办 list): the viewer's department for a liaison, the viewer's node's
    subtree for a node-scoped supervisor (services.access.read_scope)."""
    from services.access import read_scope
    from store.accounts import recent_urges
    from store.db import session

    dept = read_scope(who, department=department, node=node, what="查看督办").filter
    with session() as s:
        return [view(u) for u in recent_urges(s, dept, limit)]


# ------------------------------------------------------------------------------------------ reply
def may_reply(who: Principal, department: str) -> bool:
    return who.role in REPLIERS and (who.role != "liaison" or who.department == department)


def reply(who: Principal, item_id: str, urge_id: int, text: str) -> UrgeView:
    """The department's 办理情况 on an urge of `item_id`, kept with who and when. A liaison or head answers
    for their own department only; a supervisor or admin may record it for the department."""
    from services.access import ApiError, forbidden
    from store.accounts import get_urge, reply_urge
    from store.db import session

    answer = clean_note(text, "办理情况")
    with session() as s:
        row = get_urge(s, urge_id)
        if row is None or row.item_id != item_id:
            raise ApiError(404, "not_found", "没有这张督办单")
        if not may_reply(who, row.department):
            raise forbidden("无权填写办理情况：只有本部门联络员、负责人或督查可以填写")
        row = reply_urge(s, urge_id, who.actor, answer)
        assert row is not None
        return view(row)


def reply_detail(v: UrgeView) -> dict[str, Any]:
    """The audit record's detail of a reply (no free text: the reply itself is on the item)."""
    return {"urge_id": v.id, "department": v.department}
