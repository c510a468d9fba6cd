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
    tail = f"\n    {e['status_name']}：{e['reason']}" + (f"\n    上传：{e['upload']}" if e.get("upload") else "")
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
    upload: str | None = typer.Option(None, "--upload", help="只看某次台账上传的补录"),
) -> None:
    """列出待审核的补录（事件日期与登记时间）。"""
    from services.review import list_entries

    rows = list_entries(None if all_ else "held", department, upload=upload)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("没有待审核的补录" if not all_ else "没有补录")
        return
    for e in rows:
        typer.echo(_line(e))


def _decide(event_ids: list[str], approve: bool, reason: str, by: str | None, upload: str | None = None) -> None:
    from app.cli.common import cli_audit
    from app.cli.items import _client
    from services.review import ReviewError, decide_many, review_action, review_audit, upload_entry_ids

    ids = list(event_ids) + (upload_entry_ids(upload) if upload else [])
    if not ids:
        _fail(
            "请给出补录事件的 event_id，或用 --upload 指定一次上传"
            if not upload
            else f"上传 {upload} 没有待审核的补录",
            1,
        )

    async def go():
        client = await _client()
        return await decide_many(client, ids, approve=approve, reason=reason, by=by or f"operator:{getpass.getuser()}")

    try:
        results = asyncio.run(go())
    except ReviewError as exc:
        for eid in ids:
            cli_audit(review_action(approve), object=eid, outcome="failure", detail={"reason": exc.reason})
        _fail(f"[{exc.field}] {exc.reason}", 1)
    failed = 0
    for r in results:
        if not r["ok"]:
            failed += 1
            cli_audit(review_action(approve), object=r["event_id"], outcome="failure", detail={"reason": r["error"]})
            typer.echo(f"错误：{r['event_id']} [{r['field']}] {r['error']}", err=True)
            continue
        e = r["entry"]
        cli_audit(review_action(approve), **review_audit(e))
        typer.echo(
            f"{e['status_name']}：{e['event_id']}（{e['item_id']}，事件日期 {e['occurred_on'][:10]}，"
            f"登记于 {e['recorded_at'][:10]}）" + (f"：{e['decision_reason']}" if e["depends_on"] else "")
        )
    if len(results) > 1:
        typer.echo(f"共 {len(results)} 条，成功 {len(results) - failed} 条，失败 {failed} 条")
    if failed:
        raise typer.Exit(1)


@review_app.command("approve")
def approve(
    event_ids: list[str] = typer.Argument(None, help="补录事件的 event_id（可多个）"),
    upload: str | None = typer.Option(None, "--upload", help="批准这次台账上传的全部待审核补录"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """批准补录：按事件自身日期计入时限（依赖它的事件随之生效）。"""
    _decide(event_ids or [], True, "", by, upload)


@review_app.command("reject")
def reject(
    event_ids: list[str] = typer.Argument(None, help="补录事件的 event_id（可多个）"),
    reason: str = typer.Option(..., "--reason", help="驳回理由（必填，对所有所选补录）"),
    upload: str | None = typer.Option(None, "--upload", help="驳回这次台账上传的全部待审核补录"),
    by: str | None = typer.Option(None, "--by", help="审核人（默认：当前系统用户）"),
) -> None:
    """驳回补录：记录理由，事件不计入（依赖它的事件重新核对）。"""
    _decide(event_ids or [], False, reason, by, upload)
