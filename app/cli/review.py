"""`shixian review`: the supervisor's queue of late entries (补录) and the decision on each."""

from __future__ import annotations

import asyncio
import getpass
import json

import typer


def _fail(msg: str, code: int = 2):
    typer.echo(f"错误：{msg}", err=True)
    raise typer.Exit(code)


def _line(e: dict) -> str:
    who = f"{e['role_name']} {e['recorded_by'] or '-'}"
    head = (
        f"{e['event_id']}  {e['item_id']}（{e['department']}）{e['type']}  事件日期 {e['occurred_on'][:10]}  "
        f"登记于 {e['recorded_at'][:16].replace('T', ' ')}（{who}）"
    )
    tail = f"\n    {e['status_name']}：{e['reason']}"
    if e["status"] != "held":
        tail += f"\n    {e['decided_by']} {(e['decided_at'] or '')[:16].replace('T', ' ')}" + (
            f"：{e['decision_reason']}" if e["decision_reason"] else ""
        )
    return head + tail


review_app = typer.Typer(no_args_is_help=True, help="补录审核：登记晚于事件日期的事件须督查批准后才计入")


@review_app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    all_: bool = typer.Option(False, "--all", help="包括已批准、已驳回的补录"),
    department: str | None = typer.Option(None, "--department", help="只看某部门"),
) -> None:
    """列出待审核的补录（事件日期与登记时间）。"""
    from services.review import list_entries

    rows = list_entries(None if all_ else "held", department)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("没有待审核的补录" if not all_ else "没有补录")
        return
    for e in rows:
        typer.echo(_line(e))


def _decide(event_id: str, approve: bool, reason: str, by: str | None) -> None:
    from app.cli.common import cli_audit
    from app.cli.items import _client
    from services.review import ReviewError, decide, review_action, review_audit

    async def go():
        client = await _client()
        return await decide(client, event_id, approve=approve, reason=reason, by=by or f"operator:{getpass.getuser()}")

    try:
        e = asyncio.run(go())
    except ReviewError as exc:
        cli_audit(review_action(approve), object=event_id, outcome="failure", detail={"reason": exc.reason})
        _fail(f"[{exc.field}] {exc.reason}", 1)
    cli_audit(review_action(approve), **review_audit(e))
    typer.echo(
        f"{e['status_name']}：{e['event_id']}（{e['item_id']}，事件日期 {e['occurred_on'][:10]}，"
        f"登记于 {e['recorded_at'][:10]}）"
    )


@review_app.command("approve")
def approve(
    event_id: str = typer.Argument(..., help="补录事件的 event_id"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """批准补录：按事件自身日期计入时限。"""
    _decide(event_id, True, "", by)


@review_app.command("reject")
def reject(
    event_id: str = typer.Argument(..., help="补录事件的 event_id"),
    reason: str = typer.Option(..., "--reason", help="驳回理由（必填）"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """驳回补录：记录理由，事件不计入。"""
    _decide(event_id, False, reason, by)
