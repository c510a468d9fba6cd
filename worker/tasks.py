"""Tasks that run beside the worker in `shixian up` (registered on import by the supervisor)."""
from __future__ import annotations

import importlib

from worker.calendar_watch import watch_calendar
from worker.supervisor import UpContext, register_task


async def calendar_watch(ctx: UpContext) -> None:
    ctx.announce("日历监视 / calendar watch", "config/calendars")
    await watch_calendar(ctx.client, ctx.stop_event)


register_task(calendar_watch, name="calendar-watch")

# Optional parts register their own tasks (web server, demo data, digest schedule) when present.
for _name in ("app.web", "app.demo", "worker.digests", "worker.annual"):
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise
