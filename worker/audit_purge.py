"""The daily retention purge of the audit trail (services.audit.purge): records older than
SHIXIAN_AUDIT_RETENTION_DAYS (default and minimum 180 days, 网络安全法第二十一条) are deleted, the only deletion
the database lets through. Runs in `shixian up` and in the one `shixian worker --watch-calendar` replica."""

from __future__ import annotations

import asyncio
import logging

from services.audit import purge
from worker.supervisor import UpContext

log = logging.getLogger("shixian.audit")
EVERY_SECONDS = 24 * 3600


async def purge_daily(stop: asyncio.Event, every: float = EVERY_SECONDS) -> None:
    """Purge now, then once a day, until `stop`."""
    while not stop.is_set():
        try:
            row = await asyncio.to_thread(purge)
            if row is not None:
                log.warning("audit purge: %s records deleted", row.detail.get("deleted"))
        except Exception:  # a failed purge keeps every record; tried again tomorrow
            log.exception("审计记录过期清理失败（记录均保留，明天再试）")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass


async def audit_purge_task(ctx: UpContext) -> None:
    from domain.settings import get_settings

    ctx.announce("审计记录 / audit trail", f"保存 {get_settings().audit_retention_days} 天，每日清理过期记录")
    await purge_daily(ctx.stop_event)
