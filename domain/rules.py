"""Statutory clock rules, loaded from config/rules.toml (each citing its legal source)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from domain.config import ConfigError, config_dir, read_toml

Unit = Literal["working_days", "calendar_days", "hours", "fixed_date", "months", "years"]
UNITS = ("working_days", "calendar_days", "hours", "fixed_date", "months", "years")
UNIT_NAMES = {
    "working_days": "个工作日",
    "calendar_days": "日",
    "hours": "小时",
    "fixed_date": "",
    "months": "个月",
    "years": "年",
}
# Who answers for a clock: a department's own deadline, or a window the supervisor watches (an appeal window
# after a reply is the applicant's time, not a duty of the department: "复议/诉讼期限届满前").
AUDIENCES = ("department", "supervisor")


@dataclass(frozen=True)
class Extension:
    event: str
    max_working_days: int
    max_times: int = 1


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    unit: Unit
    length: int  # 0 for fixed_date rules
    start_event: str
    source: str
    quote: str
    met_by: tuple[str, ...] = ()
    pause: str | None = None
    resume: str | None = None
    stop: str | None = None
    restart: str | None = None
    extension: Extension | None = None
    month: int | None = None  # fixed_date
    day: int | None = None
    year_offset: int = 0  # fixed_date: 1 = that day of the year after the start's (catalogue 次年M月D日前)
    start_on_next_working_day: bool = False
    when: tuple[tuple[str, tuple], ...] = ()  # start only if item/event facts match (field, allowed values)
    closed_by: tuple[str, ...] = ()  # events that end the clock without fulfilling it (no lateness)
    lapses: bool = False  # a window that simply closes at its due date (never overdue)
    since: dt.date | None = None  # the rule applies to clocks starting on or after this date
    editions: tuple[tuple[dt.date, Rule], ...] = field(default=(), repr=False)
    # 内部时限: a node's pre-deadline (jurisdictions.toml [[node.deadline]]), not a statutory duty; it starts only
    # for the items of departments of `nodes` and is scored only where a scheme weights it.
    internal: bool = False
    nodes: frozenset[str] | None = None  # None: every department
    # "不少于 N 日" (a consultation open at least N days): met only by a met_by event AFTER the window's last day;
    # an earlier close is refused unless `shorter_allowed` (urgent cases, stated reason: accepted and flagged).
    minimum: bool = False
    shorter_allowed: bool = False
    # A duty renewed every period (website column, 政务新媒体): each met_by event starts the next period from its
    # own date; a period that lapses unmet is missed and the next runs from its due date (transitions.lapse_period).
    recurring: bool = False
    # false: a last day that is a rest day stays where it falls (no move to the next working day). For a
    # monitoring window, not a time limit for an act: 19号 checks "监测时间点前2周内…未更新", so 民法典第二百零三条
    # (which extends the time to act) does not apply. calendar_days and months/years rules only.
    moves_off_rest_days: bool = True
    # Backward pre-deadline: due = the due date of rule `counted_back_from` minus `length` working days.
    counted_back_from: str | None = None
    audience: str = "department"
    # i21-proposals: a provincial variant. `regions`: the rule starts only for departments whose calendar
    # region is, or lies under, one of them (sichuan covers liangshan); `replaces`: the national rule it
    # stands in for there (四川's 建议提案 periods instead of the 国办 办法's).
    regions: tuple[str, ...] = ()
    # `replaces`: the rule it stands in for, for the departments the variant covers: a provincial variant
    # (`regions`) or a node's own version (`nodes`, e.g. the interpretation the same day, 0 working days, where
    # a county's scheme asks it with the file).
    replaces: str | None = None

    def for_start(self, start: dt.date) -> Rule:
        """The edition in force for a clock started on `start` (e.g. 2008 limits before 2019-05-15)."""
        for before, edition in self.editions:  # sorted by date at load
            if start < before:
                return edition
        return self

    def applies(self, facts: dict) -> bool:
        return all(facts.get(key) in allowed for key, allowed in self.when)

    @property
    def limit_text(self) -> str:
        if self.unit == "fixed_date":
            return f"{'次年' if self.year_offset else '每年'}{self.month}月{self.day}日前"
        if self.counted_back_from:
            return f"法定期限前{self.length}{UNIT_NAMES[self.unit]}"
        if self.unit == "working_days" and self.length == 0:
            return "当日"
        prefix = "不少于" if self.minimum else ""
        every = "每" if self.recurring else ""
        return f"{prefix}{every}{self.length}{UNIT_NAMES[self.unit]}"


# Fields of a rule that its editions (`before` dates) cannot change.
_RULE_ONLY = {
    "minimum",
    "shorter_allowed",
    "recurring",
    "moves_off_rest_days",
    "counted_back_from",
    "audience",
    "regions",
    "nodes",
    "replaces",
}
_FIELDS = {
    "name",
    "unit",
    "length",
    "start_event",
    "met_by",
    "pause",
    "resume",
    "stop",
    "restart",
    "extension",
    "source",
    "quote",
    "month",
    "day",
    "start_on_next_working_day",
    "editions",
    "when",
    "closed_by",
    "lapses",
    "since",
} | _RULE_ONLY
_EDITION_FIELDS = _FIELDS - _RULE_ONLY - {
    "name",
    "unit",
    "start_event",
    "editions",
    "when",
    "closed_by",
    "lapses",
    "since",
} | {"before"}


def _build(rule_id: str, raw: dict, where: str, base: Rule | None = None) -> Rule:
    def need(key: str, typ: type):
        if key not in raw:
            if base is not None:
                return getattr(base, key)
            raise ConfigError(f"{where}: 缺少字段 “{key}”")
        val = raw[key]
        if not isinstance(val, typ) or (typ is int and isinstance(val, bool)):
            raise ConfigError(f"{where}: 字段 “{key}” 类型应为 {typ.__name__}")
        return val

    def opt(key: str, typ: type):
        if key in raw:
            return need(key, typ)
        return getattr(base, key) if base is not None else None

    unit = need("unit", str)
    if unit not in UNITS:
        raise ConfigError(f"{where}: unit “{unit}” 无效（可用：{', '.join(UNITS)}）")
    length = raw.get("length", base.length if base else 0)
    # 0 working days: the same day (an interpretation published with its file, 国办发〔2016〕80号).
    least = 0 if unit == "working_days" else 1
    if unit != "fixed_date" and (not isinstance(length, int) or isinstance(length, bool) or length < least):
        raise ConfigError(f"{where}: 字段 “length” 必须是{'非负' if least == 0 else '正'}整数")
    month, day = opt("month", int), opt("day", int)
    if unit == "fixed_date":
        try:
            dt.date(2000, month or 0, day or 0)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: fixed_date 规则需要有效的 month 与 day") from None
    ext = raw.get("extension")
    extension = base.extension if base else None
    if ext is not None:
        if not isinstance(ext, dict) or not isinstance(ext.get("max_working_days"), int):
            raise ConfigError(f"{where}: extension 需要 {{event, max_working_days, max_times}}")
        extension = Extension(
            str(ext.get("event", base.extension.event if base and base.extension else "")),
            int(ext["max_working_days"]),
            int(ext.get("max_times", 1)),
        )
    met_by = raw.get("met_by", list(base.met_by) if base else [])
    if not isinstance(met_by, list) or not all(isinstance(x, str) for x in met_by):
        raise ConfigError(f"{where}: met_by 必须是事件类型列表")
    when_raw = raw.get("when", {})
    if not isinstance(when_raw, dict):
        raise ConfigError(f"{where}: when 必须是表（字段 = 值 或 [值, …]）")
    when = tuple((k, tuple(v) if isinstance(v, list) else (v,)) for k, v in sorted(when_raw.items()))
    closed_by = raw.get("closed_by", [])
    if not isinstance(closed_by, list) or not all(isinstance(x, str) for x in closed_by):
        raise ConfigError(f"{where}: closed_by 必须是事件类型列表")
    snow = raw.get("start_on_next_working_day", base.start_on_next_working_day if base else False)
    if not isinstance(snow, bool):
        raise ConfigError(f"{where}: start_on_next_working_day 必须是 true/false")
    return Rule(
        id=rule_id,
        name=need("name", str),
        unit=unit,
        length=length if unit != "fixed_date" else 0,
        start_event=need("start_event", str),
        source=need("source", str),
        quote=need("quote", str),
        met_by=tuple(met_by),
        pause=opt("pause", str),
        resume=opt("resume", str),
        stop=opt("stop", str),
        restart=opt("restart", str),
        extension=extension,
        month=month,
        day=day,
        start_on_next_working_day=snow,
        when=base.when if base else when,
        closed_by=base.closed_by if base else tuple(closed_by),
        lapses=base.lapses if base else bool(raw.get("lapses", False)),
        since=base.since if base else _date_or_none(raw.get("since"), where),
        **(_rule_only(raw, where, unit) if base is None else _inherited(base)),
    )


def _inherited(base: Rule) -> dict:
    return {k: getattr(base, k) for k in _RULE_ONLY}


def _rule_only(raw: dict, where: str, unit: str) -> dict:
    out: dict = {}
    for key in ("minimum", "shorter_allowed", "recurring"):
        val = raw.get(key, False)
        if not isinstance(val, bool):
            raise ConfigError(f"{where}: {key} 必须是 true/false")
        out[key] = val
    if out["shorter_allowed"] and not out["minimum"]:
        raise ConfigError(f"{where}: shorter_allowed 只适用于 minimum = true 的最短期限")
    if (out["minimum"] or out["recurring"]) and unit == "fixed_date":
        raise ConfigError(f"{where}: fixed_date 规则不能是 minimum 或 recurring")
    if out["minimum"] and out["recurring"]:
        raise ConfigError(f"{where}: minimum 与 recurring 不能同时为 true")
    moves = raw.get("moves_off_rest_days", True)
    if not isinstance(moves, bool):
        raise ConfigError(f"{where}: moves_off_rest_days 必须是 true/false")
    if not moves and unit not in ("calendar_days", "months", "years"):
        raise ConfigError(
            f"{where}: moves_off_rest_days = false 只适用于 calendar_days、months、years（工作日期限本不落在休息日）"
        )
    out["moves_off_rest_days"] = moves
    back = raw.get("counted_back_from")
    if back is not None:
        if not isinstance(back, str) or not back:
            raise ConfigError(f"{where}: counted_back_from 必须是规则 id")
        if unit != "working_days":
            raise ConfigError(f'{where}: counted_back_from 只支持 unit = "working_days"（倒推工作日）')
    out["counted_back_from"] = back
    audience = raw.get("audience", "department")
    if audience not in AUDIENCES:
        raise ConfigError(f"{where}: audience “{audience}” 无效（可用：{', '.join(AUDIENCES)}）")
    out["audience"] = audience
    regions = raw.get("regions", [])
    if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        raise ConfigError(f"{where}: regions 必须是地区编号列表（config/regions.toml）")
    out["regions"] = tuple(regions)
    replaces = raw.get("replaces")
    if replaces is not None and (not isinstance(replaces, str) or not replaces):
        raise ConfigError(f"{where}: replaces 必须是规则 id（地方规则配 regions，节点版本配 nodes）")
    out["replaces"] = replaces
    return out


def _date_or_none(value, where: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: since “{value}” 必须是 YYYY-MM-DD 日期") from None


def parse_rules(data: dict, filename: str = "rules.toml") -> dict[str, Rule]:
    unknown = set(data) - {"rules", "correction", "consultation", "withdrawal"}
    if unknown:
        raise ConfigError(f"{filename}: 未知的顶层键 “{sorted(unknown)[0]}”")
    rules: dict[str, Rule] = {}
    for rule_id, raw in (data.get("rules") or {}).items():
        where = f"{filename}: [rules.{rule_id}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: 必须是表")
        bad = set(raw) - _FIELDS
        if bad:
            raise ConfigError(f"{where}: 未知字段 “{sorted(bad)[0]}”")
        rule = _build(rule_id, raw, where)
        editions = []
        for i, ed in enumerate(raw.get("editions", []), start=1):
            ewhere = f"{where} editions 第{i}项"
            bad = set(ed) - _EDITION_FIELDS
            if bad:
                raise ConfigError(f"{ewhere}: 未知字段 “{sorted(bad)[0]}”")
            try:
                before = dt.date.fromisoformat(str(ed.get("before")))
            except ValueError:
                raise ConfigError(f"{ewhere}: before 必须是 YYYY-MM-DD 日期") from None
            editions.append((before, _build(rule_id, ed, ewhere, base=rule)))
        rules[rule_id] = replace(rule, editions=tuple(sorted(editions, key=lambda e: e[0])))
    for rule_id, rule in rules.items():
        back = rule.counted_back_from
        if back is not None and (back not in rules or rules[back].counted_back_from or back == rule_id):
            raise ConfigError(f"{filename}: [rules.{rule_id}] counted_back_from “{back}” 不是另一条正向计算的规则")
    for rule_id, raw in (data.get("rules") or {}).items():
        where = f"{filename}: [rules.{rule_id}]"
        rule = rules[rule_id]
        if "nodes" in raw and rule.counted_back_from is None and "replaces" not in raw:
            raise ConfigError(f"{where}: nodes 只适用于倒推的内部时限（counted_back_from）或节点版本（replaces）")
        if (back := rule.counted_back_from) is not None:
            rules[rule_id] = _counted_back_rule(rule, rules[back], raw, where)
        elif rule.replaces is not None and rule.regions:  # a provincial variant of a national rule
            if "nodes" in raw:
                raise ConfigError(f"{where}: replaces 只能配 regions 或 nodes 之一")
            if rule.replaces not in rules or rules[rule.replaces].regions:
                raise ConfigError(f"{where}: replaces “{rule.replaces}” 不是一条全国规则")
        elif rule.replaces is not None:  # a node's own version
            if "nodes" not in raw:
                raise ConfigError(
                    f"{where}: replaces 须配 regions（地方规则）或 nodes（节点版本，空列表为默认不启用）之一"
                )
            rules[rule_id] = _node_version(rule_id, rules, raw, where)
    return rules


def _node_version(rule_id: str, rules: dict[str, Rule], raw: dict, where: str) -> Rule:
    """A rule in place of another for the departments of the nodes it lists (`nodes`, default none): the
    same start, meets, closes and `when` as the rule it replaces, its own length and citation."""
    target = raw["replaces"]
    if not isinstance(target, str) or target not in rules or target == rule_id or rules[target].replaces:
        raise ConfigError(f"{where}: replaces “{target}” 不是 rules.toml 中另一条规则")
    base, rule = rules[target], rules[rule_id]
    if rule.start_event != base.start_event:
        raise ConfigError(f"{where}: start_event 须与 replaces 规则相同（{base.start_event}）")
    nodes = raw.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) and n for n in nodes):
        raise ConfigError(f"{where}: nodes 必须是节点 id 列表（空列表：默认不启用）")
    return replace(
        rule,
        met_by=base.met_by,
        closed_by=base.closed_by,
        when=base.when,
        since=rule.since or base.since,
        replaces=target,
        nodes=frozenset(nodes),
    )


def _counted_back_rule(rule: Rule, base: Rule, raw: dict, where: str) -> Rule:
    """A backward pre-deadline runs with its statutory rule: the same start, meets, closes, pauses, stops,
    restarts and extensions (its due date is computed from the statutory clock's), internal (内部时限: shown,
    scored only where a scheme weights it) and on only for the nodes it lists (`nodes`, default none)."""
    if rule.start_event != base.start_event:
        raise ConfigError(f"{where}: start_event 须与 counted_back_from 规则相同（{base.start_event}）")
    nodes = raw.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) and n for n in nodes):
        raise ConfigError(f"{where}: nodes 必须是节点 id 列表（空列表：默认不启用）")
    return replace(
        rule,
        name=rule.name if INTERNAL_MARK in rule.name else f"{rule.name}（{INTERNAL_MARK}）",
        met_by=base.met_by,
        closed_by=base.closed_by,
        pause=base.pause,
        resume=base.resume,
        stop=base.stop,
        restart=base.restart,
        extension=base.extension,
        when=base.when,
        since=rule.since or base.since,
        lapses=False,
        internal=True,
        nodes=frozenset(nodes),
    )


def parse_correction_min(data: dict, filename: str = "rules.toml") -> int:
    """`[correction] min_working_days`: below it a correction period is flagged 补正期限过短 (default 5)."""
    section = data.get("correction", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{filename}: [correction] 必须是表")
    bad = set(section) - {"min_working_days", "max_working_days", "source"}
    if bad:
        raise ConfigError(f"{filename}: [correction] 未知字段 “{sorted(bad)[0]}”")
    value = section.get("min_working_days", 5)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60:
        raise ConfigError(f"{filename}: [correction] min_working_days 必须是 0–60 的整数，收到 {value!r}")
    return value


@dataclass(frozen=True)
class CountingLimits:
    """Where the law leaves room, the limits beyond which an accepted entry is flagged to the supervisor
    (README "Counting rules"): nothing is refused by them."""

    correction_max_working_days: int = 15  # [correction] max_working_days: 补正期限过长
    consultation_max_paused_working_days: int = 30  # [consultation] max_paused_working_days: 征求意见中止过长
    consultation_late_start_working_days: int = 2  # [consultation] late_start_working_days: 临期征求意见
    relink_working_days: int = 10  # [withdrawal] relink_working_days: 撤回后重新申请


def _limit(data: dict, section: str, key: str, default: int, filename: str, allowed: set[str]) -> int:
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{filename}: [{section}] 必须是表")
    bad = set(table) - allowed
    if bad:
        raise ConfigError(f"{filename}: [{section}] 未知字段 “{sorted(bad)[0]}”")
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 250:
        raise ConfigError(f"{filename}: [{section}] {key} 必须是 0–250 的整数，收到 {value!r}")
    return value


def parse_counting_limits(data: dict, filename: str = "rules.toml") -> CountingLimits:
    consult = {"max_paused_working_days", "late_start_working_days", "source"}
    return CountingLimits(
        correction_max_working_days=_limit(
            data, "correction", "max_working_days", 15, filename, {"min_working_days", "max_working_days", "source"}
        ),
        consultation_max_paused_working_days=_limit(
            data, "consultation", "max_paused_working_days", 30, filename, consult
        ),
        consultation_late_start_working_days=_limit(
            data, "consultation", "late_start_working_days", 2, filename, consult
        ),
        relink_working_days=_limit(
            data, "withdrawal", "relink_working_days", 10, filename, {"relink_working_days", "source"}
        ),
    )


def load_counting_limits(directory: Path | None = None) -> CountingLimits:
    path = (directory or config_dir()) / "rules.toml"
    return parse_counting_limits(read_toml(path), path.name)


def load_correction_min(directory: Path | None = None) -> int:
    path = (directory or config_dir()) / "rules.toml"
    return parse_correction_min(read_toml(path), path.name)


def load_rules(directory: Path | None = None) -> dict[str, Rule]:
    path = (directory or config_dir()) / "rules.toml"
    data = read_toml(path)
    parse_correction_min(data, path.name)  # a bad [correction] is a config error like any rule's
    parse_counting_limits(data, path.name)
    rules = parse_rules(data, path.name)
    taken = sorted(r for r in rules if r.startswith(INTERNAL_PREFIX))
    if taken:  # the prefix marks 内部时限 even after their node's deadline is gone (is_internal)
        raise ConfigError(f"{path.name}: [rules.{taken[0]}] 规则编号不能以 “{INTERNAL_PREFIX}” 开头（留给内部时限）")
    from domain.jurisdictions import load_jurisdictions

    return rules | internal_rules(rules, load_jurisdictions(directory))


INTERNAL_MARK = "内部时限"


INTERNAL_PREFIX = "pre_"


def internal_rule_id(node: str, deadline: str) -> str:
    return f"{INTERNAL_PREFIX}{node}_{deadline}"


def is_internal(rule_id: str, rules: Mapping[str, object] | None = None) -> bool:
    """Whether a clock's rule is a 内部时限 (never statutory): its id has the internal prefix (so a
    pre-deadline later removed from or renamed in jurisdictions.toml stays internal on its old clocks), or
    its rule in `rules` is marked internal."""
    if rule_id.startswith(INTERNAL_PREFIX):
        return True
    rule = rules.get(rule_id) if rules is not None else None
    return bool(getattr(rule, "internal", False))


def internal_rules(rules: dict[str, Rule], tree) -> dict[str, Rule]:
    """The rules of the tree's internal pre-deadlines (domain.jurisdictions.Deadline), each built on the
    statutory rule it precedes: its start, met_by, closed_by and `when` events, its own date and citation."""
    out: dict[str, Rule] = {}
    for node, d in tree.deadlines():
        where = f"{tree.source}: node “{node.id}” deadline “{d.id}”"
        base = rules.get(d.rule)
        if base is None:
            raise ConfigError(f"{where}: rule “{d.rule}” 不是 rules.toml 中的规则")
        if base.internal:
            raise ConfigError(f"{where}: rule “{d.rule}” 本身是内部时限，应指向法定规则")
        rid = internal_rule_id(node.id, d.id)
        if rid in rules or rid in out:
            raise ConfigError(f"{where}: 规则编号 {rid} 重复")
        out[rid] = replace(
            base,
            id=rid,
            # every page, notice and export names it as internal: not a statutory duty
            name=d.name if INTERNAL_MARK in d.name else f"{d.name}（{INTERNAL_MARK}）",
            unit="fixed_date",
            length=0,
            month=d.month,
            day=d.day,
            source=d.source,
            quote=d.quote or d.source,
            pause=None,
            resume=None,
            stop=None,
            restart=None,
            extension=None,
            start_on_next_working_day=False,
            lapses=False,
            editions=(),
            internal=True,
            nodes=tree.deadline_nodes(node.id, d),
            # a fixed internal date, nothing of its base rule's variant: not a stand-in for another rule, not a
            # minimum window, not recurring, the department's own date
            replaces=None,
            regions=(),
            minimum=False,
            shorter_allowed=False,
            recurring=False,
            counted_back_from=None,
            audience="department",
        )
    return out


def get_rule(rules: dict[str, Rule], rule_id: str) -> Rule:
    try:
        return rules[rule_id]
    except KeyError:
        raise ConfigError(f"未知规则 “{rule_id}”（可用：{', '.join(sorted(rules))}）") from None
