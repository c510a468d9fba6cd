"""REST API (/api/...). Every route needs a token (app.auth); bodies of errors are
``{"code": ..., "detail": "<Chinese>"}``. Data access is shared with the pages (app.pages)."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.auth import ApiError, Principal, api_principal, forbidden
from app.paging import Page, encode_cursor, page_params, slice_offset

router = APIRouter(prefix="/api")

WRITERS = ("liaison", "supervisor", "admin")
REPORT_READERS = ("supervisor", "admin", "assessor", "local")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------------------------- helpers

from domain.shanghai import today  # noqa: E402  (re-exported for the pages)


def parse_day(text: str | None, field: str = "as_of") -> dt.date:
    from domain.limits import parse_iso_day

    if not text:
        return today()
    try:
        return parse_iso_day(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", f"参数 {field}：{exc}", field=field) from None


def parse_period_param(text: str | None):
    from domain.scoring import parse_period

    text = text or f"{today().year}-Q{(today().month - 1) // 3 + 1}"
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", str(exc), field="period") from None


def directory():
    from domain.directory import load_directory

    return load_directory()


def department_names() -> dict[str, str]:
    try:
        return {d.id: d.name for d in directory().departments.values()}
    except Exception:  # a broken directory file must not take the pages down
        return {}


def check_department(dept: str | None) -> None:
    if dept and dept not in department_names():
        raise ApiError(404, "unknown_department", f"未知部门：{dept}（见 config/departments.toml）")


def rule_names() -> dict[str, str]:
    from domain.engine import engine

    return {k: r.name for k, r in engine().rules.items()}


def clock_json(c, rules: dict[str, str], today_: dt.date | None = None) -> dict[str, Any]:
    d = c.model_dump()
    d["rule_name"] = rules.get(c.rule, c.rule)
    d["working_days_left"] = working_days_left(c, today_ or today())
    return d


def working_days_left(c, day: dt.date) -> int | None:
    """Working days from `day` to the due day of an open clock (negative: overdue by that many)."""
    from domain.engine import engine
    from domain.standing import clock_days_left

    eng = engine()
    return clock_days_left(c, day, eng.calendar, eng.rules)


def item_json(snap, *, with_history: bool = False) -> dict[str, Any]:
    from domain.flags import item_flags

    rules = rule_names()
    names = department_names()
    out = {
        "id": snap.id, "type": snap.type, "department": snap.department,
        "department_name": names.get(snap.department, snap.department), "title": snap.title,
        "state": snap.state, "version": snap.version,
        "clocks": [clock_json(c, rules) for c in snap.clocks],
        "flags": item_flags(snap.data),
        # 补录 (late entries): held ones do not count yet; both dates shown
        "late_entries": [e.model_dump(exclude={"content_hash"}) for e in snap.late_entries],
    }
    if with_history:
        from services.queries import session
        from store import repo

        with session() as s:
            out["due_date_changes"] = [
                {"rule": ch.rule, "rule_name": rules.get(ch.rule, ch.rule), "old_due": ch.old_due,
                 "new_due": ch.new_due, "reason": ch.reason, "changed_at": ch.changed_at.isoformat()}
                for ch in repo.due_changes(s, snap.id)
            ]
            out["events"] = [
                {"event_id": e.event_id, "type": e.type, "occurred_on": e.occurred_on, "recorded_by": e.recorded_by,
                 "ingested_at": e.ingested_at.isoformat(), "payload": e.payload}
                for e in repo.events_for_item(s, snap.id)
            ]
    return out


def load_item(item_id: str, who: Principal):
    from services.queries import get_status

    snap = get_status(item_id)
    if snap is None:
        raise ApiError(404, "not_found", f"未找到事项：{item_id}")
    if not who.may_see(snap.department):
        if who.role == "liaison":
            raise forbidden(f"无权查看事项 {item_id}：它属于 {snap.department}，联络员只能查看本部门（{who.department}）的事项")
        who.require(("supervisor", "admin", "liaison"), "查看事项")
    return snap


def list_items_json(department: str | None, state: str | None, type_: str | None, *,
                    after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    from services.queries import session
    from store import repo

    with session() as s:
        snaps = repo.list_items(s, department=department, state=state, type=type_, after=after, limit=limit)
    return [item_json(x) for x in snaps]


def overdue_json(as_of: dt.date, department: str | None) -> list[dict[str, Any]]:
    from services.queries import overdue_rows

    names = department_names()
    rows = overdue_rows(as_of, department)
    for r in rows:
        r["department_name"] = names.get(r["department"], r["department"])
    return rows


def scores_result(period, as_of: dt.date, department: str | None):
    from services.scores import compute_scores, session

    with session() as s:
        return compute_scores(s, period, as_of, department)


def annual_report_data(year: int, department: str | None, government: bool = False) -> dict:
    """The report draft (a superset of the tables 二/三/四 report); 422 on bad input, 409 when table 三
    fails the national checks."""
    from app.annual_service import AnnualReportError, annual_document
    from domain.report import check_table3

    try:
        report = annual_document(year, department, government, as_of=today())
    except AnnualReportError as exc:
        raise ApiError(422, "invalid_parameter", str(exc)) from None
    problems = check_table3(report["table3"])
    if problems:
        raise ApiError(409, "report_check_failed",
                       "表三不满足“本年新收 + 上年结转 = 办理结果总计 + 结转下年度”等校验关系，不予输出",
                       problems=problems)
    return report


def calendar_json() -> dict[str, Any]:
    from domain.engine import config_problem, engine

    cal = engine().calendar
    rows = cal.status()
    regional, notices = [], []
    for ov in sorted(cal.overlays, key=lambda o: (o.region, sorted(o.years), o.path.name)):
        if ov.region != "national":
            notices.append({"region": ov.region, "years": sorted(ov.years), "source": ov.source,
                            "issued_by": ov.issued_by, "issued_on": ov.issued_on.isoformat() if ov.issued_on else None,
                            "document_number": ov.document_number, "found_at": list(ov.found_at),
                            "file": ov.path.name})
    for ov in cal.overlays:
        for day, name in sorted(ov.days_off.items()):
            regional.append({"date": day.isoformat(), "region": ov.region, "kind": "off", "name": name,
                             "source": ov.source, "file": ov.path.name})
        for day, name in sorted(ov.workdays.items()):
            regional.append({"date": day.isoformat(), "region": ov.region, "kind": "work", "name": name,
                             "source": ov.source, "file": ov.path.name})
    regional.sort(key=lambda r: (r["date"], r["region"]))
    return {
        "regions": sorted(cal.regions),
        "coverage": rows,
        # Years without the national arrangement; regional gaps are in `coverage` (coverage "estimate"/"none").
        "provisional_years": sorted({r["year"] for r in rows if r["provisional"] and r["region"] == "national"}),
        "regional_days": regional,
        # The regional notices on file, and per region which years since its festival began lack one.
        "notices": notices,
        "notice_summary": cal.notice_summary(today().year),
        "fingerprint": cal.fingerprint(),
        "config_problem": config_problem(),  # a refused file: its error (the calendar above is the last good one)
    }


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(content=data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{filename.encode('ascii', 'ignore').decode() or 'export'}\"; "
                               f"filename*=UTF-8''{quote(filename)}"})


def _written(writer, *args, suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / f"out{suffix}"
        writer(*args, out)
        return out.read_bytes()


# ---------------------------------------------------------------------------------- routes

@router.post("/events", summary="登记事件（单个对象或数组）", tags=["事件"])
async def post_events(request: Request, payload: Any = Body(..., description="一个事件对象，或事件对象数组"),
                      who: Principal = Depends(api_principal)) -> dict[str, Any]:
    """Same validation and idempotency as `shixian events ingest`; each element reported as
    applied / duplicate / rejected. Every event is recorded as entered by the token's person."""
    from app.ingest import Ingestor, IngestResult
    from services.queries import get_status
    from store.db import database_url, get_engine
    from store.repo import event_item_id

    who.require(WRITERS, "登记事件")
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ApiError(422, "empty", "请求体为空数组：至少需要一个事件")
    if len(items) > 5000:
        raise ApiError(413, "too_many", "一次最多提交 5000 个事件，请分批提交")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能登记事件")
    results: dict[int, IngestResult] = {}
    accepted: list[tuple[int, Any]] = []
    for n, obj in enumerate(items, start=1):
        if not isinstance(obj, dict):
            results[n] = IngestResult(line=n, status="rejected", field="(json)", reason="应为 JSON 对象")
            continue
        obj = {**obj, "recorded_by": who.actor}  # attribution comes from the token, never from the body
        if who.role == "liaison":
            depts = {obj.get("department")} - {None}
            iid = event_item_id(obj)
            known = get_status(iid) if iid else None
            if known is not None:
                depts.add(known.department)
            other = sorted(d for d in depts if d != who.department)
            if other:
                results[n] = IngestResult(
                    line=n, status="rejected", event_id=obj.get("event_id") if isinstance(obj.get("event_id"), str) else None,
                    type=obj.get("type") if isinstance(obj.get("type"), str) else None, item_id=iid, field="department",
                    reason=f"无权为其他部门（{'、'.join(other)}）登记事件：联络员只能登记本部门（{who.department}）的事件")
                continue
        accepted.append((n, obj))
    if accepted:
        ing = Ingestor(client, recorded_by=who.actor, db_engine=get_engine(database_url()), role=who.role)
        for r in await ing.ingest(accepted):
            results[r.line] = r
    ordered = [results[k] for k in sorted(results)]
    counts = {s: sum(r.status == s for r in ordered) for s in ("applied", "held", "duplicate", "rejected")}
    return {"recorded_by": who.actor, **counts,
            "results": [{**r.model_dump(), "index": r.line, "message": r.text()} for r in ordered]}


@router.get("/items", summary="事项列表", tags=["事项"])
def get_items(department: Optional[str] = None, state: Optional[str] = Query(None, description="open / closed ..."),
              type: Optional[str] = Query(None, description="document / request / opinion / budget / annual_report"),
              page: Page = Depends(page_params), who: Principal = Depends(api_principal)) -> dict[str, Any]:
    dept = who.scope(department, "查看事项", roles=("supervisor", "admin"))
    check_department(dept)
    after = page.key("id")
    items = list_items_json(dept, state, type, after=after if isinstance(after, str) else None, limit=page.limit + 1)
    more = len(items) > page.limit
    items = items[:page.limit]
    return {"department": dept, "items": items,
            "next_cursor": encode_cursor({"id": items[-1]["id"]}) if more else None}


@router.get("/items/{item_id}", summary="事项详情（时钟、期限说明、期限变更与事件）", tags=["事项"])
def get_item(item_id: str, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    who.require(("supervisor", "admin", "liaison"), "查看事项")
    return item_json(load_item(item_id, who), with_history=True)


@router.get("/overdue", summary="逾期未办", tags=["事项"])
def get_overdue(as_of: Optional[str] = None, department: Optional[str] = None,
                page: Page = Depends(page_params), who: Principal = Depends(api_principal)) -> dict[str, Any]:
    dept = who.scope(department, "查看逾期事项", roles=("supervisor", "admin"))
    check_department(dept)
    day = parse_day(as_of)
    rows, nxt = slice_offset(overdue_json(day, dept), page)
    return {"as_of": day.isoformat(), "department": dept, "rows": rows, "next_cursor": nxt}


@router.get("/scores", summary="时限考评得分", tags=["考评"])
def get_scores(period: Optional[str] = Query(None, description="2026、2026-Q3 或 2026-11；默认本季度"),
               department: Optional[str] = None, as_of: Optional[str] = None,
               format: Literal["json", "csv", "xlsx"] = "json", who: Principal = Depends(api_principal)):
    from app.exports import write_scores

    dept = who.scope(department, "查看考评得分", roles=REPORT_READERS + ("admin",))
    check_department(dept)
    p, day = parse_period_param(period), parse_day(as_of)
    res = scores_result(p, day, dept)
    if format == "json":
        return res.model_dump(mode="json")
    name = f"时限考评得分-{p.label}{'-' + dept if dept else ''}.{format}"
    data = _written(lambda r, out: write_scores(r, format, out), res, suffix=f".{format}")
    return _download(data, "text/csv; charset=utf-8" if format == "csv" else XLSX, name)


@router.get("/annual-report", summary="政府信息公开工作年度报告（一至六部分草稿；xlsx 为表二至表四）", tags=["考评"])
def get_annual_report(year: int = Query(..., ge=2008, le=2100), department: Optional[str] = None,
                      government: bool = Query(False, description="政府年度报告：政府办公室及其下属全部单位"),
                      format: Literal["json", "xlsx", "html", "docx"] = "json",
                      who: Principal = Depends(api_principal)):
    from app.annual_render import DOCX_MIME, render_docx, render_html
    from app.exports import write_annual_report

    dept = who.scope(department, "查看年度报告", roles=REPORT_READERS)
    if government and who.role == "liaison":
        raise forbidden("无权查看政府年度报告：联络员只能查看本部门的年度报告")
    check_department(dept)
    report = annual_report_data(year, dept, government)
    if format == "json":
        return report
    if format == "html":
        return HTMLResponse(render_html(report))
    name = f"{report['title']}（草稿）"
    if format == "docx":
        return _download(render_docx(report), DOCX_MIME, f"{name}.docx")
    data = _written(lambda r, out: write_annual_report(r, "xlsx", out), report, suffix=".xlsx")
    return _download(data, XLSX, f"{year}年度报告{'-' + dept if dept else ''}.xlsx")


@router.get("/calendar", summary="工作日日历覆盖情况", tags=["日历"])
def get_calendar(who: Principal = Depends(api_principal)) -> dict[str, Any]:
    return calendar_json()


@router.post("/calendar/reload", summary="重新载入日历与配置，通知未办结事项重新计算", tags=["日历"])
async def post_calendar_reload(request: Request, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    from domain.engine import config_problem, engine
    from domain.config import ConfigError
    from services.calendar import signal_open_items

    who.require(("admin",), "重新载入日历")
    try:
        eng = engine()  # re-reads changed files; a broken file keeps the workflows untouched
        problem = config_problem()
    except ConfigError as exc:
        problem = str(exc)
    if problem:  # the same refusal as `shixian calendar reload`
        raise ApiError(422, "config_error", f"配置文件有误，未重新计算：{problem}")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能通知事项重新计算")
    n = await signal_open_items(client, f"日历数据已更新（管理员 {who.actor} 重新载入）")
    return {"recalculating": n, "fingerprint": eng.calendar.fingerprint(),
            "message": f"已通知 {n} 个未办结事项按新日历重新计算期限"}


# ---------------------------------------------------------------------------------- late entries (补录)

REVIEWERS = ("supervisor", "admin")


@router.get("/review", summary="补录审核队列（督查、管理员）", tags=["补录审核"])
def get_review(status: Literal["held", "approved", "rejected", "all"] = "held", department: Optional[str] = None,
               who: Principal = Depends(api_principal)) -> dict[str, Any]:
    from app.review import list_entries

    who.require(REVIEWERS, "查看补录审核队列")
    check_department(department)
    return {"status": status, "entries": list_entries(None if status == "all" else status, department)}


async def _decide(request: Request, event_id: str, approve: bool, reason: str, who: Principal) -> dict[str, Any]:
    from app.review import ReviewError, decide

    who.require(REVIEWERS, "审核补录")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核补录")
    try:
        return await decide(client, event_id, approve=approve, by=who.actor, reason=reason)
    except ReviewError as exc:
        code = {404: "not_found", 422: "invalid_parameter"}.get(exc.status, "review_refused")
        raise ApiError(exc.status, code, exc.reason, field=exc.field) from None


@router.post("/review/{event_id}/approve", summary="批准补录：按事件自身日期计入", tags=["补录审核"])
async def post_review_approve(request: Request, event_id: str, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    return await _decide(request, event_id, True, "", who)


@router.post("/review/{event_id}/reject", summary="驳回补录（须说明理由）", tags=["补录审核"])
async def post_review_reject(request: Request, event_id: str,
                             body: dict[str, Any] = Body(..., examples=[{"reason": "无送达回证"}]),
                             who: Principal = Depends(api_principal)) -> dict[str, Any]:
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        who.require(REVIEWERS, "审核补录")
        raise ApiError(422, "invalid_parameter", "驳回补录须说明理由（reason）", field="reason")
    return await _decide(request, event_id, False, reason, who)
