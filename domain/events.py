"""The event vocabulary (shared/reference/events.md): validation and normalisation.

`parse_event(obj)` returns a normalised `Event` or raises `EventError(field, reason)`.
The applicant's personal data (`applicant`) is accepted on input and dropped here, so it can never
reach workflow history, the store, logs or exports; only `applicant_type` is kept.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal, Optional

from pydantic import (BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from domain.limits import check_day, check_id, check_moment, check_text, parse_iso_day
from domain.shanghai import SHANGHAI


class EventError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Outcome = Literal[
    "granted", "partially_granted",
    "withheld.state_secret", "withheld.prohibited_by_law", "withheld.security_stability",
    "withheld.third_party_rights", "withheld.internal_affairs", "withheld.process_information",
    "withheld.enforcement_file", "withheld.administrative_inquiry",
    "unavailable.not_held", "unavailable.needs_creation", "unavailable.still_unclear",
    "not_processed.petition", "not_processed.duplicate", "not_processed.publication",
    "not_processed.excessive", "not_processed.confirmation",
    "other.no_correction", "other.fee_unpaid", "other.other",
]
ApplicantType = Literal[
    "natural_person", "legal.business", "legal.research", "legal.public_interest",
    "legal.legal_services", "legal.other",
]


# Fields holding ids (README "Events": one pattern for every id).
ID_FIELDS = ("event_id", "document_id", "request_id", "case_id", "item_id", "department", "recorded_by")


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
    """The date of a fact that has happened: also not after today + 1 year. The engine's own events
    (dated by workflow time, e.g. an abandonment on respond_by) are not judged against the wall clock."""
    internal = bool((info.context or {}).get("internal"))
    return check_day(_day(v), happened=not internal, today=_today(info))


Day = Annotated[dt.date, BeforeValidator(_day)]
HappenedDay = Annotated[dt.date, BeforeValidator(_happened_day)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    event_id: str
    type: str
    recorded_by: Optional[str] = None

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
    document_id: str
    department: str
    title: str
    kind: Literal["regulation", "normative", "policy", "other"]
    signed_on: HappenedDay
    disclosure: Literal["public", "on_request", "withheld"]
    withheld_reason: Optional[str] = None
    needs_interpretation: Optional[bool] = None

    @model_validator(mode="after")
    def _rules(self):
        if self.disclosure == "withheld" and not self.withheld_reason:
            raise ValueError("withheld_reason: 不予公开的文件必须说明理由")
        if self.needs_interpretation is None:
            self.needs_interpretation = self.kind in ("normative", "policy")
        return self


class DocumentPublished(_Base):
    type: Literal["document.published"]
    document_id: str
    published_on: HappenedDay
    url: str
    channel: Literal["website", "gazette", "weibo", "wechat", "other"] = "website"


class DocumentRepealed(_Base):
    type: Literal["document.repealed"]
    document_id: str
    repealed_on: HappenedDay


class InterpretationPublished(_Base):
    type: Literal["interpretation.published"]
    document_id: str
    published_on: HappenedDay
    url: str
    form: Literal["text", "graphic", "video", "other"] = "text"


# ---------------------------------------------------------------- requests
class Applicant(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Optional[str] = None
    contact: Optional[str] = None


class RequestReceived(_Base):
    type: Literal["request.received"]
    request_id: str
    department: str
    channel: Literal["in_person", "post_registered", "post_ordinary", "online", "email", "fax", "other"]
    received_on: HappenedDay
    applicant_type: ApplicantType
    applicant: Optional[Applicant] = None  # personal data: dropped by parse_event
    subject: str = ""


class _RequestOn(_Base):
    request_id: str
    on: HappenedDay


class RequestAnsweredOnTheSpot(_RequestOn):
    type: Literal["request.answered_on_the_spot"]
    outcome: Outcome


class RequestCorrectionRequested(_RequestOn):
    type: Literal["request.correction_requested"]
    respond_by: Day

    @model_validator(mode="after")
    def _order(self):
        if self.respond_by < self.on:
            raise ValueError("respond_by: 补正期限不能早于告知日")
        return self


class RequestCorrected(_RequestOn):
    type: Literal["request.corrected"]


class RequestConsultationStarted(_RequestOn):
    type: Literal["request.consultation_started"]
    with_: Literal["third_party", "agency"]
    # When the consulted party received the letter: its 15-wd window counts from then (条例第三十二条、
    # 第三十四条 “自收到征求意见书之日起”); the reply clock still pauses from `on`.
    delivered_on: Optional[dt.date] = None

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
    # Which consultation ended; needed only while both kinds are open at once.
    with_: Optional[Literal["third_party", "agency"]] = None

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
    working_days: int
    approved_by: str
    reason: str

    @field_validator("working_days")
    @classmethod
    def _range(cls, v: int) -> int:
        if not 1 <= v <= 20:
            raise ValueError("延期工作日数须在 1–20 之间")
        return v


class RequestReplied(_RequestOn):
    type: Literal["request.replied"]
    outcome: Outcome


class RequestWithdrawn(_RequestOn):
    type: Literal["request.withdrawn"]


class RequestAbandoned(_RequestOn):
    """Emitted by the engine when no correction arrived by respond_by (条例第三十条: 视为放弃申请)."""

    type: Literal["request.abandoned"]


class ReviewFiled(_RequestOn):
    type: Literal["review.filed"]


class ReviewDecided(_RequestOn):
    type: Literal["review.decided"]
    result: Literal["upheld", "corrected", "other"]


class LitigationFiled(_RequestOn):
    type: Literal["litigation.filed"]
    after_review: bool = False


class LitigationDecided(_RequestOn):
    type: Literal["litigation.decided"]
    after_review: Optional[bool] = None  # absent: taken from its litigation.filed (table 四)
    result: Literal["upheld", "corrected", "other"]


# ---------------------------------------------------------------- other clocks
class OpinionDetected(_Base):
    type: Literal["opinion.detected"]
    case_id: str
    department: str
    detected_at: str
    severity: Literal["major", "general"]
    title: str = ""

    _inst = field_validator("detected_at", mode="before")(classmethod(lambda cls, v, info: _instant(v, info)))


class _OpinionAt(_Base):
    case_id: str
    at: str

    _inst = field_validator("at", mode="before")(classmethod(lambda cls, v, info: _instant(v, info)))


class OpinionInfoReleased(_OpinionAt):
    type: Literal["opinion.info_released"]


class OpinionPressConference(_OpinionAt):
    type: Literal["opinion.press_conference"]


class OpinionResponded(_OpinionAt):
    type: Literal["opinion.responded"]


class BudgetApproved(_Base):
    type: Literal["budget.approved"]
    item_id: str
    department: str
    approved_on: HappenedDay
    kind: Literal["budget", "final_account"]
    title: str = ""


class BudgetPublished(_Base):
    type: Literal["budget.published"]
    item_id: str
    published_on: HappenedDay
    url: str


def _report_year(v: int) -> int:
    if not 2000 <= v <= 2100:
        raise ValueError("年度应在 2000–2100 之间")
    return v


class AnnualReportYearClosed(_Base):
    """Engine event: a department's reporting year Y closed; starts its report clock on Jan 1 of Y+1."""

    type: Literal["annual_report.year_closed"]
    department: str
    year: int
    level: Literal["department", "government"] = "department"

    _year = field_validator("year")(classmethod(lambda cls, v: _report_year(v)))


class AnnualReportPublished(_Base):
    type: Literal["annual_report.published"]
    department: str
    year: int
    published_on: HappenedDay
    url: str
    level: Literal["department", "government"] = "department"

    _year = field_validator("year")(classmethod(lambda cls, v: _report_year(v)))


MODELS: dict[str, type[_Base]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (
        DocumentSigned, DocumentPublished, DocumentRepealed, InterpretationPublished,
        RequestReceived, RequestAnsweredOnTheSpot, RequestCorrectionRequested, RequestCorrected,
        RequestConsultationStarted, RequestConsultationEnded, RequestExtended, RequestReplied,
        RequestWithdrawn, RequestAbandoned, ReviewFiled, ReviewDecided, LitigationFiled, LitigationDecided,
        OpinionDetected, OpinionInfoReleased, OpinionPressConference, OpinionResponded,
        BudgetApproved, BudgetPublished, AnnualReportYearClosed, AnnualReportPublished,
    )
}

# The field holding each type's own date (or instant).
DATE_FIELD = {
    "document.signed": "signed_on", "document.published": "published_on", "document.repealed": "repealed_on",
    "interpretation.published": "published_on", "request.received": "received_on",
    "opinion.detected": "detected_at", "budget.approved": "approved_on", "budget.published": "published_on",
    "annual_report.published": "published_on",
}

ITEM_TYPE = {"document": "document", "interpretation": "document", "request": "request", "review": "request",
             "litigation": "request", "opinion": "opinion", "budget": "budget", "annual_report": "annual_report"}

# Events that start an item (everything else refers to an existing one).
STARTS = {"document.signed", "request.received", "opinion.detected", "budget.approved",
          "annual_report.year_closed"}
# Events only the engine itself emits: refused from senders (a department could otherwise close its
# own overdue request as "abandoned", or open report clocks for arbitrary years).
ENGINE_ONLY = {"request.abandoned", "annual_report.year_closed"}
# Events recorded for statistics even when the item's workflow has finished.
RECORD_ONLY = {"document.repealed", "review.filed", "review.decided", "litigation.filed", "litigation.decided"}


class Event(BaseModel):
    """A validated, normalised event; `data` holds JSON-ready fields (no personal data)."""

    event_id: str
    type: str
    item_id: str
    item_type: str
    department: Optional[str] = None
    on: str  # ISO date or datetime of the event's own date field
    data: dict[str, Any]
    content_hash: str  # of the original object, personal data included, for conflict detection

    @property
    def date_field(self) -> str:
        return DATE_FIELD.get(self.type, "at" if "at" in self.data else "on")


def item_id_of(type_: str, fields: dict[str, Any]) -> str:
    if type_.startswith("annual_report."):
        return annual_report_item_id(fields["department"], int(fields["year"]), fields.get("level", "department"))
    for key in ("document_id", "request_id", "case_id", "item_id"):
        if key in fields:
            return str(fields[key])
    raise EventError("type", "无法确定事项编号")


def annual_report_item_id(department: str, year: int, level: str = "department") -> str:
    kind = "annual-report" if level == "department" else "government-annual-report"
    return f"{kind}:{department}:{year}"


def annual_report_openers(departments, year: int) -> list[dict[str, Any]]:
    """The `annual_report.year_closed` events that open every report clock for `year` (idempotent ids)."""
    return [
        {"event_id": f"{annual_report_item_id(d.id, year, level)}#open", "type": "annual_report.year_closed",
         "department": d.id, "year": year, "level": level, "recorded_by": "system"}
        for d in departments for level in d.annual_reports
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
