"""The daily ladder sweep's activities (issue 22 §2; workflow: workflows/sweep.py).

`sweep_department` reads a department's open day-rule clocks and the delivery log once, plans which steps are
due exactly at the sweep's instant (`domain.ladder.swept_steps`: the same plan the item's workflow would have
made, with the log as its `fired` list, never a step before its instant), groups them per person and hands
each person's steps to `activities.notify.deliver_batch` (one message per person and channel, one commit per
write kind). The item workflows leave these steps to the sweep (`PlannedStepModel.swept`, patch
`s22-ladder-sweep`); hour rules and catch-ups stay theirs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import activity

from activities.notify import DeliveryBatch, NotificationRequest, deliver_batch, recipients
from domain.engine import engine
from domain.ladder import swept_steps
from domain.shanghai import SHANGHAI
from domain.standing import overdue_working_days, working_days_left

PERSON_CONCURRENCY = 2  # batches of one department sent at once (its liaison, head, supervisors)


class SweepRequest(BaseModel):
    instant: str  # ISO datetime with offset: the sweep's instant (e.g. 09:00 +08:00 of the day)
    department: str | None = None
    # "send": the external messages (and the delivery log); "inbox": then the inbox copies of the same steps
    phase: Literal["send", "inbox"] = "send"


class SweepResult(BaseModel):
    department: str = ""
    clocks: int = 0  # open day-rule clocks looked at
    steps: int = 0  # item steps due at the instant (each to one or more people)
    notices: int = 0  # (item step, person) pairs
    messages: int = 0  # consolidated messages the channels accepted
    sent: int = 0
    already_sent: int = 0
    # Notices no channel took: the workflow retries each on the per-item path (rounds, then supervisors).
    failed: list[NotificationRequest] = Field(default_factory=list)


@activity.defn(name="sweep_departments")
async def sweep_departments(req: SweepRequest) -> list[str]:
    """The departments the sweep fans out to: those with an open item."""
    from store.db import session
    from store.sweep import sweep_departments as departments

    with session() as s:
        return departments(s)


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def plan_department(department: str, instant: dt.datetime) -> tuple[int, dict[str, list[NotificationRequest]]]:
    """(open clocks looked at, the notices due at `instant` per person id)."""
    from store.db import session
    from store.sweep import fired_occurrences, open_day_clocks

    eng = engine()
    with session() as s:
        clocks = open_day_clocks(s, department)
        fired = fired_occurrences(s, sorted({c.item_id for c in clocks}))
    day = instant.astimezone(SHANGHAI).date()
    per_person: dict[str, list[NotificationRequest]] = {}
    for c in clocks:
        rule = eng.rules.get(c.rule)
        if rule is None or rule.unit == "hours":
            continue
        ladder = eng.ladders.for_rule(rule.id, rule.unit)
        due = dt.date.fromisoformat(c.due)
        # Claims made at or after the instant are this sweep's own (a retried activity): planned again, so that
        # a claimed but unsent notice is sent; deliver_batch leaves out what the log has sent.
        seen = [(occ, _aware(t)) for occ, t in fired.get((c.item_id, c.rule), []) if _aware(t) < instant]
        post = {st.id for st in ladder.steps if st.offset > 0}
        tag = f"@{c.due}"
        overdue_at = [
            t
            for occ, t in seen
            if occ.endswith(tag) and (occ[: -len(tag)] in post or occ.startswith("overdue_repeat_"))
        ]
        steps = swept_steps(
            ladder, due, eng.calendar, c.region, instant, {occ for occ, _ in seen}, max(overdue_at, default=None)
        )
        for st in steps:
            context: dict[str, Any] = {
                "department": c.department,
                "item_type": c.item_type,
                "item_title": c.title,
                "rule_name": rule.name,
                "due": c.due,
                "due_key": st.key,
                "working_days_left": None if st.overdue else working_days_left(eng.calendar, day, due, c.region),
                "overdue_working_days": overdue_working_days(eng.calendar, due, day, c.region) if st.overdue else None,
                "provisional": c.provisional,
                "explanation": c.summary,
            }
            people = recipients(eng.directory, c.department, st.to) or [f"<{'/'.join(st.to)}@{c.department}>"]
            for p in people:
                per_person.setdefault(p, []).append(
                    NotificationRequest(
                        item_id=c.item_id, rule=c.rule, step=st.step, occurrence=st.key, person_id=p, context=context
                    )
                )
    return len(clocks), per_person


@activity.defn(name="sweep_department")
async def sweep_department(req: SweepRequest) -> SweepResult:
    """One department's steps due at the instant, one batch per person (see the module docstring)."""
    assert req.department is not None
    instant = dt.datetime.fromisoformat(req.instant)
    n_clocks, per_person = await asyncio.to_thread(plan_department, req.department, instant)
    out = SweepResult(department=req.department, clocks=n_clocks)
    out.steps = len({(r.item_id, r.rule, r.occurrence) for rs in per_person.values() for r in rs})
    out.notices = sum(len(rs) for rs in per_person.values())
    sem = asyncio.Semaphore(PERSON_CONCURRENCY)
    by_key = {r.key: r for rs in per_person.values() for r in rs}

    async def one(person: str, items: list[NotificationRequest]) -> None:
        async with sem:
            inbox = "later" if req.phase == "send" else "only"
            res = await deliver_batch(DeliveryBatch(person_id=person, items=items, inbox=inbox, instant=req.instant))
        out.messages += res.messages
        out.sent += len(res.sent)
        out.already_sent += len(res.already_sent)
        out.failed += [by_key[k] for k in res.failed]

    await asyncio.gather(*(one(p, rs) for p, rs in per_person.items()))
    return out
