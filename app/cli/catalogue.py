"""`shixian catalogue import | list`: a node's 基层政务公开标准目录 (.xlsx / .csv) as its duties."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

from app.cli.common import NODE_HELP, cli_audit, fail

catalogue_app = typer.Typer(
    help="基层政务公开标准目录：导入为本地区的公开事项（各有公开时限），列出", no_args_is_help=True
)


def _operator():
    from services.access import Principal

    return Principal(role="local", person=f"os:{getpass.getuser()}")


@catalogue_app.command("import")
def import_catalogue(
    file: str = typer.Argument(..., help="标准目录文件（.xlsx 或 .csv，表头如各地发布的标准目录）"),
    node: str = typer.Option(..., "--node", help=NODE_HELP),
    area: str | None = typer.Option(None, "--area", help="领域名称（如“财政预决算”；默认取文件名）"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只预览：逐行列出新增、有变更、未变与被拒绝的行，不导入"),
    as_json: bool = typer.Option(False, "--json", help="每行输出一个 JSON 对象"),
) -> None:
    """导入标准目录：每行成为本地区的一个公开事项，公开时限按原文解析（无法解析的行逐一列出，整份文件不导入）。
    同一文件重复导入不作改动；内容有变更的行更新该事项并留存变更记录。有被拒绝的行时退出码为 1。"""
    from services.access import ApiError
    from services.catalogue import CatalogueRefused, apply, plan

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: 无法读取（{exc.strerror}）")
    try:
        p = (plan if dry_run else apply)(_operator(), data, Path(file).name, node, area)
    except CatalogueRefused as exc:
        fail(str(exc))
    except ApiError as exc:
        fail(exc.detail)
    if p.unknown:
        typer.echo(f"未识别的列（已忽略）：{'、'.join(p.unknown)}", err=True)
    for line in p.problem_lines():
        typer.echo(json.dumps({"refused": line}, ensure_ascii=False) if as_json else f"拒绝 {line}")
    if p.ok:
        for r in p.rows:
            if as_json:
                typer.echo(json.dumps({**r.__dict__, "changed": list(r.changed)}, ensure_ascii=False))
            else:
                more = f"（变更：{'、'.join(r.changed)}）" if r.changed else ""
                typer.echo(f"第 {r.line} 行 序号 {r.seq} {r.name}：{r.limit} → {r.period} [{r.status}]{more}")
    typer.echo(p.summary(), err=True)
    if p.applied:
        detail = {"node": node, "area": p.area, "new": p.count("new"), "changed": p.count("changed")}
        cli_audit("catalogue.import", object=Path(file).name, detail=detail)
    raise typer.Exit(0 if p.ok else 1)


@catalogue_app.command("list")
def list_catalogue(
    node: str = typer.Option(..., "--node", help=NODE_HELP),
    as_json: bool = typer.Option(False, "--json", help="每行输出一个 JSON 对象"),
) -> None:
    """列出本地区（及下级）的标准目录事项：编号（登记 duty.formed 时的 duty）、领域、序号、名称、公开时限。"""
    from services.access import ApiError
    from services.catalogue import list_duties

    try:
        duties = list_duties(_operator(), node)
    except ApiError as exc:
        fail(exc.detail)
    for d in duties:
        if as_json:
            typer.echo(json.dumps(d, ensure_ascii=False))
        else:
            typer.echo(f"{d['id']}\t{d['node']}\t{d['area']}\t{d['seq']}\t{d['name']}\t{d['limit']} → {d['period']}")
    typer.echo(f"共 {len(duties)} 项", err=True)


@catalogue_app.command("history")
def history_catalogue(
    duty: int = typer.Argument(..., help="标准目录事项编号（shixian catalogue list 的第一列）"),
) -> None:
    """列出一个标准目录事项的变更记录：每次导入新增或更改它的文件、操作人与前后内容。"""
    from services.access import ApiError
    from services.catalogue import history

    try:
        changes = history(_operator(), duty)
    except ApiError as exc:
        fail(exc.detail)
    for c in changes:
        typer.echo(json.dumps(c, ensure_ascii=False))
