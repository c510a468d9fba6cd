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
    from domain.engine import engine, engine_in_use

    before = engine_in_use()
    old = before.calendar if before is not None else None
    problem = reload_problem()
    if problem:
        raise ReloadRefused(problem)
    departments = None
    if old is not None and old is not engine().calendar:
        changed, departments = changed_departments(old, engine().calendar)
        tell_liaisons(changed, departments, reason)
    n = await signal_open_items(await connect(), reason, actor, departments=departments)
    return Reloaded(n, engine().calendar.fingerprint())


def changed_departments(old, new, years: range | None = None) -> tuple[dict, set[str]]:
    """The changed days per region between two calendars (this year, the last and the next by default) and
    the departments whose calendar region has one: only their clocks are recomputed (re-projection per node)."""
    from domain.engine import engine
    from domain.reprojection import affected_departments, changed_days
    from domain.shanghai import today

    directory = engine().directory
    region_of = {d.id: d.region for d in directory.departments.values()}
    y = today().year
    changed = changed_days(old, new, set(region_of.values()), years or range(y - 1, y + 2))
    return changed, affected_departments(region_of, changed)


def tell_liaisons(changed: dict, departments: set[str], reason: str) -> int:
    """One 站内消息 per affected department's liaison: the changed days and the department's open items whose
    clocks are recomputed (with their due dates before the change). Returns how many messages were posted."""
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
            items = list_items(s, department=dept, state="open")
        moves = [
            f"{snap.id}：{names.get(c.rule, c.rule)} 原到期日 {c.due}"
            for snap in items
            for c in snap.clocks
            if c.state == "open" and c.due
        ]
        body = "\n".join(
            ["日历变更（" + reason + "），本部门所在地区的以下日期有变化：", *day_lines(days)]
            + (["以下事项的期限将按新日历重新计算（新的到期日见事项页）：", *moves] if moves else [])
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
    rid = await reproject_finished(client, reason)
    record(actor, "calendar.reload", detail={"items": n, "reason": reason, "reproject": rid})
    return n


async def reproject_finished(client: Client, reason: str) -> str:
    """Start the re-projection of finished items for the calendar data as it is now (one run per data)."""
    from domain.engine import engine

    wid = f"reproject:{engine().calendar.fingerprint()}"
    try:
        await client.start_workflow(
            ReprojectWorkflow.run,
            ReprojectRequest(reason=reason),
            id=wid,
            task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:  # the same data is being re-projected already
        pass
    return wid
