"""The upload page /import: a ledger (台账) file -> preview table -> confirm -> results.

Liaisons import for their own department, supervisors and admins for any. The confirm step carries the
parsed canonical rows (personal-data columns already dropped by domain.ledger), never the uploaded file,
and everything is checked again on confirm. Posts carry the session's CSRF token and must come from this
site (Origin/Referer check).
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.web.audit_web import audit
from app.web.bodylimit import limit_for
from app.web.pages import _who, csrf_ok, csrf_refused, render
from services import views as rm
from services.access import ApiError, Principal, act_for, forbidden

router = APIRouter(include_in_schema=False)
IMPORTERS = ("liaison", "supervisor", "admin")


def _importer(request: Request) -> Principal:
    who = _who(request)
    who.require(IMPORTERS, "导入台账")
    return who


def _department(who: Principal, department: str | None) -> str | None:
    return act_for(who, department, "导入", "台账")


def _same_site(request: Request) -> None:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise forbidden("请求来源不是本站：为防止跨站提交，已拒绝")


def _multipart(request: Request, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, "bad_request", "请通过页面上的表单上传台账文件（multipart/form-data）")
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in msg.iter_parts():
        param = part.get_param("name", header="content-disposition")
        if not isinstance(param, str) or not param:
            continue
        name = param
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, data)
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


def _form(
    request: Request, who: Principal, *, status: int = 200, error: str | None = None, department: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "import.html",
        who,
        status=status,
        step="upload",
        error=error,
        department=department or who.department,
        names=rm.department_names(),
    )


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, department: str | None = None) -> HTMLResponse:
    who = _importer(request)
    return _form(request, who, department=_department(who, department))


@router.get("/import/template/{kind}.xlsx")
def import_template(request: Request, kind: str) -> Response:
    from domain.ledger import KIND_LABELS, template_xlsx

    _who(request)
    if kind not in KIND_LABELS:
        raise ApiError(404, "not_found", f"没有 {kind} 台账模板（可下载 requests 或 documents）")
    name = quote(f"{KIND_LABELS[kind]}模板.xlsx")
    return Response(
        template_xlsx(kind),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=\"{kind}.xlsx\"; filename*=UTF-8''{name}"},
    )


@router.post("/import", response_class=HTMLResponse)
async def import_preview(request: Request) -> HTMLResponse:
    from domain.ledger import LedgerError
    from services.ledger_import import plan

    who = _importer(request)
    _same_site(request)
    body = await request.body()
    limit, shown = limit_for("/import")  # the body limit's own figure (app/web/bodylimit.py): one setting
    if len(body) > limit:  # a body without Content-Length is cut there already; this is the page's answer
        return _form(request, who, status=413, error=f"文件过大（上限 {shown}），请分批导入")
    # Parsing the form, the workbook and the preview is CPU work of seconds for a big ledger: a worker
    # thread does it, so the event loop keeps answering (/healthz, other people's pages).
    fields, files = await run_in_threadpool(_multipart, request, body)
    if not csrf_ok(request, fields, who):
        return csrf_refused(request)
    department = _department(who, fields.get("department"))
    if not department:
        return _form(request, who, status=422, error="请选择台账所属部门")
    filename, data = files.get("file", ("", b""))
    if not filename or not data:
        return _form(request, who, status=422, error="请选择要上传的台账文件（.xlsx 或 .csv）", department=department)
    try:
        p = await run_in_threadpool(plan, data, filename, department)
    except LedgerError as exc:
        return _form(request, who, status=422, error=str(exc), department=department)
    return await run_in_threadpool(_preview_page, request, who, p, department)


def _preview_page(request: Request, who: Principal, p, department: str) -> HTMLResponse:
    from domain.ledger import to_canonical_json
    from services.ledger_import import preview
    from store.db import database_url, get_engine

    filename = p.filename
    outcomes = preview(p, get_engine(database_url()), role=who.record_role)
    carried = json.dumps(
        {
            "kind": p.table.kind,
            "department": department,
            "filename": filename,
            "encoding": p.table.encoding,
            "dropped": p.table.dropped,
            "unknown": p.table.unknown,
            "rows": to_canonical_json(p.table),
        },
        ensure_ascii=False,
    )
    return render(
        request,
        "import.html",
        who,
        step="preview",
        plan=p,
        outcomes=_view(p, outcomes),
        carried=carried,
        department=department,
        names=rm.department_names(),
        dry_run=True,
        go_live=_go_live(department),
    )


@router.post("/import/confirm", response_class=HTMLResponse)
async def import_confirm(request: Request) -> Response:
    from domain.engine import engine
    from domain.ledger import KIND_LABELS
    from domain.settings import get_settings
    from services.import_jobs import submit_ledger, wants_job
    from services.ledger_import import apply, plan_from_preview, summary
    from store.db import database_url, get_engine

    who = _importer(request)
    _same_site(request)
    body = await request.body()
    form = await run_in_threadpool(lambda: parse_qs(body.decode("utf-8", "replace")))
    if not csrf_ok(request, {k: v[0] for k, v in form.items()}, who):
        return csrf_refused(request)
    try:
        carried = await run_in_threadpool(json.loads, (form.get("payload") or [""])[0])
        kind = carried["kind"]
        if kind not in KIND_LABELS:
            raise ValueError(kind)
        rows = carried["rows"]
        if not isinstance(rows, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _form(request, who, status=400, error="预览数据无效，请重新上传台账")
    limit = get_settings().ledger_max_rows
    if len(rows) > limit:  # the carried preview is checked like the file was
        return _form(request, who, status=422, error=f"超过 {limit} 行数据的上限，请按月或按季度分成几个文件导入")
    department = _department(who, carried.get("department"))
    dept = engine().directory.departments.get(department or "")
    if dept is None:
        return _form(request, who, status=422, error=f"未知部门 “{department}”")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能导入")
    try:
        p = await run_in_threadpool(plan_from_preview, carried, dept.id)
    except (ValueError, KeyError, TypeError):
        return _form(request, who, status=400, error="预览数据无效，请重新上传台账")
    db = get_engine(database_url())
    from services.ingest import Stalled, watched, worker_problem

    problem = await worker_problem(client)  # a dead worker or server is said now, not after a minute
    if problem is not None:
        return _interrupted(request, who, p, db, f"{problem[1]}，本次未发送任何事件")
    sent = sum(len(r.events) for r in p.rows if not r.problems and r.duplicate_of is None)
    if wants_job(len(p.rows)):  # a durable job in the worker: the page follows its progress
        job_id = await submit_ledger(client, who, carried, dept.id, sent)
        audit(request, who, "ledger.import", object=p.filename, department=dept.id, detail={"job": job_id})
        return RedirectResponse(f"/import/jobs/{job_id}", status_code=303)
    try:
        outcomes = await watched(
            lambda tick: apply(p, client, recorded_by=who.actor, db_engine=db, role=who.record_role, progress=tick),
            sent,
        )
    except Stalled as exc:
        audit(
            request,
            who,
            "ledger.import",
            object=p.filename,
            department=dept.id,
            outcome="failure",
            detail={"reason": str(exc)},
        )
        return _interrupted(request, who, p, db, f"{exc}，导入已中止")
    except Exception as exc:
        from app.web.errors import unexpected_error

        status, answer = unexpected_error(exc)
        if status == 500:
            raise
        return _interrupted(request, who, p, db, answer["detail"], status=status)
    # rows not processed for an outage: the page says which, and the status says the import is unfinished
    unfinished = any(o.status == "unavailable" for o in outcomes)
    audit(request, who, "ledger.import", object=p.filename, department=dept.id, detail=summary(outcomes))
    return await run_in_threadpool(
        render,
        request,
        "import.html",
        who,
        status=503 if unfinished else 200,
        step="done",
        plan=p,
        outcomes=_view(p, outcomes),
        department=dept.id,
        names=rm.department_names(),
        dry_run=False,
        go_live=_go_live(dept.id),
    )


def _go_live(department: str) -> str | None:
    from services.ledger_import import go_live_of

    day = go_live_of(department)
    return day.isoformat() if day else None


def _view(p, outcomes) -> list[dict]:
    from domain.labels import EVENT_TYPES
    from services.ledger_import import EVENT_STATUS_LABELS, STATUS_LABELS

    out = []
    for o in outcomes:
        d = o.as_json()
        d["label"] = STATUS_LABELS[o.status]
        for e in d["events"]:
            e["label"] = EVENT_TYPES.get(e["type"], e["type"])
            e["status_label"] = EVENT_STATUS_LABELS.get(e["status"], e["status"])
        out.append(d)
    return out


# ------------------------------------------------------------------------------ interrupted confirm
def _interrupted(request: Request, who: Principal, p, db, reason: str, status: int = 503) -> HTMLResponse:
    """The confirm could not finish: say why, and per row whether the read model holds it (took effect)."""
    from app.web.errors import RETRY_AFTER
    from services.ledger_import import preview

    try:
        now = preview(p, db, role=who.record_role)  # against the store as it is now: held = took effect
    except Exception as exc:
        import logging

        logging.getLogger("shixian.web").error("import interrupted, rows unknown: %s", type(exc).__name__)
        now = None
    done, pending, refused = [], [], []
    for o in now or []:
        row = {"row": o.row, "key": o.key, "events": o.events}
        if o.status == "nothing_new":
            done.append(row)
        elif o.status in ("rejected", "duplicate"):
            refused.append({**row, "problems": o.problems})
        else:
            pending.append(row)
    resp = render(
        request,
        "import_interrupted.html",
        who,
        status=status,
        status_code=status,
        reason=reason,
        plan=p,
        known=now is not None,
        done=done,
        pending=pending,
        refused=refused,
        department=p.department,
        names=rm.department_names(),
    )
    if status == 503:
        resp.headers["Retry-After"] = str(RETRY_AFTER["temporal_unavailable"])
    return resp


# ------------------------------------------------------------------------------ onboarding batches (历史台账)
@router.get("/onboarding", response_class=HTMLResponse)
def onboarding_list(request: Request, status: str = "open") -> HTMLResponse:
    from services.onboarding import list_batches
    from services.review import REVIEWERS

    who = _who(request)
    shown = None if status == "all" else (status if status in ("open", "approved", "rejected") else "open")
    batches = list_batches(who, status=shown)
    return render(
        request, "onboarding.html", who, batches=batches, batch=None, shown=status, may_review=who.role in REVIEWERS
    )


@router.get("/onboarding/{batch_id}", response_class=HTMLResponse)
def onboarding_page(request: Request, batch_id: int) -> HTMLResponse:
    from services.onboarding import get_batch
    from services.review import REVIEWERS

    who = _who(request)
    b = get_batch(who, batch_id)
    return render(request, "onboarding.html", who, batches=None, batch=b, may_review=who.role in REVIEWERS)


async def _onboarding_form(request: Request, batch_id: int, approve: bool):
    from app.web.pages import read_form, redirect_with_flash

    who = _who(request)
    _same_site(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    b = await decide_batch(request, who, batch_id, approve, form.get("reason", ""))
    done = "已批准" if approve else "已驳回"
    return redirect_with_flash(
        f"/onboarding/{batch_id}", f"{done}{b['department_name']}的历史台账（{b['summary']['rows']} 行）", request
    )


@router.post("/onboarding/{batch_id}/approve")
async def onboarding_approve_form(request: Request, batch_id: int):
    return await _onboarding_form(request, batch_id, True)


@router.post("/onboarding/{batch_id}/reject")
async def onboarding_reject_form(request: Request, batch_id: int):
    return await _onboarding_form(request, batch_id, False)


async def decide_batch(request: Request, who, batch_id: int, approve: bool, reason: str) -> dict:
    """Approve or reject an onboarding batch and audit the outcome (the page's form and the API both)."""
    from services.onboarding import OnboardingError, onboarding_action, onboarding_audit
    from services.onboarding import approve as approve_batch
    from services.onboarding import reject as reject_batch

    try:
        if approve:
            b = await approve_batch(request.app.state.client, who, batch_id, reason)
        else:
            b = reject_batch(who, batch_id, reason)
    except OnboardingError as exc:
        audit(
            request,
            who,
            onboarding_action(approve),
            object=f"onboarding:{batch_id}",
            outcome="failure",
            detail={"reason": exc.detail},
        )
        raise
    audit(request, who, onboarding_action(approve), **onboarding_audit(b))
    return b


# ------------------------------------------------------------------------------ durable import jobs
@router.get("/import/jobs/{job_id}", response_class=HTMLResponse)
def import_job_page(request: Request, job_id: str) -> HTMLResponse:
    from services.import_jobs import job_view
    from services.ledger_import import STATUS_LABELS

    who = _importer(request)
    job = job_view(who, job_id)
    if job is None:
        raise ApiError(404, "not_found", f"导入任务 {job_id[:40]} 不存在")
    return render(
        request,
        "import_job.html",
        who,
        job=job,
        running=job["status"] in ("queued", "running"),
        labels=STATUS_LABELS,
        names=rm.department_names(),
    )
