"""Calendar reload: every open item's workflow recomputes its clocks (`shixian calendar reload`, the API's
reload, the worker's file watch)."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.service import RPCError

from services.audit import SYSTEM, Actor, record
from services.queries import open_item_ids
from workflows.items import ItemWorkflow

log = logging.getLogger("shixian.calendar")


async def signal_open_items(client: Client, reason: str, actor: Actor = SYSTEM) -> int:
    """Ask every open item's workflow to recompute its clocks; returns how many were reached. Each reload is
    in the audit trail as `actor`'s (the file watch's: the system's)."""
    n = 0
    for wid, _item in open_item_ids():
        try:
            await client.get_workflow_handle(wid).signal(ItemWorkflow.recalculate, reason)
            n += 1
        except RPCError as exc:  # finished meanwhile
            log.info("recalculate %s skipped: %s", wid, exc)
    record(actor, "calendar.reload", detail={"items": n, "reason": reason})
    return n
