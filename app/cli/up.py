"""`shixian up`: the embedded Temporal dev server, the worker and the web in one process tree."""

from __future__ import annotations

import typer


def up_command(
    scenario: str | None = typer.Argument(
        None,
        metavar="[province]",
        help="与 --demo 一起：province 载入演示自治区（新疆维吾尔自治区，独立的配置与数据目录） / with --demo",
        show_default=False,
    ),
    demo: bool = typer.Option(
        False, "--demo", help="载入演示数据（钦州市；--demo province：演示自治区） / load demo data"
    ),
    no_http: bool = typer.Option(False, "--no-http", help="不启动网页与 API / no web server"),
) -> None:
    """启动时限：内嵌 Temporal 开发服务器、工作进程与网页（Ctrl-C 停止）。"""
    from app.composition import up_wiring
    from services.demo import CITY, PROVINCE, SCENARIOS, use_province_demo
    from worker.supervisor import up

    if scenario is not None and (not demo or scenario not in SCENARIOS):
        raise typer.BadParameter(
            f"“{scenario}” 只能跟在 --demo 后（可用：{'、'.join(SCENARIOS)}，如 shixian up --demo province）",
            param_hint="SCENARIO",
        )
    chosen = (scenario or CITY) if demo else False
    if chosen == PROVINCE:
        data, config = use_province_demo()
        typer.echo(f"演示自治区：数据目录 {data}，配置目录 {config}（由 config/demo/province/ 与 config/ 组成）")
    up(up_wiring(), demo=chosen, http=not no_http)
