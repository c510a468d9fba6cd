"""`shixian import`: a department's ledger (台账, .xlsx / .csv) through the ingest path."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from app.cli.common import cli_audit


def import_ledger(
    file: str = typer.Argument(..., help="台账文件（.xlsx 或 .csv，UTF-8 或 GB18030）"),
    department: str = typer.Option(..., "--department", "-d", help="台账所属部门 id（departments.toml）"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只预览：逐行列出将登记的事件、到期日与问题，不导入"),
    as_json: bool = typer.Option(False, "--json", help="每行输出一个 JSON 对象"),
) -> None:
    """导入依申请公开台账或政策文件台账：逐行报告 applied / duplicate / partial / rejected / nothing_new。
    申请人姓名、证件号、电话、地址、邮箱等列在读取时即被丢弃。有被拒绝的行时退出码为 1；
    工作流服务中途不可用、有行未处理时退出码为 3（重新执行同一导入即可补齐）。"""
    from app.cli.items import _client, _fail
    from domain.ledger import LedgerError
    from services.ledger_import import plan, preview, summary

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        _fail(f"{file}: 无法读取（{exc.strerror}）")
    try:
        p = plan(data, Path(file).name, department)
    except LedgerError as exc:
        _fail(str(exc))
    t = p.table
    info = [f"{p.kind_label}（{t.encoding}）：{len(p.rows)} 行，部门 {department}"]
    if t.dropped:
        info.append(f"已丢弃申请人个人信息列（未读取、未保存）：{'、'.join(t.dropped)}")
    if t.unknown:
        info.append(f"未识别的列（已忽略）：{'、'.join(t.unknown)}")
    for line in info:
        typer.echo(line, err=True)

    if dry_run:
        from store.db import get_engine

        outcomes = preview(p, get_engine())
    else:
        from services.ledger_import import apply

        n_events = sum(len(r.events) for r in p.rows)

        async def go():
            from rich.progress import Progress

            from domain.settings import get_settings
            from services.ingest import waiting_text

            client = await _client()
            show = sys.stderr.isatty() and n_events > 20
            with Progress(transient=True, disable=not show) as bar:
                task = bar.add_task("导入中", total=n_events)
                # as `events ingest`: events the service did not answer are sent again for a while
                return await apply(
                    p,
                    client,
                    recorded_by=None,
                    progress=lambda: bar.advance(task),
                    retry_seconds=get_settings().import_retry_seconds,
                    on_wait=lambda n, secs: typer.echo(waiting_text(n, secs), err=True),
                )

        outcomes = asyncio.run(go())
    for o in outcomes:
        if as_json:
            typer.echo(json.dumps({**o.as_json(), **({"dry_run": True} if dry_run else {})}, ensure_ascii=False))
        else:
            typer.echo(o.text(dry_run))
    counts = summary(outcomes)
    if not dry_run:
        cli_audit("ledger.import", object=Path(file).name, department=department, detail=counts)
    typer.echo(
        f"{'预览' if dry_run else '导入'} 共 {len(outcomes)} 行：" + "，".join(f"{k} {v}" for k, v in counts.items()),
        err=True,
    )
    if counts["unavailable"]:  # an outage, not the data: running the same import again finishes it
        raise typer.Exit(3)
    raise typer.Exit(1 if counts["rejected"] or counts["partial"] else 0)
