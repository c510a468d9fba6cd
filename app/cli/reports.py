"""CLI of the performance-assessment office: score export and locks, the annual report.

    shixian export scores --period 2026-Q3 --format xlsx --out 得分.xlsx [--department D] [--as-of DATE]
    shixian scores show --period 2026-Q3 [--department D] [--as-of DATE] [--json]
    shixian scores lock --period 2026-Q3 [--department D] [--as-of DATE] [--by PERSON]
    shixian annual-report --year 2026 [--department D | --government] --format docx|html|json|xlsx [--out FILE]
        [--entered FILE] [--as-of DATE]
    shixian annual-lock --year 2026 [--department D | --government] [--by PERSON] [--force]

The scoring use case (records, marks, locked numbers, event loading) is services/scores.py.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import NoReturn

import typer

from app.cli.common import NODE_HELP, cli_audit, fail, scope_filter
from domain.notice_text import beijing_text
from domain.scoring import Period, ScoreResult, parse_period
from services.scores import period_scores


def _fail(message: str, code: int = 1) -> NoReturn:
    fail(message, code)


def _as_of(text: str | None) -> date:
    from domain.limits import parse_iso_day

    if not text:
        from domain.shanghai import today

        return today()
    try:
        return parse_iso_day(text)
    except ValueError as exc:
        _fail(f"--as-of：{exc}")
        raise  # unreachable


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        _fail(str(exc))
        raise


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _print_summary(res: ScoreResult) -> None:
    head = f"{res.period_title}（{res.start} 至 {res.end}）时限考评，统计截止 {res.as_of}"
    if res.locked_at:
        head += f"；已锁定（{beijing_text(res.locked_at)}）"
    typer.echo(head)
    if not res.summary:
        typer.echo("本期间没有到期事项。")
    for d in res.summary:
        typer.echo(
            f"{d.department}：得分 {d.score:g}，应办 {d.items_due}，按时 {d.on_time}，逾期办结 {d.late}，"
            f"逾期未办 {d.overdue}，未到期 {d.pending}，按时率 {_pct(d.on_time_rate)}"
        )
        if d.indicators:  # the scheme's indicators: points / weight, and where the cap held
            parts = [
                f"{i.name} {i.points:g}/{i.weight:g}{'（已封顶）' if i.capped else ''}"
                for i in d.indicators.values()
                if i.weight is not None and i.points is not None
            ]
            extra = f"，加分 {d.bonus:g}" if d.bonus else ""
            typer.echo(f"  {d.scheme_name or d.scheme}：{'；'.join(parts)}{extra}")
    if res.locked_at:
        typer.echo(f"锁定后更正 {len(res.amendments)} 条")
        for a in res.amendments:
            typer.echo(
                f"  {a.change_label}：{a.department} {a.item_id} {a.rule} "
                f"{a.locked_state or '—'} → {a.current_state or '—'}"
            )


# ---------------------------------------------------------------------------------- commands


export_app = typer.Typer(no_args_is_help=True, help="导出报表")
scores_app = typer.Typer(no_args_is_help=True, help="时限考评得分")


@export_app.command("scores")
def export_scores(
    period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
    fmt: str = typer.Option("xlsx", "--format", "-f", help="csv 或 xlsx"),
    out: Path = typer.Option(..., "--out", "-o", help="输出文件"),
    department: str | None = typer.Option(None, "--department", "-d", help="只导出该部门"),
    node: str | None = typer.Option(None, "--node", "-n", help=NODE_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
) -> None:
    """导出考评得分（csv：汇总；xlsx：汇总 + 明细，已锁定期间另含更正表）。"""
    from services.exports import write_scores

    if fmt not in ("csv", "xlsx"):
        _fail(f"不支持的格式：{fmt}（可用：csv、xlsx）")
    p, day = _period(period), _as_of(as_of)
    sc = scope_filter(department, node)
    res = period_scores(p, day, sc.filter, recordings=fmt == "xlsx")
    write_scores(res, "csv" if fmt == "csv" else "xlsx", out, node=node)
    detail = {"as_of": day.isoformat(), **({"node": node} if node else {})}
    cli_audit("export.scores", object=f"{p.label} {fmt}", department=department, detail=detail)
    state = f"（已锁定期间，锁定后更正 {len(res.amendments)} 条）" if res.locked_at else ""
    typer.echo(
        f"已导出 {res.period_title} 考评得分{state}：{len(res.summary)} 个部门，{len(res.details)} 条明细 → {out}"
    )
    if res.locked_at and fmt == "csv":
        for a in res.amendments:
            typer.echo(f"  更正 {a.change_label}：{a.department} {a.item_id} {a.rule}")


@scores_app.command("show")
def scores_show(
    period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
    department: str | None = typer.Option(None, "--department", "-d"),
    node: str | None = typer.Option(None, "--node", "-n", help=NODE_HELP),
    as_of: str | None = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """显示考评得分。"""
    p, day = _period(period), _as_of(as_of)
    res = period_scores(p, day, scope_filter(department, node).filter)
    if as_json:
        typer.echo(json.dumps(res.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        _print_summary(res)


@scores_app.command("lock")
def scores_lock(
    period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
    department: str | None = typer.Option(None, "--department", "-d", help="只锁定该部门（默认全部部门）"),
    as_of: str | None = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
    by: str | None = typer.Option(None, "--by", help="锁定人"),
    force: bool = typer.Option(False, "--force", help="期间尚未结束也锁定"),
    confirm: bool = typer.Option(False, "--confirm", help="期间内有待审核的补录时仍锁定"),
) -> None:
    """锁定期间：公布的数字此后保持不变，之后的变化列为更正。"""
    from services.locks import LockRefused, lock_scores

    p, day = _period(period), _as_of(as_of)
    try:
        res = lock_scores(p, day, department=department, locked_by=by, force=force, confirm_pending=confirm)
    except LockRefused as exc:
        if exc.code == "pending_review":
            _fail(f"未锁定：{exc}\n确需锁定请加 --confirm", 1)
        if exc.code == "not_ended":
            _fail(f"{p.title}尚未结束（截止 {p.end}，统计截止日 {day}），确需锁定请加 --force")
        _fail(f"{p.title}（{department or '全部部门'}）已锁定")
    cli_audit("scores.lock", object=p.label, department=department, detail={"by": by or ""})
    typer.echo(
        f"已锁定 {p.title}（{department or '全部部门'}）：{len(res.summary)} 个部门，"
        f"{len(res.details)} 条明细，锁定时间 {beijing_text(res.locked_at)}"
    )
    _print_summary(res)


def annual_lock_cmd(
    year: int = typer.Option(..., "--year", "-y", help="报告年度"),
    department: str | None = typer.Option(None, "--department", "-d", help="部门（默认全部部门汇总）"),
    government: bool = typer.Option(False, "--government", help="政府年度报告"),
    node: str | None = typer.Option(None, "--node", help="政府年度报告的行政区划节点（默认最上级）"),
    by: str | None = typer.Option(None, "--by", help="锁定人"),
    force: bool = typer.Option(False, "--force", help="年度尚未结束也锁定"),
    confirm: bool = typer.Option(False, "--confirm", help="该年度有待审核的补录时仍锁定"),
) -> None:
    """锁定年度报告表二至表四：此后的变化列入更正说明，下一年度的上年结转按锁定数填列。
    （部门或政府的年度报告登记公布时自动锁定。）"""
    from services.annual import AnnualReportError, YearNotEnded, lock_annual_report
    from services.locks import LockRefused

    try:
        row = lock_annual_report(
            year, department, government, locked_by=by, force=force, confirm_pending=confirm, node=node
        )
    except YearNotEnded:
        _fail(f"{year}年度尚未结束，确需锁定请加 --force")
    except LockRefused as exc:
        _fail(f"未锁定：{exc}\n确需锁定请加 --confirm", 1)
    except AnnualReportError as exc:
        _fail(str(exc))
        raise
    scope = "政府" if government else (department or "全部")
    cli_audit("annual.lock", object=str(year), department=department, detail={"scope": scope, "by": by or ""})
    t3 = row.tables["table3"]
    typer.echo(
        f"已锁定{year}年度报告（{scope}）：上年结转 {t3['carried_in']['total']} 件，"
        f"办结 {t3['total']['total']} 件，结转下年度 {t3['carried_out']['total']} 件，"
        f"锁定时间 {beijing_text(row.locked_at)}"
    )


def annual_report_cmd(
    year: int = typer.Option(..., "--year", "-y", help="报告年度"),
    department: str | None = typer.Option(None, "--department", "-d", help="部门（默认全部）"),
    node: str | None = typer.Option(
        None, "--node", "-n", help="所属地区：该地区本级政府的年度报告（config/jurisdictions.toml 节点编号）"
    ),
    government: bool = typer.Option(
        False, "--government", help="政府年度报告：该级政府办公室及本级各部门（不含下级地区，各级政府各自公布）"
    ),
    fmt: str = typer.Option("json", "--format", "-f", help="docx、html、json 或 xlsx（xlsx 仅含表二至表四）"),
    out: Path | None = typer.Option(None, "--out", "-o", help="输出文件（json 可省略，输出到屏幕）"),
    entered: Path | None = typer.Option(
        None,
        "--entered",
        help="填报数（TOML 或 JSON：表二 licensing、penalty、coercion、fees，及机构人员、信息处理费、文字段落；"
        "默认 $SHIXIAN_DATA_DIR/annual-report/<年度>/<部门|government|all>.toml）",
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="时限统计截止日（默认今天）"),
) -> None:
    """政府信息公开工作年度报告（2021 年国家格式，一至六部分）草稿。"""
    from domain.report import check_table3
    from services.annual import AnnualReportError, annual_document
    from services.annual_render import write_document
    from services.exports import annual_report_json, write_annual_report

    if fmt not in ("json", "xlsx", "html", "docx"):
        _fail(f"不支持的格式：{fmt}（可用：docx、html、json、xlsx）")
    if out is None and fmt != "json":
        _fail(f"{fmt} 格式需要 --out 指定输出文件")
    if node:  # checked; without a department, the node's report is its government's (views.government_unit)
        from services.access import ApiError
        from services.views import government_unit

        scope_filter(department, node)
        if not department:
            try:
                department, government = government_unit(node), True
            except ApiError as exc:
                _fail(exc.detail)
    try:
        report = annual_document(year, department, government, node=node, entered_path=entered, as_of=_as_of(as_of))
    except AnnualReportError as exc:
        _fail(str(exc))
        raise
    problems = check_table3(report["table3"])
    if problems:
        _fail(
            "表三不满足“本年新收 + 上年结转 = 办理结果总计 + 结转下年度”等校验关系，不予输出：\n" + "\n".join(problems),
            code=2,
        )
    for note in report.get("notes", []):
        typer.echo(f"注意：{note}", err=True)
    if report.get("lock"):
        lock = report["lock"]
        typer.echo(
            f"注意：{year}年度报告已锁定（{lock['basis_label']}），表二至表四为锁定数；锁定后变化"
            f" {len(report['amendments'])} 项，见“附：更正说明”",
            err=True,
        )
    scope = "政府" if government else (department or "全部")
    cli_audit("export.annual_report", object=f"{year} {fmt}", department=department, detail={"scope": scope})
    if out is None:
        typer.echo(annual_report_json(report))
        return
    if fmt == "xlsx":
        write_annual_report(report, "xlsx", out)
    else:
        write_document(report, fmt, out)
    t3 = report["table3"]
    typer.echo(
        f"已生成《{report['title']}》：新收申请 {t3['new']['total']} 件，"
        f"上年结转 {t3['carried_in']['total']} 件，办结 {t3['total']['total']} 件，"
        f"结转下年度 {t3['carried_out']['total']} 件 → {out}"
    )
    if report["placeholders"]:
        typer.echo(f"待填 {len(report['placeholders'])} 项：" + "；".join(report["placeholders"]))
