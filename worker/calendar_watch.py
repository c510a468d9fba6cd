"""The worker's file watch: a changed calendar file has every open workflow recompute (services.calendar)."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from services.calendar import ReloadRefused, reload_calendar

log = logging.getLogger("shixian.calendar")
POLL_SECONDS = 30


async def watch_calendar(client: Client, stop: asyncio.Event, poll: float = POLL_SECONDS) -> None:
    """Notice new or changed calendar overlays and have open workflows recompute."""
    from domain.engine import config_signature, engine

    async def connect() -> Client:
        return client

    last = config_signature()
    # where today's data places each department: the first reload compares its new placement with it (a
    # jurisdictions.toml change then reaches only the departments it moves; unread, it reaches all)
    try:
        await asyncio.to_thread(lambda: engine().department_map())
    except Exception as exc:  # a directory not readable now: the first reload then recomputes every item
        log.warning("department placement not read at start: %s", exc)
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
            done = await reload_calendar(connect, "日历数据已更新（检测到日历文件变化）")
        except ReloadRefused as exc:  # keep the old data until the file is fixed
            log.error("日历文件有误，未重新计算：%s", exc.problem)
            continue
        last = sig
        log.warning("calendar changed: %d open items recalculating", done.recalculating)
