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
Each department is scored under the scheme of its jurisdiction (`ScoringConfig.scheme_for`): every late or
overdue clock (overdue only when `overdue_counts_as_late`) and every mark takes its item's points from the
indicator it belongs to; an indicator loses at most its weight (锦州 2020: “一级指标减分上限为自身权重分值”);
score = max(floor, full_score − Σ capped indicator deductions) + Σ bonus items (each at most its `max`).
The old flat file has no indicators: its deductions are taken uncapped.

Marks (not clocks, `Mark`): a document signed in the period with `disclosure = withheld` or `on_request`
(counted so that a supervisor sees a department that keeps much from proactive disclosure; default 0
points), a normative document signed in the period recorded with `needs_interpretation = false` (金东 2021
deducts 4 each; default 0), and a review or litigation decided in the period with `result = corrected`
(default 3 points, after 泉州鲤城 2020). Each is a 明细 row with its reason.
"""

from __future__ import annotations

import calendar as _calendar
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from domain.config import ConfigError, config_dir, read_toml
from domain.labels import SCORE_STATUSES, WITHHELD_REASONS, rule_names
from domain.model import ClockSnapshot, ItemSnapshot, rule_of
from domain.rules import is_internal
from domain.shanghai import due_day, parse_instant
from domain.standing import can_be_overdue, overdue_working_days

Status = Literal["on_time", "late", "overdue", "pending", "closed", "held"]
# Items naming a family of rules built at run time (not listed in rules.toml): prefix* -> what they are.
RULE_FAMILIES = {"duty_*": "基层政务公开标准目录事项（导入的目录，每项一条规则）"}  # i21-catalogue
# Deductions that are not clock rules, with their defaults when scoring.toml does not list them.
MARK_DEFAULTS: dict[str, float] = {
    "withheld": 0.0,
    "on_request": 0.0,
    "no_interpretation": 0.0,
    "case_lost": 3.0,
    "reply_delayed": 0.0,
}
MarkKind = Literal["withheld", "on_request", "no_interpretation", "case_lost", "reply_delayed"]


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


class Indicator(BaseModel):
    """A first-level indicator of a scheme: its weight is also the cap of what its items can take off
    (锦州 2020: “一级指标减分上限为自身权重分值”). `weight = None` (the old flat file) means no cap."""

    id: str
    name: str
    weight: float | None = None
    source: str = ""
    items: tuple[str, ...] = ()  # rule ids (rules.toml) and mark kinds (MARK_DEFAULTS) scored under it


class BonusItem(BaseModel):
    """Points added for a countable fact: each on-time clock of a rule, or each mark of a kind, up to `max`."""

    id: str
    name: str
    basis: str  # a rule id (its on-time clocks) or a mark kind
    points: float
    max: float
    source: str


class ScoringConfig(BaseModel):
    """One assessment scheme (考评方案). `load_scoring` returns the default scheme; the other schemes of the
    file and the jurisdiction mapping are reached through `scheme_for` (a department, or a unit above it)."""

    full_score: float = 100
    floor: float = 0
    overdue_counts_as_late: bool = True
    source: str = ""
    deductions: dict[str, RuleDeduction] = Field(default_factory=dict)
    path: str = ""
    id: str = "default"
    name: str = ""
    indicators: dict[str, Indicator] = Field(default_factory=dict)
    bonus: dict[str, BonusItem] = Field(default_factory=dict)
    jurisdictions: dict[str, str] = Field(default_factory=dict)  # department / parent unit id -> scheme id
    _schemes: dict[str, ScoringConfig] = PrivateAttr(default_factory=dict)

    def _item_of(self, rule: str) -> str:
        """The item naming `rule`: itself, or a family item `prefix*` (the catalogue duties' `duty_*`: their
        rules are built at run time from the stored catalogue, so no scheme can list them one by one)."""
        if rule in self.deductions:
            return rule
        return next((k for k in self.deductions if k.endswith("*") and rule.startswith(k[:-1])), rule)

    def points(self, rule: str) -> float:
        d = self.deductions.get(self._item_of(rule))
        return d.points if d else MARK_DEFAULTS.get(rule, 0.0)

    def weights(self, rule: str) -> bool:
        """The scheme gives `rule` a weight (a deduction or an indicator listing it)."""
        return self._item_of(rule) in self.deductions or self.indicator_of(rule) is not None

    def indicator_of(self, rule: str) -> str | None:
        item = self._item_of(rule)
        for ind in self.indicators.values():
            if item in ind.items:
                return ind.id
        return None

    @property
    def schemes(self) -> dict[str, ScoringConfig]:
        return self._schemes or {self.id: self}

    def scheme_for(self, department: str, parents: Mapping[str, str | None] | None = None) -> ScoringConfig:
        """The scheme of `department`: the jurisdiction entry of the department itself or of the nearest unit
        above it (`parents`: department id -> parent id, from departments.toml), else the default."""
        seen: set[str] = set()
        node: str | None = department
        while node and node not in seen:
            seen.add(node)
            scheme = self.jurisdictions.get(node)
            if scheme is not None:
                return self.schemes.get(scheme, self)
            node = (parents or {}).get(node)
        return self


def _num(path: Path, key: str, value: Any, *, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {key}: 应为数字，收到 {value!r}")
    if value < minimum:
        raise ConfigError(f"{path}: {key}: 不能小于 {minimum}，收到 {value!r}")
    return float(value)


def _text_of(path: Path, key: str, value: Any, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        what = "依据（source）" if key.endswith("source") else "文字"
        raise ConfigError(f"{path}: {key}: 缺少{what}（应为非空字符串）")
    return value


def _table(path: Path, key: str, value: Any, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: 应为表（[{key}]）")
    extra = sorted(set(value) - allowed)
    if extra:
        raise ConfigError(f"{path}: {key}.{extra[0]}: 无法识别的配置项（可用：{'、'.join(sorted(allowed))}）")
    return value


def _deduction(path: Path, key: str, entry: Any, fallback_source: str = "") -> RuleDeduction:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {key}: 应为表，含 points 与 source")
    _table(path, key, entry, {"points", "label", "source"})
    if "points" not in entry:
        raise ConfigError(f"{path}: {key}.points: 缺少每件扣分")
    points = _num(path, f"{key}.points", entry["points"])
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        if not fallback_source:
            raise ConfigError(f"{path}: {key}.source: 缺少扣分依据（source）")
        source = fallback_source
    label = entry.get("label", "")
    if not isinstance(label, str):
        raise ConfigError(f"{path}: {key}.label: 应为字符串")
    return RuleDeduction(points=points, label=label, source=source)


_SCORE_KEYS = {"full_score", "floor", "overdue_counts_as_late", "source"}


def _score_fields(path: Path, key: str, score: dict) -> dict[str, Any]:
    full = _num(path, f"{key}.full_score", score.get("full_score", 100), minimum=1)
    floor = _num(path, f"{key}.floor", score.get("floor", 0))
    if floor >= full:
        raise ConfigError(f"{path}: {key}.floor: 应小于 {key}.full_score（{full:g}）")
    oc = score.get("overdue_counts_as_late", True)
    if not isinstance(oc, bool):
        raise ConfigError(f"{path}: {key}.overdue_counts_as_late: 应为 true 或 false，收到 {oc!r}")
    return {"full_score": full, "floor": floor, "overdue_counts_as_late": oc, "source": str(score.get("source", ""))}


def load_scoring(path: Path | None = None) -> ScoringConfig:
    """Read and validate config/scoring.toml; errors (ConfigError) name the file and the key.

    Two shapes: the schemes file (`default_scheme`, `[jurisdictions]`, `[schemes.<id>]` with indicators and
    bonus items) and the old flat file (`[score]` + `[deductions.<rule>]`, read as one scheme without caps)."""
    path = Path(path) if path else config_dir() / "scoring.toml"
    raw = read_toml(path)
    if "schemes" in raw:
        return _load_schemes(path, raw)
    unknown = sorted(set(raw) - {"score", "deductions"})
    if unknown:
        raise ConfigError(
            f"{path}: {unknown[0]}: 无法识别的配置节（可用：default_scheme、jurisdictions、schemes；旧格式：score、deductions）"
        )
    score = _table(path, "score", raw.get("score", {}), _SCORE_KEYS)
    fields = _score_fields(path, "score", score)
    deductions: dict[str, RuleDeduction] = {}
    table = raw.get("deductions", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: deductions: 应为表（[deductions.<规则编号>]）")
    for rule, entry in table.items():
        key = f"deductions.{rule}"
        if rule in MARK_DEFAULTS and not isinstance(entry, dict):  # `[deductions] withheld = 0`
            deductions[rule] = RuleDeduction(points=_num(path, key, entry), source=config_source_of(raw))
            continue
        deductions[rule] = _deduction(path, key, entry)
    return ScoringConfig(**fields, deductions=deductions, path=str(path))


_SCHEME_KEYS = _SCORE_KEYS | {"name", "indicators", "bonus"}
_INDICATOR_KEYS = {"name", "weight", "source", "items"}
_BONUS_KEYS = {"name", "basis", "points", "max", "source"}


def _load_schemes(path: Path, raw: dict) -> ScoringConfig:
    unknown = sorted(set(raw) - {"default_scheme", "jurisdictions", "schemes"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: 无法识别的配置节（可用：default_scheme、jurisdictions、schemes）")
    table = raw["schemes"]
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{path}: schemes: 应至少有一个考评方案（[schemes.<方案编号>]）")
    schemes: dict[str, ScoringConfig] = {}
    for sid, entry in table.items():
        schemes[sid] = _load_scheme(path, sid, entry)
    default = raw.get("default_scheme", next(iter(schemes)))
    if not isinstance(default, str) or default not in schemes:
        raise ConfigError(f"{path}: default_scheme: “{default}” 不是 [schemes] 中的方案（可用：{'、'.join(schemes)}）")
    juris = raw.get("jurisdictions", {})
    if not isinstance(juris, dict):
        raise ConfigError(f"{path}: jurisdictions: 应为表（部门或上级单位编号 = 方案编号）")
    for unit, sid in juris.items():
        if not isinstance(sid, str) or sid not in schemes:
            raise ConfigError(
                f"{path}: jurisdictions.{unit}: “{sid}” 不是 [schemes] 中的方案（可用：{'、'.join(schemes)}）"
            )
    for s in schemes.values():
        s.jurisdictions = dict(juris)
        s._schemes = schemes
    return schemes[default]


def _load_scheme(path: Path, sid: str, entry: Any) -> ScoringConfig:
    key = f"schemes.{sid}"
    entry = _table(path, key, entry, _SCHEME_KEYS)
    fields = _score_fields(path, key, entry)
    if not fields["source"].strip():
        raise ConfigError(f"{path}: {key}.source: 缺少方案依据（source）")
    name = _text_of(path, f"{key}.name", entry.get("name"))
    indicators: dict[str, Indicator] = {}
    deductions: dict[str, RuleDeduction] = {}
    inds = entry.get("indicators", {})
    if not isinstance(inds, dict) or not inds:
        raise ConfigError(f"{path}: {key}.indicators: 应至少有一个指标（[{key}.indicators.<指标编号>]）")
    total = 0.0
    for iid, ind in inds.items():
        ik = f"{key}.indicators.{iid}"
        ind = _table(path, ik, ind, _INDICATOR_KEYS)
        if "weight" not in ind:
            raise ConfigError(f"{path}: {ik}.weight: 缺少指标权重（分值，也是该指标扣分上限）")
        weight = _num(path, f"{ik}.weight", ind["weight"])
        total += weight
        items = _table(path, f"{ik}.items", ind.get("items", {}), set(ind.get("items", {}) or {}))
        if not items:
            raise ConfigError(f"{path}: {ik}.items: 应至少有一项扣分（[{ik}.items.<规则编号>]）")
        for item in items:
            if item in deductions:
                raise ConfigError(f"{path}: {ik}.items.{item}: 已列在另一个指标中（每项只能属于一个指标）")
            deductions[item] = _deduction(path, f"{ik}.items.{item}", items[item])
        indicators[iid] = Indicator(
            id=iid,
            name=_text_of(path, f"{ik}.name", ind.get("name")),
            weight=weight,
            source=_text_of(path, f"{ik}.source", ind.get("source")),
            items=tuple(items),
        )
    if total > fields["full_score"]:
        raise ConfigError(f"{path}: {key}.indicators: 各指标权重合计 {total:g} 超过满分 {fields['full_score']:g}")
    bonus: dict[str, BonusItem] = {}
    for bid, b in (_table(path, f"{key}.bonus", entry.get("bonus", {}), set(entry.get("bonus", {}) or {}))).items():
        bk = f"{key}.bonus.{bid}"
        b = _table(path, bk, b, _BONUS_KEYS)
        for required in ("basis", "points", "max"):
            if required not in b:
                raise ConfigError(f"{path}: {bk}.{required}: 缺少配置项")
        bonus[bid] = BonusItem(
            id=bid,
            name=_text_of(path, f"{bk}.name", b.get("name")),
            basis=_text_of(path, f"{bk}.basis", b.get("basis")),
            points=_num(path, f"{bk}.points", b["points"]),
            max=_num(path, f"{bk}.max", b["max"]),
            source=_text_of(path, f"{bk}.source", b.get("source")),
        )
    return ScoringConfig(
        **fields, deductions=deductions, path=str(path), id=sid, name=name, indicators=indicators, bonus=bonus
    )


def check_scheme_rules(config: ScoringConfig, rules: Mapping[str, Any], departments: Iterable[str]) -> list[str]:
    """Cross-file checks for `shixian config check`: every scored rule of rules.toml (not a lapsing window) is
    weighted in every scheme, every item and bonus basis is a rule or a mark, every jurisdiction a unit."""
    path = Path(config.path).name or "scoring.toml"
    # internal pre-deadlines (内部时限) count only where a scheme weights them: no weight is not a gap
    scored = {rid for rid, r in rules.items() if can_be_overdue(r) and not is_internal(rid, rules)}
    known = set(rules) | set(MARK_DEFAULTS) | set(RULE_FAMILIES)
    problems: list[str] = []
    for sid, s in config.schemes.items():
        if not s.indicators:
            continue  # the old flat file: unlisted rules are counted without a deduction
        listed = {i for ind in s.indicators.values() for i in ind.items}
        for ind in s.indicators.values():
            for item in ind.items:
                if item not in known:
                    problems.append(
                        f"{path}: schemes.{sid}.indicators.{ind.id}.items.{item}: 不是 rules.toml 中的规则，也不是"
                        f"可计分的标记（{'、'.join(MARK_DEFAULTS)}）"
                    )
        for rid in sorted(scored - listed):
            problems.append(f"{path}: schemes.{sid}: 时限规则 {rid} 没有列入任何指标（每个计分的法定时限都应有权重）")
        for b in s.bonus.values():
            if b.basis not in known:
                problems.append(f"{path}: schemes.{sid}.bonus.{b.id}.basis: “{b.basis}” 不是规则或标记")
    units = set(departments)
    for unit in sorted(set(config.jurisdictions) - units):
        problems.append(f"{path}: jurisdictions.{unit}: 不是 departments.toml 中的部门或单位")
    return problems


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
    held: bool = False  # a late entry waiting for review decides it (待审核): neither on time nor late yet
    # The clock's own row id when it differs from `rule`: a recurring duty's finished period ("rule#n", see
    # domain.model.period_rule). `rule` (the scheme rule) gives weights and labels; `key` tells rows apart.
    row: str = ""

    @property
    def key(self) -> str:
        return self.row or self.rule

    @property
    def due_day(self) -> date:
        return _iso_day(self.due[:10])


# A year's scores test ~100,000 due dates over a few hundred distinct days: parse each day once.
_iso_day = functools.lru_cache(maxsize=8192)(date.fromisoformat)


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
    if state == "missed" and not met_on:  # a recurring duty's period that lapsed unmet (transitions.lapse_period)
        return "late" if due_i < as_of_i else "pending"
    return "overdue" if due_i < as_of_i else "pending"


def classify_day(state: str, due: str, met_on: str | None, as_of_day: str) -> Status:
    """classify for a due day and a met day (ISO "YYYY-MM-DD") as of a day: every instant is that day's end, so
    the days compare as strings (a year's scores classify ~10^5 clocks; parsing three instants each was most of
    it)."""
    if state == "closed":
        return "closed"
    if met_on and met_on <= as_of_day:
        return "late" if met_on > due else "on_time"
    if state == "met" and not met_on:
        return "on_time"
    if state == "missed" and not met_on:  # a lapsed period (transitions.lapse_period)
        return "late" if due < as_of_day else "pending"
    return "overdue" if due < as_of_day else "pending"


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
            rule = rule_of(c.rule)  # a recurring duty's period row (rule#n) counts under its rule
            if not c.due or rule in lapsing:
                continue
            status = classify(c.state, c.due, c.met_on, as_of)
            out.append(
                ClockRecord(
                    item_id=item.id,
                    item_type=item.type,
                    department=item.department,
                    title=item.title,
                    rule=rule,
                    due=c.due,
                    state=c.state,
                    met_on=c.met_on,
                    lateness_working_days=c.lateness_working_days,
                    overdue_working_days=overdue_days(c, as_of_day) if status == "overdue" else None,
                    explanation=dict(c.explanation or {}),
                    row=c.rule if c.rule != rule else "",
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
        return _one_line(summary)
    return f"期限：{due}"


@functools.lru_cache(maxsize=65536)
def _one_line(summary: str) -> str:
    return " ".join(summary.split())  # clocks of one rule, start and region share their summary


# ---------------------------------------------------------------------------------- results


class RuleStats(BaseModel):
    rule: str
    label: str
    items_due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0
    held: int = 0  # 待审核: a late entry waiting for review decides it (not in the rate until decided)
    on_time_rate: float | None = None
    points_each: float = 0
    deduction: float = 0


class IndicatorScore(BaseModel):
    """One indicator of a department's scheme: what its items took off, capped at its weight."""

    indicator: str
    name: str
    weight: float | None = None
    raw_deduction: float = 0  # Σ per-item deductions, before the cap
    deduction: float = 0  # min(raw_deduction, weight)
    points: float | None = None  # weight − deduction
    capped: bool = False


class BonusScore(BaseModel):
    bonus: str
    name: str
    count: int = 0
    points: float = 0  # min(count × points each, max)


class DepartmentScore(BaseModel):
    department: str
    items_due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0
    held: int = 0  # 待审核 (see RuleStats.held)
    closed: int = 0
    withheld: int = 0  # documents signed in the period and withheld (不予公开)
    cases_lost: int = 0  # reviews / litigations decided in the period against the department
    on_request: int = 0  # documents signed in the period as 依申请公开 (each with its stated reason)
    no_interpretation: int = 0  # normative documents signed in the period marked as needing no interpretation
    reply_delayed: int = 0  # requests given a later reply date under 条例第三十五条 in the period
    on_time_rate: float | None = None
    avg_lateness_working_days: float | None = None
    deduction: float = 0
    score: float = 100
    per_rule: dict[str, RuleStats] = Field(default_factory=dict)
    scheme: str = ""  # the assessment scheme the department is scored under (scoring.toml)
    scheme_name: str = ""
    indicators: dict[str, IndicatorScore] = Field(default_factory=dict)
    bonus: float = 0
    bonus_items: dict[str, BonusScore] = Field(default_factory=dict)
    # Registration lag (登记滞后) of the start events dated in the period, in working days (not scored;
    # filled by services.scores.annotate_registration, None when no start event's lag is known).
    registration_lag_median: float | None = None
    registration_lag_max: int | None = None
    registration_late: int = 0  # start events flagged 登记滞后
    # Set when these figures are a per-department lock's (已锁定) shown among a node's or all departments'
    # fresh ones (services.scores.overlay_department_locks); None: computed now.
    locked_at: str | None = None


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
    registered: str = ""  # the item's start event: its own date, recording instant (+08:00), lag, 登记滞后
    proxy_entry: str = ""  # 代录: the item's events entered by a supervisor, an admin or an operator's import
    row: str = ""  # a recurring duty's period row id ("rule#n"); `rule` is its scheme rule (ClockRecord.row)

    @property
    def key(self) -> str:
        return self.row or self.rule


class Amendment(BaseModel):
    """A clock of a locked period whose state changed after the lock, or that appeared later."""

    department: str
    item_id: str
    rule: str
    row: str = ""  # a recurring duty's period row id (rule#n), when the amendment is about one period
    title: str = ""
    change: Literal["changed", "new", "removed"]
    change_label: str
    locked_state: str | None = None
    locked_met_on: str | None = None
    current_state: str | None = None
    current_met_on: str | None = None


class RegistrationLag(BaseModel):
    """A department's registration lag (登记滞后) over the start events dated in the period: working days from
    each start's own date to its recording day. Shown, not scored."""

    department: str
    starts: int  # start events the department registered itself (liaison, head) since migration 0009
    median_working_days: float
    max_working_days: int
    late: int = 0  # of them flagged 登记滞后 (past the late-entry bound)


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
    # "deducted": only the 明细 rows that deduct points and the marks (the scores page); "all": every clock's
    details_kept: Literal["all", "deducted"] = "all"
    locked_at: str | None = None  # set when the numbers come from a lock
    locked_by: str | None = None
    # departments shown with their own lock's numbers (a node's or all departments' scores; 已锁定)
    locked_departments: list[str] = Field(default_factory=list)
    amendments: list[Amendment] = Field(default_factory=list)
    registration: list[RegistrationLag] = Field(default_factory=list)  # per department with start events
    # #17 §4 per department (consultations, pauses, extensions, withdrawals, re-registrations, same-day
    # groups): shown beside the scores, not deducted; filled by services.scores.request_checks.
    request_checks: list[dict[str, Any]] = Field(default_factory=list)


class Mark(BaseModel):
    """A scored fact that is not a clock: a withheld or on-request document, a normative document without
    interpretation, a review or litigation lost."""

    kind: MarkKind
    department: str
    item_id: str
    item_type: str
    title: str = ""
    on: str  # ISO date: signing (documents) or decision (case_lost); the period it belongs to
    reason: str = ""

    @property
    def day(self) -> date:
        return date.fromisoformat(self.on[:10])


def marks_from_snapshots(snaps: Iterable[ItemSnapshot], interpretation_since: date | None = None) -> list[Mark]:
    """Documents not disclosed proactively (withheld or on request, with the stated reason; the Chinese name
    for the standard codes) and normative documents marked as needing no interpretation, signed once the
    interpretation duty was in force (`interpretation_since`, the rule's `since`: no duty, nothing counted)."""
    out = []
    for item in snaps:
        d = item.data or {}
        if item.type != "document" or not d.get("signed_on"):
            continue
        on = str(d["signed_on"])[:10]
        disclosure = d.get("disclosure")
        if disclosure in ("withheld", "on_request"):
            # `withheld_reason` is the field name of the events stored before issue 17
            reason = str(d.get("disclosure_reason") or d.get("withheld_reason") or "")
            reason = WITHHELD_REASONS.get(reason.removeprefix("withheld."), reason) or "（未说明理由）"
            what = "不予公开" if disclosure == "withheld" else "依申请公开"
            out.append(
                Mark(
                    kind=disclosure,
                    department=item.department,
                    item_id=item.id,
                    item_type=item.type,
                    title=item.title,
                    on=on,
                    reason=f"{what}：{reason}",
                )
            )
        duty = interpretation_since is None or on >= interpretation_since.isoformat()
        if d.get("kind") == "normative" and d.get("needs_interpretation") is False and duty:
            out.append(
                Mark(
                    kind="no_interpretation",
                    department=item.department,
                    item_id=item.id,
                    item_type=item.type,
                    title=item.title,
                    on=on,
                    reason="行政规范性文件登记为无需解读（国办发〔2016〕80号要求规范性文件与解读同步发布）",
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
    parents: Mapping[str, str | None] | None = None,
    details: Literal["all", "deducted"] = "all",
) -> ScoreResult:
    """Scores of every department with clocks due (or marks) in `period` (or only `department`);
    `config` from scoring.toml (`load_scoring`), `rules` the rules in use by id (for their names), `parents`
    (department id -> parent unit, departments.toml) to find each department's scheme (`scheme_for`).
    `details`: every clock's 明细 row ("all": the API, the exports, the locks) or only the rows that deduct
    points and the marks ("deducted": what the scores page and the board list; a province's year is ~10^5
    rows, most of the computation). The summary is the same either way."""
    labels = rule_labels(rules, config)
    scheme_cache: dict[str, ScoringConfig] = {}

    def scheme_of(dept: str) -> ScoringConfig:
        s = scheme_cache.get(dept)
        if s is None:
            s = scheme_cache[dept] = config.scheme_for(dept, parents)
        return s

    depts: dict[str, DepartmentScore] = {}
    lateness: dict[str, list[int]] = {}
    rows: list[DetailRow] = []
    # Counted in plain dicts and written to the models once at the end: a province's year is ~35,000 clocks,
    # and pydantic attribute assignment (and a throw-away default model per row) was most of the cost.
    counts: dict[tuple[str, str | None], dict[str, float]] = {}
    zero = {
        "items_due": 0,
        "on_time": 0,
        "late": 0,
        "overdue": 0,
        "pending": 0,
        "held": 0,
        "closed": 0,
        "deduction": 0.0,
    }
    # 内部时限 (a node's pre-deadlines) are not statutory: counted only where the scheme weights them
    # decided per clock by is_internal: a removed or renamed pre-deadline's old clocks stay internal
    internal_of: dict[str, bool] = {}
    # ISO day strings compare as the dates do: the period test without parsing ~10^5 due dates
    first, last = period.start.isoformat(), period.end.isoformat()
    as_of_iso = as_of.isoformat() if not isinstance(as_of, datetime) else ""  # a day: classify_day applies
    lines: dict[Any, str] = {}  # explanation summary -> its one line (clocks of one start share it)
    append = rows.append
    every_row = details == "all"
    for r in records:
        due = r.due
        if not first <= due[:10] <= last:
            continue
        name = r.department
        if department is not None and name != department:
            continue
        internal = internal_of.get(r.rule)
        if internal is None:
            internal = internal_of[r.rule] = is_internal(r.rule, rules)
        if internal and not scheme_of(r.department).weights(r.rule):
            continue
        status = (
            classify_day(r.state, due, r.met_on, as_of_iso)
            if as_of_iso and len(due) == 10 and (r.met_on is None or len(r.met_on) == 10)
            else classify(r.state, due, r.met_on, as_of)
        )
        if r.held and status in ("overdue", "pending"):
            status = "held"  # neither on time nor late until the late entry is decided
        rid = r.rule
        dc = counts.get((name, None))
        if dc is None:
            dc = counts[(name, None)] = dict(zero)
        deduction = 0.0
        lateness_days = overdue_days = None
        if status == "closed":
            dc["closed"] += 1
        else:
            rc = counts.get((name, rid))
            if rc is None:
                rc = counts[(name, rid)] = dict(zero)
            dc["items_due"] += 1
            rc["items_due"] += 1
            dc[status] += 1
            rc[status] += 1
            if status == "late":
                deduction = scheme_of(name).points(rid)
                rc["deduction"] += deduction
                dc["deduction"] += deduction
                lateness_days = r.lateness_working_days
                if lateness_days is not None:
                    lateness.setdefault(name, []).append(lateness_days)
            elif status == "overdue":
                scheme = scheme_of(name)
                if scheme.overdue_counts_as_late:
                    deduction = scheme.points(rid)
                    rc["deduction"] += deduction
                    dc["deduction"] += deduction
                overdue_days = r.overdue_working_days
                if overdue_days is not None:
                    lateness.setdefault(name, []).append(overdue_days)
        if not every_row and not deduction:
            continue
        summary = r.explanation.get("summary") if r.explanation else None
        line = lines.get(summary) if summary is not None else None
        if line is None:
            line = explanation_line(r.explanation, due)
            if isinstance(summary, str) and summary.strip():
                lines[summary] = line  # only summaries: without one the line names the due date
        append(
            DetailRow(
                department=name,
                item_id=r.item_id,
                item_type=r.item_type,
                title=r.title,
                rule=rid,
                rule_label=labels.get(rid, rid),
                due=due,
                state=r.state,
                status=status,
                status_label=SCORE_STATUSES[status],
                met_on=r.met_on,
                lateness_working_days=lateness_days if status == "late" else None,
                overdue_working_days=overdue_days,
                deduction=deduction,
                explanation=line,
                row=r.row,
            )
        )
    for (dept, rule), c in counts.items():
        if rule is None:
            depts[dept] = DepartmentScore(department=dept, **c)
    for (dept, rule), c in counts.items():
        if rule is not None:
            c = {k: v for k, v in c.items() if k != "closed"}  # a closed clock is not counted per rule
            depts[dept].per_rule[rule] = RuleStats(
                rule=rule, label=labels.get(rule, rule), points_each=scheme_of(dept).points(rule), **c
            )
    as_of_day = as_of.date() if isinstance(as_of, datetime) else as_of
    mark_counts: dict[str, dict[str, list[float]]] = {}  # department -> kind -> [count, deduction]
    for m in marks:
        if not period.contains(m.day) or m.day > as_of_day:
            continue
        if department is not None and m.department != department:
            continue
        d = depts.setdefault(m.department, DepartmentScore(department=m.department))
        deduction = scheme_of(m.department).points(m.kind)
        mc = mark_counts.setdefault(m.department, {}).setdefault(m.kind, [0, 0.0])
        mc[0] += 1
        mc[1] += deduction
        setattr(d, _MARK_COUNTER[m.kind], getattr(d, _MARK_COUNTER[m.kind]) + 1)
        rows.append(
            DetailRow(
                department=m.department,
                item_id=m.item_id,
                item_type=m.item_type,
                title=m.title,
                rule=m.kind,
                rule_label=SCORE_STATUSES[m.kind],
                due=m.on,
                state="",
                status=m.kind,
                status_label=SCORE_STATUSES[m.kind],
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
        _apply_scheme(d, scheme_of(name), mark_counts.get(name, {}))
        d.per_rule = dict(sorted(d.per_rule.items()))
    rows.sort(key=attrgetter("department", "due", "item_id", "rule"))  # in C: ~10^5 rows a year
    as_of_text = as_of.isoformat()
    return ScoreResult(
        period=period.label,
        period_title=period.title,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        as_of=as_of_text,
        department=department,
        config_source=_sources(scheme_of(name) for name in depts) if depts else _sources([config]),
        summary=[depts[k] for k in sorted(depts)],
        details=rows,
        details_kept=details,
    )


_MARK_COUNTER = {"withheld": "withheld", "on_request": "on_request", "no_interpretation": "no_interpretation"}
_MARK_COUNTER["case_lost"] = "cases_lost"
_MARK_COUNTER["reply_delayed"] = "reply_delayed"


def _apply_scheme(d: DepartmentScore, scheme: ScoringConfig, marks: Mapping[str, list[float]]) -> None:
    """Indicator points, caps and bonus of one department under its scheme; sets deduction and score.
    A deduction of an item listed under no indicator (the old flat file) is taken in full."""
    raw: dict[str, float] = {}
    for rule, rs in d.per_rule.items():
        raw[rule] = rs.deduction
    for kind, (_, ded) in marks.items():
        raw[kind] = raw.get(kind, 0.0) + ded
    total = 0.0
    in_indicator: set[str] = set()
    for ind in scheme.indicators.values():
        taken = sum(raw.get(i, 0.0) for i in ind.items)
        in_indicator.update(ind.items)
        capped = ind.weight is not None and taken > ind.weight
        ded = min(taken, ind.weight) if ind.weight is not None else taken
        total += ded
        d.indicators[ind.id] = IndicatorScore(
            indicator=ind.id,
            name=ind.name,
            weight=ind.weight,
            raw_deduction=taken,
            deduction=ded,
            points=None if ind.weight is None else ind.weight - ded,
            capped=capped,
        )
    total += sum(v for k, v in raw.items() if k not in in_indicator)
    bonus = 0.0
    for b in scheme.bonus.values():
        if b.basis in MARK_DEFAULTS:
            count = int(marks.get(b.basis, [0, 0.0])[0])
        else:
            count = d.per_rule[b.basis].on_time if b.basis in d.per_rule else 0
        pts = min(count * b.points, b.max)
        bonus += pts
        d.bonus_items[b.id] = BonusScore(bonus=b.id, name=b.name, count=count, points=pts)
    d.scheme, d.scheme_name = scheme.id, scheme.name
    d.deduction = total
    d.bonus = bonus
    d.score = max(scheme.floor, scheme.full_score - total) + bonus


def _sources(schemes: Iterable[ScoringConfig]) -> str:
    seen: dict[str, str] = {}
    for s in schemes:
        seen.setdefault(s.id, f"{s.name}：{s.source}" if s.name else s.source)
    return "；".join(seen[k] for k in sorted(seen))


def fingerprints(rows: Iterable[ClockRecord | DetailRow]) -> list[tuple[str, str, str, str | None]]:
    """(item_id, row key, state, met_on) of each clock, sorted: what a lock remembers. The key is the rule, or
    a recurring duty's period row id (rule#n), so that the periods of one duty due in a period stay apart."""
    return sorted(
        {(r.item_id, r.key, r.state, r.met_on) for r in rows if r.rule not in MARK_DEFAULTS},
        key=lambda t: (t[0], t[1], t[2], t[3] or ""),
    )
