"""`shixian up`: the embedded Temporal dev server, the worker and the web in one process tree."""

from __future__ import annotations

import typer


def up_command(
    demo: bool = typer.Option(False, "--demo", help="载入演示数据 / load demo data"),
    no_http: bool = typer.Option(False, "--no-http", help="不启动网页与 API / no web server"),
) -> None:
    """启动时限：内嵌 Temporal 开发服务器、工作进程与网页（Ctrl-C 停止）。"""
    from app.composition import up_wiring
    from worker.supervisor import up

    up(up_wiring(), demo=demo, http=not no_http)
