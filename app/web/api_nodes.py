"""Jurisdiction nodes in the API (issue 20 §1): the nodes a principal may read, a node's roll-up (per child
node and per own department) and the compare-children table (JSON or xlsx). Use cases: services/rollup.py."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from app.web.api import _download, _given, _written
from app.web.audit_web import audit
from app.web.auth import api_principal
from services import views as rm
from services.access import Principal
from services.rollup import CompareSort, CompareView, NodeList, NodeRollupView, compare_view, node_list
from services.rollup import node_rollup_view as _node_rollup_view
from services.schemas import API_ERRORS as ERRORS
from services.schemas import Responses
from services.schemas import error_response as _error

router = APIRouter(prefix="/api", responses=ERRORS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND: Responses = {404: _error("未知的行政区划节点")}
PERIOD = Query(
    None, json_schema_extra={"pattern": rm.PERIOD_PATTERN}, description="2026、2026-Q3 或 2026-11；默认本季度"
)
AS_OF = Query(None, json_schema_extra=rm.DAY_SCHEMA, description="截至日期 YYYY-MM-DD，默认今天（北京时间）")


@router.get("/nodes", summary="可查看的行政区划节点", tags=["行政区划"], response_model=NodeList)
def get_nodes(who: Principal = Depends(api_principal)) -> NodeList:
    return node_list(who)


@router.get(
    "/nodes/{node_id}/rollup",
    summary="节点汇总：每个下级地区一行（含其全部下级）、本级每个部门一行",
    tags=["行政区划"],
    response_model=NodeRollupView,
    responses=NOT_FOUND,
)
def get_node_rollup(
    node_id: str, period: str | None = PERIOD, as_of: str | None = AS_OF, who: Principal = Depends(api_principal)
) -> NodeRollupView:
    day, p = rm.parse_day(_given(as_of, "as_of")), rm.parse_period_param(_given(period, "period"))
    return _node_rollup_view(who, node_id, day, p)


@router.get(
    "/nodes/{node_id}/compare",
    summary="下级地区对比（按时率、逾期、登记滞后、得分）",
    tags=["行政区划"],
    response_model=CompareView,
    responses={**NOT_FOUND, 200: {"content": {XLSX: {}}, "description": "format=json：对比表；xlsx：下载文件"}},
)
def get_node_compare(
    request: Request,
    node_id: str,
    sort: CompareSort = "score",
    period: str | None = PERIOD,
    as_of: str | None = AS_OF,
    format: Literal["json", "xlsx"] = "json",
    who: Principal = Depends(api_principal),
):
    from services.rollup import write_compare_xlsx

    day, p = rm.parse_day(_given(as_of, "as_of")), rm.parse_period_param(_given(period, "period"))
    view, r, rows = compare_view(who, node_id, day, p, sort=sort)
    if format == "json":
        return view
    data = _written(lambda _, out: write_compare_xlsx(r, rows, day, p, out), None, suffix=".xlsx")
    audit(request, who, "export.compare", object=f"{node_id} {p.label}", detail={"as_of": str(day)})
    return _download(data, XLSX, f"下级对比-{r.node.name}-{p.label}.xlsx")
