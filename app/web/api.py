"""REST API (/api/...). Every route needs a token (app.web.auth) and declares its answer (services.schemas) and
its errors: each error, 401 to 500, is one JSON body ``{"code": ..., "detail": "<Chinese>"}`` (ErrorBody).
The views come from services.views, which the pages use too."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.web.audit_web import audit
from app.web.auth import api_principal
from app.web.paging import Page, encode_cursor, page_params, slice_offset
from services import views as rm
from services.access import ApiError, Principal, node_label, read_scope, require_lock
from services.annual_render import DOCX_MIME as DOCX
from services.columns import ColumnLedger, column_ledger_view
from services.import_jobs import ImportJobView
from services.inbox import InboxPage, MarkedRead, MarkRead
from services.onboarding import OnboardingBatchView, OnboardingList
from services.review import REVIEWERS
from services.schemas import API_ERRORS as ERRORS
from services.schemas import (
    AnnualLockInfo,
    AnnualReport,
    BulkReviewBody,
    BulkReviewResult,
    CalendarInfo,
    CalendarReload,
    ImportJobAccepted,
    IngestReport,
    ItemDetail,
    ItemList,
    OverdueList,
    RejectBody,
    RejectedElement,
    Responses,
    ReviewEntry,
    ReviewQueue,
    ScoreResult,
)
from services.schemas import error_response as _error
from services.scores import period_scores

WRITERS = ("liaison", "supervisor", "admin")
REPORT_READERS = rm.REPORT_READERS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


NOT_FOUND: Responses = {404: _error("未找到事项或部门")}
TEMPORAL: Responses = {503: _error("工作流服务未连接")}
BAD_BODY: Responses = {400: _error("请求体不是有效的 JSON（或不是 UTF-8）")}

router = APIRouter(prefix="/api", responses=ERRORS)
NODE_DOC = "所属地区：config/jurisdictions.toml 的节点编号（该节点及其全部下级的部门；须在本人辖区内）"
AS_OF = "截至日期 YYYY-MM-DD（1990 至 2100 年），默认今天（北京时间）"

# One event or a batch. Elements are checked one by one (each reported applied / duplicate / rejected),
# so a batch element may be anything; the batch itself must hold 1 to 5000.
EVENTS_BODY = {
    "oneOf": [
        {"type": "object", "description": "一个事件，字段见 shixian events schema"},
        {"type": "array", "minItems": 1, "items": {}, "description": "最多 5000 个（更多：413）"},
    ]
}


# ---------------------------------------------------------------------------------- helpers


def _given(value: str | None, field: str) -> str | None:
    """An empty query value is refused rather than read as "omitted" (the schema's pattern excludes it)."""
    if value == "":
        raise ApiError(422, "invalid_parameter", f"参数 {field} 为空：省略该参数即取默认值", field=field)
    return value


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename.encode("ascii", "ignore").decode() or "export"}"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )


def _written(writer, *args, suffix: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / f"out{suffix}"
        writer(*args, out)
        return out.read_bytes()


# ---------------------------------------------------------------------------------- routes


@router.post(
    "/events",
    summary="登记事件（单个对象或数组）",
    tags=["事件"],
    response_model=IngestReport,
    responses={
        202: {
            "model": ImportJobAccepted,
            "description": "超过 300 个事件：作为导入作业在后台登记（`Prefer: respond-sync` 时同步答复）",
            "headers": {
                "Location": {"description": "作业地址 /api/import-jobs/<job>", "schema": {"type": "string"}},
                "Retry-After": {"description": "建议的查询间隔（秒）", "schema": {"type": "integer"}},
            },
        },
        **TEMPORAL,
        **BAD_BODY,
        413: _error("一次提交的事件过多（最多 5000 个）"),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": EVENTS_BODY}}}},
)
async def post_events(
    request: Request,
    payload: Any = Body(..., description="一个事件对象，或事件对象数组（1 至 5000 个）"),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    """Same validation and idempotency as `shixian events ingest`; each element reported as
    applied / duplicate / rejected. Every event is recorded as entered by the token's person. More than 300
    events: 202 and a durable import job (`GET /api/import-jobs/<id>`), unless `Prefer: respond-sync` asks for
    the answer in the request (a client that cannot poll)."""
    from services.import_jobs import submit_events, wants_job
    from services.ingest import IngestResult

    who.require(WRITERS, "登记事件")
    if not isinstance(payload, (dict, list)):
        raise ApiError(422, "invalid_request", "请求体应为一个事件对象或事件对象数组", field="body")
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ApiError(422, "empty", "请求体为空数组：至少需要一个事件")
    if len(items) > 5000:
        raise ApiError(413, "too_many", "一次最多提交 5000 个事件，请分批提交")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能登记事件")
    from services.ingest import worker_problem

    problem = await worker_problem(client)
    if problem is not None:  # said at once, not after the Updates wait a minute for a worker that is gone
        raise ApiError(503, problem[0], f"{problem[1]}：本次提交的事件均未登记，请稍后原样重试")
    results: dict[int, IngestResult] = {}
    accepted: list[tuple[int, Any]] = []
    for n, obj in enumerate(items, start=1):
        if not isinstance(obj, dict):
            results[n] = IngestResult(line=n, status="rejected", field="(json)", reason="应为 JSON 对象")
            continue
        obj = {**obj, "recorded_by": who.actor}  # attribution comes from the token, never from the body
        accepted.append((n, obj))
    prefer = request.headers.get("prefer", "").lower()
    if wants_job(len(accepted)) and "respond-sync" not in prefer:
        # A big batch runs as a durable job in the worker (a request held for minutes is lost with its
        # connection); its progress and results are at the URL. RFC 7240 respond-sync keeps the old answer.
        job_id = await submit_events(client, who, accepted)
        audit(request, who, "events.job", object=job_id, detail={"job": job_id, "events": len(accepted)})
        url = f"/api/import-jobs/{job_id}"
        body = ImportJobAccepted(
            job=job_id,
            status="queued",
            url=url,
            total=len(accepted),
            rejected=[RejectedElement(line=r.line, reason=r.reason or "") for r in results.values()],
        )
        headers = {"Location": url, "Retry-After": "2"}
        if "respond-async" in prefer:
            headers["Preference-Applied"] = "respond-async"
        return JSONResponse(body.model_dump(), status_code=202, headers=headers)  # type: ignore[return-value]
    if accepted:
        from services.ingest import Stalled, ingestor_for, watched

        ing = ingestor_for(who, client)  # the department rule is checked there, per event, against its item
        try:
            done = await watched(lambda tick: ing.ingest(accepted, progress=tick), len(accepted))
        except Stalled as exc:
            raise ApiError(
                503, "no_worker", f"{exc}：部分事件可能已生效；请稍后原样重新提交（已生效的事件不会重复登记）"
            ) from None
        for r in done:
            results[r.line] = r
    ordered = [results[k] for k in sorted(results)]
    counts = {s: sum(r.status == s for r in ordered) for s in ("applied", "held", "duplicate", "rejected")}
    return {
        "recorded_by": who.actor,
        **counts,
        "results": [{**r.model_dump(), "index": r.line, "message": r.text()} for r in ordered],
    }


@router.get(
    "/items", summary="事项列表（分页：limit / cursor）", tags=["事项"], response_model=ItemList, responses=NOT_FOUND
)
def get_items(
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    state: str | None = Query(None, description="open / closed ..."),
    type: str | None = Query(
        None,
        description="document / request / opinion / budget / annual_report / proposal / hotline / message / duty / consultation / column",
    ),
    page: Page = Depends(page_params),
    who: Principal = Depends(api_principal),
) -> ItemList:
    sc = read_scope(who, department=department, node=node, what="查看事项", roles=("supervisor", "admin"))
    after = page.key("id")
    items = rm.list_item_views(
        sc.filter, state, type, after=after if isinstance(after, str) else None, limit=page.limit + 1
    )
    more = len(items) > page.limit
    items = items[: page.limit]
    return ItemList(
        department=sc.department,
        node=sc.node,
        items=items,
        next_cursor=encode_cursor({"id": items[-1].id}) if more else None,
    )


@router.get(
    "/items/{item_id}",
    summary="事项详情（时钟、期限说明、期限变更与事件）",
    tags=["事项"],
    response_model=ItemDetail,
    responses=NOT_FOUND,
)
def get_item(item_id: str, who: Principal = Depends(api_principal)) -> ItemDetail:
    who.require(("supervisor", "admin", "liaison"), "查看事项")
    view = rm.item_view(rm.load_item(item_id, who), with_history=True)
    assert isinstance(view, ItemDetail)
    return view


@router.get(
    "/columns",
    summary="栏目台账（网站栏目与政务新媒体更新）",
    tags=["事项"],
    response_model=ColumnLedger,
    responses=NOT_FOUND,
)
def get_columns(
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    who: Principal = Depends(api_principal),
) -> ColumnLedger:
    sc = read_scope(who, department=department, node=node, what="查看栏目台账", roles=("supervisor", "admin"))
    return ColumnLedger(department=sc.department, node=sc.node, rows=column_ledger_view(sc.filter))


@router.get(
    "/overdue",
    summary="逾期未办（分页：limit / cursor）",
    tags=["事项"],
    response_model=OverdueList,
    responses=NOT_FOUND,
)
def get_overdue(
    as_of: str | None = Query(None, json_schema_extra=rm.DAY_SCHEMA, description=AS_OF),
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    page: Page = Depends(page_params),
    who: Principal = Depends(api_principal),
) -> OverdueList:
    sc = read_scope(who, department=department, node=node, what="查看逾期事项", roles=("supervisor", "admin"))
    day = rm.parse_day(_given(as_of, "as_of"))
    rows, nxt = slice_offset(rm.overdue_views(day, sc.filter), page)
    return OverdueList(as_of=day.isoformat(), department=sc.department, node=sc.node, rows=rows, next_cursor=nxt)


@router.get(
    "/scores",
    summary="时限考评得分",
    tags=["考评"],
    response_model=ScoreResult,
    responses={
        **NOT_FOUND,
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "format=json：得分；csv / xlsx：下载文件"},
    },
)
def get_scores(
    request: Request,
    period: str | None = Query(
        None, json_schema_extra={"pattern": rm.PERIOD_PATTERN}, description="2026、2026-Q3 或 2026-11；默认本季度"
    ),
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    as_of: str | None = Query(None, json_schema_extra=rm.DAY_SCHEMA, description=AS_OF),
    format: Literal["json", "csv", "xlsx"] = "json",
    who: Principal = Depends(api_principal),
):
    from services.exports import write_scores

    sc = read_scope(who, department=department, node=node, what="查看考评得分", roles=REPORT_READERS + ("admin",))
    dept = sc.department
    p, day = rm.parse_period_param(_given(period, "period")), rm.parse_day(_given(as_of, "as_of"))
    # the 明细's registration columns only in the xlsx; the §4 request checks in JSON and xlsx
    res = period_scores(p, day, sc.filter, recordings=format == "xlsx", checks=format != "csv")
    if format == "json":
        return res
    suffix = f"-{dept}" if dept else (f"-{node_label(sc.node)}" if sc.departments is not None else "")
    name = f"时限考评得分-{p.label}{suffix}.{format}"
    data = _written(lambda r, out: write_scores(r, format, out, node=sc.node), res, suffix=f".{format}")
    audit(
        request,
        who,
        "export.scores",
        object=f"{p.label} {format}",
        department=dept,
        detail={"as_of": str(day), **({"node": sc.node} if sc.node else {})},
    )
    return _download(data, "text/csv; charset=utf-8" if format == "csv" else XLSX, name)


@router.get(
    "/annual-report",
    summary="政府信息公开工作年度报告（一至六部分草稿；xlsx 为表二至表四）",
    tags=["考评"],
    response_model=AnnualReport,
    responses={
        **NOT_FOUND,
        409: _error("表三未通过校验（problems 列出各项）"),
        200: {
            "content": {"text/html": {}, DOCX: {}, XLSX: {}},
            "description": "format=json：报告数据；html / docx / xlsx：草稿文件",
        },
    },
)
def get_annual_report(
    request: Request,
    year: int = Query(..., ge=2008, le=2100),
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC + "；不指定部门时为该地区本级政府的年度报告"),
    government: bool = Query(False, description="政府年度报告：该级政府办公室及本级各部门（不含下级地区）"),
    format: Literal["json", "xlsx", "html", "docx"] = "json",
    who: Principal = Depends(api_principal),
):
    from services.annual_render import render_docx, render_html
    from services.exports import write_annual_report

    report, dept, government = rm.annual_report_for(who, year, department, node, government)
    if format == "json":
        return report
    scope = "政府" if government else (dept or "全部")
    audit(request, who, "export.annual_report", object=f"{year} {format}", department=dept, detail={"scope": scope})
    if format == "html":
        return HTMLResponse(render_html(report))
    name = f"{report['title']}（草稿）"
    if format == "docx":
        return _download(render_docx(report), DOCX, f"{name}.docx")
    data = _written(lambda r, out: write_annual_report(r, "xlsx", out), report, suffix=".xlsx")
    return _download(data, XLSX, f"{year}年度报告{'-' + dept if dept else ''}.xlsx")


@router.post(
    "/annual-report/lock",
    summary="锁定年度报告表二至表四（考评人员、管理员；登记公布时自动锁定）",
    tags=["考评"],
    response_model=AnnualLockInfo,
    responses={**NOT_FOUND, 409: _error("该年度报告已锁定，或年度尚未结束")},
)
def post_annual_report_lock(
    request: Request,
    year: int = Query(..., ge=2008, le=2100),
    department: str | None = None,
    government: bool = Query(False, description="政府年度报告"),
    node: str | None = Query(None, description="政府年度报告的行政区划节点；默认本人所属节点或最上级"),
    confirm_pending: bool = Query(False, description="有待审核的补录（事件日期在该年度）时仍锁定"),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services.annual import AnnualReportError, YearNotEnded, lock_annual_report
    from services.locks import LockRefused
    from services.rollup import node_scope

    if not who.may_lock:
        who.require(("assessor", "admin"), "锁定年度报告")
    rm.check_department(department)
    require_lock(who, department, "年度报告")
    scope = "政府" if government else (department or "全部")
    picked = node_scope(who, node or None, "锁定政府年度报告") if government and not department else None
    try:
        row = lock_annual_report(
            year, department, government, locked_by=who.actor, confirm_pending=confirm_pending, node=picked
        )
    except YearNotEnded:
        raise ApiError(409, "year_not_ended", f"{year}年度尚未结束，不能锁定其年度报告") from None
    except LockRefused as exc:  # late entries of the year wait for review: named; confirm_pending=true locks
        raise ApiError(409, "pending_review", str(exc), pending=exc.pending) from None
    except AnnualReportError as exc:
        code = {404: "not_found", 409: "already_locked"}.get(exc.status, "invalid_parameter")
        raise ApiError(exc.status, code, str(exc)) from None
    audit(request, who, "annual.lock", object=str(year), department=department, detail={"scope": scope})
    return {
        "year": row.year,
        "scope": row.scope,
        "basis": row.basis,
        "locked_by": row.locked_by,
        "locked_at": row.locked_at.isoformat(),
        "message": f"已锁定{year}年度报告（{scope}），此后的变化列入更正说明",
    }


@router.get("/calendar", summary="工作日日历覆盖情况", tags=["日历"], response_model=CalendarInfo)
def get_calendar(who: Principal = Depends(api_principal)) -> CalendarInfo:
    return rm.calendar_view()


@router.post(
    "/calendar/reload",
    summary="重新载入日历与配置，通知未办结事项重新计算",
    tags=["日历"],
    response_model=CalendarReload,
    responses=TEMPORAL,
)
async def post_calendar_reload(request: Request, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    from app.web.audit_web import actor_of
    from services.access import require_top
    from services.calendar import ReloadRefused, reload_calendar

    require_top(who, ("admin",), "重新载入日历")  # the calendar is every area's: a county admin may not

    async def connect():
        client = request.app.state.client
        if client is None:
            raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能通知事项重新计算")
        return client

    try:
        done = await reload_calendar(
            connect, f"日历数据已更新（管理员 {who.actor} 重新载入）", actor=actor_of(request, who)
        )
    except ReloadRefused as exc:  # the same refusal as `shixian calendar reload`
        raise ApiError(422, "config_error", f"配置文件有误，未重新计算：{exc.problem}") from None
    n = done.recalculating
    return {
        "recalculating": n,
        "fingerprint": done.fingerprint,
        "message": f"已通知 {n} 个未办结事项按新日历重新计算期限",
    }


# ---------------------------------------------------------------------------------- late entries (补录)


@router.get(
    "/review",
    summary="补录审核队列（督查、管理员）",
    tags=["补录审核"],
    response_model=ReviewQueue,
    responses=NOT_FOUND,
)
def get_review(
    status: Literal["held", "approved", "rejected", "all"] = "held",
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    upload: str | None = None,
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services.review import list_entries

    who.require(REVIEWERS, "查看补录审核队列")
    sc = read_scope(who, department=department, node=node, what="查看补录审核队列", roles=REVIEWERS)
    entries = list_entries(None if status == "all" else status, sc.filter, upload=upload)
    return {"status": status, "entries": entries}


async def _decide(request: Request, event_id: str, approve: bool, reason: str, who: Principal) -> dict[str, Any]:
    from services.review import ReviewError, decide, review_action, review_audit

    who.require(REVIEWERS, "审核补录")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核补录")
    try:
        e = await decide(client, event_id, approve=approve, by=who.actor, reason=reason, who=who)
    except ReviewError as exc:
        audit(request, who, review_action(approve), object=event_id, outcome="failure", detail={"reason": exc.reason})
        code = {404: "not_found", 422: "invalid_parameter"}.get(exc.status, "review_refused")
        raise ApiError(exc.status, code, exc.reason, field=exc.field) from None
    audit(request, who, review_action(approve), **review_audit(e))
    return e


DECISION_ERRORS: Responses = {404: _error("没有该编号的补录事件"), 409: _error("该补录已审核，或事项已不能接受它")}


@router.post(
    "/review/bulk",
    summary="批量审核补录：所选或一次上传的全部，一个理由",
    tags=["补录审核"],
    response_model=BulkReviewResult,
    responses=BAD_BODY,
)
async def post_review_bulk(
    request: Request, body: BulkReviewBody, who: Principal = Depends(api_principal)
) -> dict[str, Any]:
    from services.review import ReviewError, decide_many, review_action, review_audit, upload_entry_ids

    who.require(REVIEWERS, "审核补录")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核补录")
    ids = list(body.event_ids) + (upload_entry_ids(body.upload, who=who) if body.upload else [])
    if not ids:  # nothing selected, or nothing of that upload waits any more: nothing to decide
        return {"approve": body.approve, "results": [], "decided": 0, "failed": 0}
    try:
        results = await decide_many(client, ids, approve=body.approve, by=who.actor, reason=body.reason, who=who)
    except ReviewError as exc:
        raise ApiError(exc.status, "invalid_parameter", exc.reason, field=exc.field) from None
    for r in results:
        if r["ok"]:
            audit(request, who, review_action(body.approve), **review_audit(r["entry"]))
        else:
            audit(
                request,
                who,
                review_action(body.approve),
                object=r["event_id"],
                outcome="failure",
                detail={"reason": r["error"]},
            )
    failed = sum(1 for r in results if not r["ok"])
    return {"approve": body.approve, "results": results, "decided": len(results) - failed, "failed": failed}


@router.post(
    "/review/{event_id}/approve",
    summary="批准补录：按事件自身日期计入",
    tags=["补录审核"],
    response_model=ReviewEntry,
    responses=DECISION_ERRORS,
)
async def post_review_approve(
    request: Request, event_id: str, who: Principal = Depends(api_principal)
) -> dict[str, Any]:
    return await _decide(request, event_id, True, "", who)


@router.post(
    "/review/{event_id}/reject",
    summary="驳回补录（须说明理由）",
    tags=["补录审核"],
    response_model=ReviewEntry,
    responses={**DECISION_ERRORS, **BAD_BODY},
    # the body is checked here (role first, then the reason), declared as RejectBody
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": RejectBody.model_json_schema()}}}
    },
)
async def post_review_reject(
    request: Request,
    event_id: str,
    body: dict[str, Any] = Body(..., examples=[{"reason": "无送达回证"}]),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        who.require(REVIEWERS, "审核补录")
        raise ApiError(422, "invalid_parameter", "驳回补录须说明理由（reason）", field="reason")
    return await _decide(request, event_id, False, reason, who)


# ---------------------------------------------------------------------------------- 站内消息

NO_PERSON: Responses = {403: _error("令牌未关联人员：站内消息属于具体人员")}


def _inbox_person(who: Principal) -> str:
    from services import inbox

    try:
        return inbox.person_of(who)
    except inbox.NoPerson as exc:
        raise ApiError(403, "no_person", str(exc)) from None


@router.get(
    "/inbox",
    summary="我的站内消息（未读在前，分页）",
    tags=["站内消息"],
    response_model=InboxPage,
    responses=NO_PERSON,
)
def get_inbox(
    offset: int = Query(0, ge=0, description="跳过的条数"),
    limit: int = Query(50, ge=1, le=200, description="每页条数（1–200）"),
    unread_only: bool = Query(False, description="只列未读消息"),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services import inbox

    return inbox.messages(_inbox_person(who), unread_only=unread_only, offset=offset, limit=limit)


@router.post(
    "/inbox/read",
    summary="将站内消息标为已读（ids 省略则全部）",
    tags=["站内消息"],
    response_model=MarkedRead,
    responses={**NO_PERSON, **BAD_BODY},
)
def post_inbox_read(
    body: MarkRead | None = Body(None, examples=[{"ids": [1, 2]}, {}]),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services import inbox

    person = _inbox_person(who)
    n = inbox.mark_read(person, body.ids if body is not None else None)
    return {"marked": n, "unread": inbox.unread_count(person)}


# ---------------------------------------------------------------------------------- onboarding (历史台账)


@router.get(
    "/onboarding",
    summary="历史台账批次（联络员：本部门；督查、管理员：全部）",
    tags=["历史台账"],
    response_model=OnboardingList,
    responses=NOT_FOUND,
)
def get_onboarding(
    status: Literal["open", "approved", "rejected", "all"] = "open",
    department: str | None = None,
    node: str | None = Query(None, description=NODE_DOC),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services.onboarding import list_batches

    shown = None if status == "all" else status
    return {"batches": list_batches(who, status=shown, department=department, node=node)}


@router.get(
    "/onboarding/{batch_id}",
    summary="一个历史台账批次：汇总与每一行的事件、期限",
    tags=["历史台账"],
    response_model=OnboardingBatchView,
    responses={404: _error("没有该编号的历史台账批次")},
)
def get_onboarding_batch(batch_id: int, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    from services.onboarding import get_batch

    return get_batch(who, batch_id)


ONBOARDING_ERRORS: Responses = {
    404: _error("没有该编号的历史台账批次"),
    409: _error("该批次已审核"),
    **TEMPORAL,
}


async def _onboarding_decide(request: Request, batch_id: int, approve: bool, body: Any, who: Principal):
    from app.web.import_pages import decide_batch

    reason = body.get("reason", "") if isinstance(body, dict) else ""
    if not isinstance(reason, str):
        raise ApiError(422, "invalid_parameter", "reason 应为文字", field="reason")
    return await decide_batch(request, who, batch_id, approve, reason)


@router.post(
    "/onboarding/{batch_id}/approve",
    summary="批准历史台账：整批按事件自身日期计入（一次操作）",
    tags=["历史台账"],
    response_model=OnboardingBatchView,
    responses={**ONBOARDING_ERRORS, **BAD_BODY},
)
async def post_onboarding_approve(
    request: Request,
    batch_id: int,
    body: dict[str, Any] | None = Body(None, examples=[{"reason": "已核对纸质台账"}]),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    return await _onboarding_decide(request, batch_id, True, body or {}, who)


@router.post(
    "/onboarding/{batch_id}/reject",
    summary="驳回历史台账（须说明理由）：整批不计入",
    tags=["历史台账"],
    response_model=OnboardingBatchView,
    responses={**ONBOARDING_ERRORS, **BAD_BODY},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RejectBody.model_json_schema()}},
        }
    },
)
async def post_onboarding_reject(
    request: Request,
    batch_id: int,
    body: dict[str, Any] = Body(..., examples=[{"reason": "与纸质台账不符"}]),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    return await _onboarding_decide(request, batch_id, False, body, who)


@router.get(
    "/import-jobs/{job_id}",
    summary="导入任务的进度与结果",
    tags=["事件"],
    response_model=ImportJobView,
    responses=NOT_FOUND,
)
def get_import_job(job_id: str, who: Principal = Depends(api_principal)) -> dict[str, Any]:
    """A durable import job (a web upload of more than a few hundred rows): status (queued / running / done /
    failed), events answered of events to send, and when done the summary and each row's outcome."""
    from services.import_jobs import job_view

    job = job_view(who, job_id)
    if job is None:
        raise ApiError(404, "not_found", f"导入任务 {job_id[:40]} 不存在")
    return job
