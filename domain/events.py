"""The event vocabulary (shared/reference/events.md): validation and normalisation.

`parse_event(obj)` returns a normalised `Event` or raises `EventError(field, reason)`.
The applicant's personal data (`applicant`) is accepted on input and dropped here, so it can never
reach workflow history, the store, logs or exports; only `applicant_type` is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.limits import check_day, check_deadline, check_id, check_moment, check_text, future_reason, parse_iso_day
from domain.pii import mask_fields
from domain.review import Recorded
from domain.shanghai import SHANGHAI


class EventError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Outcome = Literal[
    "granted",
    "partially_granted",
    "withheld.state_secret",
    "withheld.prohibited_by_law",
    "withheld.security_stability",
    "withheld.third_party_rights",
    "withheld.internal_affairs",
    "withheld.process_information",
    "withheld.enforcement_file",
    "withheld.administrative_inquiry",
    "unavailable.not_held",
    "unavailable.needs_creation",
    "unavailable.still_unclear",
    "not_processed.petition",
    "not_processed.duplicate",
    "not_processed.publication",
    "not_processed.excessive",
    "not_processed.confirmation",
    "other.no_correction",
    "other.fee_unpaid",
    "other.other",
]
ApplicantType = Literal[
    "natural_person",
    "legal.business",
    "legal.research",
    "legal.public_interest",
    "legal.legal_services",
    "legal.other",
]


# Fields holding ids (README "Events": one pattern for every id).
ID_FIELDS = (
    "event_id",
    "document_id",
    "request_id",
    "case_id",
    "item_id",
    "department",
    "recorded_by",
    "proposal_id",
    "ticket_id",
    "message_id",
    "duty_item_id",  # i21-catalogue
    "consultation_id",
    "column_id",
)


def _today(info: ValidationInfo | None) -> dt.date | None:
    return (info.context or {}).get("today") if info is not None else None


def _day(v: Any) -> dt.date:
    """A calendar date: strict YYYY-MM-DD within 1990–2100 (a date object passes through, bounded)."""
    if isinstance(v, dt.datetime):
        raise ValueError(f"“{v}” 不是有效日期（应为 YYYY-MM-DD）")
    if isinstance(v, dt.date):
        return check_day(v)
    return parse_iso_day(v if isinstance(v, str) else repr(v))


def _happened_day(v: Any, info: ValidationInfo) -> dt.date:
    """The date of a fact that has happened: also not after the day it is recorded. The engine's own
    events (dated by workflow time, e.g. an abandonment on respond_by) are not judged against the clock."""
    internal = bool((info.context or {}).get("internal"))
    return check_day(_day(v), happened=not internal, today=_today(info))


def _web_url(v: str) -> str:
    """A published page's address: http(s) with a host only, so a stored link can never run script
    (javascript:, data:) when a page renders it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(v)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"“{v[:80]}” 不是有效网址：只接受 http:// 或 https:// 开头的完整网址（如 https://www.gov.cn/…）"
        )
    if any(ch.isspace() or ch == "\\" for ch in v):
        raise ValueError("网址中不能有空白或反斜杠")
    return v


Day = Annotated[dt.date, BeforeValidator(_day)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
HappenedDay = Annotated[dt.date, BeforeValidator(_happened_day)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    event_id: str = Field(title="事件编号", description="发送方给出的唯一编号；同一编号重复提交不会重复登记")
    type: str
    recorded_by: str | None = Field(None, title="登记人")

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, data: Any, info: ValidationInfo):
        """Ids match the id pattern; every text is free of control characters and within its length."""
        if not isinstance(data, dict):
            return data
        internal = bool((info.context or {}).get("internal"))
        for key, value in data.items():
            _check_value(str(key), str(key), value, internal)
        return data


def _check_value(path: str, key: str, value: Any, internal: bool) -> None:
    """Raises ValueError("<field path>: <reason>") (parse_event reports the field)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(f"{path}.{k}", str(k), v, internal)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_value(f"{path}.{i}", key, v, internal)
    elif isinstance(value, str):
        try:
            _check_str(key, value, internal)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


def _check_str(key: str, value: str, internal: bool) -> None:
    if key in ID_FIELDS:
        # The engine's own event ids carry a '#' suffix (e.g. "...#open"), which senders cannot use.
        check_id(value.strip().replace("#", "-") if internal and key == "event_id" else value.strip())
    else:
        check_text(value, key)


def _instant(v: Any, info: ValidationInfo | None = None) -> str:
    """ISO datetime, +08:00 assumed when no offset is given; normalised to +08:00; a fact, so bounded
    like a happened date."""
    try:
        moment = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        check_moment(moment, happened=True, today=_today(info))
        return moment.astimezone(SHANGHAI).isoformat()
    except OverflowError:
        raise ValueError(f"“{v}” 超出可受理的时间范围") from None


# ---------------------------------------------------------------- documents
class DocumentSigned(_Base):
    type: Literal["document.signed"]
    document_id: str = Field(title="文件编号", description="如 钦发改规〔2026〕3号")
    department: str = Field(title="部门")
    title: str = Field(title="文件标题")
    kind: Literal["regulation", "normative", "policy", "other"] = Field(
        title="文件类别", description="规章、行政规范性文件、其他政策文件须发布解读"
    )
    signed_on: HappenedDay = Field(title="成文日期", description="主动公开期限自成文之日起算（20 个工作日）")
    disclosure: Literal["public", "on_request", "withheld"] = Field(
        title="公开属性", description="规章和行政规范性文件只能主动公开（条例第二十条）"
    )
    # `withheld_reason` was the name before issue 17 (only withheld needed a reason); stored events and
    # existing senders keep using it.
    disclosure_reason: str | None = Field(
        None,
        validation_alias=AliasChoices("disclosure_reason", "withheld_reason"),
        title="不主动公开理由",
        description="公开属性为“依申请公开”或“不予公开”时必填（国办发〔2016〕80号）",
    )
    needs_interpretation: bool | None = Field(
        None, title="是否需要解读", description="不填：规范性文件和政策文件默认需要"
    )

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo):
        # New input only: events stored before issue 17 with these combinations must still load and replay.
        new = not bool((info.context or {}).get("internal"))
        if new and self.kind in STATUTORY_PUBLIC and self.disclosure != "public":
            raise ValueError(
                f"disclosure: {CHOICE_LABELS['kind'][self.kind]}属于应当主动公开的政府信息（《政府信息公开条例》"
                f"第二十条第（一）项），不能登记为“{CHOICE_LABELS['disclosure'][self.disclosure]}”；"
                "应自成文之日起20个工作日内公开（第二十六条）"
            )
        if self.disclosure == "withheld" and not self.disclosure_reason:
            raise ValueError("disclosure_reason: 不予公开的文件必须说明理由")
        if new and self.disclosure == "on_request" and not self.disclosure_reason:
            raise ValueError("disclosure_reason: 依申请公开的文件必须说明不主动公开的理由（国办发〔2016〕80号）")
        if self.needs_interpretation is None:
            self.needs_interpretation = self.kind in ("normative", "policy")
        return self


# Kinds the law makes public proactively (条例第二十条(一): 规章和规范性文件).
STATUTORY_PUBLIC = ("regulation", "normative")


class DocumentPublished(_Base):
    type: Literal["document.published"]
    document_id: str = Field(title="文件编号")
    published_on: HappenedDay = Field(title="公开日期")
    url: WebUrl = Field(title="公开网址")
    channel: Literal["website", "gazette", "weibo", "wechat", "other"] = Field("website", title="公开渠道")


class DocumentRepealed(_Base):
    type: Literal["document.repealed"]
    document_id: str = Field(title="文件编号")
    repealed_on: HappenedDay = Field(title="废止日期")


class InterpretationPublished(_Base):
    type: Literal["interpretation.published"]
    document_id: str = Field(title="文件编号")
    published_on: HappenedDay = Field(title="解读发布日期")
    url: WebUrl = Field(title="解读网址")
    form: Literal["text", "graphic", "video", "other"] = Field("text", title="解读形式")


# ---------------------------------------------------------------- requests
class Applicant(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str | None = None
    contact: str | None = None
    # Identity for linking (撤回后重新申请, 拆分): only its keyed hash is kept (domain.pii.applicant_key).
    id_number: str | None = Field(None, title="证件号码")
    org_code: str | None = Field(None, title="统一社会信用代码")


class RequestReceived(_Base):
    type: Literal["request.received"]
    request_id: str = Field(title="申请编号", description="受理编号，如 2026-依申请-017")
    department: str = Field(title="部门")
    channel: Literal["in_person", "post_registered", "post_ordinary", "online", "email", "fax", "other"] = Field(
        title="申请渠道", description="收到日期按渠道确定（条例第三十一条）"
    )
    received_on: HappenedDay = Field(
        title="收到申请日期",
        description="当面提交之日、挂号信签收之日；其他渠道按下列时间或确认日期确定（见 config/receipt.toml）",
    )
    # What the channel's rule needs (config/receipt.toml): the receipt date is derived from them.
    submitted_at: str | None = Field(
        None, title="平台/邮件系统记录的提交时间", description="网上申请平台或电子邮件系统记载的时间（北京时间）"
    )
    confirmed_on: HappenedDay | None = Field(
        None, title="双方确认日期", description="平信、传真、其他渠道：与申请人确认收到之日"
    )
    applicant_type: ApplicantType = Field(title="申请人类型")
    applicant: Applicant | None = None  # personal data: dropped by parse_event
    subject: str = Field("", title="申请内容摘要", description="不要填写申请人姓名、证件号、电话、住址等个人信息")

    _inst = field_validator("submitted_at", mode="before")(
        classmethod(lambda cls, v, info: None if v in (None, "") else _instant(v, info))
    )


class _RequestOn(_Base):
    request_id: str = Field(title="申请编号")
    on: HappenedDay = Field(title="日期")


class RequestAnsweredOnTheSpot(_RequestOn):
    type: Literal["request.answered_on_the_spot"]
    on: HappenedDay = Field(title="当场答复日期")
    outcome: Outcome = Field(title="办理结果", description="按年度报告表三的分类")


class RequestCorrectionRequested(_RequestOn):
    type: Literal["request.correction_requested"]
    on: HappenedDay = Field(title="告知补正日期", description="补正告知须在收到申请后 7 个工作日内一次性作出")
    respond_by: Day = Field(title="补正期限", description="告知申请人补正的截止日期")

    @model_validator(mode="after")
    def _order(self):
        if self.respond_by < self.on:
            raise ValueError("respond_by: 补正期限不能早于告知日")
        try:  # a deadline the agency sets may lie ahead, within bounds
            check_deadline(self.respond_by, self.on)
        except ValueError as exc:
            raise ValueError(f"respond_by: {exc}") from None
        return self


class RequestCorrected(_RequestOn):
    type: Literal["request.corrected"]
    on: HappenedDay = Field(title="收到补正日期", description="收到补正后的申请之日重新起算答复期限")


class RequestConsultationStarted(_RequestOn):
    type: Literal["request.consultation_started"]
    on: HappenedDay = Field(title="征求意见日期", description="征求意见期间不计入答复期限")
    with_: Literal["third_party", "agency"] = Field(title="征求对象")
    # When the consulted party received the letter: its 15-wd window counts from then (条例第三十二条、
    # 第三十四条 “自收到征求意见书之日起”); the reply clock still pauses from `on`.
    delivered_on: HappenedDay | None = Field(
        None, title="征求意见书送达日期", description="第三方收到征求意见书之日（不填：按征求意见日期）"
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, data: Any):
        if isinstance(data, dict) and "with" in data:
            data = {**data}
            data["with_"] = data.pop("with")
        return data

    @model_validator(mode="after")
    def _delivered(self):
        if self.delivered_on is not None and self.delivered_on < self.on:
            raise ValueError("delivered_on: 送达日期不能早于征求意见日期")
        return self


class RequestConsultationEnded(_RequestOn):
    type: Literal["request.consultation_ended"]
    on: HappenedDay = Field(title="收到意见日期")
    # Which consultation ended; needed only while both kinds are open at once.
    with_: Literal["third_party", "agency"] | None = Field(
        None, title="征求对象", description="同时征求第三方和其他机关时注明是哪一方的意见"
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, data: Any):
        if isinstance(data, dict) and "with" in data:
            data = {**data}
            data["with_"] = data.pop("with")
        return data


class RequestExtended(_RequestOn):
    type: Literal["request.extended"]
    on: HappenedDay = Field(title="延期决定日期")
    working_days: int = Field(
        title="延长工作日数", description="最多 20 个工作日，只能延长一次，须在答复期限届满前决定"
    )
    approved_by: str = Field(
        title="批准人", description="政府信息公开工作机构负责人（名录中的人员编号，不能是登记人本人）"
    )
    reason: str = Field(title="延期理由")
    # 条例第三十三条第二款 “告知申请人”. (Events recorded before it carry none: workflow histories hold the
    # parsed data, never re-validated here; the workflow's own check accepts those on replay.)
    notified_on: HappenedDay = Field(title="告知申请人日期", description="将延期告知申请人之日，不得晚于当前答复期限")

    @field_validator("working_days")
    @classmethod
    def _range(cls, v: int) -> int:
        if not 1 <= v <= 20:
            raise ValueError("延期工作日数须在 1–20 之间")
        return v


class RequestReplied(_RequestOn):
    type: Literal["request.replied"]
    on: HappenedDay = Field(title="答复日期", description="答复书发出（送达）之日")
    outcome: Outcome = Field(title="办理结果", description="按年度报告表三的分类")
    # The appeal windows run from when the applicant knew of the reply (行政复议法第二十条、行政诉讼法第四十六条
    # “自知道……之日起”): the letter's receipt where known, else the reply date. The reply clock is met on `on`.
    delivered_on: HappenedDay | None = Field(
        None, title="申请人收到答复日期", description="申请人收到答复书之日，复议、诉讼期限自此起算（不填：按答复日期）"
    )

    @model_validator(mode="after")
    def _delivered(self):
        if self.delivered_on is not None and self.delivered_on < self.on:
            raise ValueError("delivered_on: 收到答复日期不能早于答复日期")
        return self


class RequestWithdrawn(_RequestOn):
    type: Literal["request.withdrawn"]
    on: HappenedDay = Field(title="撤回日期")


class RequestAbandoned(_RequestOn):
    """Emitted by the engine when no correction arrived by respond_by (条例第三十条: 视为放弃申请)."""

    type: Literal["request.abandoned"]


class RequestApplicantUnreachable(_RequestOn):
    """国办公开办函〔2015〕207号 一.2: a letter whose applicant cannot be reached waits; no clock runs."""

    type: Literal["request.applicant_unreachable"]
    on: HappenedDay = Field(title="联系未果日期", description="收到申请当日电话联系申请人未能接通之日")
    note: str = Field("", title="情况说明", description="如“未留联系电话”；不要填写电话号码等个人信息")


class RequestContactRestored(_RequestOn):
    type: Literal["request.contact_restored"]
    on: HappenedDay = Field(title="恢复联络日期", description="自恢复与申请人的联络之日起算期限（207号 一.2）")


class RequestReplyDelayed(_RequestOn):
    """条例第三十五条: a request whose quantity or frequency clearly exceeds a reasonable range."""

    type: Literal["request.reply_delayed"]
    on: HappenedDay = Field(title="决定日期", description="确定延迟答复期限的日期，须在答复期限届满前")
    reply_by: Day = Field(title="延迟答复期限", description="行政机关确定的合理答复期限")
    reason: str = Field(title="理由", description="申请的数量、频次明显超过合理范围的具体情况")
    notified_on: HappenedDay = Field(title="告知申请人日期")

    @model_validator(mode="after")
    def _order(self):
        if not self.reason.strip():
            raise ValueError("reason: 须说明申请数量、频次明显超过合理范围的理由（条例第三十五条）")
        if self.notified_on < self.on:
            raise ValueError("notified_on: 告知日期不能早于决定日期")
        if self.reply_by <= self.on:
            raise ValueError("reply_by: 延迟答复期限须晚于决定日期")
        try:
            check_deadline(self.reply_by, self.on)
        except ValueError as exc:
            raise ValueError(f"reply_by: {exc}") from None
        return self


class RequestFeeNotified(_RequestOn):
    type: Literal["request.fee_notified"]
    on: HappenedDay = Field(title="发出收费通知日期", description="收费通知发出至缴费之日，答复期限中止计算")


class RequestFeePaid(_RequestOn):
    type: Literal["request.fee_paid"]
    on: HappenedDay = Field(title="缴费日期", description="申请人缴纳信息处理费之日，答复期限继续计算")


class ReviewFiled(_RequestOn):
    type: Literal["review.filed"]
    on: HappenedDay = Field(title="申请复议日期")


class ReviewDecided(_RequestOn):
    type: Literal["review.decided"]
    on: HappenedDay = Field(title="复议决定日期")
    result: Literal["upheld", "corrected", "other"] = Field(title="复议结果")


class LitigationFiled(_RequestOn):
    type: Literal["litigation.filed"]
    on: HappenedDay = Field(title="起诉日期")
    after_review: bool = Field(False, title="是否经复议后起诉")


class LitigationDecided(_RequestOn):
    type: Literal["litigation.decided"]
    on: HappenedDay = Field(title="判决日期")
    # absent: taken from its litigation.filed (table 四)
    after_review: bool | None = Field(None, title="是否经复议后起诉")
    result: Literal["upheld", "corrected", "other"] = Field(title="判决结果")


# ---------------------------------------------------------------- other clocks
class OpinionDetected(_Base):
    type: Literal["opinion.detected"]
    case_id: str = Field(title="舆情编号")
    department: str = Field(title="部门")
    detected_at: str = Field(title="发现时间", description="精确到分钟（北京时间）")
    severity: Literal["major", "general"] = Field(title="舆情级别")
    title: str = Field("", title="舆情摘要")

    _inst = field_validator("detected_at", mode="before")(classmethod(lambda cls, v, info: _instant(v, info)))


class _OpinionAt(_Base):
    case_id: str = Field(title="舆情编号")
    at: str = Field(title="时间", description="精确到分钟（北京时间）")

    _inst = field_validator("at", mode="before")(classmethod(lambda cls, v, info: _instant(v, info)))


class OpinionInfoReleased(_OpinionAt):
    type: Literal["opinion.info_released"]


class OpinionPressConference(_OpinionAt):
    type: Literal["opinion.press_conference"]


class OpinionResponded(_OpinionAt):
    type: Literal["opinion.responded"]


class BudgetApproved(_Base):
    type: Literal["budget.approved"]
    item_id: str = Field(title="预决算编号")
    department: str = Field(title="部门")
    approved_on: HappenedDay = Field(title="批复日期", description="自批复之日起 20 日内公开")
    kind: Literal["budget", "final_account"] = Field(title="类别")
    title: str = Field("", title="标题")


class BudgetPublished(_Base):
    type: Literal["budget.published"]
    item_id: str = Field(title="预决算编号")
    published_on: HappenedDay = Field(title="公开日期")
    url: WebUrl = Field(title="公开网址")


def _report_year(v: int) -> int:
    if not 2000 <= v <= 2100:
        raise ValueError("年度应在 2000–2100 之间")
    return v


class AnnualReportYearClosed(_Base):
    """Engine event: a department's reporting year Y closed; starts its report clock on Jan 1 of Y+1."""

    type: Literal["annual_report.year_closed"]
    department: str = Field(title="部门")
    year: int = Field(title="年度")
    level: Literal["department", "government"] = Field("department", title="报告层级")

    _year = field_validator("year")(classmethod(lambda cls, v: _report_year(v)))


class AnnualReportPublished(_Base):
    type: Literal["annual_report.published"]
    department: str = Field(title="部门")
    year: int = Field(title="年度")
    published_on: HappenedDay = Field(title="公布日期")
    url: WebUrl = Field(title="公布网址")
    level: Literal["department", "government"] = Field("department", title="报告层级")

    _year = field_validator("year")(classmethod(lambda cls, v: _report_year(v)))


# ---------------------------------------------------------------- i21-proposals: 建议提案, 12345 热线, 网站留言
# No submitter fields at all (代表/委员, 来电人, 留言人): an unknown field is refused (extra = "forbid"), so a
# name or a phone number cannot be sent in one; free text (title, reason) is masked like every other text.
class ProposalAssigned(_Base):
    type: Literal["proposal.assigned"]
    proposal_id: str = Field(title="建议提案编号", description="如 2026-建议-0123")
    department: str = Field(title="承办部门")
    assigned_on: HappenedDay = Field(title="交办日期", description="收到交办之日，办理期限自此起算")
    kind: Literal["npc_suggestion", "cppcc_proposal"] = Field(title="类别")
    plenary: bool = Field(False, title="大会期间提出", description="人民代表大会、政协全体会议期间提出的")
    complex: bool = Field(
        False,
        title="涉及面广、处理难度大",
        description="交办时只能为“否”：延长须经交办机关同意，另行登记“延长办理期限”",
    )
    complex_reason: str = Field("", title="延长理由")
    title: str = Field("", title="标题", description="不要填写代表、委员的姓名或联系方式")

    @model_validator(mode="after")
    def _reason(self):
        # The longer period is the 交办机关's decision (四川: 经省政府办公厅同意), not the department's say-so at
        # assignment: it comes with its own event, approver and date (proposal.extended).
        if self.complex:
            raise ValueError(
                "complex: 涉及面广、处理难度大需延长办理期限的，须经交办机关同意：请在3个月期限届满前另行登记"
                "“延长办理期限”（proposal.extended，写明同意人、同意日期与理由），交办时不能直接选择6个月"
            )
        return self


class ProposalExtended(_Base):
    """涉及面广、处理难度大: the 交办机关 agreed to a longer period (国办办法 6个月; 四川 经省政府办公厅同意、
    至迟不超过6个月), decided before the 3 months run out. Flagged on the item; its approver is not its recorder."""

    type: Literal["proposal.extended"]
    proposal_id: str = Field(title="建议提案编号")
    approved_on: HappenedDay = Field(title="同意延长日期", description="交办机关同意延长之日，须在3个月期限届满前")
    approved_by: str = Field(
        min_length=1, title="同意人", description="交办机关同意延长的负责人或同意文件（不能是登记人本人）"
    )
    reason: str = Field(min_length=1, title="延长理由", description="涉及面广、处理难度大的具体情况")


def _round(v: int) -> int:
    if not 0 <= v <= 9:
        raise ValueError("重新办理次数应在 0–9 之间")
    return v


class ProposalAnswered(_Base):
    type: Literal["proposal.answered"]
    proposal_id: str = Field(title="建议提案编号")
    answered_on: HappenedDay = Field(title="答复日期")
    round: int = Field(0, title="第几次重新办理", description="首次答复为 0；重新办理后的再次答复为 1、2……")

    _r = field_validator("round")(classmethod(lambda cls, v: _round(v)))


class ProposalReanswerRequested(_Base):
    """代表、委员对答复不满意、重新办理: a linked item of its own (`<proposal_id>:重办<round>`), since the first
    answer has finished the proposal's item; its re-answer clock is the province's (四川: 3个月)."""

    type: Literal["proposal.reanswer_requested"]
    proposal_id: str = Field(title="建议提案编号")
    department: str = Field(title="承办部门")
    requested_on: HappenedDay = Field(title="提出不满意之日", description="代表、委员对答复不满意，要求重新办理")
    round: int = Field(1, title="第几次重新办理")
    title: str = Field("", title="标题")

    _r = field_validator("round")(classmethod(lambda cls, v: _round(v)))


class HotlineReceived(_Base):
    type: Literal["hotline.received"]
    ticket_id: str = Field(title="工单编号")
    department: str = Field(title="承办单位")
    received_on: HappenedDay = Field(title="接到转办工单日期")
    kind: Literal["consultation", "complaint", "request", "suggestion", "other"] = Field(title="诉求类型")
    title: str = Field("", title="诉求摘要", description="不要填写来电人姓名、电话、住址等个人信息")


class HotlineExtended(_Base):
    type: Literal["hotline.extended"]
    ticket_id: str = Field(title="工单编号")
    on: HappenedDay = Field(title="申请延期日期", description="须在办结时限内申请")
    working_days: int = Field(title="延长工作日数", ge=1, le=60)
    reason: str = Field(title="延期原因")


class HotlineReplied(_Base):
    type: Literal["hotline.replied"]
    ticket_id: str = Field(title="工单编号")
    on: HappenedDay = Field(title="办结回复日期")


class MessageReceived(_Base):
    type: Literal["message.received"]
    message_id: str = Field(title="留言编号")
    department: str = Field(title="部门")
    received_on: HappenedDay = Field(title="收到留言日期")
    kind: Literal["consultation", "error_report"] = Field(
        title="留言类别", description="咨询类留言，或“我为政府网站找错”平台转来的网民纠错"
    )
    title: str = Field("", title="留言摘要", description="不要填写留言人姓名、电话等个人信息")


class MessageReplied(_Base):
    type: Literal["message.replied"]
    message_id: str = Field(title="留言编号")
    replied_on: HappenedDay = Field(title="答复日期")


# ---------------------------------------------------------------- i21-catalogue: catalogue duties (标准目录)
class DutyFormed(_Base):
    """信息形成或变更: a piece of information a catalogue duty (基层政务公开标准目录) covers was formed or
    changed; its clock is the duty's own 公开时限 (domain/catalogue.py)."""

    type: Literal["duty.formed"]
    duty_item_id: str = Field(title="目录事项编号")
    department: str = Field(title="部门")
    duty: int = Field(title="标准目录事项", description="本地区标准目录中的事项（shixian catalogue list）")
    formed_on: HappenedDay = Field(title="信息形成或变更日期")
    title: str = Field("", title="标题")


class DutyPublished(_Base):
    type: Literal["duty.published"]
    duty_item_id: str = Field(title="目录事项编号")
    published_on: HappenedDay = Field(title="公开日期")
    url: WebUrl = Field(title="公开网址")


# ---------------------------------------------------------------- consultations (i21-windows)
class ConsultationOpened(_Base):
    """A draft put out for public comment: its window must stay open at least the rule's minimum."""

    type: Literal["consultation.opened"]
    consultation_id: str = Field(title="征求意见编号")
    department: str = Field(title="部门")
    opened_on: HappenedDay = Field(title="开始征求意见日期", description="征求意见期自次日起算")
    kind: Literal["major_decision", "regulation_draft", "normative"] = Field(
        title="草案类别", description="重大行政决策、规章草案、行政规范性文件（不少于30日或7个工作日）"
    )
    business_related: bool = Field(
        False, title="是否与市场主体生产经营活动密切相关", description="涉企规范性文件征求意见不少于30日"
    )
    title: str = Field(title="草案名称")
    url: WebUrl = Field(title="征求意见网址")


class ConsultationClosed(_Base):
    type: Literal["consultation.closed"]
    consultation_id: str = Field(title="征求意见编号")
    closed_on: HappenedDay = Field(title="结束征求意见日期", description="须在最短征求意见期届满之后")
    urgent_reason: str | None = Field(
        None, title="缩短理由", description="因情况紧急等原因缩短征求意见期的，须说明理由（将标记为缩短征求意见期）"
    )


MODELS: dict[str, type[_Base]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (
        DocumentSigned,
        DocumentPublished,
        DocumentRepealed,
        InterpretationPublished,
        RequestReceived,
        RequestAnsweredOnTheSpot,
        RequestCorrectionRequested,
        RequestCorrected,
        RequestConsultationStarted,
        RequestConsultationEnded,
        RequestExtended,
        RequestReplied,
        RequestWithdrawn,
        RequestAbandoned,
        RequestApplicantUnreachable,
        RequestContactRestored,
        RequestReplyDelayed,
        RequestFeeNotified,
        RequestFeePaid,
        ReviewFiled,
        ReviewDecided,
        LitigationFiled,
        LitigationDecided,
        OpinionDetected,
        OpinionInfoReleased,
        OpinionPressConference,
        OpinionResponded,
        BudgetApproved,
        BudgetPublished,
        AnnualReportYearClosed,
        AnnualReportPublished,
        # i21-proposals
        ProposalAssigned,
        ProposalExtended,
        ProposalAnswered,
        ProposalReanswerRequested,
        HotlineReceived,
        HotlineExtended,
        HotlineReplied,
        MessageReceived,
        MessageReplied,
        DutyFormed,  # i21-catalogue
        DutyPublished,
        ConsultationOpened,
        ConsultationClosed,
    )
}

# Chinese names of the enumerated values, per field (forms and pages; the codes stay the contract).
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "kind": {
        "regulation": "规章",
        "normative": "行政规范性文件",
        "policy": "其他政策文件",
        "other": "其他",
        "budget": "预算",
        "final_account": "决算",
        "major_decision": "重大行政决策",
        "regulation_draft": "规章草案",
    },
    "disclosure": {"public": "主动公开", "on_request": "依申请公开", "withheld": "不予公开"},
    "channel": {
        "website": "政府网站",
        "gazette": "政府公报",
        "weibo": "政务微博",
        "wechat": "政务微信",
        "other": "其他",
        "in_person": "当面提交",
        "post_registered": "邮寄（挂号/EMS）",
        "post_ordinary": "邮寄（平信）",
        "online": "网上申请平台",
        "email": "电子邮件",
        "fax": "传真",
    },
    "form": {"text": "文字解读", "graphic": "图文解读", "video": "视频解读", "other": "其他"},
    "applicant_type": {
        "natural_person": "自然人",
        "legal.business": "商业企业",
        "legal.research": "科研机构",
        "legal.public_interest": "社会公益组织",
        "legal.legal_services": "法律服务机构",
        "legal.other": "其他法人或其他组织",
    },
    "with": {"third_party": "第三方（条例第三十二条）", "agency": "其他机关（条例第三十四条）"},
    "result": {"upheld": "维持", "corrected": "纠正", "other": "其他结果"},
    "severity": {"major": "重大舆情", "general": "一般舆情"},
    "level": {"department": "部门年度报告", "government": "本级政府年度报告"},
    "outcome": {
        "granted": "予以公开",
        "partially_granted": "部分公开",
        "withheld.state_secret": "属于国家秘密",
        "withheld.prohibited_by_law": "其他法律行政法规禁止公开",
        "withheld.security_stability": "危及“三安全一稳定”",
        "withheld.third_party_rights": "保护第三方合法权益",
        "withheld.internal_affairs": "属于三类内部事务信息",
        "withheld.process_information": "属于四类过程性信息",
        "withheld.enforcement_file": "属于行政执法案卷",
        "withheld.administrative_inquiry": "属于行政查询事项",
        "unavailable.not_held": "本机关不掌握相关政府信息",
        "unavailable.needs_creation": "没有现成信息需要另行制作",
        "unavailable.still_unclear": "补正后申请内容仍不明确",
        "not_processed.petition": "信访举报投诉类申请",
        "not_processed.duplicate": "重复申请",
        "not_processed.publication": "要求提供公开出版物",
        "not_processed.excessive": "无正当理由大量反复申请",
        "not_processed.confirmation": "要求行政机关确认或重新出具已获取信息",
        "other.no_correction": "逾期不补正、不再处理",
        "other.fee_unpaid": "逾期未缴费、不再处理",
        "other.other": "其他",
    },
}
# i21-proposals: the kinds of proposals, hotline tickets and website messages.
CHOICE_LABELS["kind"].update(
    {
        "npc_suggestion": "人大代表建议",
        "cppcc_proposal": "政协提案",
        "consultation": "咨询",
        "complaint": "投诉",
        "request": "求助",
        "suggestion": "建议",
        "error_report": "网站纠错（我为政府网站找错）",
    }
)
# Outcome codes grouped as the rows of 表三 (annual-report-format.md): prefix -> group name.
OUTCOME_GROUPS = {
    "granted": "（一）予以公开",
    "partially_granted": "（二）部分公开",
    "withheld": "（三）不予公开",
    "unavailable": "（四）无法提供",
    "not_processed": "（五）不予处理",
    "other": "（六）其他处理",
}

# The field holding each type's own date (or instant).
DATE_FIELD = {
    "document.signed": "signed_on",
    "document.published": "published_on",
    "document.repealed": "repealed_on",
    "interpretation.published": "published_on",
    "request.received": "received_on",
    "opinion.detected": "detected_at",
    "budget.approved": "approved_on",
    "budget.published": "published_on",
    "annual_report.published": "published_on",
    # i21-proposals
    "proposal.assigned": "assigned_on",
    "proposal.extended": "approved_on",
    "proposal.answered": "answered_on",
    "proposal.reanswer_requested": "requested_on",
    "hotline.received": "received_on",
    "message.received": "received_on",
    "message.replied": "replied_on",
    # i21-catalogue
    "duty.formed": "formed_on",
    "duty.published": "published_on",
    # i21-windows: consultations
    "consultation.opened": "opened_on",
    "consultation.closed": "closed_on",
}

# Fields stating that something has happened (a date or an instant), per type: never after the Shanghai
# date the event is recorded on. Deadlines the agency sets (respond_by) are not among them.
INSTANT_FIELDS = ("detected_at", "at", "submitted_at")


def _happened_fields(model: type[BaseModel]) -> tuple[str, ...]:
    days = [
        n
        for n, f in model.model_fields.items()
        if any(getattr(m, "func", None) is _happened_day for m in f.metadata) or HappenedDay in get_args(f.annotation)
    ]
    return (*days, *(n for n in INSTANT_FIELDS if n in model.model_fields))


HAPPENED_FIELDS: dict[str, tuple[str, ...]] = {t: _happened_fields(m) for t, m in MODELS.items()}


def future_fact(ev: Event, today: dt.date) -> tuple[str, str] | None:
    """(field, reason) of the first fact `ev` dates after `today` (the Shanghai date it is recorded on),
    or None. The workflow asks this with its own clock, so a host clock running behind cannot let a
    reply dated next week through."""
    for name in HAPPENED_FIELDS.get(ev.type, ()):
        value = ev.data.get(name)
        if not value:
            continue
        day = dt.date.fromisoformat(str(value)[:10]) if name not in INSTANT_FIELDS else _local_day(str(value))
        if day > today:
            return name, future_reason(day, today)
    return None


def _local_day(instant: str) -> dt.date:
    return dt.datetime.fromisoformat(instant).astimezone(SHANGHAI).date()


ITEM_TYPE = {
    "document": "document",
    "interpretation": "document",
    "request": "request",
    "review": "request",
    "litigation": "request",
    "opinion": "opinion",
    "budget": "budget",
    "annual_report": "annual_report",
    # i21-proposals
    "proposal": "proposal",
    "hotline": "hotline",
    "message": "message",
    "duty": "duty",  # i21-catalogue: items registered against a catalogue duty
    "consultation": "consultation",  # i21-windows
}

# Events that start an item (everything else refers to an existing one).
STARTS = {
    "document.signed",
    "request.received",
    "opinion.detected",
    "budget.approved",
    "annual_report.year_closed",
    # i21-proposals
    "proposal.assigned",
    "proposal.reanswer_requested",
    "hotline.received",
    "message.received",
    "duty.formed",  # i21-catalogue
    "consultation.opened",  # i21-windows
}
# Events only the engine itself emits: refused from senders (a department could otherwise close its
# own overdue request as "abandoned", or open report clocks for arbitrary years).
ENGINE_ONLY = {"request.abandoned", "annual_report.year_closed"}
# Events recorded for statistics even when the item's workflow has finished.
RECORD_ONLY = {"document.repealed", "review.filed", "review.decided", "litigation.filed", "litigation.decided"}


# ---------------------------------------------------------------- i21-fresh: website columns, 政务新媒体
# A column (栏目) of a government website or a 政务新媒体 account is one item; its freshness duty is recurring
# (config/rules.toml `recurring = true`): each update ends the current period and starts the next one.
class ColumnRegistered(_Base):
    type: Literal["column.registered"]
    column_id: str = Field(title="栏目编号")
    department: str = Field(title="部门")
    registered_on: HappenedDay = Field(title="登记日期", description="自该日起计算第一个更新周期")
    kind: Literal["news", "notice", "policy", "new_media"] = Field(title="栏目类型")
    name: str = Field(title="栏目名称")
    url: WebUrl = Field(title="网址")


class ColumnUpdated(_Base):
    type: Literal["column.updated"]
    column_id: str = Field(title="栏目编号")
    updated_on: HappenedDay = Field(title="更新日期", description="下一个更新周期自该日起算")
    url: WebUrl | None = Field(None, title="更新内容网址")


class ColumnClosed(_Base):
    type: Literal["column.closed"]
    column_id: str = Field(title="栏目编号")
    closed_on: HappenedDay = Field(title="关闭日期")
    reason: str = Field(title="关闭理由")


MODELS.update({"column.registered": ColumnRegistered, "column.updated": ColumnUpdated, "column.closed": ColumnClosed})
# "policy" keeps the documents' label (其他政策文件): one label per code and field across types.
CHOICE_LABELS["kind"].update({"news": "动态要闻类栏目", "notice": "通知公告类栏目", "new_media": "政务新媒体"})
DATE_FIELD.update({"column.registered": "registered_on", "column.updated": "updated_on", "column.closed": "closed_on"})
HAPPENED_FIELDS.update(
    {t: _happened_fields(MODELS[t]) for t in ("column.registered", "column.updated", "column.closed")}
)
ITEM_TYPE["column"] = "column"
STARTS.add("column.registered")
# ---------------------------------------------------------------- end i21-fresh


class Event(BaseModel):
    """A validated, normalised event; `data` holds JSON-ready fields (no personal data)."""

    event_id: str
    type: str
    item_id: str
    item_type: str
    department: str | None = None
    on: str  # ISO date or datetime of the event's own date field
    data: dict[str, Any]
    content_hash: str  # of the sent object (free text masked, applicant left out), for conflict detection
    # When and by whom it reached the system: set by the ingest path (never from the sender's body).
    recorded: Recorded | None = None
    # request.received: the applicant's identity as a keyed hash (domain.pii.applicant_key), set by the
    # ingest path before the identity is dropped; never in the event's data (its row, exports, the API).
    applicant_key: str | None = None

    @property
    def date_field(self) -> str:
        return DATE_FIELD.get(self.type, "at" if "at" in self.data else "on")


# The field naming an item, per item type (the first one an event has); the forms prefill it on an item's page.
ITEM_ID_FIELDS = (
    "document_id",
    "request_id",
    "case_id",
    "item_id",
    "proposal_id",
    "ticket_id",
    "message_id",
    "duty_item_id",
    "consultation_id",
    "column_id",
)


def item_id_of(type_: str, fields: dict[str, Any]) -> str:
    if type_.startswith("annual_report."):
        return annual_report_item_id(fields["department"], int(fields["year"]), fields.get("level", "department"))
    if type_.startswith("proposal.") and int(fields.get("round") or 0):  # a re-answer's own item
        return f"{fields['proposal_id']}:重办{int(fields['round'])}"
    for key in ITEM_ID_FIELDS:
        if key in fields:
            return str(fields[key])
    raise EventError("type", "无法确定事项编号")


def annual_report_item_id(department: str, year: int, level: str = "department") -> str:
    kind = "annual-report" if level == "department" else "government-annual-report"
    return f"{kind}:{department}:{year}"


def annual_report_openers(departments, year: int) -> list[dict[str, Any]]:
    """The `annual_report.year_closed` events that open every report clock for `year` (idempotent ids)."""
    return [
        {
            "event_id": f"{annual_report_item_id(d.id, year, level)}#open",
            "type": "annual_report.year_closed",
            "department": d.id,
            "year": year,
            "level": level,
            "recorded_by": "system",
        }
        for d in departments
        for level in d.annual_reports
    ]


def canonical_hash(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def content_hash(obj: dict[str, Any]) -> str:
    """Identity of an event's content for duplicate/conflict detection. Leaves out the applicant's
    personal data (never kept, not even as a hash that could confirm a guess) and `recorded_by`
    (the same event sent through the CLI and the API is the same event)."""
    return canonical_hash({k: v for k, v in obj.items() if k not in ("applicant", "recorded_by")})


def _shown(value: Any) -> str:
    """A rejected value as quoted in a message: short, control characters escaped."""
    text = str(value)
    text = text if len(text) <= 40 else text[:40] + "…"
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def parse_event(obj: Any, *, internal: bool = False, today: dt.date | None = None) -> Event:
    """`today` (Asia/Shanghai; default the real date) bounds the dates of facts that have happened."""
    if not isinstance(obj, dict):
        raise EventError("(line)", "每行必须是一个 JSON 对象")
    type_ = obj.get("type")
    if not isinstance(type_, str) or type_ not in MODELS:
        raise EventError("type", f"未知事件类型 “{_shown(type_)}”")
    if type_ in ENGINE_ONLY and not internal:
        raise EventError("type", f"{type_} 由系统自动生成，不接受外部提交")
    obj = mask_fields(obj)  # personal data typed into free text is masked before anything keeps it
    try:
        model = MODELS[type_].model_validate(obj, context={"internal": internal, "today": today})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(event)"
        loc = "with" if loc == "with_" else loc
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "missing":
            msg = "缺少必填字段"
        elif kind == "extra_forbidden":
            msg = "未知字段"
        elif kind == "literal_error":
            msg = f"取值无效（可选：{err['msg'].removeprefix('Input should be ')}）"
        elif loc == "(event)" and ":" in msg:  # a model-level check names its field first
            loc, msg = msg.split(":", 1)
            msg = msg.strip()
        elif kind.startswith("date"):
            msg = f"“{_shown(err.get('input'))}” 不是有效日期（应为 YYYY-MM-DD）"
        elif kind.startswith("int"):
            msg = "应为整数"
        elif kind.startswith("bool"):
            msg = "应为 true 或 false"
        elif kind.startswith("string"):
            msg = "应为字符串"
        elif "isoformat" in msg or "Invalid" in msg:
            msg = f"“{_shown(err.get('input'))}” 不是有效时间（ISO 8601，如 2026-11-26T09:30，未写时区按 +08:00）"
        raise EventError(loc, msg) from None
    data = model.model_dump(mode="json", exclude_none=True, by_alias=False)
    data.pop("applicant", None)
    if type_ == "request.received":
        from domain.config import ConfigError
        from domain.receipt import derive_receipt

        try:  # the receipt date is the channel's (条例第三十一条), not what was typed
            data["receipt"] = derive_receipt(data)
        except ConfigError as exc:
            raise EventError(
                "channel", f"收到申请之日的规则（config/receipt.toml）无法读取，未作任何改动：{exc}"
            ) from None
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            raise EventError(field, reason) from None
        data["received_on"] = data["receipt"]["on"]
    if "with_" in data:
        data["with"] = data.pop("with_")
    on = str(data.get(DATE_FIELD.get(type_, "on"), data.get("at", "")))
    if type_ == "annual_report.year_closed":
        on = f"{data['year'] + 1}-01-01"
    prefix = type_.split(".")[0]
    return Event(
        event_id=model.event_id,
        type=type_,
        item_id=item_id_of(type_, data),
        item_type=ITEM_TYPE[prefix],
        department=data.get("department"),
        on=on,
        data=data,
        content_hash=content_hash(obj),
    )
