"""The Chinese working-day calendar: national arrangement, regional days, provisional years.

Layers, lowest first, for one region:
1. weekends are rest days;
2. national data for the year:
   - years chinese-calendar covers (2004–2026 in 1.11.0): its holidays and make-up workdays (调休);
   - national overlay files (config/calendars/*.toml, region = "national") correct the package on the
     dates they list, and any date in year Y makes Y officially covered;
   - a year with neither is *provisional*: the statutory holidays of 《全国年节及纪念日放假办法》 computed
     with the `holidays` package (lunar dates included), no swaps;
3. the region's overlay files (e.g. Guangxi's 壮族三月三) on top of national.

Every day's status carries its reason and source so a due date can explain itself. Arithmetic runs on a
per-region sorted index of working-day ordinals: adding N working days is one bisect and one lookup.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import chinese_calendar
import holidays as holidays_pkg
from chinese_calendar import constants as cc_constants

from domain.config import ConfigError, config_dir, read_toml

NATIONAL = "national"
PACKAGE_NAME = f"chinese-calendar {getattr(chinese_calendar, '__version__', '')}".strip()
PACKAGE_YEARS = frozenset(d.year for d in cc_constants.holidays) | frozenset(d.year for d in cc_constants.workdays)
LAW = "《全国年节及纪念日放假办法》（2024年修订，国务院令第795号）"

# chinese-calendar names holidays in English; the users read Chinese.
_CC_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

Kind = Literal["work", "off"]
Origin = Literal["weekday", "weekend", "package", "overlay", "statutory", "regional", "regional-estimate"]


@dataclass(frozen=True)
class DayMark:
    """An explicit statement about one date."""

    kind: Kind
    name: str  # Chinese reason, e.g. "春节" or "春节调休上班"
    source: str  # the notice or file it comes from
    origin: Origin


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    workday: bool
    reason: str
    source: str
    origin: Origin
    provisional: bool  # the national data for this date's year is not published yet
    # A day off for some staff only (e.g. 回族职工): recorded and shown, never moves a deadline.
    partial: str | None = None
    partial_source: str | None = None


@dataclass
class Overlay:
    path: Path
    region: str
    source: str
    days_off: dict[dt.date, str]
    workdays: dict[dt.date, str]
    # Optional citation of the notice (shown on the calendar page and by `shixian calendar status`).
    issued_by: str = ""
    issued_on: dt.date | None = None
    document_number: str = ""
    found_at: tuple[str, ...] = ()
    # "notice" (the notice's full text was seen) | "report" (secondary reports only) | "unknown" (older files)
    evidence: str = "unknown"
    festivals: tuple[str, ...] = ()  # which festivals of the region's rules it is the notice for (): all
    partial_days_off: dict[dt.date, str] = field(default_factory=dict)

    @property
    def years(self) -> set[int]:
        return {d.year for d in (*self.days_off, *self.workdays, *self.partial_days_off)}

    def covers(self, festival: str) -> bool:
        return not self.festivals or festival in self.festivals

    @property
    def label(self) -> str:
        """The notice as cited on a day's explanation: title, issuer, number, date, file."""
        issuer = "" if self.issued_by in self.source else self.issued_by  # titles usually name the issuer
        parts = [
            p
            for p in (issuer, self.document_number, f"{self.issued_on.isoformat()}发布" if self.issued_on else "")
            if p
        ]
        return f"{self.source}（{'，'.join([*parts, self.path.name])}）"


def _package_source(year: int) -> str:
    return f"《国务院办公厅关于{year}年部分节假日安排的通知》（{PACKAGE_NAME} 收录）"


def parse_overlay(path: Path) -> Overlay:
    data = read_toml(path)
    name = path.name
    allowed = {
        "region",
        "source",
        "days_off",
        "workdays",
        "partial_days_off",
        "issued_by",
        "issued_on",
        "document_number",
        "found_at",
        "evidence",
        "festivals",
    }
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{name}: 未知的顶层键 “{key}”（允许：{', '.join(sorted(allowed))}）")
    region = data.get("region")
    if not isinstance(region, str) or not region.strip():
        raise ConfigError(f'{name}: 缺少 region（如 "national" 或 "guangxi"）')
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{name}: 缺少 source：每个日历文件必须注明依据的通知或文件")
    tables: dict[str, dict[dt.date, str]] = {}
    for table in ("days_off", "workdays", "partial_days_off"):
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            raise ConfigError(f'{name}: [{table}] 必须是表（"YYYY-MM-DD" = "名称"）')
        parsed: dict[dt.date, str] = {}
        for key, value in raw.items():
            try:
                day = dt.date.fromisoformat(str(key))
                if len(str(key)) != 10:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"{name}: [{table}] “{key}” 不是有效日期（应为 YYYY-MM-DD）") from None
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name}: [{table}] “{key}” 的名称必须是非空字符串")
            parsed[day] = value.strip()
        tables[table] = parsed
    both = sorted(set(tables["days_off"]) & set(tables["workdays"]))
    if both:
        raise ConfigError(f"{name}: {both[0].isoformat()} 同时出现在 [days_off] 和 [workdays] 中")
    clash = sorted(set(tables["partial_days_off"]) & set(tables["days_off"]))
    if clash:
        raise ConfigError(f"{name}: {clash[0].isoformat()} 同时出现在 [days_off] 和 [partial_days_off] 中")
    evidence = data.get("evidence")
    if evidence is None:
        # Files written before issue 20 carry no evidence key; a file using its keys must say it.
        if "festivals" in data or "partial_days_off" in data:
            raise ConfigError(f'{name}: 缺少 evidence（"notice"：见到通知原文；"report"：仅见报道）')
        evidence = "unknown"
    elif evidence not in EVIDENCE:
        raise ConfigError(f"{name}: evidence “{evidence}” 无效（允许：notice、report）")
    festivals = data.get("festivals", [])
    if not isinstance(festivals, list) or not all(isinstance(f, str) and f.strip() for f in festivals):
        raise ConfigError(f"{name}: festivals 必须是字符串数组（本通知所涉节日的名称，与 regions.toml 一致）")
    for key in ("issued_by", "document_number"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise ConfigError(f"{name}: {key} 必须是非空字符串")
    issued_on = data.get("issued_on")
    if issued_on is not None:
        # TOML may give a bare date (issued_on = 2023-03-14) or a string.
        if isinstance(issued_on, str):
            try:
                issued_on = dt.date.fromisoformat(issued_on) if len(issued_on) == 10 else None
            except ValueError:
                issued_on = None
        if not isinstance(issued_on, dt.date) or isinstance(issued_on, dt.datetime):
            raise ConfigError(f"{name}: issued_on “{data['issued_on']}” 不是有效日期（应为 YYYY-MM-DD）")
    found_at = data.get("found_at", [])
    if not isinstance(found_at, list) or not all(isinstance(u, str) and u.strip() for u in found_at):
        raise ConfigError(f"{name}: found_at 必须是字符串数组（notice 的出处，如网址）")
    return Overlay(
        path,
        region.strip(),
        source.strip(),
        tables["days_off"],
        tables["workdays"],
        issued_by=str(data.get("issued_by", "")).strip(),
        issued_on=issued_on,
        document_number=str(data.get("document_number", "")).strip(),
        found_at=tuple(u.strip() for u in found_at),
        evidence=evidence,
        festivals=tuple(f.strip() for f in festivals),
        partial_days_off=tables["partial_days_off"],
    )


EVIDENCE = ("notice", "report")


# 《全国年节及纪念日放假办法》: the revision that fixes a year's holidays (first year it applies, citation).
# 2008: 清明、端午、中秋 added, 劳动节 1 day, 春节 除夕–初二; 2014: 春节 初一–初三; 2025: 春节 除夕–初三, 劳动节 2 days.
DECREE_REVISIONS = (
    (2025, "《全国年节及纪念日放假办法》（2024年修订，国务院令第795号，2025年1月1日起施行）"),
    (2014, "《全国年节及纪念日放假办法》（2013年修订，国务院令第644号，2014年1月1日起施行）"),
    (2008, "《全国年节及纪念日放假办法》（2007年修订，国务院令第513号，2008年1月1日起施行）"),
)
COMPLETE_FROM = DECREE_REVISIONS[-1][0]  # earlier years are not checked (no rule counts before 2008-05-01)
_STATUTORY: dict[int, dict[dt.date, str]] = {}


def decree_for(year: int) -> str:
    return next((text for since, text in DECREE_REVISIONS if year >= since), DECREE_REVISIONS[-1][1])


def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The holidays the decree itself fixes for a year (the `holidays` package follows its revisions):
    no make-up days and no swaps, which only the annual notice decides."""
    if year not in _STATUTORY:
        days = holidays_pkg.China(years=year, observed=False, language="zh_CN")
        _STATUTORY[year] = {d: n for d, n in sorted(days.items()) if not n.startswith("休息日")}
    return _STATUTORY[year]


def missing_statutory(year: int, off: set[dt.date], work: set[dt.date]) -> list[tuple[dt.date, str]]:
    """The statutory holidays of `year` that national data listing these days off and make-up workdays
    would have people work. A holiday on a weekend is a rest day without being listed (chinese-calendar
    omits 2012-06-23, 端午 on a Saturday)."""
    return [(d, n) for d, n in statutory_holidays(year).items() if d in work or (d not in off and d.weekday() < 5)]


def check_national_complete(overlays: list[Overlay]) -> None:
    """A national file may add swaps and extra days off; it may not drop a day the decree fixes. The
    year's national data (the package's, corrected by every national file of that year) must rest on
    each statutory holiday, or the file is refused with the missing days named. The make-up day of a
    holiday on a weekend (第六条 补假) is the notice's to set: not checked."""
    by_year: dict[int, list[Overlay]] = {}
    for ov in overlays:
        if ov.region == NATIONAL:
            for year in ov.years:
                by_year.setdefault(year, []).append(ov)
    for year, files in sorted(by_year.items()):
        if year < COMPLETE_FROM:
            continue
        off = {d for d in cc_constants.holidays if d.year == year}
        work = {d for d in cc_constants.workdays if d.year == year}
        for ov in files:
            off, work = (off - set(ov.workdays)) | set(ov.days_off), (work - set(ov.days_off)) | set(ov.workdays)
        missing = missing_statutory(year, off, work)
        if not missing:
            continue
        names = "、".join(ov.path.name for ov in files)
        days = "、".join(f"{d.isoformat()}（{n}）" for d, n in missing)
        raise ConfigError(
            f"{files[0].path.name}: {year}年全国日历（{names}）缺少{decree_for(year)}规定的法定节假日：{days}。"
            f"年度放假通知只增加调休和放假日，法定节假日不能删去或改为上班日：请在 [days_off] 中列出全年放假日"
        )


def load_overlays(directory: Path, exclude: frozenset[str] = frozenset()) -> list[Overlay]:
    if not directory.is_dir():
        return []
    overlays = [parse_overlay(p) for p in sorted(directory.glob("*.toml")) if p.name not in exclude]
    # Two files may not disagree about one date of one region.
    seen: dict[tuple[str, dt.date], tuple[str, Kind]] = {}
    for ov in overlays:
        for kind, table in (("off", ov.days_off), ("work", ov.workdays)):
            for day in table:
                prev = seen.get((ov.region, day))
                if prev and prev[1] != kind:
                    raise ConfigError(f"{ov.path.name}: {day.isoformat()} 与 {prev[0]} 对该日的规定相矛盾")
                seen[(ov.region, day)] = (ov.path.name, kind)  # type: ignore[assignment]
    check_national_complete(overlays)
    return overlays


MAKEUP_RULES = ("adjacent", "none")
FESTIVAL_CALENDARS = ("lunar", "solar", "islamic", "tibetan")
ISLAMIC_FESTIVALS = ("eid_al_fitr", "eid_al_adha")
STAFF = ("all", "some")
# The Losar table's lines in regions.toml: "# losar: 2026-02-18 (source)".
_LOSAR_LINE = re.compile(r"^\s*#\s*losar:\s*(\d{4}-\d{2}-\d{2})\s*(?:\((.*)\))?\s*$")
LOSAR_PACKAGE_CAVEAT = "藏历新年日期取自 holidays 软件包的不丹历表，可能与拉萨历书相差一天或一个月"


@dataclass(frozen=True)
class Festival:
    name: str
    lunar_month: int
    lunar_day: int
    days: int
    since: int
    uncertainty_days: int
    # How a festival day that falls on a rest day is made up in an estimated year: "adjacent" gives the
    # nearest working day before the resulting run of rest days, then the one after, alternating (as the
    # notices of 2016, 2019, 2022, 2023 and 2026 did); "none" gives nothing.
    makeup: str = "adjacent"
    calendar: str = "lunar"  # lunar | solar | islamic | tibetan
    month: int = 0  # solar
    day: int = 0  # solar
    islamic: str = ""  # eid_al_fitr | eid_al_adha
    offset_days: int | None = None  # islamic: fixed shift from the package date (None: learned from notices)
    start_offset: int = 0  # the holiday starts this many days before (<0) / after the festival day
    until: int | None = None
    staff: str = "all"  # all: offices close (moves deadlines) | some: one group's staff rest (never moves)

    def active(self, year: int) -> bool:
        return year >= self.since and (self.until is None or year <= self.until)

    def basis(self) -> str:
        """How an estimate of this festival is made, in words."""
        if self.calendar == "solar":
            return f"按公历{self.month}月{self.day}日"
        if self.calendar == "islamic":
            return "按伊斯兰历（holidays 软件包）"
        if self.calendar == "tibetan":
            return "按藏历正月初一"
        return f"按农历{self.lunar_month}月{self.lunar_day}日"


@dataclass(frozen=True)
class RegionRule:
    region: str
    name: str
    source: str
    festivals: tuple[Festival, ...]
    parent: str | None = None
    # When the notice for year Y is usually out: notice_lead_days before the festival's first day, or
    # notice_by ("MM-DD") of year Y + notice_year.
    notice_lead_days: int | None = None
    notice_by: str | None = None
    notice_year: int = 0


def _festival(where: str, i: int, f: dict) -> Festival:
    try:
        kind = str(f.get("calendar", "lunar"))
        lunar = kind == "lunar"
        off = f.get("offset_days")
        until = f.get("until")
        fest = Festival(
            str(f["name"]),
            int(f["lunar_month"]) if lunar else 0,
            int(f["lunar_day"]) if lunar else 0,
            int(f.get("days", 1)),
            int(f.get("since", 0)),
            int(f.get("uncertainty_days", 3)),
            str(f.get("makeup", "adjacent")),
            calendar=kind,
            month=int(f["month"]) if kind == "solar" else 0,
            day=int(f["day"]) if kind == "solar" else 0,
            islamic=str(f["islamic"]) if kind == "islamic" else "",
            offset_days=None if off is None else int(off),
            start_offset=int(f.get("start_offset", 0)),
            until=None if until is None else int(until),
            staff=str(f.get("staff", "all")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} festivals 第{i}项：缺少或无效的字段（{exc}）") from None
    if fest.calendar not in FESTIVAL_CALENDARS:
        raise ConfigError(
            f"{where} festivals 第{i}项：calendar “{fest.calendar}” 无效（允许：{'、'.join(FESTIVAL_CALENDARS)}）"
        )
    if lunar and not (1 <= fest.lunar_month <= 12 and 1 <= fest.lunar_day <= 30):
        raise ConfigError(f"{where} festivals 第{i}项：农历日期无效")
    if kind == "solar":
        try:
            dt.date(2024, fest.month, fest.day)
        except ValueError:
            raise ConfigError(f"{where} festivals 第{i}项：公历日期无效") from None
    if kind == "islamic" and fest.islamic not in ISLAMIC_FESTIVALS:
        raise ConfigError(f"{where} festivals 第{i}项：islamic 应为 {'、'.join(ISLAMIC_FESTIVALS)} 之一")
    if not 1 <= fest.days <= 31:
        raise ConfigError(f"{where} festivals 第{i}项：天数无效")
    if fest.makeup not in MAKEUP_RULES:
        raise ConfigError(f"{where} festivals 第{i}项：makeup “{fest.makeup}” 无效（允许：{'、'.join(MAKEUP_RULES)}）")
    if fest.staff not in STAFF:
        raise ConfigError(f"{where} festivals 第{i}项：staff “{fest.staff}” 无效（允许：{'、'.join(STAFF)}）")
    if fest.uncertainty_days < 0:
        raise ConfigError(f"{where} festivals 第{i}项：uncertainty_days 不能为负数")
    return fest


def load_region_rules(path: Path) -> dict[str, RegionRule]:
    """config/regions.toml: each region's parent, notice rhythm and how to estimate its days off in years
    without its notice. The `[national]` section holds only the national notice's rhythm."""
    if not path.exists():
        return {}
    data = read_toml(path)
    out = {}
    for region, raw in data.items():
        where = f"{path.name}: [{region}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
            raise ConfigError(f"{where}: 需要 source（依据的地方法规）")
        fests = tuple(_festival(where, i, f) for i, f in enumerate(raw.get("festivals", []), start=1))
        parent = raw.get("parent")
        if parent is not None and (not isinstance(parent, str) or not parent.strip()):
            raise ConfigError(f"{where}: parent 必须是地区代码")
        lead, by = raw.get("notice_lead_days"), raw.get("notice_by")
        if lead is not None and (not isinstance(lead, int) or lead < 0):
            raise ConfigError(f"{where}: notice_lead_days 必须是非负整数")
        if by is not None:
            try:
                dt.date(2024, int(str(by)[:2]), int(str(by)[3:]))
                if len(str(by)) != 5:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"{where}: notice_by “{by}” 无效（应为 MM-DD）") from None
        out[region] = RegionRule(
            region,
            str(raw.get("name", region)),
            raw["source"],
            fests,
            parent=parent.strip() if parent else None,
            notice_lead_days=lead,
            notice_by=str(by) if by is not None else None,
            notice_year=int(raw.get("notice_year", 0)),
        )
    for region, rule in out.items():
        seen = [region]
        r: RegionRule | None = rule
        while r is not None and r.parent:
            if r.parent not in out or r.parent == NATIONAL:
                raise ConfigError(f"{path.name}: [{r.region}] 的 parent “{r.parent}” 不是 regions.toml 中的地区")
            if r.parent in seen:
                raise ConfigError(f"{path.name}: 地区的 parent 形成循环：{' → '.join([*seen, r.parent])}")
            seen.append(r.parent)
            r = out[r.parent]
    return out


def load_losar_table(path: Path) -> dict[int, tuple[dt.date, str]]:
    """The 藏历正月初一 dates listed in regions.toml as comment lines `# losar: YYYY-MM-DD (source)`."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LOSAR_LINE.match(line)
        if m:
            day = dt.date.fromisoformat(m.group(1))
            out[day.year] = (day, (m.group(2) or "").strip())
    return out


def _lunar_to_solar(year: int, month: int, day: int) -> dt.date:
    from lunardate import LunarDate

    return LunarDate(year, month, day).to_solar_date()


def _islamic_dates(which: str, year: int) -> list[dt.date]:
    from holidays.calendars.islamic import _IslamicLunar

    dates = getattr(_IslamicLunar(), f"{which}_dates")(year)
    return sorted(d for d, _estimated in dates if d.year == year)


@dataclass
class _Index:
    lo: int  # first ordinal covered
    hi: int  # last ordinal covered
    workdays: list[int] = field(default_factory=list)  # sorted ordinals of working days


@dataclass(frozen=True)
class Estimate:
    """A festival's estimated days in one region-year (no notice on file for it)."""

    region: str
    festival: Festival
    year: int
    days: dict[dt.date, str]  # date -> name
    base: dt.date  # the festival's day the estimate starts from
    source: str
    caveat: str = ""

    @property
    def partial(self) -> bool:
        return self.festival.staff == "some"

    def reason(self, region_name: str) -> str:
        f = self.festival
        dates = "、".join(d.isoformat() for d in sorted(self.days))
        text = (
            f"{region_name}{self.year}年“{f.name}”放假通知未录入，{f.basis()}（{self.base}）推算放假 {dates}"
            f"（±{f.uncertainty_days}天）"
        )
        if self.caveat:
            text += f"；{self.caveat}"
        return text + "；通知录入后将重新计算"


@dataclass(frozen=True)
class MissingNotice:
    """A notice usually out by now that has no file (`WorkCalendar.missing_notices`)."""

    region: str
    name: str  # the region's Chinese name (全国 for the national arrangement)
    year: int
    expected: dt.date
    festivals: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        what = "放假安排通知" if self.region == NATIONAL else f"{'、'.join(self.festivals)}放假通知"
        return f"{self.name}{self.year}年{what}通常于 {self.expected} 前发布，尚未录入"


class WorkCalendar:
    """National + regional working-day calendar with an ordinal index per region."""

    # Index range grows on demand; these bounds cover every realistic deadline.
    DEFAULT_YEARS = (2000, 2040)

    def __init__(
        self,
        overlays: list[Overlay] | None = None,
        region_rules: dict[str, RegionRule] | None = None,
        losar: dict[int, tuple[dt.date, str]] | None = None,
    ):
        self.overlays = overlays or []
        rules = dict(region_rules or {})
        self.national_rule = rules.pop(NATIONAL, None)  # only the national notice's rhythm
        self.region_rules = rules
        self.losar = losar or {}
        self.regions = {NATIONAL} | {ov.region for ov in self.overlays} | set(self.region_rules)
        self._estimates: dict[tuple[str, int], list[Estimate]] = {}
        self._estimate_cache: dict[tuple[str, int], tuple[dict, dict]] = {}
        self._festival_estimates: dict[tuple[Festival, int, dt.date], dict[dt.date, str]] = {}
        self._offsets: dict[tuple[str, Festival], int] = {}
        self._national_overlay_years: set[int] = set()
        self._national: dict[dt.date, DayMark] = {}
        self._regional: dict[str, dict[dt.date, DayMark]] = {}
        self._partial: dict[str, dict[dt.date, tuple[str, str]]] = {}
        self._regional_years: dict[str, set[int]] = {}
        # (region, year) -> festival names covered by a file; None in the set: a file covering all of them
        self._covered: dict[tuple[str, int], set[str | None]] = {}
        self._chains: dict[str, tuple[str, ...]] = {}
        self._statutory_cache: dict[int, dict[dt.date, str]] = {}
        self._indexes: dict[str, _Index] = {}
        self._load_package()
        for ov in self.overlays:
            if ov.region == NATIONAL:
                self._national_overlay_years |= ov.years
                target = self._national
                origin: Origin = "overlay"
            else:
                target = self._regional.setdefault(ov.region, {})
                self._regional_years.setdefault(ov.region, set()).update(ov.years)
                for y in ov.years:
                    self._covered.setdefault((ov.region, y), set()).update(ov.festivals or (None,))
                origin = "regional"
            label = ov.label
            for day, nm in ov.days_off.items():
                target[day] = DayMark("off", nm, label, origin)
            for day, nm in ov.workdays.items():
                target[day] = DayMark("work", nm, label, origin)
            for day, nm in ov.partial_days_off.items():
                self._partial.setdefault(ov.region, {})[day] = (nm, label)

    # ----------------------------------------------------------------- loading
    def _load_package(self) -> None:
        for day, name in cc_constants.holidays.items():
            self._national[day] = DayMark("off", _CC_NAMES.get(name, name), _package_source(day.year), "package")
        for day, name in cc_constants.workdays.items():
            self._national[day] = DayMark(
                "work", f"{_CC_NAMES.get(name, name)}调休上班", _package_source(day.year), "package"
            )

    def _statutory(self, year: int) -> dict[dt.date, str]:
        """Statutory holidays of a year without published arrangement (no swaps)."""
        if year not in self._statutory_cache:
            # observed=True: the law makes up a holiday that falls on a weekend on a working day (补假,
            # 第六条); the package also knows some past swaps ("休息日（由…调休）"): a provisional year has none.
            days = holidays_pkg.China(years=year, observed=True, language="zh_CN")
            self._statutory_cache[year] = {d: n for d, n in days.items() if not n.startswith("休息日")}
        return self._statutory_cache[year]

    # ----------------------------------------------------------------- regions
    def chain(self, region: str) -> tuple[str, ...]:
        """The region and the regions above it, most specific first (national not included)."""
        if region == NATIONAL:
            return ()
        got = self._chains.get(region)
        if got is None:
            out = [region]
            rule = self.region_rules.get(region)
            while rule is not None and rule.parent and rule.parent not in out:
                out.append(rule.parent)
                rule = self.region_rules.get(rule.parent)
            got = self._chains[region] = tuple(out)
        return got

    def region_name(self, region: str) -> str:
        rule = self.region_rules.get(region)
        return rule.name if rule else ("全国" if region == NATIONAL else region)

    # ----------------------------------------------------------------- coverage
    def national_coverage(self, year: int) -> Literal["package", "overlay", "package+overlay", "provisional"]:
        in_pkg = year in PACKAGE_YEARS
        in_ov = year in self._national_overlay_years
        if in_pkg and in_ov:
            return "package+overlay"
        if in_pkg:
            return "package"
        if in_ov:
            return "overlay"
        return "provisional"

    def is_provisional_year(self, year: int) -> bool:
        # Hot path of every computation: no published national data for the year.
        return year not in PACKAGE_YEARS and year not in self._national_overlay_years

    def regional_years(self, region: str) -> set[int]:
        return set(self._regional_years.get(region, set()))

    def is_covered(self, region: str, year: int, festival: str) -> bool:
        """Some file of the region-year is the notice for this festival (lists it, or lists none)."""
        got = self._covered.get((region, year))
        return bool(got) and (None in got or festival in got)  # type: ignore[operator]

    def notice_files(self, region: str, year: int, festival: str | None = None) -> list[Overlay]:
        return [
            ov
            for ov in self.overlays
            if ov.region == region and year in ov.years and (festival is None or ov.covers(festival))
        ]

    def islamic_offset(self, region: str, f: Festival) -> int:
        """Days the region's notices differ from the package's date: `offset_days`, else the most common
        difference over the years whose notice is on file (ties: the smaller), else 0."""
        if f.offset_days is not None:
            return f.offset_days
        key = (region, f)
        if key not in self._offsets:
            diffs: list[int] = []
            for ov in self.overlays:
                if ov.region != region or not ov.covers(f.name):
                    continue
                named = [d for d, n in (*ov.days_off.items(), *ov.partial_days_off.items()) if f.name in n]
                for year in sorted({d.year for d in named}):
                    first = min(d for d in named if d.year == year)
                    for base in _islamic_dates(f.islamic, year):
                        diff = (first - (base + dt.timedelta(days=f.start_offset))).days
                        if abs(diff) <= 15:  # the same festival, not the year's other occurrence
                            diffs.append(diff)
            counts = {d: diffs.count(d) for d in set(diffs)}
            self._offsets[key] = min(counts, key=lambda d: (-counts[d], abs(d), d)) if counts else 0
        return self._offsets[key]

    def _festival_bases(self, region: str, f: Festival, year: int) -> list[tuple[dt.date, str]]:
        """The festival's day(s) in a year, with a caveat on how sure the date is."""
        if f.calendar == "solar":
            return [(dt.date(year, f.month, f.day), "")]
        if f.calendar == "islamic":
            shift = dt.timedelta(days=self.islamic_offset(region, f))
            return [(d + shift, "") for d in _islamic_dates(f.islamic, year)]
        if f.calendar == "tibetan":
            if year in self.losar:
                return [(self.losar[year][0], "")]
            from holidays.calendars.tibetan import _TibetanLunisolar

            got: Any = _TibetanLunisolar().losar_date(year)  # (date, estimated) in holidays 0.109
            day = got[0] if isinstance(got, tuple) else got
            return [(day, LOSAR_PACKAGE_CAVEAT)] if isinstance(day, dt.date) and day.year == year else []
        return [(_lunar_to_solar(year, f.lunar_month, f.lunar_day), "")]

    def estimates(self, region: str, year: int) -> list[Estimate]:
        """The region's own festivals (not its parents') estimated for a year, each festival whose notice
        for the year is not on file."""
        key = (region, year)
        if key not in self._estimates:
            out: list[Estimate] = []
            rule = self.region_rules.get(region)
            for f in rule.festivals if rule else ():
                if not f.active(year) or self.is_covered(region, year, f.name):
                    continue
                for base, caveat in self._festival_bases(region, f, year):
                    src = f"{rule.source}{f.basis()}推算（{year}年“{f.name}”通知未录入，±{f.uncertainty_days}天）"  # type: ignore[union-attr]
                    if caveat:
                        src += f"；{caveat}"
                    out.append(Estimate(region, f, year, self._estimate_festival(f, year, base), base, src, caveat))
            self._estimates[key] = out
        return self._estimates[key]

    def _estimate_maps(self, region: str, year: int) -> tuple[dict, dict]:
        key = (region, year)
        if key not in self._estimate_cache:
            off: dict[dt.date, tuple[str, str]] = {}
            partial: dict[dt.date, tuple[str, str]] = {}
            for e in self.estimates(region, year):
                target = partial if e.partial else off
                for day, name in e.days.items():
                    target.setdefault(day, (name, e.source))
            self._estimate_cache[key] = (off, partial)
        return self._estimate_cache[key]

    def estimated_days(self, region: str, year: int) -> dict[dt.date, tuple[str, str]]:
        """A region's days off (all staff) estimated from its rules, for festivals without their notice."""
        return self._estimate_maps(region, year)[0]

    def estimated_partial_days(self, region: str, year: int) -> dict[dt.date, tuple[str, str]]:
        return self._estimate_maps(region, year)[1]

    def _estimate_festival(self, f: Festival, year: int, base: dt.date | None = None) -> dict[dt.date, str]:
        """The festival's days off in a year without its notice, following the notices' pattern.

        Each festival day that is a national working day is off. Each one that is already a rest day
        (weekend or national holiday) is made up by the nearest national working day adjacent to the
        run of rest days around the festival: before it first, then after it, alternating (2016: Sat+Sun
        -> Fri and Mon; 2019/2023/2026: one day -> the day before the run; 2022: Sun+Mon on 清明 -> the
        Saturday before and the Wednesday after). A national make-up workday counts as a working day.
        """
        if base is None:
            base = _lunar_to_solar(year, f.lunar_month, f.lunar_day)
        cached = self._festival_estimates.get((f, year, base))
        if cached is not None:
            return cached
        first = base + dt.timedelta(days=f.start_offset)
        days = [first + dt.timedelta(days=i) for i in range(f.days)]
        suffix = "（推算，部分职工）" if f.staff == "some" else "（推算）"
        out = {d: f"{f.name}{suffix}" for d in days}
        self._festival_estimates[(f, year, base)] = out
        if f.makeup == "none" or f.staff == "some":
            return out
        missing = sum(1 for d in days if not self.is_workday(d, NATIONAL))
        one = dt.timedelta(days=1)
        lo, hi = days[0], days[-1]
        before = True
        while missing:
            if before:
                while not self.is_workday(lo - one, NATIONAL):
                    lo -= one
                lo -= one
                out[lo] = f"{f.name}（推算，补休）"
            else:
                while not self.is_workday(hi + one, NATIONAL):
                    hi += one
                hi += one
                out[hi] = f"{f.name}（推算，补休）"
            missing -= 1
            before = not before
        return out

    def regional_uncertainty(self, region: str, a: dt.date, b: dt.date) -> list[str]:
        """Why a result over the days a < d <= b is provisional for regional reasons (empty: it is not):
        every region on the chain, each festival estimated within its ±uncertainty_days of the period."""
        if region == NATIONAL or b <= a:
            return []
        reasons = []
        for r in self.chain(region):
            rule = self.region_rules.get(r)
            for year in range((a + dt.timedelta(days=1)).year, b.year + 1):
                if rule is None:
                    if year not in self._regional_years.get(r, set()):
                        reasons.append(f"未录入 {r} 地区 {year} 年的地方节假日通知，该年地方节假日未计入")
                    continue
                for e in self.estimates(r, year):
                    if e.partial:  # some staff only: never moves a deadline
                        continue
                    est = sorted(e.days)
                    lo = est[0] - dt.timedelta(days=e.festival.uncertainty_days)
                    hi = est[-1] + dt.timedelta(days=e.festival.uncertainty_days)
                    if lo <= b and hi > a:
                        reasons.append(e.reason(rule.name))
        return reasons

    def check_region(self, region: str | None) -> str:
        if region in self.regions:
            return region
        region = (region or NATIONAL).strip() or NATIONAL
        if region not in self.regions:
            known = ", ".join(sorted(self.regions))
            raise ConfigError(
                f"未知地区 “{region}”：config/regions.toml 和 config/calendars/ 中都没有该地区（可用：{known}）"
            )
        return region

    # ----------------------------------------------------------------- missing notices
    def missing_notices(self, today: dt.date, regions: Iterable[str] | None = None) -> list[MissingNotice]:
        """The notices usually published by `today` (this year's and next year's) that have no file: the
        national arrangement (`[national] notice_by`) and each region festival with a notice rhythm;
        `regions` given: only those regions and the regions above them (the ones departments use)."""
        out: list[MissingNotice] = []
        wanted = None if regions is None else {r for region in regions for r in self.chain(region)}
        nat = self.national_rule
        for year in (today.year, today.year + 1):
            if nat and nat.notice_by:
                expected = _notice_date(nat, year)
                if expected is not None and today > expected and self.is_provisional_year(year):
                    out.append(MissingNotice(NATIONAL, "全国", year, expected))
            for region in sorted(self.region_rules):
                rule = self.region_rules[region]
                if rule.notice_by is None and rule.notice_lead_days is None:
                    continue
                if wanted is not None and region not in wanted:
                    continue
                by_date: dict[dt.date, list[str]] = {}
                for f in rule.festivals:
                    if not f.active(year) or self.is_covered(region, year, f.name):
                        continue
                    if rule.notice_by:
                        expected = _notice_date(rule, year)
                    else:
                        bases = self._festival_bases(region, f, year)
                        if not bases:
                            continue
                        first = bases[0][0] + dt.timedelta(days=f.start_offset)
                        expected = first - dt.timedelta(days=rule.notice_lead_days or 0)
                    if expected is not None and today > expected:
                        by_date.setdefault(expected, []).append(f.name)
                for expected, names in sorted(by_date.items()):
                    out.append(MissingNotice(region, rule.name, year, expected, tuple(names)))
        return out

    # ----------------------------------------------------------------- one day
    def day(self, date: dt.date, region: str = NATIONAL) -> DayInfo:
        info = self._day(date, region)
        if region != NATIONAL:
            for r in self.chain(region):
                part = self._partial.get(r, {}).get(date) or self.estimated_partial_days(r, date.year).get(date)
                if part:
                    return replace(info, partial=part[0], partial_source=part[1])
        return info

    def _day(self, date: dt.date, region: str) -> DayInfo:
        provisional = self.is_provisional_year(date.year)
        # The most specific region's statement wins, then its parent's, then the national arrangement.
        for r in self.chain(region):
            mark = self._regional.get(r, {}).get(date)
            if mark:
                return DayInfo(date, mark.kind == "work", mark.name, mark.source, mark.origin, provisional)
            est = self.estimated_days(r, date.year).get(date)
            if est:
                return DayInfo(date, False, est[0], est[1], "regional-estimate", True)
        mark = self._national.get(date)
        if mark:
            return DayInfo(date, mark.kind == "work", mark.name, mark.source, mark.origin, provisional)
        if provisional:
            name = self._statutory(date.year).get(date)
            if name:
                return DayInfo(date, False, name, f"{LAW}推算（{date.year}年安排未发布）", "statutory", True)
        if date.weekday() >= 5:
            return DayInfo(date, False, "周末", "双休日", "weekend", provisional)
        return DayInfo(date, True, "工作日", "", "weekday", provisional)

    def is_workday(self, date: dt.date, region: str = NATIONAL) -> bool:
        return self.day(date, region).workday

    # ----------------------------------------------------------------- index
    def _index(self, region: str, lo_year: int | None = None, hi_year: int | None = None) -> _Index:
        idx = self._indexes.get(region)
        if (
            idx is not None
            and (lo_year is None or dt.date(lo_year, 1, 1).toordinal() >= idx.lo)
            and (hi_year is None or dt.date(hi_year, 12, 31).toordinal() <= idx.hi)
        ):
            return idx
        y0, y1 = self.DEFAULT_YEARS
        if idx is not None:
            y0, y1 = dt.date.fromordinal(idx.lo).year, dt.date.fromordinal(idx.hi).year
        y0 = min(y0, lo_year or y0)
        y1 = max(y1, hi_year or y1)
        lo, hi = dt.date(y0, 1, 1).toordinal(), dt.date(y1, 12, 31).toordinal()
        work = [o for o in range(lo, hi + 1) if self.is_workday(dt.date.fromordinal(o), region)]
        idx = _Index(lo, hi, work)
        self._indexes[region] = idx
        return idx

    def _ensure(self, region: str, first: int, last: int) -> list[int]:
        """Index covering ordinals first..last (plus headroom); returns the working-day list."""
        idx = self._indexes.get(region)
        if idx is None or first < idx.lo or last > idx.hi:
            idx = self._index(
                region,
                dt.date.fromordinal(max(first, 1)).year,
                dt.date.fromordinal(last).year + 1,
            )
        return idx.workdays

    def add_working_days(self, start: dt.date, n: int, region: str = NATIONAL) -> dt.date:
        """The n-th working day strictly after `start` (n >= 1); `start` itself never counts."""
        if n < 1:
            raise ValueError("n must be >= 1")
        s = start.toordinal()
        # A year has at least ~240 working days; 2 days per working day is ample headroom.
        work = self._ensure(region, s, s + 2 * n + 30)
        i = bisect_right(work, s) + n - 1
        while i >= len(work):  # pathological: extend further
            work = self._ensure(region, s, self._indexes[region].hi + 3660)
            i = bisect_right(work, s) + n - 1
        return dt.date.fromordinal(work[i])

    def subtract_working_days(self, end: dt.date, n: int, region: str = NATIONAL) -> dt.date:
        """The n-th working day strictly before `end` (n >= 1)."""
        e = end.toordinal()
        work = self._ensure(region, e - 2 * n - 30, e)
        i = bisect_left(work, e) - n
        return dt.date.fromordinal(work[i])

    def next_working_day(self, date: dt.date, region: str = NATIONAL, *, inclusive: bool = True) -> dt.date:
        if inclusive and self.is_workday(date, region):
            return date
        return self.add_working_days(date, 1, region)

    def working_days_between(self, a: dt.date, b: dt.date, region: str = NATIONAL) -> int:
        """Number of working days d with a < d <= b (0 when b <= a)."""
        if b <= a:
            return 0
        ao, bo = a.toordinal(), b.toordinal()
        work = self._ensure(region, ao, bo)
        return bisect_right(work, bo) - bisect_right(work, ao)

    def days_in(self, a: dt.date, b: dt.date, region: str = NATIONAL) -> list[DayInfo]:
        """Every day d with a < d <= b, classified."""
        return [self.day(dt.date.fromordinal(o), region) for o in range(a.toordinal() + 1, b.toordinal() + 1)]

    # ----------------------------------------------------------------- status
    def status(self, years: range | None = None) -> list[dict]:
        """Per year and region: where the working-day data comes from."""
        if years is None:
            known = set(PACKAGE_YEARS) | self._national_overlay_years
            for ys in self._regional_years.values():
                known |= ys
            years = range(min(known), max(known) + 2)
        rows = []
        for y in years:
            cov = self.national_coverage(y)
            rows.append(
                {
                    "year": y,
                    "region": NATIONAL,
                    "coverage": cov,
                    "provisional": cov == "provisional",
                    "sources": self._sources(NATIONAL, y),
                }
            )
            for region in sorted(self.regions - {NATIONAL}):
                has = y in self._regional_years.get(region, set())
                ests = [e for e in self.estimates(region, y) if e.days]
                rule = self.region_rules.get(region)
                # A region whose rule starts later (Guangxi: 2014) had no festival of its own before.
                before = not has and rule is not None and not ests and not any(f.active(y) for f in rule.festivals)
                sources = self._sources(region, y) if has else []
                sources += [
                    f"{e.festival.name}{'（部分职工）' if e.partial else ''}：{e.source}："
                    + "、".join(f"{d}{n}" for d, n in sorted(e.days.items()))
                    for e in ests
                ]
                rows.append(
                    {
                        "year": y,
                        "region": region,
                        "coverage": "estimate"
                        if ests
                        else ("overlay" if has else ("no-festival" if before or rule is not None else "none")),
                        # Without a notice a year is provisional when the region has days to estimate
                        # that year, or no rule to estimate them by.
                        "provisional": cov == "provisional"
                        or any(not e.partial for e in ests)
                        or (not has and region not in self.region_rules),
                        "sources": sources,
                    }
                )
        return rows

    def notice_summary(self, through_year: int) -> list[dict]:
        """Per region with festivals: which years from its first festival year to `through_year` have every
        festival's notice on file, which are (partly) estimates (provisional), and which rest on secondary
        reports only."""
        out = []
        for region in sorted(self.region_rules):
            rule = self.region_rules[region]
            if not rule.festivals:
                continue
            since = min((f.since for f in rule.festivals), default=through_year + 1)
            on_file = self._regional_years.get(region, set())
            years = range(since, max(through_year, max(on_file, default=since)) + 1)
            estimated = [y for y in years if self.estimates(region, y)]
            reports = [
                y for y in years if y in on_file and all(ov.evidence == "report" for ov in self.notice_files(region, y))
            ]
            out.append(
                {
                    "region": region,
                    "name": rule.name,
                    "parent": rule.parent,
                    "since": since,
                    "through": years[-1] if years else through_year,
                    "covered": [y for y in years if y in on_file and y not in estimated],
                    "estimated": estimated,
                    "reports": reports,
                }
            )
        return out

    def _sources(self, region: str, year: int) -> list[str]:
        out = []
        if region == NATIONAL and year in PACKAGE_YEARS:
            out.append(_package_source(year))
        for ov in self.overlays:
            if ov.region == region and year in ov.years:
                out.append(ov.label)
        if region == NATIONAL and not out:
            out.append(f"{LAW}推算，未含调休")
        return out

    def fingerprint(self) -> str:
        """Changes whenever the calendar data changes (shown by the API and the calendar page)."""
        import hashlib

        h = hashlib.sha256(PACKAGE_NAME.encode())
        for ov in sorted(self.overlays, key=lambda o: o.path.name):
            h.update(ov.path.name.encode())
            h.update(ov.path.read_bytes())
        for region in sorted(self.region_rules):
            h.update(repr(self.region_rules[region]).encode())
        # the national notice's rhythm and the Losar table change what is estimated and reported too
        h.update(repr((self.national_rule, sorted(self.losar.items()))).encode())
        return h.hexdigest()[:16]


def _notice_date(rule: RegionRule, year: int) -> dt.date | None:
    if not rule.notice_by:
        return None
    month, day = int(rule.notice_by[:2]), int(rule.notice_by[3:])
    try:
        return dt.date(year + rule.notice_year, month, day)
    except ValueError:  # 02-29 in a common year
        return dt.date(year + rule.notice_year, month, 28)


def load_calendar(directory: Path | None = None) -> WorkCalendar:
    directory = directory or config_dir()
    regions = directory / "regions.toml"
    return WorkCalendar(load_overlays(directory / "calendars"), load_region_rules(regions), load_losar_table(regions))


def load_calendar_refusing(directory: Path | None = None) -> tuple[WorkCalendar, list[str]]:
    """The calendar without the overlay files that do not load, and their errors.

    For a process that starts while a bad notice sits in calendars/ (the running system keeps its last
    good data instead): the bad file is refused, the others are used. Errors that name no calendar file
    (regions.toml) are raised."""
    directory = directory or config_dir()
    names = {p.name for p in (directory / "calendars").glob("*.toml")}
    refused: set[str] = set()
    errors: list[str] = []
    while True:
        try:
            return WorkCalendar(
                load_overlays(directory / "calendars", frozenset(refused)),
                load_region_rules(directory / "regions.toml"),
                load_losar_table(directory / "regions.toml"),
            ), errors
        except ConfigError as exc:
            bad = Path(str(exc).split(":", 1)[0].strip()).name  # messages start with the file's name or path
            if bad not in names or bad in refused:
                raise
            refused.add(bad)
            errors.append(str(exc))
