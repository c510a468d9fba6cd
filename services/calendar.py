"""Calendar reload: every open item's workflow recomputes its clocks, and the finished items' met and missed
clocks are re-projected (`shixian calendar reload`, the API's reload, the worker's file watch all call
`reload_calendar`, so the three refuse the same broken file the same way)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.clocks import ReprojectRequest
from domain.settings import get_settings
from services.audit import SYSTEM, Actor, record
from services.queries import open_item_ids
from workflows.items import ItemWorkflow
from workflows.reproject import ReprojectWorkflow

log = logging.getLogger("shixian.calendar")


class ReloadRefused(Exception):
    """A config file on disk is broken: nothing was signalled and the last good data stays in use."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Reloaded:
    recalculating: int
    fingerprint: str


def reload_problem() -> str | None:
    """Why the config on disk may not be reloaded now, or None. Both checks the callers made before: the
    calendar files read afresh (a bad notice raises) and every config file as the engine took it."""
    from domain.calendar import load_calendar
    from domain.config import ConfigError
    from domain.engine import config_problem, engine

    try:
        load_calendar()
        engine()  # re-reads changed files; a broken file keeps the last good data
        return config_problem()
    except ConfigError as exc:
        return str(exc)


async def reload_calendar(connect: Callable[[], Awaitable[Client]], reason: str, actor: Actor = SYSTEM) -> Reloaded:
    """Check the config files, then (only when they are sound) connect and have every open item recompute;
    `ReloadRefused` when a file is broken, before any connection is made."""
    from domain.engine import engine, take_superseded_calendar

    problem = reload_problem()
    if problem:
        raise ReloadRefused(problem)
    # the calendar before the engine's last reload(s), whoever caused them (a page, an activity, this check)
    old = take_superseded_calendar()
    departments = None
    if old is not None and old is not engine().calendar:
        changed, departments = changed_departments(old, engine().calendar)
        tell_liaisons(changed, departments, reason)
    n = await signal_open_items(await connect(), reason, actor, departments=departments)
    return Reloaded(n, engine().calendar.fingerprint())


def changed_departments(old, new, years: range | None = None) -> tuple[dict, set[str]]:
    """The changed days per region between two calendars and the departments whose calendar region has one:
    only their clocks are recomputed (re-projection per node). By default the years compared are those of
    every notice file added, removed or edited (a corrected 2022 notice re-projects 2022's closed clocks),
    plus last, this and next year (estimates move with the region rules)."""
    from domain.engine import engine
    from domain.reprojection import affected_departments, changed_days
    from domain.shanghai import today

    directory = engine().directory
    region_of = {d.id: d.region for d in directory.departments.values()}
    y = today().year
    if years is None:
        compared = {y - 1, y, y + 1} | _edited_years(old, new)
    else:
        compared = set(years)
    changed = changed_days(old, new, set(region_of.values()), compared)
    return changed, affected_departments(region_of, changed)


def _edited_years(old, new) -> set[int]:
    """The years of the notice files that differ between two calendars (added, removed or edited)."""

    def content(ov) -> tuple:
        return (ov.path.name, ov.region, sorted(ov.days_off.items()), sorted(ov.workdays.items()))

    before = {repr(content(ov)): ov for ov in old.overlays}
    after = {repr(content(ov)): ov for ov in new.overlays}
    years: set[int] = set()
    for key in before.keys() ^ after.keys():
        years |= (before.get(key) or after[key]).years
    return years


def moved_clocks(snaps, days) -> list[tuple[str, str, str, str, str]]:
    """(item, rule, old due, new due, reason) of each clock of `snaps` whose due date the current calendar
    moves: open clocks recomputed from their inputs as the item's workflow will, finished ones re-projected.
    The reason names the changed days between the start and the later of the two due dates."""
    from temporalio.exceptions import ApplicationError

    from activities.clocks import calc, reproject, spec_from_snapshot

    out = []
    for snap in snaps:
        for c in snap.clocks:
            if not c.due:
                continue
            try:
                if c.state == "open":
                    new_due: str | None = calc(spec_from_snapshot(c)).due
                else:
                    moved = reproject(c, "日历变更")
                    new_due = moved[0].due if moved else c.due
            except ApplicationError:  # a clock the current data cannot compute: its workflow will say so
                continue
            if not new_due or new_due == c.due:
                continue
            hi = max(new_due, c.due)[:10]
            why = [
                f"{d.date.isoformat()}{'放假' if not d.workday else '改为工作日'}"
                for d in days
                if c.start[:10] < d.date.isoformat() <= hi
            ]
            out.append((snap.id, c.rule, c.due[:10], new_due[:10], "、".join(why)))
    return out


def tell_liaisons(changed: dict, departments: set[str], reason: str) -> int:
    """One 站内消息 per affected department's liaison: the changed days (with their notice) and what moved
    (item, rule, old due → new due, why), computed before the workflows recompute. Returns how many messages
    were posted (once per department and change: the key is the message's content)."""
    import hashlib

    from domain.engine import engine
    from domain.reprojection import day_lines
    from services.inbox import post
    from store.db import session
    from store.items import list_items

    directory = engine().directory
    names = engine().rule_names
    posted = 0
    for dept in sorted(departments):
        d = directory.departments[dept]
        days = changed.get(d.region, [])
        with session() as s:
            snaps = list_items(s, department=dept)
        moves = [
            f"{item}：{names.get(rule, rule)} {old} → {new}" + (f"（{why}）" if why else "")
            for item, rule, old, new, why in moved_clocks(snaps, days)
        ]
        body = "\n".join(
            [f"日历变更（{reason}），本部门所在地区的以下日期有变化：", *day_lines(days)]
            + (["以下期限随之变化：", *moves] if moves else ["本部门没有期限因此变化。"])
        )
        key = "calendar:" + hashlib.sha256(f"{dept}|{body}".encode()).hexdigest()[:16]
        for person in directory.people.values():
            if person.department == dept and "liaison" in person.roles:
                posted += post(
                    person.id, key=key, kind="notice", title="日历变更：本部门期限重新计算", body=body, department=dept
                ).created
    return posted


async def signal_open_items(
    client: Client, reason: str, actor: Actor = SYSTEM, *, departments: set[str] | None = None
) -> int:
    """Ask every open item's workflow (`departments`: only those departments' items) to recompute its clocks,
    and start the re-projection of the finished items' clocks; returns how many open items were reached.
    Each reload is in the audit trail as `actor`'s (the file watch's: the system's)."""
    n = 0
    for wid, _item in open_item_ids(departments):
        try:
            await client.get_workflow_handle(wid).signal(ItemWorkflow.recalculate, reason)
            n += 1
        except RPCError as exc:  # finished meanwhile
            log.info("recalculate %s skipped: %s", wid, exc)
    rid = await reproject_finished(client, reason, departments=departments)
    record(actor, "calendar.reload", detail={"items": n, "reason": reason, "reproject": rid})
    return n


async def reproject_finished(client: Client, reason: str, *, departments: set[str] | None = None) -> str:
    """Start the re-projection of finished items for the calendar data as it is now (one run per data);
    `departments`: only theirs (the departments whose calendar region changed)."""
    from domain.engine import engine

    wid = f"reproject:{engine().calendar.fingerprint()}"
    try:
        await client.start_workflow(
            ReprojectWorkflow.run,
            ReprojectRequest(reason=reason, departments=sorted(departments) if departments is not None else None),
            id=wid,
            task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:  # the same data is being re-projected already
        pass
    return wid
