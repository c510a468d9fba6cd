"""The admin's audit trail page (/admin/audit): filter, page through, export as CSV or Excel.

Only admins (services.audit.READERS); anyone else gets 403 (and that refusal is itself recorded). The page
has no form that changes a record: there is nothing to edit or delete."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.web.audit_web import audit
from domain import labels
from services.access import ApiError

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _who_reader(request: Request):
    from app.web.pages import _who
    from services.audit import AuditAccessError, require_reader

    who = _who(request)
    try:
        require_reader(who.role)
    except AuditAccessError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return who


def _filter(since, until, person, action, outcome, department):
    from services.audit import AuditQueryError, parse_filter

    try:
        return parse_filter(since, until, person, action, outcome, department)
    except AuditQueryError as exc:
        raise ApiError(422, "invalid_parameter", str(exc)) from None


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    person: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    department: str | None = None,
    before: int | None = Query(None, ge=1),
):
    from app.web.pages import render
    from services.audit import department_choices, search

    who = _who_reader(request)
    f = _filter(since, until, person, action, outcome, department)
    page = search(who, f, before_id=before, limit=PAGE_SIZE)
    given = {
        k: v
        for k, v in (
            ("since", since),
            ("until", until),
            ("person", person),
            ("action", action),
            ("outcome", outcome),
            ("department", department),
        )
        if v
    }
    query = urlencode(given)
    return render(
        request,
        "audit.html",
        who,
        page=page,
        values=given,
        dept_choices=department_choices(who),
        actions=labels.AUDIT_ACTIONS,
        outcomes=labels.AUDIT_OUTCOMES,
        query=query,
        next_url=f"/admin/audit?{urlencode({**given, 'before': page.next_before})}" if page.next_before else None,
        first_url=f"/admin/audit?{query}" if before else None,
    )


@router.get("/admin/audit/export")
def audit_export(
    request: Request,
    format: Literal["csv", "xlsx"] = "xlsx",
    since: str | None = None,
    until: str | None = None,
    person: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    department: str | None = None,
) -> Response:
    from services.audit import export_rows, filter_detail
    from services.exports import write_audit

    who = _who_reader(request)
    f = _filter(since, until, person, action, outcome, department)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / f"audit.{format}"
        n = write_audit(export_rows(who, f), format, out)
        data = out.read_bytes()
    audit(request, who, "export.audit", object=f"审计记录 {format}", detail={**filter_detail(f), "rows": n})
    name = f"审计记录.{format}"
    return Response(
        content=data,
        media_type="text/csv; charset=utf-8" if format == "csv" else XLSX,
        headers={"Content-Disposition": f"attachment; filename=\"audit.{format}\"; filename*=UTF-8''{quote(name)}"},
    )
