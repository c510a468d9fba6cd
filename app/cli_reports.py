"""CLI of the performance-assessment office: score export and locks, the annual report.

    shixian export scores --period 2026-Q3 --format xlsx --out 得分.xlsx [--department D] [--as-of DATE]
    shixian scores show --period 2026-Q3 [--department D] [--as-of DATE] [--json]
    shixian scores lock --period 2026-Q3 [--department D] [--as-of DATE] [--by PERSON]
    shixian annual-report --year 2026 [--department D | --government] --format docx|html|json|xlsx [--out FILE]
        [--entered FILE] [--as-of DATE]

Data access is in `load_events` / `load_snapshots` (thin, over store.models / store.repo).
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Callable, NoReturn, Optional

import typer

from app.cli_common import fail
from domain.scoring import (
    ClockRecord,
    Period,
    ScoreResult,
    calendar_overdue_days,
    parse_period,
    records_from_snapshots,
    score_period,
)


def _fail(message: str, code: int = 1) -> NoReturn:
    fail(message, code)


# ---------------------------------------------------------------------------------- data access

def _session():
    from store.db import init_db, session

    engine = init_db()
    return session(engine)


def load_events(session, until: date | None = None, *, types: tuple[str, ...] | None = None,
                item_ids: list[str] | None = None) -> list[dict]:
    """Canonical event dicts from the event log (applicant data was dropped at ingest); with `until`, only
    events that happened on or before that day (a year's report never needs later ones). Plain rows, not ORM
    objects: the log of a province is hundreds of thousands of events."""
    from sqlalchemy import select

    from store.models import EventRecord

    t = EventRecord.__table__
    q = select(t.c.payload, t.c.type, t.c.event_id, t.c.department)
    if until is not None:
        q = q.where(t.c.occurred_on <= until.isoformat())
    if types is not None:
        q = q.where(t.c.type.in_(types))
    if item_ids is not None:
        q = q.where(t.c.item_id.in_(item_ids))
    rows = session.execute(q.order_by(t.c.occurred_on, t.c.event_id))
    out = []
    for payload, type_, event_id, department in rows:
        ev = dict(payload or {})
        ev.pop("applicant", None)
        ev["type"] = type_
        ev["event_id"] = event_id
        if department and not ev.get("department"):
            ev["department"] = department
        out.append(ev)
    return out


def load_snapshots(session, department: str | None = None):
    from store.repo import list_items

    return list_items(session, department=department)


def default_overdue_days() -> Callable:
    from activities.clocks import engine

    # The calendar in use (a refused, broken notice file does not take the scores down).
    return calendar_overdue_days(engine().calendar)


def _as_of(text: Optional[str]) -> date:
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


def current_records(session, as_of: date, department: str | None = None,
                    overdue_days: Callable | None = None, period: Period | None = None) -> list[ClockRecord]:
    """Clock records as of `as_of`; with `period`, only clocks due in it (what scoring a period reads)."""
    from domain.engine import engine

    if period is None:
        snaps = load_snapshots(session, department)
        return records_from_snapshots(snaps, as_of, overdue_days or default_overdue_days(), engine().rules)
    return period_records(session, period, as_of, department, overdue_days or default_overdue_days())


def period_records(session, period: Period, as_of: date, department: str | None,
                   overdue_days: Callable) -> list[ClockRecord]:
    """records_from_snapshots for the clocks due in `period`, straight from rows (same rules: lapsing windows
    and clocks without a due date are skipped; overdue days only for overdue clocks)."""
    from domain.engine import engine
    from domain.model import ClockSnapshot
    from domain.scoring import classify
    from store.repo import clock_rows_due_between

    lapsing = {r.id for r in engine().rules.values() if r.lapses}
    out = []
    for (item_id, item_type, dept, title, rule, due, state, met_on, lateness, region,
         summary) in clock_rows_due_between(session, period.start.isoformat(), period.end.isoformat(), department):
        if not due or rule in lapsing:
            continue
        status = classify(state, due, met_on, as_of)
        overdue = None
        if status == "overdue":
            overdue = overdue_days(ClockSnapshot.model_construct(rule=rule, due=due, region=region), as_of)
        # model_construct: rows written by the store from validated snapshots; validating 30,000 again costs ~0.5 s
        out.append(ClockRecord.model_construct(
            item_id=item_id, item_type=item_type, department=dept, title=title or "", rule=rule, due=due,
            state=state, met_on=met_on, lateness_working_days=lateness, overdue_working_days=overdue,
            explanation={"summary": summary} if summary else {}))  # scoring reads only the summary
    return out


def current_marks(session, department: str | None = None) -> list:
    """Withheld documents and lost reviews/litigations (scored facts that are not clocks)."""
    from domain.scoring import marks_from_events, marks_from_snapshots

    from sqlalchemy import select

    from store.models import EventRecord, Item
    from store.repo import list_items

    # Only the rows that can be marks, selected in SQL (a province has 100,000s of items and events).
    withheld = select(Item.id).where(Item.type == "document",
                                     Item.__table__.c.data["disclosure"].as_string() == "withheld")
    if department is not None:
        withheld = withheld.where(Item.department == department)
    ids = list(session.execute(withheld).scalars())
    decided = load_events(session, types=("review.decided", "litigation.decided"))
    rids = sorted({str(e.get("request_id")) for e in decided if e.get("request_id") is not None})
    owners = load_events(session, types=("request.received",), item_ids=rids) if rids else []
    marks = marks_from_snapshots(list_items(session, ids=ids) if ids else []) + marks_from_events(owners + decided)
    return [m for m in marks if department is None or m.department == department]


def compute_scores(session, period: Period, as_of: date, department: str | None = None,
                   overdue_days: Callable | None = None) -> ScoreResult:
    """Locked numbers (+ amendments) for a locked period, else freshly computed scores."""
    from domain.engine import engine
    from domain.scoring import load_scoring
    from store.locks import locked_result

    records = current_records(session, as_of, department, overdue_days, period=period)
    res = locked_result(session, period, records, department)
    if res is None:
        res = score_period(records, period, as_of, load_scoring(), department, current_marks(session, department),
                           rules=engine().rules)
    return annotate_late_entries(session, res)


def annotate_late_entries(session, res):
    """Mark each 明细 row that an approved late entry (补录) settled, with both of its dates, so the
    assessor sees which numbers rest on an entry recorded after the fact."""
    from domain.engine import engine
    from domain.review import holds_clock
    from domain.shanghai import SHANGHAI
    from store.repo import late_entries
    from store.models import LateEntryRecord

    ids = {d.item_id for d in res.details}
    if not ids:
        return res
    by_item: dict[str, list[LateEntryRecord]] = {}
    for e in late_entries(session, status="approved", department=res.department):
        if e.item_id in ids:
            by_item.setdefault(e.item_id, []).append(e)
    rules = engine().rules
    for d in res.details:
        rule = rules.get(d.rule)
        notes = []
        for e in by_item.get(d.item_id, []):
            if rule is None or not holds_clock(
                    e.type, met_by=list(rule.met_by), closed_by=list(rule.closed_by), pause=rule.pause,
                    stop=rule.stop, extension_event=rule.extension.event if rule.extension else None,
                    lapses=rule.lapses):
                continue
            recorded = e.recorded_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            notes.append(f"{e.type} 事件日期 {e.occurred_on[:10]}，登记于 {recorded}（{e.recorded_by or '-'}），"
                         f"{e.decided_by or '-'} 批准")
        d.late_entry = "；".join(notes)
    return res


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _print_summary(res: ScoreResult) -> None:
    head = f"{res.period_title}（{res.start} 至 {res.end}）时限考评，统计截止 {res.as_of}"
    if res.locked_at:
        head += f"；已锁定（{res.locked_at}）"
    typer.echo(head)
    if not res.summary:
        typer.echo("本期间没有到期事项。")
    for d in res.summary:
        typer.echo(f"{d.department}：得分 {d.score:g}，应办 {d.items_due}，按时 {d.on_time}，逾期办结 {d.late}，"
                   f"逾期未办 {d.overdue}，未到期 {d.pending}，按时率 {_pct(d.on_time_rate)}")
    if res.locked_at:
        typer.echo(f"锁定后更正 {len(res.amendments)} 条")
        for a in res.amendments:
            typer.echo(f"  {a.change_label}：{a.department} {a.item_id} {a.rule} "
                       f"{a.locked_state or '—'} → {a.current_state or '—'}")


# ---------------------------------------------------------------------------------- commands

def register(app: typer.Typer) -> None:
    export_app = typer.Typer(no_args_is_help=True, help="导出报表")
    scores_app = typer.Typer(no_args_is_help=True, help="时限考评得分")
    app.add_typer(export_app, name="export")
    app.add_typer(scores_app, name="scores")

    @export_app.command("scores")
    def export_scores(
        period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
        fmt: str = typer.Option("xlsx", "--format", "-f", help="csv 或 xlsx"),
        out: Path = typer.Option(..., "--out", "-o", help="输出文件"),
        department: Optional[str] = typer.Option(None, "--department", "-d", help="只导出该部门"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
    ) -> None:
        """导出考评得分（csv：汇总；xlsx：汇总 + 明细，已锁定期间另含更正表）。"""
        from app.exports import write_scores

        if fmt not in ("csv", "xlsx"):
            _fail(f"不支持的格式：{fmt}（可用：csv、xlsx）")
        p, day = _period(period), _as_of(as_of)
        with _session() as s:
            res = compute_scores(s, p, day, department)
        write_scores(res, fmt, out)
        state = f"（已锁定期间，锁定后更正 {len(res.amendments)} 条）" if res.locked_at else ""
        typer.echo(f"已导出 {res.period_title} 考评得分{state}：{len(res.summary)} 个部门，"
                   f"{len(res.details)} 条明细 → {out}")
        if res.locked_at and fmt == "csv":
            for a in res.amendments:
                typer.echo(f"  更正 {a.change_label}：{a.department} {a.item_id} {a.rule}")

    @scores_app.command("show")
    def scores_show(
        period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
        department: Optional[str] = typer.Option(None, "--department", "-d"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
        as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    ) -> None:
        """显示考评得分。"""
        p, day = _period(period), _as_of(as_of)
        with _session() as s:
            res = compute_scores(s, p, day, department)
        if as_json:
            typer.echo(json.dumps(res.model_dump(mode="json"), ensure_ascii=False, indent=2))
        else:
            _print_summary(res)

    @scores_app.command("lock")
    def scores_lock(
        period: str = typer.Option(..., "--period", "-p", help="期间：2026、2026-Q3 或 2026-11"),
        department: Optional[str] = typer.Option(None, "--department", "-d", help="只锁定该部门（默认全部部门）"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="统计截止日（默认今天）"),
        by: Optional[str] = typer.Option(None, "--by", help="锁定人"),
        force: bool = typer.Option(False, "--force", help="期间尚未结束也锁定"),
    ) -> None:
        """锁定期间：公布的数字此后保持不变，之后的变化列为更正。"""
        from domain.engine import engine
        from domain.scoring import load_scoring
        from store.locks import PeriodLockedError, lock_period, locked

        p, day = _period(period), _as_of(as_of)
        if day <= p.end and not force:
            _fail(f"{p.title}尚未结束（截止 {p.end}，统计截止日 {day}），确需锁定请加 --force")
        with _session() as s:
            if locked(s, p, department) is not None:
                _fail(f"{p.title}（{department or '全部部门'}）已锁定")
            res = score_period(current_records(s, day, department), p, day, load_scoring(), department,
                               current_marks(s, department), rules=engine().rules)
            try:
                row = lock_period(s, p, res, locked_by=by)
            except PeriodLockedError as exc:
                _fail(str(exc))
                raise
            typer.echo(f"已锁定 {p.title}（{department or '全部部门'}）：{len(res.summary)} 个部门，"
                       f"{len(res.details)} 条明细，锁定时间 {row.locked_at.isoformat()}")
            _print_summary(row.result())

    @app.command("annual-report")
    def annual_report_cmd(
        year: int = typer.Option(..., "--year", "-y", help="报告年度"),
        department: Optional[str] = typer.Option(None, "--department", "-d", help="部门（默认全部）"),
        government: bool = typer.Option(
            False, "--government", help="政府年度报告：政府办公室及 departments.toml 中 parent 隶属于它的全部单位"),
        fmt: str = typer.Option("json", "--format", "-f", help="docx、html、json 或 xlsx（xlsx 仅含表二至表四）"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="输出文件（json 可省略，输出到屏幕）"),
        entered: Optional[Path] = typer.Option(
            None, "--entered",
            help="填报数（TOML 或 JSON：表二 licensing、penalty、coercion、fees，及机构人员、信息处理费、文字段落；"
                 "默认 $SHIXIAN_DATA_DIR/annual-report/<年度>/<部门|government|all>.toml）"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="时限统计截止日（默认今天）"),
    ) -> None:
        """政府信息公开工作年度报告（2021 年国家格式，一至六部分）草稿。"""
        from app.annual_render import write_document
        from app.annual_service import AnnualReportError, annual_document
        from app.exports import annual_report_json, write_annual_report
        from domain.report import check_table3

        if fmt not in ("json", "xlsx", "html", "docx"):
            _fail(f"不支持的格式：{fmt}（可用：docx、html、json、xlsx）")
        if out is None and fmt != "json":
            _fail(f"{fmt} 格式需要 --out 指定输出文件")
        try:
            report = annual_document(year, department, government, entered_path=entered, as_of=_as_of(as_of))
        except AnnualReportError as exc:
            _fail(str(exc))
            raise
        problems = check_table3(report["table3"])
        if problems:
            _fail("表三不满足“本年新收 + 上年结转 = 办理结果总计 + 结转下年度”等校验关系，不予输出：\n"
                  + "\n".join(problems), code=2)
        for note in report.get("notes", []):
            typer.echo(f"注意：{note}", err=True)
        if out is None:
            typer.echo(annual_report_json(report))
            return
        if fmt == "xlsx":
            write_annual_report(report, fmt, out)
        else:
            write_document(report, fmt, out)
        t3 = report["table3"]
        typer.echo(f"已生成《{report['title']}》：新收申请 {t3['new']['total']} 件，"
                   f"上年结转 {t3['carried_in']['total']} 件，办结 {t3['total']['total']} 件，"
                   f"结转下年度 {t3['carried_out']['total']} 件 → {out}")
        if report["placeholders"]:
            typer.echo(f"待填 {len(report['placeholders'])} 项：" + "；".join(report["placeholders"]))
