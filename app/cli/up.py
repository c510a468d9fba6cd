"""`shixian up`: the embedded Temporal dev server, the worker and the web in one process tree."""

from __future__ import annotations

import typer


def up_command(
    demo: str | None = typer.Option(
        None,
        "--demo",
        is_flag=False,
        flag_value="city",
        metavar="[city|province]",
        help="载入演示数据：--demo 为钦州市，--demo province 为新疆维吾尔自治区（独立的配置与数据目录） / load demo data",
    ),
    no_http: bool = typer.Option(False, "--no-http", help="不启动网页与 API / no web server"),
) -> None:
    """启动时限：内嵌 Temporal 开发服务器、工作进程与网页（Ctrl-C 停止）。"""
    from app.composition import up_wiring
    from services.demo import PROVINCE, SCENARIOS, use_province_demo
    from worker.supervisor import up

    if demo is not None and demo not in SCENARIOS:
        raise typer.BadParameter(f"未知的演示 “{demo}”（可用：{'、'.join(SCENARIOS)}）", param_hint="--demo")
    if demo == PROVINCE:
        data, config = use_province_demo()
        typer.echo(f"演示自治区：数据目录 {data}，配置目录 {config}（由 config/demo/province/ 与 config/ 组成）")
    up(up_wiring(), demo=demo or False, http=not no_http)
