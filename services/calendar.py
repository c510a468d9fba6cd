"""Calendar reload: every open item's workflow recomputes its clocks, and the finished items' met and missed
clocks are re-projected (`shixian calendar reload`, the API's reload, the worker's file watch)."""

from __future__ import annotations

import logging

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
