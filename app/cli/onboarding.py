"""`shixian onboarding`: a department's history (历史台账初始化) staged by its liaison, reviewed once as a batch."""

from __future__ import annotations

import asyncio
import getpass
import json

import typer

from app.cli.common import cli_audit, fail

onboarding_app = typer.Typer(
    no_args_is_help=True, help="历史台账：部门上线日期之前的台账行整批审核一次（批准后计入，驳回则不计入）"
)


def _operator(by: str | None):
    from services.access import Principal

    # The operator at the server's shell decides as an administrator would (services.review.REVIEWERS).
    return Principal(role="admin", person=by or f"os:{getpass.getuser()}")


def _head(b: dict) -> str:
    s = b["summary"]
    line = f"批次 {b['id']}  {b['department_name']}（{b['department']}）  {b['status_name']}  {s.get('rows', 0)} 行"
    if "items" in s:
        line += (
            f"，{s['items']} 个事项：按时办结 {s['on_time']}，逾期办结 {s['late']}，办理中 {s['open']}"
            + (f"，含上线后补录 {s['held']}" if s["held"] else "")
            + (f"，含被拒绝事件 {s['refused']}" if s["refused"] else "")
        )
    if b["status"] != "open":
        line += f"\n    {b['decided_by'] or ''} {(b['decided_at'] or '')[:16].replace('T', ' ')}" + (
            f"：{b['decision_reason']}" if b.get("decision_reason") else ""
        )
    return line


@onboarding_app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="包括已批准、已驳回的批次"),
    department: str | None = typer.Option(None, "--department", help="只看某部门"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """列出待审核的历史台账批次。"""
    from services.onboarding import list_batches

    rows = list_batches(_operator(None), status=None if all_ else "open", department=department)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("没有待审核的历史台账" if not all_ else "没有历史台账批次")
    for b in rows:
        typer.echo(_head(b))


@onboarding_app.command("show")
def show(
    batch_id: int = typer.Argument(..., help="批次编号"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """一个批次的汇总与每一行（事件、到期日）。"""
    from services.access import ApiError
    from services.onboarding import get_batch

    try:
        b = get_batch(_operator(None), batch_id)
    except ApiError as exc:
        fail(exc.detail, 1)
    if as_json:
        typer.echo(json.dumps(b, ensure_ascii=False, indent=2))
        return
    typer.echo(_head(b))
    for r in b["rows"]:
        evs = "，".join(f"{e['label']} {e.get('on') or ''}={e['status_label']}" for e in r["events"])
        due = "；".join(
            f"{d['name']} {d.get('due') or '—'}"
            + (f" {d['met_on']} 履行" + ("（逾期）" if d.get("late") else "") if d.get("met_on") else "")
            for d in r["due"]
            if d.get("rule")
        )
        typer.echo(
            f"  {r['filename']} 第 {r['row']} 行 {r['key']}: {r['summary_name']}（{evs}）{'  ' + due if due else ''}"
        )
        for p in r["problems"]:
            typer.echo(f"    [{p.get('column') or '-'}] {p['reason']}")


def _decide(batch_id: int, approve: bool, reason: str, by: str | None) -> None:
    from app.cli.items import _client
    from services.access import ApiError
    from services.onboarding import approve as approve_batch
    from services.onboarding import onboarding_action, onboarding_audit
    from services.onboarding import reject as reject_batch

    who = _operator(by)

    async def go():
        if approve:
            return await approve_batch(await _client(), who, batch_id, reason)
        return reject_batch(who, batch_id, reason)

    try:
        b = asyncio.run(go())
    except ApiError as exc:
        cli_audit(
            onboarding_action(approve),
            object=f"onboarding:{batch_id}",
            outcome="failure",
            detail={"reason": exc.detail},
        )
        fail(exc.detail, 1)
    cli_audit(onboarding_action(approve), **onboarding_audit(b))
    typer.echo(_head(b))


@onboarding_app.command("approve")
def approve(
    batch_id: int = typer.Argument(..., help="批次编号"),
    reason: str = typer.Option("", "--reason", help="意见（可选）"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """整批批准：各行按事件自身日期计入。"""
    _decide(batch_id, True, reason, by)


@onboarding_app.command("reject")
def reject(
    batch_id: int = typer.Argument(..., help="批次编号"),
    reason: str = typer.Option(..., "--reason", help="驳回理由（必填）"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """整批驳回：记录理由，整批不计入。"""
    _decide(batch_id, False, reason, by)
