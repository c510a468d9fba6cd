"""`shixian worker`, `shixian web`, `shixian schedules`: the production processes (see app/prod.py)."""

from __future__ import annotations

import typer


def worker_command(
    watch_calendar: bool = typer.Option(
        False, "--watch-calendar", help="监视 config/calendars/ 并通知事项重新计算（只需一个副本开启）"
    ),
) -> None:
    """生产：工作进程（连接 TEMPORAL_ADDRESS 与 DATABASE_URL，可多副本）。"""
    from app.prod import worker_main

    worker_main(watch_calendar)


def web_command() -> None:
    """生产：网页与 API（监听 SHIXIAN_HTTP，可多副本）。"""
    from app.prod import web_main

    web_main()


def schedules_command() -> None:
    """生产：创建或更新每日汇总与年报时限的 Temporal Schedule（每次部署运行一次，可重复运行）。"""
    from app.prod import schedules_main

    schedules_main()
