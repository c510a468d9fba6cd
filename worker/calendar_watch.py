"""The worker's file watch: a changed calendar file has every open workflow recompute (services.calendar)."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from services.calendar import signal_open_items

log = logging.getLogger("shixian.calendar")
POLL_SECONDS = 30


async def watch_calendar(client: Client, stop: asyncio.Event, poll: float = POLL_SECONDS) -> None:
    """Notice new or changed calendar overlays and have open workflows recompute."""
    from domain.calendar import load_calendar
    from domain.config import ConfigError
    from domain.engine import config_signature

    last = config_signature()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll)
            return
        except TimeoutError:
            pass
        sig = config_signature()
        if sig == last:
            continue
        try:
            load_calendar()
        except ConfigError as exc:  # keep the old data until the file is fixed
            log.error("日历文件有误，未重新计算：%s", exc)
            continue
        last = sig
        n = await signal_open_items(client, "日历数据已更新（检测到日历文件变化）")
        log.warning("calendar changed: %d open items recalculating", n)
