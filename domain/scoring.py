"""Compliance scores (绩效考评) per department and period, from clock records.

Pure: no database, no Temporal. Input rows are `ClockRecord`s (built from the read model's
`ItemSnapshot`s by `records_from_snapshots`); the deductions come from config/scoring.toml.

Classification of one clock, as of an instant (`as_of`; a date means the end of that day,
Asia/Shanghai) — the clock belongs to the period that contains its due day:
- `closed`  : state `closed` (the duty lapsed, e.g. a withdrawn request): listed, not counted;
- `on_time` : met (state met/missed with met_on, or state met) at or before the due instant;
- `late`    : met after the due instant (逾期办结);
- `overdue` : not met by `as_of` and the due instant is before `as_of` (逾期未办);
- `pending` : not met and not yet due at `as_of` (未到期).
A `met_on` after `as_of` is ignored (the clock counts as not yet met), so an earlier as-of date
gives the view of that day. Due dates are ISO dates (end of that day) or datetimes (hour rules);
datetimes without an offset are read as +08:00.

Per department: items due = every counted clock due in the period (pending included);
on-time rate = on_time / (on_time + late + overdue) (None when nothing was decided yet), per rule
and overall; average lateness = mean working days late over late clocks (their
`lateness_working_days`) and overdue clocks (their `overdue_working_days`);
score = full_score − Σ points(rule) × (late + overdue) − withheld × points(withheld)
− cases lost × points(case_lost), floor `floor` (overdue clocks count only when `overdue_counts_as_late`).

Marks (not clocks, `Mark`): a document signed in the period with `disclosure = withheld` (counted so
that a supervisor sees a department that withholds a lot; `[deductions.withheld]`, default 0 points),
and a review or litigation decided in the period with `result = corrected` (`[deductions.case_lost]`,
default 3 points, after 泉州鲤城 2020). Each is a 明细 row with its reason.
"""

from __future__ import annotations

import calendar as _calendar
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain import labels
from domain.config import ConfigError, config_dir, read_toml
from domain.labels import rule_names
from domain.model import ClockSnapshot, ItemSnapshot
from domain.shanghai import due_day, parse_instant
from domain.standing import can_be_overdue, overdue_working_days

Status = Literal["on_time", "late", "overdue", "pending", "closed"]
STATUS_LABELS = labels.SCORE_STATUSES  # includes the rows that are not clocks (withheld, case_lost)
STATE_LABELS = labels.CLOCK_STATES
# Deductions that are not clock rules, with their defaults when scoring.toml does not list them.
MARK_DEFAULTS: dict[str, float] = {"withheld": 0.0, "case_lost": 3.0, "reply_delayed": 0.0}


# ---------------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str
    kind: Literal["year", "quarter", "month"]

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end

    @property
    def title(self) -> str:
        """Chinese name of the period, e.g. 2026年第3季度."""
        if self.kind == "year":
            return f"{self.start.year}年"
        if self.kind == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        return f"{self.start.year}年{self.start.month}月"


_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:[Qq]([1-4])|(\d{1,2})))?$")


def parse_period(text: str) -> Period:
    """'2026' (year), '2026-Q3' (quarter) or '2026-11' (month) -> Period."""
    m = _PERIOD_RE.match(text.strip())
    if not m:
        raise ValueError(f"无法识别的期间“{text}”：应为 2026、2026-Q3 或 2026-11 的形式")
    year = int(m.group(1))
    if not 1990 <= year <= 2100:  # domain.limits bounds: the calendar has no meaning beyond
        raise ValueError(f"期间“{text}”超出可受理范围（1990 至 2100 年）")
    if m.group(2):
        q = int(m.group(2))
        start = date(year, 3 * q - 2, 1)
        end_month = 3 * q
        end = date(year, end_month, _calendar.monthrange(year, end_month)[1])
        return Period(start, end, f"{year}-Q{q}", "quarter")
    if m.group(3):
        month = int(m.group(3))
        if not 1 <= month <= 12:
            raise ValueError(f"无法识别的期间“{text}”：月份应在 1 到 12 之间")
        return Period(
            date(year, month, 1),
            date(year, month, _calendar.monthrange(year, month)[1]),
            f"{year}-{month:02d}",
            "month",
        )
    return Period(date(year, 1, 1), date(year, 12, 31), f"{year}", "year")


# ---------------------------------------------------------------------------------- config


class RuleDeduction(BaseModel):
    points: float
    label: str = ""
    source: str


class ScoringConfig(BaseModel):
    full_score: float = 100
    floor: float = 0
    overdue_counts_as_late: bool = True
    source: str = ""
    deductions: dict[str, RuleDeduction] = Field(default_factory=dict)
    path: str = ""

    def points(self, rule: str) -> float:
        d = self.deductions.get(rule)
        return d.points if d else MARK_DEFAULTS.get(rule, 0.0)


def _num(path: Path, key: str, value: Any, *, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {key}: 应为数字，收到 {value!r}")
    if value < minimum:
        raise ConfigError(f"{path}: {key}: 不能小于 {minimum}，收到 {value!r}")
    return float(value)


def load_scoring(path: Path | None = None) -> ScoringConfig:
    """Read and validate config/scoring.toml; errors (ConfigError) name the file and the key."""
    path = Path(path) if path else config_dir() / "scoring.toml"
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"score", "deductions"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: 无法识别的配置节（可用：score、deductions）")
    score = raw.get("score", {})
    if not isinstance(score, dict):
        raise ConfigError(f"{path}: score: 应为表（[score]）")
    extra = sorted(set(score) - {"full_score", "floor", "overdue_counts_as_late", "source"})
    if extra:
        raise ConfigError(f"{path}: score.{extra[0]}: 无法识别的配置项")
    full = _num(path, "score.full_score", score.get("full_score", 100), minimum=1)
    floor = _num(path, "score.floor", score.get("floor", 0))
    if floor >= full:
        raise ConfigError(f"{path}: score.floor: 应小于 score.full_score（{full:g}）")
    oc = score.get("overdue_counts_as_late", True)
    if not isinstance(oc, bool):
        raise ConfigError(f"{path}: score.overdue_counts_as_late: 应为 true 或 false，收到 {oc!r}")
    deductions: dict[str, RuleDeduction] = {}
    table = raw.get("deductions", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: deductions: 应为表（[deductions.<规则编号>]）")
    for rule, entry in table.items():
        key = f"deductions.{rule}"
        if rule in MARK_DEFAULTS and not isinstance(entry, dict):  # `[deductions] withheld = 0`
            deductions[rule] = RuleDeduction(points=_num(path, key, entry), source=config_source_of(raw))
            continue
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: {key}: 应为表，含 points 与 source")
        extra = sorted(set(entry) - {"points", "label", "source"})
        if extra:
            raise ConfigError(f"{path}: {key}.{extra[0]}: 无法识别的配置项")
        if "points" not in entry:
            raise ConfigError(f"{path}: {key}.points: 缺少每件扣分")
        points = _num(path, f"{key}.points", entry["points"])
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise ConfigError(f"{path}: {key}.source: 缺少扣分依据（source）")
        label = entry.get("label", "")
        if not isinstance(label, str):
            raise ConfigError(f"{path}: {key}.label: 应为字符串")
        deductions[rule] = RuleDeduction(points=points, label=label, source=source)
    return ScoringConfig(
        full_score=full,
        floor=floor,
        overdue_counts_as_late=oc,
        source=str(score.get("source", "")),
        deductions=deductions,
        path=str(path),
    )


def config_source_of(raw: dict) -> str:
    score = raw.get("score")
    return str(score.get("source", "scoring.toml")) if isinstance(score, dict) else "scoring.toml"


def rule_labels(rules: Mapping[str, Any], config: ScoringConfig | None = None) -> dict[str, str]:
    """Chinese rule names: scoring.toml labels, else the rule's `name` (rules.toml), else the id."""
    labels = rule_names(rules)
    if config:
        labels.update({k: d.label for k, d in config.deductions.items() if d.label})
    return labels


# ---------------------------------------------------------------------------------- records


@dataclass(slots=True, kw_only=True)
class ClockRecord:
    """One clock as scoring and the annual report read it. A plain slotted dataclass, not a pydantic model:
    a province's year has ~35,000 of them per report and they come from rows the store wrote from validated
    snapshots (constructing a BaseModel cost ~15 µs each, this ~1 µs)."""

    item_id: str
    item_type: str
    department: str
    title: str = ""
    rule: str
    due: str  # ISO date or datetime
    state: str  # open / paused / met / missed / closed
    met_on: str | None = None
    lateness_working_days: int | None = None
    overdue_working_days: int | None = None  # open past due: working days overdue as of as_of
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def due_day(self) -> date:
        return date.fromisoformat(self.due[:10])


@functools.lru_cache(maxsize=65536)
def _instant(value: str | date | datetime) -> datetime:
    """ISO date (-> its due instant, 23:59:59+08:00) or datetime (naive -> +08:00) -> aware datetime.
    Cached: a year's report classifies 100,000s of clocks whose due, met and as-of dates repeat."""
    return parse_instant(value)


def classify(state: str, due: str, met_on: str | None, as_of: date | datetime) -> Status:
    if state == "closed":
        return "closed"
    as_of_i = _instant(as_of)
    due_i = _instant(due)
    met_i = _instant(met_on) if met_on else None
    if met_i is not None and met_i > as_of_i:
        met_i = None  # not yet met on the as-of day
    if met_i is not None:
        return "late" if met_i > due_i else "on_time"
    if state == "met" and not met_on:
        return "on_time"
    return "overdue" if due_i < as_of_i else "pending"


def records_from_snapshots(
    snaps: Iterable[ItemSnapshot],
    as_of: date | datetime,
    overdue_days: Callable[[ClockSnapshot, date], int],
    rules: Mapping[str, Any],
) -> list[ClockRecord]:
    """One ClockRecord per clock with a due date; overdue days filled for overdue clocks.

    `overdue_days(clock, as_of_day)` gives the working days between the due day and as_of
    (e.g. `calendar_overdue_days(load_calendar())`). Clocks paused with no due date are skipped, and so
    are windows that lapse (`rules`: the rules in use, by id; `lapses = true`, e.g. the correction-notice
    window): they are not duties a department can be late on.
    """
    lapsing = {rid for rid, r in rules.items() if not can_be_overdue(r)}
    as_of_day = as_of.date() if isinstance(as_of, datetime) else as_of
    out: list[ClockRecord] = []
    for item in snaps:
        for c in item.clocks:
            if not c.due or c.rule in lapsing:
                continue
            status = classify(c.state, c.due, c.met_on, as_of)
            out.append(
                ClockRecord(
                    item_id=item.id,
                    item_type=item.type,
                    department=item.department,
                    title=item.title,
                    rule=c.rule,
                    due=c.due,
                    state=c.state,
                    met_on=c.met_on,
                    lateness_working_days=c.lateness_working_days,
                    overdue_working_days=overdue_days(c, as_of_day) if status == "overdue" else None,
                    explanation=dict(c.explanation or {}),
                )
            )
    return out


def calendar_overdue_days(cal: Any) -> Callable[[ClockSnapshot, date], int]:
    """overdue_days callable on a domain.calendar.WorkCalendar: working days d, due < d <= as_of."""

    def overdue(clock: ClockSnapshot, as_of: date) -> int:
        if not clock.due:
            return 0
        return overdue_working_days(cal, due_day(clock.due), as_of, clock.region or "national")

    return overdue


def explanation_line(explanation: dict | None, due: str) -> str:
    """One-line Chinese account of a due date: the explanation's `summary`, else the date."""
    summary = (explanation or {}).get("summary")
    if isinstance(summary, str) and summary.strip():
        return " ".join(summary.split())
    return f"期限：{due}"


# ---------------------------------------------------------------------------------- results


class RuleStats(BaseModel):
    rule: str
    label: str
    items_due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0
    on_time_rate: float | None = None
    points_each: float = 0
    deduction: float = 0


class DepartmentScore(BaseModel):
    department: str
    items_due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0
    closed: int = 0
    withheld: int = 0  # documents signed in the period and withheld (不予公开)
    cases_lost: int = 0  # reviews / litigations decided in the period against the department
    reply_delayed: int = 0  # requests given a later reply date under 条例第三十五条 in the period
    on_time_rate: float | None = None
    avg_lateness_working_days: float | None = None
    deduction: float = 0
    score: float = 100
    per_rule: dict[str, RuleStats] = Field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class DetailRow:
    """One 明细 row (a clock or a mark). A slotted dataclass, not a BaseModel: a province's year has ~35,000
    rows and building each as a pydantic model was half the cost of its scores; pydantic still validates
    and serialises it as a field of ScoreResult (API, lock JSON)."""

    department: str
    item_id: str
    item_type: str
    title: str
    rule: str
    rule_label: str
    due: str
    state: str
    status: str
    status_label: str
    met_on: str | None = None
    lateness_working_days: int | None = None
    overdue_working_days: int | None = None
    deduction: float = 0
    explanation: str = ""
    late_entry: str = ""  # approved late entries (补录) behind this row, with both dates


class Amendment(BaseModel):
    """A clock of a locked period whose state changed after the lock, or that appeared later."""

    department: str
    item_id: str
    rule: str
    title: str = ""
    change: Literal["changed", "new", "removed"]
    change_label: str
    locked_state: str | None = None
    locked_met_on: str | None = None
    current_state: str | None = None
    current_met_on: str | None = None


class ScoreResult(BaseModel):
    period: str
    period_title: str
    start: str
    end: str
    as_of: str
    department: str | None = None
    config_source: str = ""
    summary: list[DepartmentScore] = Field(default_factory=list)
    details: list[DetailRow] = Field(default_factory=list)
    locked_at: str | None = None  # set when the numbers come from a lock
    locked_by: str | None = None
    amendments: list[Amendment] = Field(default_factory=list)


class Mark(BaseModel):
    """A scored fact that is not a clock: a withheld document, a review or litigation lost."""

    kind: Literal["withheld", "case_lost", "reply_delayed"]
    department: str
    item_id: str
    item_type: str
    title: str = ""
    on: str  # ISO date: signing (withheld) or decision (case_lost); the period it belongs to
    reason: str = ""

    @property
    def day(self) -> date:
        return date.fromisoformat(self.on[:10])


WITHHELD_REASONS = {
    "state_secret": "国家秘密",
    "prohibited_by_law": "法律行政法规禁止公开",
    "security_stability": "危及“三安全一稳定”",
    "third_party_rights": "保护第三方合法权益",
    "internal_affairs": "内部事务信息",
    "process_information": "过程性信息",
    "enforcement_file": "行政执法案卷",
    "administrative_inquiry": "行政查询事项",
}


def marks_from_snapshots(snaps: Iterable[ItemSnapshot]) -> list[Mark]:
    """Withheld documents (their reason as given, or its Chinese name for the standard codes)."""
    out = []
    for item in snaps:
        d = item.data or {}
        if item.type == "document" and d.get("disclosure") == "withheld" and d.get("signed_on"):
            reason = str(d.get("withheld_reason") or "")
            reason = WITHHELD_REASONS.get(reason.removeprefix("withheld."), reason)
            out.append(
                Mark(
                    kind="withheld",
                    department=item.department,
                    item_id=item.id,
                    item_type=item.type,
                    title=item.title,
                    on=str(d["signed_on"])[:10],
                    reason=f"不予公开：{reason}",
                )
            )
    return out


def marks_from_events(events: Iterable[dict]) -> list[Mark]:
    """Reviews and litigations decided `corrected` (the department's decision was found wrong)."""
    evs = list(events)
    owner = {
        e.get("request_id"): (e.get("department"), e.get("subject") or "")
        for e in evs
        if e.get("type") == "request.received"
    }
    out = []
    for e in evs:
        if e.get("type") == "request.reply_delayed" and e.get("on"):
            dept = (owner.get(e.get("request_id")) or (e.get("department"), ""))[0]
            if dept:
                out.append(
                    Mark(
                        kind="reply_delayed",
                        department=dept,
                        item_id=str(e.get("request_id")),
                        item_type="request",
                        on=str(e["on"])[:10],
                        reason=f"条例第三十五条延迟答复至 {e.get('reply_by')}（{e.get('notified_on')} 告知申请人）："
                        f"{e.get('reason', '')}",
                    )
                )
            continue
        if e.get("type") not in ("review.decided", "litigation.decided") or e.get("result") != "corrected":
            continue
        rid = e.get("request_id")
        dept = (owner.get(rid) or (e.get("department"), ""))[0]
        if not dept or not e.get("on"):
            continue
        what = "行政复议" if e["type"] == "review.decided" else "行政诉讼"
        out.append(
            Mark(
                kind="case_lost",
                department=dept,
                item_id=str(rid),
                item_type="request",
                title="",
                on=str(e["on"])[:10],
                reason=f"{what}决定/判决纠正（{e['on']}）",
            )
        )
    return out


def _rate(on_time: int, late: int, overdue: int) -> float | None:
    decided = on_time + late + overdue
    return round(on_time / decided, 4) if decided else None


def score_period(
    records: Iterable[ClockRecord],
    period: Period,
    as_of: date | datetime,
    config: ScoringConfig,
    department: str | None = None,
    marks: Iterable[Mark] = (),
    *,
    rules: Mapping[str, Any],
) -> ScoreResult:
    """Scores of every department with clocks due (or marks) in `period` (or only `department`);
    `config` from scoring.toml (`load_scoring`), `rules` the rules in use by id (for their names)."""
    labels = rule_labels(rules, config)
    depts: dict[str, DepartmentScore] = {}
    lateness: dict[str, list[int]] = {}
    details: list[DetailRow] = []
    # Counted in plain dicts and written to the models once at the end: a province's year is ~35,000 clocks,
    # and pydantic attribute assignment (and a throw-away default model per row) was most of the cost.
    counts: dict[tuple[str, str | None], dict[str, float]] = {}
    zero = {"items_due": 0, "on_time": 0, "late": 0, "overdue": 0, "pending": 0, "closed": 0, "deduction": 0.0}
    for r in records:
        if not period.contains(r.due_day):
            continue
        if department is not None and r.department != department:
            continue
        status = classify(r.state, r.due, r.met_on, as_of)
        label = labels.get(r.rule, r.rule)
        dc = counts.get((r.department, None))
        if dc is None:
            dc = counts[(r.department, None)] = dict(zero)
        deduction = 0.0
        if status == "closed":
            dc["closed"] += 1
        else:
            rc = counts.get((r.department, r.rule))
            if rc is None:
                rc = counts[(r.department, r.rule)] = dict(zero)
            dc["items_due"] += 1
            rc["items_due"] += 1
            dc[status] += 1
            rc[status] += 1
            if status == "late" or (status == "overdue" and config.overdue_counts_as_late):
                deduction = config.points(r.rule)
                rc["deduction"] += deduction
                dc["deduction"] += deduction
            days = (
                r.lateness_working_days
                if status == "late"
                else (r.overdue_working_days if status == "overdue" else None)
            )
            if days is not None:
                lateness.setdefault(r.department, []).append(days)
        details.append(
            DetailRow(
                department=r.department,
                item_id=r.item_id,
                item_type=r.item_type,
                title=r.title,
                rule=r.rule,
                rule_label=label,
                due=r.due,
                state=r.state,
                status=status,
                status_label=STATUS_LABELS[status],
                met_on=r.met_on,
                lateness_working_days=r.lateness_working_days if status == "late" else None,
                overdue_working_days=r.overdue_working_days if status == "overdue" else None,
                deduction=deduction,
                explanation=explanation_line(r.explanation, r.due),
            )
        )
    for (dept, rule), c in counts.items():
        if rule is None:
            depts[dept] = DepartmentScore(department=dept, **c)
    for (dept, rule), c in counts.items():
        if rule is not None:
            c = {k: v for k, v in c.items() if k != "closed"}  # a closed clock is not counted per rule
            depts[dept].per_rule[rule] = RuleStats(
                rule=rule, label=labels.get(rule, rule), points_each=config.points(rule), **c
            )
    as_of_day = as_of.date() if isinstance(as_of, datetime) else as_of
    for m in marks:
        if not period.contains(m.day) or m.day > as_of_day:
            continue
        if department is not None and m.department != department:
            continue
        d = depts.setdefault(m.department, DepartmentScore(department=m.department))
        deduction = config.points(m.kind)
        d.deduction += deduction
        if m.kind == "withheld":
            d.withheld += 1
        elif m.kind == "reply_delayed":
            d.reply_delayed += 1
        else:
            d.cases_lost += 1
        details.append(
            DetailRow(
                department=m.department,
                item_id=m.item_id,
                item_type=m.item_type,
                title=m.title,
                rule=m.kind,
                rule_label=STATUS_LABELS[m.kind],
                due=m.on,
                state="",
                status=m.kind,
                status_label=STATUS_LABELS[m.kind],
                deduction=deduction,
                explanation=m.reason,
            )
        )
    for name, d in depts.items():
        d.on_time_rate = _rate(d.on_time, d.late, d.overdue)
        for rs in d.per_rule.values():
            rs.on_time_rate = _rate(rs.on_time, rs.late, rs.overdue)
        late_days = lateness.get(name)
        d.avg_lateness_working_days = round(sum(late_days) / len(late_days), 2) if late_days else None
        d.score = max(config.floor, config.full_score - d.deduction)
        d.per_rule = dict(sorted(d.per_rule.items()))
    details.sort(key=lambda x: (x.department, x.due, x.item_id, x.rule))
    as_of_text = as_of.isoformat()
    return ScoreResult(
        period=period.label,
        period_title=period.title,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        as_of=as_of_text,
        department=department,
        config_source=config.source,
        summary=[depts[k] for k in sorted(depts)],
        details=details,
    )


def fingerprints(rows: Iterable[ClockRecord | DetailRow]) -> list[tuple[str, str, str, str | None]]:
    """(item_id, rule, state, met_on) of each clock, sorted: what a lock remembers."""
    return sorted(
        {(r.item_id, r.rule, r.state, r.met_on) for r in rows if r.rule not in MARK_DEFAULTS},
        key=lambda t: (t[0], t[1], t[2], t[3] or ""),
    )
