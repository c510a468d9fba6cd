"""`shixian config check`."""

from __future__ import annotations

import typer

config_app = typer.Typer(no_args_is_help=True, help="配置")


@config_app.command("check")
def config_check() -> None:
    """检查全部配置文件（日历、规则、提醒、部门与人员、模板）及其相互一致性。"""
    from domain.config_check import check_config

    problems = check_config()
    for p in problems:
        typer.echo(f"错误：{p}", err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo("配置检查通过")
