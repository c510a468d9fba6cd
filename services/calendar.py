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
    from domain.engine import engine

    problem = reload_problem()
    if problem:
        raise ReloadRefused(problem)
    n = await signal_open_items(await connect(), reason, actor)
    return Reloaded(n, engine().calendar.fingerprint())


async def signal_open_items(client: Client, reason: str, actor: Actor = SYSTEM) -> int:
    """Ask every open item's workflow to recompute its clocks, and start the re-projection of the finished
    items' clocks; returns how many open items were reached. Each reload is in the audit trail as
    `actor`'s (the file watch's: the system's)."""
    n = 0
    for wid, _item in open_item_ids():
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
