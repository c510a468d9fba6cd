"""`shixian audit`: the audit trail at the server (the operator reads it like every CLI command).

shixian audit list   [--since D --until D --person P --action A --outcome success|failure --department D]
shixian audit export --format csv|xlsx --out F [the same filters]
shixian audit verify     recompute the hash chain (tampering outside the product shows)
shixian audit purge      delete what is older than SHIXIAN_AUDIT_RETENTION_DAYS (the worker does it daily)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from app.cli.common import cli_audit, fail

audit_app = typer.Typer(no_args_is_help=True, help="审计记录（只能追加；查询、导出、校验、过期清理）")

since_o = typer.Option(None, "--since", help="起始日期 YYYY-MM-DD（北京时间，含当天）")
until_o = typer.Option(None, "--until", help="截止日期 YYYY-MM-DD（含当天）")
person_o = typer.Option(None, "--person", help="人员编号（或 token:令牌编号、os:系统用户）")
action_o = typer.Option(None, "--action", help="操作代码，如 auth.sign_in、export.scores、review.approve")
outcome_o = typer.Option(None, "--outcome", help="success 成功 或 failure 失败")
dept_o = typer.Option(None, "--department", help="部门 id")


def _filter(since, until, person, action, outcome, department):
    from services.audit import AuditQueryError, parse_filter

    try:
        return parse_filter(since, until, person, action, outcome, department)
    except AuditQueryError as exc:
        fail(str(exc))


@audit_app.command("list")
def list_(
    since: str | None = since_o,
    until: str | None = until_o,
    person: str | None = person_o,
    action: str | None = action_o,
    outcome: str | None = outcome_o,
    department: str | None = dept_o,
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="最多显示条数（最新的在前）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON（每行一条）"),
) -> None:
    """列出审计记录（最新的在前）。"""
    from services.audit import search

    page = search("operator", _filter(since, until, person, action, outcome, department), limit=limit)
    if as_json:
        for r in page.rows:
            typer.echo(json.dumps(asdict(r), ensure_ascii=False))
        return
    if not page.rows:
        typer.echo("没有符合条件的审计记录。")
        return
    for r in page.rows:
        who = f"{r.actor}{' ' + r.actor_name if r.actor_name else ''}（{r.role}，{r.channel}）"
        where = f" 地址 {r.client}" if r.client else ""
        obj = f" {r.object}" if r.object else ""
        dept = f" [{r.department}]" if r.department else ""
        typer.echo(f"{r.id}  {r.at}  {who}  {r.action}{obj}{dept}  {r.outcome}{where}  {r.detail}".rstrip())
    more = page.total - len(page.rows)
    typer.echo(f"共 {page.total} 条" + (f"，另有 {more} 条更早的未显示（--limit）" if more > 0 else ""))


@audit_app.command("export")
def export(
    fmt: str = typer.Option("xlsx", "--format", "-f", help="csv 或 xlsx"),
    out: Path = typer.Option(..., "--out", "-o", help="输出文件"),
    since: str | None = since_o,
    until: str | None = until_o,
    person: str | None = person_o,
    action: str | None = action_o,
    outcome: str | None = outcome_o,
    department: str | None = dept_o,
) -> None:
    """导出审计记录（最早的在前）。"""
    from services.audit import export_rows, filter_detail
    from services.exports import write_audit

    if fmt not in ("csv", "xlsx"):
        fail(f"不支持的格式：{fmt}（可用：csv、xlsx）")
    f = _filter(since, until, person, action, outcome, department)
    n = write_audit(export_rows("operator", f), "csv" if fmt == "csv" else "xlsx", out)
    cli_audit("export.audit", object=f"审计记录 {fmt}", detail={**filter_detail(f), "rows": n})
    typer.echo(f"已导出 {n} 条审计记录 → {out}")


@audit_app.command("verify")
def verify_() -> None:
    """校验审计记录的哈希链：内容被改、记录被删或被重新串链都会发现。"""
    from services.audit import verify

    v = verify()
    if not v.checked:
        typer.echo("没有审计记录。")
        return
    for p in v.problems:
        typer.echo(f"错误：{p}", err=True)
    if v.problems:
        raise typer.Exit(1)
    typer.echo(f"审计记录完整：第 {v.first_id}–{v.last_id} 条共 {v.checked} 条，哈希链一致；最新一条的哈希 {v.head}")
    typer.echo("（请另行保存最新哈希：日后校验时可发现末尾记录被截去。）")


@audit_app.command("purge")
def purge_() -> None:
    """删除超过保存期限（SHIXIAN_AUDIT_RETENTION_DAYS，至少 180 天）的审计记录（工作进程每天自动执行）。"""
    from domain.settings import get_settings
    from services.audit import Actor, purge

    try:
        days = get_settings().audit_retention_days
    except ValueError as exc:
        fail(str(exc))
    row = purge(Actor.cli())
    if row is None:
        typer.echo(f"没有超过 {days} 天的审计记录。")
        return
    typer.echo(f"已删除 {row.detail['deleted']} 条超过 {days} 天的审计记录（至第 {row.detail['through_id']} 条）。")
