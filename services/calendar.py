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


@dataclass(frozen=True)
class ReloadScope:
    """What a reload must recompute after the config changed from `old` to the data in use."""

    changed: dict  # calendar region -> its changed days
    departments: set[str] | None  # the departments whose clocks may move (None: every department)
    rules: frozenset[str] | None  # open items with a clock of these rules only (None: whatever their clocks)
    rule_ids: frozenset[str]  # the rules that differ (for the liaisons' message)


async def reload_calendar(connect: Callable[[], Awaitable[Client]], reason: str, actor: Actor = SYSTEM) -> Reloaded:
    """Check the config files, then (only when they are sound) connect and have every open item whose clocks
    may move recompute; `ReloadRefused` when a file is broken, before any connection is made."""
    import asyncio

    from domain.engine import engine, take_superseded

    problem = reload_problem()
    if problem:
        raise ReloadRefused(problem)
    # the data before the engine's last reload(s), whoever caused them (a page, an activity, this check)
    old = take_superseded()
    new = engine()
    scope = None
    if old is not None and old is not new:
        # the directory, the store and every item's clocks are read: off the event loop (the worker's watch
        # and the API share it with every workflow and request)
        scope = await asyncio.to_thread(reload_scope, old, new)
        await asyncio.to_thread(tell_liaisons, scope.changed, scope.departments, reason, rules=scope.rule_ids)
    n = await signal_open_items(
        await connect(),
        reason,
        actor,
        departments=scope.departments if scope else None,
        rules=scope.rules if scope else None,
    )
    # where this data places each department: the next reload compares its own with it
    await asyncio.to_thread(new.department_map)
    return Reloaded(n, new.calendar.fingerprint())


def reload_scope(old, new) -> ReloadScope:
    """The departments and rules whose clocks the change from the `old` engine data to `new` may move:
    changed calendar days (per region), changed rules (a statutory one: every department; a node's internal
    pre-deadline: the departments of its nodes, before and after), and departments placed on another
    calendar or node (jurisdictions.toml; compared when the old placement was read, else every department)."""
    changed, departments = (
        changed_departments(old.calendar, new.calendar) if old.calendar is not new.calendar else ({}, set())
    )
    touched: set[str] | None = set(departments)
    rules = changed_rules(old.rules, new.rules)
    starts = False  # a rule that may start (or no longer start) clocks: every item of its departments
    placement = new.department_map()
    for rid in rules:
        before, after = old.rules.get(rid), new.rules.get(rid)
        starts |= before is None or after is None or _start_of(before) != _start_of(after)
        nodes = [r.nodes for r in (before, after) if r is not None]
        if touched is None or any(n is None for n in nodes):
            touched = None  # a statutory rule: it applies everywhere
            continue
        within = set().union(*nodes)
        touched |= {d for d, (_region, node) in placement.items() if node in within}
    moved: set[str] = set()
    if _signature_of(old, "jurisdictions.toml") != _signature_of(new, "jurisdictions.toml"):
        if not old.placement_known:
            touched = None
        else:
            before = old.department_map()
            moved = {d for d in placement.keys() | before.keys() if placement.get(d) != before.get(d)}
    if touched is not None:
        touched |= moved
    # open items: those of departments on a changed calendar or node recompute whatever their clocks; the
    # others only when they hold a clock of a changed rule (or a rule may start a clock)
    only: frozenset[str] | None = None
    whole = _signature_of(old, "jurisdictions.toml") != _signature_of(new, "jurisdictions.toml") and not moved
    if rules and not (departments or moved or starts) and not (whole and not old.placement_known):
        only = frozenset(rules)
    return ReloadScope(changed, touched, only, frozenset(rules))


def changed_rules(old: dict, new: dict) -> set[str]:
    """The ids of the rules added, removed or edited (any field, editions and nodes included)."""
    return {rid for rid in old.keys() | new.keys() if old.get(rid) != new.get(rid)}


def _start_of(rule) -> tuple:
    """What decides whether (and when) a rule's clock starts for an item: unchanged, no new clock appears."""
    return (rule.start_event, rule.when, rule.since, rule.nodes, rule.restart)


def _signature_of(eng, name: str):
    return next((entry for entry in eng.signature[1] if entry[0] == name), None)


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


def tell_liaisons(
    changed: dict,
    departments: set[str] | None,
    reason: str,
    *,
    rules: frozenset[str] = frozenset(),
    batch: int = 200,
) -> int:
    """One 站内消息 per affected department's liaison (`departments`; None: every department): the changed days
    (with their notice) and what moved (item, rule, old due → new due, why), computed before the workflows
    recompute. A department whose calendar days did not change (a rule or its node changed) is told only when
    one of its clocks moves. The items are read `batch` departments at a time (one read per set, not per
    department or item). Blocking (store reads, every clock recomputed): callers on an event loop run it in a
    thread. Returns how many messages were posted (once per department and change: the key is the content)."""
    import hashlib

    from domain.engine import engine
    from domain.reprojection import day_lines
    from services.inbox import post
    from store.db import session
    from store.items import list_items

    directory = engine().directory
    names = engine().rule_names
    liaisons: dict[str, list[str]] = {}
    for person in directory.people.values():
        if person.department and "liaison" in person.roles:
            liaisons.setdefault(person.department, []).append(person.id)
    wanted = sorted(
        d for d in (directory.departments if departments is None else departments) if d in directory.departments
    )
    wanted = [d for d in wanted if d in liaisons]  # no liaison: nobody to tell, nothing to read
    rule_line = "、".join(sorted(names.get(r, r) for r in rules))
    posted = 0
    for at in range(0, len(wanted), batch):
        chunk = wanted[at : at + batch]
        with session() as s:
            snaps = list_items(s, department=set(chunk))
        of: dict[str, list] = {}
        for snap in snaps:
            of.setdefault(snap.department, []).append(snap)
        for dept in chunk:
            days = changed.get(directory.departments[dept].region, [])
            moves = [
                f"{item}：{names.get(rule, rule)} {old} → {new}" + (f"（{why}）" if why else "")
                for item, rule, old, new, why in moved_clocks(of.get(dept, []), days)
            ]
            if days:
                head = [f"日历变更（{reason}），本部门所在地区的以下日期有变化：", *day_lines(days)]
            elif moves:
                head = [f"时限配置变更（{reason}）" + (f"，变化的规则：{rule_line}" if rule_line else "") + "。"]
            else:
                continue
            body = "\n".join(head + (["以下期限随之变化：", *moves] if moves else ["本部门没有期限因此变化。"]))
            key = "calendar:" + hashlib.sha256(f"{dept}|{body}".encode()).hexdigest()[:16]
            for liaison in liaisons[dept]:
                posted += post(
                    liaison, key=key, kind="notice", title="日历变更：本部门期限重新计算", body=body, department=dept
                ).created
    return posted


async def signal_open_items(
    client: Client,
    reason: str,
    actor: Actor = SYSTEM,
    *,
    departments: set[str] | None = None,
    rules: frozenset[str] | None = None,
) -> int:
    """Ask every open item's workflow (`departments`: only those departments' items; `rules`: only items with
    a clock of one of them) to recompute its clocks, and start the re-projection of the finished items' clocks;
    returns how many open items were reached. Each reload is in the audit trail as `actor`'s (the file
    watch's: the system's)."""
    import asyncio

    n = 0
    for wid, _item in await asyncio.to_thread(open_item_ids, departments, rules):
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
    import hashlib

    from domain.engine import engine

    # one run per calendar and rules: a rules-only change re-projects too, even while the last run is going
    rules = hashlib.sha256(repr(sorted(engine().rules.items())).encode()).hexdigest()[:12]
    wid = f"reproject:{engine().calendar.fingerprint()}:{rules}"
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
