"""The page /catalogue: a node's 基层政务公开标准目录 (.xlsx / .csv) -> preview -> confirm -> its duties.

Admins and supervisors, for the nodes of their own subtree (services/catalogue.py decides). The confirm step
carries the uploaded file itself (a catalogue is a few hundred rows), read and checked again on confirm, so
what is written is what the preview showed or a refusal."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from app.web.audit_web import audit
from app.web.bodylimit import limit_for
from app.web.import_pages import _multipart, _same_site
from app.web.pages import _who, csrf_ok, csrf_refused, render
from domain import labels
from domain.catalogue import LABELS as CATALOGUE_LABELS
from services import catalogue
from services.access import ApiError, Principal, home_node, node_choices

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, who: Principal, *, status: int = 200, error: str | None = None, node: str | None = None, **ctx
) -> HTMLResponse:
    node = node or home_node(who)
    duties = catalogue.list_duties(who, node)
    return render(
        request,
        "catalogue.html",
        who,
        status=status,
        error=error,
        node=node,
        nodes=node_choices(who),
        duties=duties,
        statuses=labels.CATALOGUE_STATUSES,
        fields=CATALOGUE_LABELS,
        **ctx,
    )


def _catalogue_user(request: Request) -> Principal:
    who = _who(request)
    who.require(catalogue.ROLES, "导入标准目录")
    return who


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, node: str | None = None) -> HTMLResponse:
    who = _catalogue_user(request)
    return _page(request, who, node=node)


async def _run(request: Request, who: Principal, fields: dict[str, str], filename: str, data: bytes, confirm: bool):
    node = fields.get("node") or home_node(who)
    area = (fields.get("area") or "").strip() or None
    if not filename or not data:
        return _page(request, who, status=422, error="请选择要上传的标准目录文件（.xlsx 或 .csv）", node=node)
    try:
        p = await run_in_threadpool(catalogue.apply if confirm else catalogue.plan, who, data, filename, node, area)
    except catalogue.CatalogueRefused as exc:
        return _page(request, who, status=422, error=str(exc), node=node)
    if confirm and p.applied:  # the same record as the CLI's (who imported which file into which node)
        detail = {"node": node, "area": p.area, "new": p.count("new"), "changed": p.count("changed")}
        audit(request, who, "catalogue.import", object=filename, detail=detail)
    carried = base64.b64encode(data).decode("ascii") if p.ok and not confirm else ""
    return _page(
        request, who, status=200 if p.ok else 422, node=node, plan=p, carried=carried, filename=filename, area=p.area
    )


@router.post("/catalogue", response_class=HTMLResponse)
async def catalogue_preview(request: Request) -> HTMLResponse:
    who = _catalogue_user(request)
    _same_site(request)
    body = await request.body()
    limit, shown = limit_for("/catalogue")
    if len(body) > limit:
        return _page(request, who, status=413, error=f"文件过大（上限 {shown}）")
    fields, files = await run_in_threadpool(_multipart, request, body)
    if not csrf_ok(request, fields, who):
        return csrf_refused(request)
    filename, data = files.get("file", ("", b""))
    return await _run(request, who, fields, filename, data, confirm=False)


@router.post("/catalogue/confirm", response_class=HTMLResponse)
async def catalogue_confirm(request: Request) -> HTMLResponse:
    who = _catalogue_user(request)
    _same_site(request)
    body = await request.body()
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    try:
        data = base64.b64decode(form.get("payload", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_request", "预览数据无效，请重新上传标准目录") from None
    return await _run(request, who, form, form.get("filename", ""), data, confirm=True)
