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
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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

    @property
    def years(self) -> set[int]:
        return {d.year for d in (*self.days_off, *self.workdays)}

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
    allowed = {"region", "source", "days_off", "workdays", "issued_by", "issued_on", "document_number", "found_at"}
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
    for table in ("days_off", "workdays"):
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
    )


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


@dataclass(frozen=True)
class RegionRule:
    region: str
    name: str
    source: str
    festivals: tuple[Festival, ...]


def load_region_rules(path: Path) -> dict[str, RegionRule]:
    """config/regions.toml: how to estimate a region's days off in years without its notice."""
    if not path.exists():
        return {}
    data = read_toml(path)
    out = {}
    for region, raw in data.items():
        where = f"{path.name}: [{region}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
            raise ConfigError(f"{where}: 需要 source（依据的地方法规）")
        fests = []
        for i, f in enumerate(raw.get("festivals", []), start=1):
            try:
                fest = Festival(
                    str(f["name"]),
                    int(f["lunar_month"]),
                    int(f["lunar_day"]),
                    int(f.get("days", 1)),
                    int(f.get("since", 0)),
                    int(f.get("uncertainty_days", 3)),
                    str(f.get("makeup", "adjacent")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{where} festivals 第{i}项：缺少或无效的字段（{exc}）") from None
            if not (1 <= fest.lunar_month <= 12 and 1 <= fest.lunar_day <= 30 and 1 <= fest.days <= 10):
                raise ConfigError(f"{where} festivals 第{i}项：农历日期或天数无效")
            if fest.makeup not in MAKEUP_RULES:
                raise ConfigError(
                    f"{where} festivals 第{i}项：makeup “{fest.makeup}” 无效（允许：{'、'.join(MAKEUP_RULES)}）"
                )
            if fest.uncertainty_days < 0:
                raise ConfigError(f"{where} festivals 第{i}项：uncertainty_days 不能为负数")
            fests.append(fest)
        out[region] = RegionRule(region, str(raw.get("name", region)), raw["source"], tuple(fests))
    return out


def _lunar_to_solar(year: int, month: int, day: int) -> dt.date:
    from lunardate import LunarDate

    return LunarDate(year, month, day).to_solar_date()


@dataclass
class _Index:
    lo: int  # first ordinal covered
    hi: int  # last ordinal covered
    workdays: list[int] = field(default_factory=list)  # sorted ordinals of working days


class WorkCalendar:
    """National + regional working-day calendar with an ordinal index per region."""

    # Index range grows on demand; these bounds cover every realistic deadline.
    DEFAULT_YEARS = (2000, 2040)

    def __init__(self, overlays: list[Overlay] | None = None, region_rules: dict[str, RegionRule] | None = None):
        self.overlays = overlays or []
        self.region_rules = region_rules or {}
        self.regions = {NATIONAL} | {ov.region for ov in self.overlays} | set(self.region_rules)
        self._estimates: dict[tuple[str, int], dict[dt.date, tuple[str, str]]] = {}
        self._festival_estimates: dict[tuple[Festival, int], dict[dt.date, str]] = {}
        self._national_overlay_years: set[int] = set()
        self._national: dict[dt.date, DayMark] = {}
        self._regional: dict[str, dict[dt.date, DayMark]] = {}
        self._regional_years: dict[str, set[int]] = {}
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
                origin = "regional"
            label = ov.label
            for day, nm in ov.days_off.items():
                target[day] = DayMark("off", nm, label, origin)
            for day, nm in ov.workdays.items():
                target[day] = DayMark("work", nm, label, origin)

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

    def estimated_days(self, region: str, year: int) -> dict[dt.date, tuple[str, str]]:
        """A region's days off estimated from its rules, for a year without its notice on file."""
        key = (region, year)
        if key not in self._estimates:
            out: dict[dt.date, tuple[str, str]] = {}
            rule = self.region_rules.get(region)
            if rule and year not in self._regional_years.get(region, set()):
                for f in rule.festivals:
                    if year >= f.since:
                        src = f"{rule.source}按农历推算（{year}年地方通知未录入）"
                        for day, name in self._estimate_festival(f, year).items():
                            out[day] = (name, src)
            self._estimates[key] = out
        return self._estimates[key]

    def _estimate_festival(self, f: Festival, year: int) -> dict[dt.date, str]:
        """The festival's days off in a year without its notice, following the notices' pattern.

        Each festival day that is a national working day is off. Each one that is already a rest day
        (weekend or national holiday) is made up by the nearest national working day adjacent to the
        run of rest days around the festival: before it first, then after it, alternating (2016: Sat+Sun
        -> Fri and Mon; 2019/2023/2026: one day -> the day before the run; 2022: Sun+Mon on 清明 -> the
        Saturday before and the Wednesday after). A national make-up workday counts as a working day.
        """
        cached = self._festival_estimates.get((f, year))
        if cached is not None:
            return cached
        first = _lunar_to_solar(year, f.lunar_month, f.lunar_day)
        days = [first + dt.timedelta(days=i) for i in range(f.days)]
        out = {d: f"{f.name}（推算）" for d in days}
        self._festival_estimates[(f, year)] = out
        if f.makeup == "none":
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
        """Why a result over the days a < d <= b is provisional for regional reasons (empty: it is not)."""
        if region == NATIONAL or b <= a:
            return []
        reasons = []
        rule = self.region_rules.get(region)
        for year in range((a + dt.timedelta(days=1)).year, b.year + 1):
            if year in self._regional_years.get(region, set()):
                continue
            if rule is None:
                reasons.append(f"未录入 {region} 地区 {year} 年的地方节假日通知，该年地方节假日未计入")
                continue
            for f in rule.festivals:
                if year < f.since:
                    continue
                est = sorted(self._estimate_festival(f, year))
                lo = est[0] - dt.timedelta(days=f.uncertainty_days)
                hi = est[-1] + dt.timedelta(days=f.uncertainty_days)
                if lo <= b and hi > a:
                    first = _lunar_to_solar(year, f.lunar_month, f.lunar_day)
                    reasons.append(
                        f"{rule.name}{year}年“{f.name}”放假通知未录入，按农历{f.lunar_month}月{f.lunar_day}日"
                        f"（{first}）推算放假 " + "、".join(d.isoformat() for d in est) + "；通知录入后将重新计算"
                    )
        return reasons

    def check_region(self, region: str | None) -> str:
        if region in self.regions:
            return region
        region = (region or NATIONAL).strip() or NATIONAL
        if region not in self.regions:
            known = ", ".join(sorted(self.regions))
            raise ConfigError(f"未知地区 “{region}”：config/calendars/ 中没有该地区的日历文件（可用：{known}）")
        return region

    # ----------------------------------------------------------------- one day
    def day(self, date: dt.date, region: str = NATIONAL) -> DayInfo:
        provisional = self.is_provisional_year(date.year)
        if region != NATIONAL:
            mark = self._regional.get(region, {}).get(date)
            if mark:
                return DayInfo(date, mark.kind == "work", mark.name, mark.source, mark.origin, provisional)
            est = self.estimated_days(region, date.year).get(date)
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
                est = not has and bool(self.estimated_days(region, y))
                rule = self.region_rules.get(region)
                # A region whose rule starts later (Guangxi: 2014) had no festival of its own before.
                before = not has and rule is not None and not est and all(y < f.since for f in rule.festivals)
                rows.append(
                    {
                        "year": y,
                        "region": region,
                        "coverage": "overlay"
                        if has
                        else ("estimate" if est else ("no-festival" if before else "none")),
                        # Without a notice a year is provisional when the region has days to estimate
                        # that year, or no rule to estimate them by.
                        "provisional": cov == "provisional" or (not has and (est or region not in self.region_rules)),
                        "sources": self._sources(region, y)
                        if has
                        else (
                            [
                                f"{rule.source}按农历推算（{y}年地方通知未录入）："
                                + "、".join(f"{d}{n}" for d, (n, _) in sorted(self.estimated_days(region, y).items()))
                            ]
                            if est and rule
                            else []
                        ),
                    }
                )
        return rows

    def notice_summary(self, through_year: int) -> list[dict]:
        """Per region with a rule: which years from its first festival year to `through_year` have a notice
        on file and which are estimates (provisional)."""
        out = []
        for region in sorted(self.region_rules):
            rule = self.region_rules[region]
            since = min((f.since for f in rule.festivals), default=through_year + 1)
            on_file = self._regional_years.get(region, set())
            years = range(since, max(through_year, max(on_file, default=since)) + 1)
            out.append(
                {
                    "region": region,
                    "name": rule.name,
                    "since": since,
                    "through": years[-1] if years else through_year,
                    "covered": [y for y in years if y in on_file],
                    "estimated": [y for y in years if y not in on_file],
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
        return h.hexdigest()[:16]


def load_calendar(directory: Path | None = None) -> WorkCalendar:
    directory = directory or config_dir()
    return WorkCalendar(load_overlays(directory / "calendars"), load_region_rules(directory / "regions.toml"))


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
            ), errors
        except ConfigError as exc:
            bad = Path(str(exc).split(":", 1)[0].strip()).name  # messages start with the file's name or path
            if bad not in names or bad in refused:
                raise
            refused.add(bad)
            errors.append(str(exc))
