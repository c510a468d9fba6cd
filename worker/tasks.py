"""The worker's own task beside it in `shixian up`: the calendar file watch (listed by app/composition.py)."""

from __future__ import annotations

from worker.calendar_watch import watch_calendar
from worker.supervisor import UpContext


async def calendar_watch(ctx: UpContext) -> None:
    ctx.announce("日历监视 / calendar watch", "config/calendars")
    await watch_calendar(ctx.client, ctx.stop_event)
