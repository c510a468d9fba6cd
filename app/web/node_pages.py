"""Jurisdiction pages (issue 20 §1): /nodes/{id}/compare, a node's children side by side (on-time rate,
overdue, registration lag, score), sortable in the browser (static/sort.js) and by `?sort=`, with its xlsx
(/api/nodes/{id}/compare?format=xlsx, which takes the session cookie). Use case: services/rollup.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.web.pages import _who, render
from services import views as rm
from services.rollup import compare_view

router = APIRouter(include_in_schema=False)


@router.get("/nodes/{node_id}/compare", response_class=HTMLResponse)
def compare_page(request: Request, node_id: str, sort: str = "score", period: str | None = None):
    who = _who(request)
    day, p = rm.today(), rm.parse_period_param(period or None)
    view, r, rows = compare_view(who, node_id, day, p, sort=sort)
    return render(request, "compare.html", who, view=view, rollup=r, rows=rows, period=p)
