"""Response models of the API, shared with the pages (which render the same objects).

The read-model helpers (services.views) build these; the API declares them as `response_model`s so
/openapi.json describes what it answers, and the pages read the same fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.model import ClockSnapshot
from domain.review import LateEntry
from domain.scoring import ScoreResult

__all__ = [
    "API_ERRORS",
    "Responses",
    "error_response",
    "AnnualReport",
    "CalendarInfo",
    "CalendarReload",
    "ClockView",
    "Delivery",
    "DeliveryList",
    "DueChange",
    "ErrorBody",
    "EventView",
    "Flag",
    "Health",
    "IngestLine",
    "IngestReport",
    "ItemDetail",
    "ItemList",
    "ItemView",
    "OverdueList",
    "OverdueRow",
    "LateEntryView",
    "Readiness",
    "RejectBody",
    "ReviewEntry",
    "ReviewQueue",
    "ScoreResult",
]


class ErrorBody(BaseModel):
    """Every error of the API: a machine code and a Chinese explanation; some add the field at fault,
    per-field `errors` (422) or the failed `problems` (409)."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(examples=["forbidden"])
    detail: str = Field(examples=["无权访问"])
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


Responses = dict[int | str, dict[str, Any]]


def error_response(text: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry: this status answers ErrorBody."""
    return {"model": ErrorBody, "description": text}


# Every API route can answer these (the handlers in app.web.server render each as ErrorBody JSON).
API_ERRORS: Responses = {
    401: error_response("未登录或令牌无效"),
    403: error_response("角色或部门无权访问"),
    422: error_response("参数或请求体有误（errors 列出各字段）"),
    500: error_response("服务器内部错误（详情只在服务器日志中）"),
    503: error_response("工作流服务或数据库暂不可用，请稍后重试"),
}


class Flag(BaseModel):
    code: str
    label: str
    detail: str


class ClockView(ClockSnapshot):
    rule_name: str
    working_days_left: int | None = Field(None, description="距期限的工作日数（负数：已逾期的工作日数）；已办结为空")
    held: bool = Field(False, description="待审核：待审核的补录事件将决定此时限，审核前既不算按时也不算逾期")


class DueChange(BaseModel):
    rule: str
    rule_name: str
    old_due: str | None = None
    new_due: str | None = None
    reason: str = ""
    changed_at: str


class EventView(BaseModel):
    event_id: str
    type: str
    occurred_on: str | None = None
    recorded_by: str | None = None
    ingested_at: str  # kept for compatibility: the same instant in UTC
    # The recording instant (the item workflow's clock), Asia/Shanghai (+08:00).
    recorded_at: str = ""
    recorded_role: str | None = None  # liaison / head / supervisor / admin / operator / system (None: unknown)
    proxy: bool = False  # 代录: entered for the department by a supervisor, an admin or an operator's import
    lag_working_days: int | None = None  # working days from the event's own date to its recording day
    registration_late: bool = False  # 登记滞后: a start event recorded past the late-entry bound
    payload: dict[str, Any] = Field(default_factory=dict)


class LateEntryView(LateEntry):
    """A late entry (补录) as the item shows it (without the workflow's content hash)."""

    content_hash: str = Field("", exclude=True)


class ItemView(BaseModel):
    id: str
    type: str
    department: str
    department_name: str
    title: str = ""
    state: str
    version: int = 0
    clocks: list[ClockView] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)
    consultations: dict[str, int] = Field(
        default_factory=dict, description="征求意见次数（count）与中止计算的工作日合计（paused_working_days）"
    )
    late_entries: list[LateEntryView] = Field(
        default_factory=list, description="补录：待审核的尚不计入；两个日期都列出"
    )
    review_pending: bool = Field(False, description="待审核：有补录事件等待督查审核")
    review_label: str = Field("", description="review_pending 时为“待审核”")


class ItemDetail(ItemView):
    due_date_changes: list[DueChange] = Field(default_factory=list)
    events: list[EventView] = Field(default_factory=list)


class ItemList(BaseModel):
    department: str | None = None
    node: str | None = Field(None, description="所属地区（config/jurisdictions.toml 节点编号）：该节点及其下级的部门")
    items: list[ItemView]
    next_cursor: str | None = Field(None, description="下一页的 cursor；最后一页为空")


class OverdueRow(BaseModel):
    id: str
    department: str
    department_name: str
    rule: str
    rule_name: str
    due: str
    overdue_working_days: int
    title: str = ""
    type: str
    ladder_step: str | None = None
    provisional: bool = False
    flags: list[Flag] = Field(default_factory=list)


class OverdueList(BaseModel):
    as_of: str
    department: str | None = None
    node: str | None = Field(None, description="所属地区（config/jurisdictions.toml 节点编号）：该节点及其下级的部门")
    rows: list[OverdueRow]
    next_cursor: str | None = Field(None, description="下一页的 cursor；最后一页为空")


class IngestLine(BaseModel):
    index: int = Field(description="事件在请求体中的序号（从 1 起）")
    line: int
    status: Literal["applied", "held", "duplicate", "rejected"]
    event_id: str | None = None
    type: str | None = None
    item_id: str | None = None
    field: str | None = None
    reason: str | None = None
    message: str


class IngestReport(BaseModel):
    recorded_by: str
    applied: int
    held: int = Field(description="补录待审核（督查批准后才计入）")
    duplicate: int
    rejected: int
    results: list[IngestLine]


class RejectedElement(BaseModel):
    line: int = Field(description="元素在请求体中的序号（从 1 起）")
    reason: str


class ImportJobAccepted(BaseModel):
    """POST /api/events above the job threshold: the batch runs as a durable import job (202)."""

    job: str
    status: Literal["queued"]
    url: str = Field(description="作业进度与结果：GET /api/import-jobs/<job>（同 Location）")
    total: int = Field(description="交给作业的事件数（不含下列被拒绝的非对象元素）")
    rejected: list[RejectedElement] = Field(default_factory=list, description="不是 JSON 对象的元素，未交给作业")


class AnnualReport(BaseModel):
    """The annual report draft: parts 一 to 六 and tables 二 to 四 (see docs/annual-report)."""

    model_config = ConfigDict(extra="allow")

    year: int
    title: str


class AnnualLockInfo(BaseModel):
    """A year's annual report locked (store.locks.AnnualLock): later changes go to its 更正说明."""

    year: int
    scope: str
    basis: Literal["published", "assessor"]
    locked_by: str | None
    locked_at: str
    message: str


class CoverageRow(BaseModel):
    year: int
    region: str
    coverage: str
    provisional: bool
    sources: list[str]


class RegionalDay(BaseModel):
    date: str
    region: str
    kind: Literal["off", "work", "partial"] = Field(description="off 全体放假；work 调休上班；partial 仅部分职工放假")
    name: str
    source: str
    file: str


class Notice(BaseModel):
    region: str
    years: list[int]
    source: str
    issued_by: str | None = None
    issued_on: str | None = None
    document_number: str | None = None
    found_at: list[str] = Field(default_factory=list)
    file: str
    evidence: Literal["notice", "report", "unknown"] = Field(
        "unknown", description="notice 见到通知原文；report 仅见报道；unknown 文件未注明"
    )
    festivals: list[str] = Field(default_factory=list, description="本通知所涉节日（空：该地区全部节日）")
    partial_days: list[str] = Field(default_factory=list, description="仅部分职工放假的日期（不影响期限）")


class NoticeSummary(BaseModel):
    region: str
    name: str
    parent: str | None = None
    since: int
    through: int
    covered: list[int]
    estimated: list[int]
    reports: list[int] = Field(default_factory=list, description="仅有报道、未见通知原文的年度")


class RegionNode(BaseModel):
    """A calendar region in the tree of config/regions.toml (national at the root, not listed)."""

    id: str
    name: str
    parent: str | None = None
    depth: int = 0
    source: str = ""


class EstimateRow(BaseModel):
    """A festival's days estimated for a year without its notice (provisional, ±uncertainty_days)."""

    region: str
    year: int
    festival: str
    calendar: str
    staff: Literal["all", "some"]
    dates: list[str]
    uncertainty_days: int
    reason: str


class MissingNoticeRow(BaseModel):
    region: str
    name: str
    year: int
    expected: str = Field(description="通常的发布日期（此后仍未录入即提醒管理员）")
    festivals: list[str] = Field(default_factory=list)
    text: str


class CalendarInfo(BaseModel):
    regions: list[str]
    coverage: list[CoverageRow]
    provisional_years: list[int] = Field(description="尚无国务院办公厅放假安排的年份（暂定）")
    regional_days: list[RegionalDay]
    notices: list[Notice]
    notice_summary: list[NoticeSummary]
    region_tree: list[RegionNode] = Field(default_factory=list)
    estimates: list[EstimateRow] = Field(default_factory=list, description="今明两年按规则推算的地方节日（暂定）")
    missing_notices: list[MissingNoticeRow] = Field(
        default_factory=list, description="按往年规律应已发布、尚未录入的放假通知"
    )
    fingerprint: str
    config_problem: str | None = Field(None, description="被拒绝的配置文件及其错误（日历仍为上一次有效的数据）")


class CalendarReload(BaseModel):
    recalculating: int
    fingerprint: str
    config_problem: str | None = Field(None, description="被拒绝的配置文件及其错误（日历仍为上一次有效的数据）")
    message: str


class ReviewEntry(BaseModel):
    """A late entry in the review queue (services.review.entry_json)."""

    event_id: str
    item_id: str
    department: str
    type: str
    occurred_on: str
    recorded_at: str | None = None
    recorded_by: str | None = None
    role: str
    role_name: str
    reason: str
    status: Literal["held", "approved", "rejected"]
    status_name: str
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    upload: str | None = Field(None, description="所属台账上传（同一次上传的补录可一并审核）")
    depends_on: str | None = Field(None, description="依赖的待审核事件：随其一并审核")
    type_name: str = ""


class ReviewQueue(BaseModel):
    status: Literal["held", "approved", "rejected", "all"]
    entries: list[ReviewEntry]


class _BulkSelection(BaseModel):
    model_config = ConfigDict(strict=True)

    @field_validator("approve", mode="before", check_fields=False)
    @classmethod
    def _a_boolean(cls, v: Any) -> Any:
        if not isinstance(v, bool):  # `approve: 0` is not `false`: the schema says boolean
            raise ValueError("approve 应为 true 或 false")
        return v

    event_ids: list[str] = Field(default_factory=list, description="所选补录的 event_id")
    upload: str | None = Field(None, description="或：这次台账上传的全部待审核补录")


class BulkApproveBody(_BulkSelection):
    approve: Literal[True] = Field(description="true 批准")
    reason: str = Field("", description="审核说明（可不填），对所有所选补录")


class BulkRejectBody(_BulkSelection):
    approve: Literal[False] = Field(description="false 驳回")
    reason: str = Field(pattern=r"\S", max_length=2000, description="驳回理由（必填），对所有所选补录")


# An empty selection (no ids, an upload with nothing waiting) decides nothing and answers 200 with zero counts.
BulkReviewBody = BulkApproveBody | BulkRejectBody


class BulkReviewOutcome(BaseModel):
    event_id: str
    ok: bool
    entry: ReviewEntry | None = None
    field: str | None = None
    error: str | None = None
    status: int | None = None


class BulkReviewResult(BaseModel):
    approve: bool
    results: list[BulkReviewOutcome]
    decided: int
    failed: int


class RejectBody(BaseModel):
    reason: str = Field(pattern=r"\S", description="驳回理由（必填，不能全是空白）", examples=["无送达回证"])


class Delivery(BaseModel):
    id: int
    item_id: str | None = None
    rule: str | None = None
    step: str | None = None
    person: str | None = None
    state: Literal["intent", "sent", "failed"]
    channel_used: str | None = None
    error: str | None = None
    created_at: str | None = None
    sent_at: str | None = None


class DeliveryList(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None = Field(None, description="下一页的 cursor；最后一页为空")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Literal["ok", "failing"]] = Field(description="temporal / database / config / disk")
    reasons: dict[str, str] = Field(default_factory=dict, description="每个失败项的中文原因（如 磁盘空间不足）")
