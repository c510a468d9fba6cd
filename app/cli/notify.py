"""CLI: `shixian notify test PERSON` and `shixian deliveries [--status S] [--json]`."""

from __future__ import annotations

import asyncio
import json

import typer

from app.cli.common import fail as _fail
from domain import labels
from domain.notice_text import beijing_text

notify_app = typer.Typer(no_args_is_help=True, help="通知渠道")


@notify_app.command("test")
def notify_test(person: str = typer.Argument(..., help="人员 id（departments.toml 中的 [[person]] id）")) -> None:
    """向该人员的每个通知渠道发送一条测试消息，并逐一报告结果。"""
    from activities.notify import send_test
    from domain.directory import DirectoryError
    from domain.engine import engine

    try:
        directory = engine().directory
    except DirectoryError as exc:
        _fail(str(exc))
    if person not in directory.people:
        _fail(f"未知人员“{person}”（departments.toml 中没有该 id）")
    p = directory.people[person]
    if not p.notify:
        typer.echo(f"{p.name}（{p.id}）未配置任何通知渠道。")
        raise typer.Exit(1)
    typer.echo(f"向 {p.name}（{p.id}）的 {len(p.notify)} 个渠道发送测试消息：")
    results = asyncio.run(send_test(person, directory))
    for r in results:
        if r.ok:
            typer.echo(f"  渠道{r.index + 1} {r.channel}：成功")
        else:
            typer.echo(f"  渠道{r.index + 1} {r.channel}：失败 — {r.error}")
    failed = sum(1 for r in results if not r.ok)
    if failed:
        typer.echo(f"{failed} 个渠道发送失败。")
        raise typer.Exit(1)
    typer.echo("全部渠道发送成功。")


def deliveries(
    status: str | None = typer.Option(None, "--status", help="intent（发送中）| sent（已送达）| failed（送达失败）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    item: str | None = typer.Option(None, "--item", help="只看某一事项"),
) -> None:
    """通知送达记录（每条含各渠道的尝试）。"""
    from services.deliveries import delivery_log
    from store import deliveries as store

    if status is not None and status not in store.STATES:
        _fail(f"未知状态“{status}”，可选：{'、'.join(store.STATES)}")
    data = delivery_log(status, item)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        typer.echo("没有符合条件的送达记录。")
        return
    for row in data:
        typer.echo(
            f"{labels.label(labels.DELIVERY_STATES, row['state'])}  {row['item_id']}  {labels.step_label(row['step'])}"
            f"  → {row['person']}  {beijing_text(row['sent_at'] or row['created_at'])}"
        )
        for a in row["attempts"]:
            mark = labels.label(labels.ATTEMPT_STATES, a["status"])
            where = f"渠道{a['channel_index'] + 1} {a['channel']}" if a["channel_index"] >= 0 else "（无渠道）"
            err = f" — {a['error']}" if a["error"] else ""
            typer.echo(f"    {beijing_text(a['at'], seconds=True)}  {where}  第{a['attempt']}次  {mark}{err}")
