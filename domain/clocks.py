"""Due dates of statutory clocks, each able to explain itself.

Counting semantics (README "Counting rules"):
- working days: the start day never counts; the due date is the N-th working day strictly after the start;
- calendar days: start day not counted; a last day that is not a working day moves to the next working day;
- hours: wall-clock hours from the start instant;
- fixed_date: the next month/day on or after the start (a date, not a period: not moved);
- months / years (民法典第二百零一、二百零二条): start day not counted; the period ends on the corresponding day of
  the last month (years: 12 months each), or that month's last day when it has no such day; a last day that is
  not a working day moves to the next working day (第二百零三条), as for calendar days;
- 0 working days: the same day as the start (a file and its interpretation published together);
- pause [P, R]: days P..R do not count; working days used before P are kept; counting goes on after R;
- restart: the caller passes the new start (e.g. receipt of the corrected application);
- extension: adds working days after the current due date, within the rule's cap and count.
The due instant is the end of the due day, Asia/Shanghai (for hour rules: the exact instant).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.calendar import LAW, NATIONAL, WorkCalendar
from domain.labels import REPROJECTED_STATES
from domain.rules import Rule
from domain.shanghai import SHANGHAI, end_of_day

# A fee notice's pause (国办函〔2020〕109号): its days are explained with their own source.
FEE_PAUSE_REASON = "待缴纳信息处理费"
FEE_PAUSE_SOURCE = "国办函〔2020〕109号《政府信息公开信息处理费管理办法》"


class ClockError(ValueError):
    """A clock input the law does not allow (e.g. a second extension); message in Chinese."""


@dataclass(frozen=True)
class Pause:
    start: dt.date
    end: dt.date | None = None  # None: still paused
    reason: str = "征求第三方或其他机关意见"


@dataclass(frozen=True)
class ExtensionGrant:
    on: dt.date
    working_days: int
    reason: str = ""


@dataclass
class Deadline:
    rule: str
    start: dt.date | dt.datetime
    region: str
    due: dt.date | dt.datetime | None  # None while paused with no end
    provisional: bool
    explanation: dict[str, Any] = field(default_factory=dict)
    counted_working_days: int = 0  # working days used so far (for paused clocks)
    paused_working_days: int = 0
    paused_days: int = 0

    @property
    def due_instant(self) -> dt.datetime | None:
        return due_instant(self.due)

    def due_iso(self) -> str | None:
        return None if self.due is None else self.due.isoformat()

    def as_json(self, explain: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "start": self.start.isoformat(),
            "region": self.region,
            "due": self.due_iso(),
            "due_instant": self.due_instant.isoformat() if self.due_instant else None,
            "provisional": self.provisional,
        }
        if explain:
            out["explanation"] = self.explanation
        return out


def due_instant(due: dt.date | dt.datetime | None) -> dt.datetime | None:
    if due is None:
        return None
    if isinstance(due, dt.datetime):
        return due
    return end_of_day(due)


def parse_start(value: str) -> dt.date | dt.datetime:
    """ISO date, or ISO datetime (+08:00 assumed when no offset is given)."""
    value = value.strip()
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ClockError(f"“{value}” 不是有效的 ISO 日期或时间（如 2026-03-02 或 2026-03-02T09:30）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).date()
    return value


def compute(
    rule: Rule,
    start: dt.date | dt.datetime,
    calendar: WorkCalendar,
    region: str | None = NATIONAL,
    *,
    pauses: list[Pause] | tuple[Pause, ...] = (),
    extensions: list[ExtensionGrant] | tuple[ExtensionGrant, ...] = (),
    restarted_from: dt.date | None = None,
    explain: bool = True,
    granted: bool = False,
) -> Deadline:
    """`granted=True`: the extensions are decisions already taken (checked when they were made); a
    later calendar change must not void them, so their dates are not judged again."""
    region = calendar.check_region(region)
    start_d = _as_date(start)
    # The edition follows the original receipt, never a restart date (a request received before
    # 2019-05-15 keeps the 2007 limits through its correction).
    rule = rule.for_start(min(start_d, restarted_from) if restarted_from else start_d)
    if rule.unit in ("months", "years"):
        if pauses or extensions:
            raise ClockError(f"规则“{rule.name}”按月、年计算，不支持中止或延期")
        return _months(rule, start_d, calendar, region, explain)
    if rule.unit == "working_days" and rule.length == 0:
        if pauses or extensions:
            raise ClockError(f"规则“{rule.name}”要求当日完成，不支持中止或延期")
        return _same_day(rule, start_d, calendar, region, explain)
    if rule.unit == "working_days":
        return _working_days(rule, start_d, calendar, region, pauses, extensions, restarted_from, explain, granted)
    if rule.unit == "hours":
        return _hours(rule, start, region, explain)
    if rule.unit == "fixed_date":
        return _fixed(rule, start_d, region, explain)
    if rule.unit == "calendar_days":
        if pauses or extensions:
            raise ClockError(f"规则“{rule.name}”按自然日计算，不支持中止或延期")
    return _calendar_days(rule, start_d, calendar, region, explain)


# ---------------------------------------------------------------- working days
def merged_pauses(pauses) -> list[tuple[dt.date, dt.date | None]]:
    """The union of pause intervals [start, end] (end None: still open), sorted and disjoint."""
    out: list[list] = []
    for p in sorted(pauses, key=lambda p: p.start):
        if out and (out[-1][1] is None or p.start <= out[-1][1] + dt.timedelta(days=1)):
            if out[-1][1] is not None:
                out[-1][1] = None if p.end is None else max(out[-1][1], p.end)
        else:
            out.append([p.start, p.end])
    return [(a, b) for a, b in out]


def _count_with_pauses(
    cal: WorkCalendar, start: dt.date, n: int, pauses: Sequence[Pause], region: str
) -> tuple[dt.date | None, int]:
    """N-th counting day after start, skipping pause intervals. Returns (due or None, days used)."""
    cur, remaining = start, n
    for p in sorted(pauses, key=lambda p: p.start):
        if p.end is not None and p.end <= cur:
            continue  # wholly before the counting window
        if p.start > cur:
            avail = cal.working_days_between(cur, p.start - dt.timedelta(days=1), region)
            if avail >= remaining:
                return cal.add_working_days(cur, remaining, region), n
            remaining -= avail
        if p.end is None:
            return None, n - remaining
        cur = max(cur, p.end)
    return cal.add_working_days(cur, remaining, region), n


def _working_days(
    rule: Rule,
    start: dt.date,
    cal: WorkCalendar,
    region: str,
    pauses: Sequence[Pause],
    extensions: Sequence[ExtensionGrant],
    restarted_from: dt.date | None,
    explain: bool,
    granted: bool = False,
) -> Deadline:
    if not (pauses or extensions or restarted_from or explain or rule.start_on_next_working_day):
        # The common case (batch CSV, bulk recomputation): one indexed lookup.
        fast_due = cal.add_working_days(start, rule.length, region)
        first_year = (start + dt.timedelta(days=1)).year
        provisional = any(cal.is_provisional_year(y) for y in range(first_year, fast_due.year + 1)) or bool(
            region != NATIONAL and cal.regional_uncertainty(region, start, fast_due)
        )
        return Deadline(rule.id, start, region, fast_due, provisional, counted_working_days=rule.length)
    for p in pauses:
        if p.end is not None and p.end < p.start:
            raise ClockError(f"中止结束日 {p.end} 早于开始日 {p.start}")
    effective = start
    notes: list[str] = []
    if rule.start_on_next_working_day and not cal.is_workday(start, region):
        effective = cal.next_working_day(start, region)
        notes.append(f"收到日 {start} 为休息日，按规则视为 {effective}（下一个工作日）收到")
    if restarted_from is not None:
        notes.append(
            f"补正后重新起算：原起算日 {restarted_from}，自收到补正申请之日 {start} 起计算；"
            f"适用的时限版本按原收到申请日确定（{rule.length} 个工作日）"
        )

    # Extensions: validated one by one against the due date in force when each was granted.
    total = rule.length
    ext_rows = []
    if extensions:
        if rule.extension is None:
            raise ClockError(f"规则“{rule.name}”不允许延期")
        cap = rule.extension
        if len(extensions) > cap.max_times:
            raise ClockError(f"“{rule.name}”只能延期 {cap.max_times} 次，已延期，不能再次延期")
        if sum(e.working_days for e in extensions) > cap.max_working_days:
            raise ClockError(f"延期最长不得超过 {cap.max_working_days} 个工作日（{rule.source}）")
        for e in sorted(extensions, key=lambda e: e.on):
            if e.working_days < 1:
                raise ClockError("延期工作日数必须至少为 1")
            before, _ = _count_with_pauses(cal, effective, total, pauses, region)
            if before is not None and e.on > before:
                if not granted:
                    raise ClockError(f"延期须在答复期限届满前决定：当前期限 {before}，延期决定日 {e.on} 已超期")
                notes.append(f"延期于 {e.on} 决定时有效；按现行日历原期限为 {before}")
            total += e.working_days
            after, _ = _count_with_pauses(cal, effective, total, pauses, region)
            ext_rows.append(
                {
                    "on": e.on.isoformat(),
                    "working_days": e.working_days,
                    "reason": e.reason,
                    "from_due": before.isoformat() if before else None,
                    "to_due": after.isoformat() if after else None,
                }
            )

    due, used = _count_with_pauses(cal, effective, total, pauses, region)
    pause_rows = []
    for p in sorted(pauses, key=lambda p: p.start):
        wd = cal.working_days_between(p.start - dt.timedelta(days=1), p.end, region) if p.end else None
        days = (p.end - p.start).days + 1 if p.end else None
        pause_rows.append(
            {
                "from": p.start.isoformat(),
                "to": p.end.isoformat() if p.end else None,
                "reason": p.reason,
                "calendar_days": days,
                "working_days": wd,
            }
        )
    # Consultations may overlap (条例第三十二条 and 第三十四条 at once): the clock stands still for
    # the union of the pauses, each day once.
    paused_wd = paused_days = 0
    for a, b in merged_pauses(pauses):
        if b is not None:
            paused_wd += cal.working_days_between(a - dt.timedelta(days=1), b, region)
            paused_days += (b - a).days + 1

    last = due or max([effective] + [p.start for p in pauses])
    # Provisional when any day after the start up to the due date lies in a year without published data.
    first_year = (effective + dt.timedelta(days=1)).year
    prov_years = [y for y in range(first_year, max(first_year, last.year) + 1) if cal.is_provisional_year(y)]
    regional = cal.regional_uncertainty(region, effective, last)
    provisional = bool(prov_years or regional)
    dl = Deadline(
        rule.id,
        start,
        region,
        due,
        provisional,
        counted_working_days=used,
        paused_working_days=paused_wd,
        paused_days=paused_days,
    )
    if explain:
        dl.explanation = _explain_days(
            DaysExplanation(
                rule=rule,
                start=start,
                counting_from=effective,
                calendar=cal,
                region=region,
                due=due,
                total=total,
                used=used,
                pauses=pause_rows,
                extensions=ext_rows,
                provisional_years=prov_years,
                notes=notes,
                regional=list(regional),
            )
        )
    return dl


@dataclass(frozen=True)
class DaysExplanation:
    """What a working-day clock's computation found, to be explained (input of `_explain_days`)."""

    rule: Rule
    start: dt.date
    counting_from: dt.date  # the start, or the restart after a correction
    calendar: WorkCalendar
    region: str
    due: dt.date | None  # None: paused
    total: int  # working days allowed, extensions included
    used: int  # working days counted so far
    pauses: list[dict[str, Any]]
    extensions: list[dict[str, Any]]
    provisional_years: list[int]
    notes: list[str]
    regional: list[str] = field(default_factory=list)  # regional notices not yet entered


def _explain_days(x: DaysExplanation) -> dict[str, Any]:
    rule, start, effective, cal, region, due = x.rule, x.start, x.counting_from, x.calendar, x.region, x.due
    total, used, pause_rows, ext_rows = x.total, x.used, x.pauses, x.extensions
    prov_years, notes, regional = x.provisional_years, x.notes, x.regional
    end = due or max([effective] + [dt.date.fromisoformat(p["from"]) for p in pause_rows])
    paused_ranges = [
        (dt.date.fromisoformat(p["from"]), dt.date.fromisoformat(p["to"]) if p["to"] else end, p["reason"])
        for p in pause_rows
    ]

    def in_pause(d: dt.date) -> str | None:
        return next((r for a, b, r in paused_ranges if a <= d <= b), None)

    counted, skipped, makeup, prov_days, partial = [], [], [], [], []
    for info in cal.days_in(effective, end, region):
        if info.partial:  # some staff rest that day: shown, still counted as the day it is
            partial.append({"date": info.date.isoformat(), "reason": info.partial, "source": info.partial_source})
        if (why := in_pause(info.date)) is not None:
            fee = why.startswith(FEE_PAUSE_REASON)
            skipped.append(
                {
                    "date": info.date.isoformat(),
                    "reason": f"中止计算（{why}）" if fee else "中止计算（征求意见）",
                    "source": FEE_PAUSE_SOURCE if fee else "条例第三十二条、第三十三条",
                    "kind": "pause",
                }
            )
            continue
        if info.workday:
            counted.append(info.date.isoformat())
            if info.date.weekday() >= 5:
                makeup.append({"date": info.date.isoformat(), "reason": info.reason, "source": info.source})
        else:
            skipped.append(
                {"date": info.date.isoformat(), "reason": info.reason, "source": info.source, "kind": info.origin}
            )
        if info.origin == "statutory":
            prov_days.append({"date": info.date.isoformat(), "reason": f"{info.reason}（推算）"})
        elif info.origin == "regional-estimate":
            prov_days.append({"date": info.date.isoformat(), "reason": info.reason})
    reasons = [
        f"{y}年全国节假日安排尚未发布（config/calendars 中无该年国家日历），按{LAW}推算法定节日及补假，未计调休；"
        f"安排发布并录入后将重新计算"
        for y in prov_years
    ] + list(regional)
    if due is None:
        summary = (
            f"自 {effective} 起已计 {used} 个工作日，现处于中止状态（尚余 {total - used} 个工作日），恢复后继续计算"
        )
    else:
        holidays = sorted({s["reason"] for s in skipped if s["kind"] not in ("weekend", "pause")})
        summary = f"自 {effective} 的次日起算第 {total} 个工作日为 {due}"
        parts = []
        weekends = sum(1 for s in skipped if s["kind"] == "weekend")
        if weekends:
            parts.append(f"跳过周末 {weekends} 天")
        if holidays:
            parts.append("节假日：" + "、".join(holidays))
        if makeup:
            parts.append("调休上班日计入：" + "、".join(m["date"] for m in makeup))
        if pause_rows:
            parts.append(f"中止 {len(pause_rows)} 次")
        if ext_rows:
            parts.append(f"延期 {sum(e['working_days'] for e in ext_rows)} 个工作日")
        if parts:
            summary += "（" + "；".join(parts) + "）"
        if prov_years:
            summary += "；暂定：" + "、".join(f"{y}年" for y in prov_years) + "节假日安排未发布"
        elif regional:
            summary += "；暂定：地方节假日通知未录入"
    return {
        "rule": rule.id,
        "rule_name": rule.name,
        "unit": rule.unit,
        "length": rule.length,
        "working_days_total": total,
        "start": start.isoformat(),
        "counting_from": effective.isoformat(),
        "region": region,
        "due": due.isoformat() if due else None,
        "counted": counted,
        "counted_working_days": len(counted),
        "skipped": skipped,
        "makeup_workdays": makeup,
        "partial_days": partial,
        "pauses": pause_rows,
        "extensions": ext_rows,
        "provisional": bool(prov_years or regional),
        "provisional_reasons": reasons,
        "provisional_days": prov_days,
        "notes": notes,
        "source": rule.source,
        "quote": rule.quote,
        "summary": summary,
    }


# ---------------------------------------------------------------- other units
# A rule with moves_off_rest_days = false (a monitoring window such as 19号's update periods) keeps its last day.
NOT_MOVED = "本期限为监测期间，不是办理期限：末日为休息日的不顺延（不适用民法典第二百零三条）"


def _calendar_days(rule: Rule, start: dt.date, cal: WorkCalendar, region: str, explain: bool) -> Deadline:
    nominal = start + dt.timedelta(days=rule.length)
    due = cal.next_working_day(nominal, region) if rule.moves_off_rest_days else nominal
    moved = cal.days_in(nominal - dt.timedelta(days=1), due - dt.timedelta(days=1), region) if due != nominal else []
    prov_years = sorted({y for y in (nominal.year, due.year) if cal.is_provisional_year(y)})
    regional = cal.regional_uncertainty(region, nominal - dt.timedelta(days=1), due)
    dl = Deadline(rule.id, start, region, due, bool(prov_years or regional))
    if explain:
        summary = f"自 {start} 的次日起算第 {rule.length} 日为 {nominal}"
        if moved:
            summary += "，该日为休息日（" + "、".join(sorted({m.reason for m in moved})) + f"），顺延至 {due}"
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "length": rule.length,
            "start": start.isoformat(),
            "region": region,
            "nominal_last_day": nominal.isoformat(),
            "due": due.isoformat(),
            "moved_over": [{"date": m.date.isoformat(), "reason": m.reason, "source": m.source} for m in moved],
            "provisional": bool(prov_years or regional),
            "provisional_reasons": [f"{y}年全国节假日安排尚未发布，按{LAW}推算" for y in prov_years] + regional,
            "notes": (
                ["末日为休息日的，以休息日结束的次日为期间的最后一日（民法典第二百零三条）"]
                if moved
                else [NOT_MOVED]
                if not rule.moves_off_rest_days
                else []
            ),
            "source": rule.source,
            "quote": rule.quote,
            "summary": summary,
        }
    return dl


def add_months(start: dt.date, months: int) -> dt.date:
    """民法典第二百零二条: the corresponding day of the month `months` after, else that month's last day."""
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(start.day, last))


def _months(rule: Rule, start: dt.date, cal: WorkCalendar, region: str, explain: bool) -> Deadline:
    months = rule.length * (12 if rule.unit == "years" else 1)
    nominal = add_months(start, months)
    due = cal.next_working_day(nominal, region) if rule.moves_off_rest_days else nominal
    moved = cal.days_in(nominal - dt.timedelta(days=1), due - dt.timedelta(days=1), region) if due != nominal else []
    prov_years = sorted({y for y in (nominal.year, due.year) if cal.is_provisional_year(y)})
    regional = cal.regional_uncertainty(region, nominal - dt.timedelta(days=1), due)
    dl = Deadline(rule.id, start, region, due, bool(prov_years or regional))
    if explain:
        unit_text = f"{rule.length}年" if rule.unit == "years" else f"{rule.length}个月"
        no_such_day = nominal.day != start.day
        summary = f"自 {start} 起算 {unit_text}，到期月的对应日为 {nominal}"
        if no_such_day:
            summary = f"自 {start} 起算 {unit_text}，到期月没有对应日（{start.day}日），以月末日 {nominal} 为最后一日"
        if moved:
            summary += "，该日为休息日（" + "、".join(sorted({m.reason for m in moved})) + f"），顺延至 {due}"
        notes = [
            "按照年、月计算期间的，开始的当日不计入；到期月的对应日为期间的最后一日（民法典第二百零一、二百零二条）"
        ]
        if no_such_day:
            notes.append("没有对应日的，月末日为期间的最后一日（民法典第二百零二条）")
        if moved:
            notes.append("期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日（民法典第二百零三条）")
        if not rule.moves_off_rest_days:
            notes.append(NOT_MOVED)
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "length": rule.length,
            "months": months,
            "start": start.isoformat(),
            "region": region,
            "nominal_last_day": nominal.isoformat(),
            "due": due.isoformat(),
            "moved_over": [{"date": m.date.isoformat(), "reason": m.reason, "source": m.source} for m in moved],
            "provisional": bool(prov_years or regional),
            "provisional_reasons": [f"{y}年全国节假日安排尚未发布，按{LAW}推算" for y in prov_years] + regional,
            "notes": notes,
            "source": rule.source,
            "quote": rule.quote,
            "summary": summary,
        }
    return dl


def _same_day(rule: Rule, start: dt.date, cal: WorkCalendar, region: str, explain: bool) -> Deadline:
    dl = Deadline(rule.id, start, region, start, cal.is_provisional_year(start.year))
    if explain:
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "length": 0,
            "start": start.isoformat(),
            "region": region,
            "due": start.isoformat(),
            "moved_over": [],
            "provisional": dl.provisional,
            "provisional_reasons": [f"{start.year}年全国节假日安排尚未发布，按{LAW}推算"] if dl.provisional else [],
            "notes": ["要求与起算事件同日完成（0 个工作日），不因休息日顺延"],
            "source": rule.source,
            "quote": rule.quote,
            "summary": f"须于 {start} 当日完成",
        }
    return dl


def counted_back(
    rule: Rule, statutory_due: dt.date, cal: WorkCalendar, region: str | None = NATIONAL, explain: bool = True
) -> Deadline:
    """A backward pre-deadline (内部时限): `rule.length` working days before the statutory due date."""
    region = cal.check_region(region)
    due = cal.subtract_working_days(statutory_due, rule.length, region) if rule.length else statutory_due
    provisional = any(cal.is_provisional_year(y) for y in range(due.year, statutory_due.year + 1))
    dl = Deadline(rule.id, statutory_due, region, due, provisional)
    if explain:
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "length": rule.length,
            "counted_back_from": rule.counted_back_from,
            "statutory_due": statutory_due.isoformat(),
            "region": region,
            "due": due.isoformat(),
            "provisional": provisional,
            "provisional_reasons": [
                f"{y}年全国节假日安排尚未发布，按{LAW}推算"
                for y in range(due.year, statutory_due.year + 1)
                if cal.is_provisional_year(y)
            ],
            "notes": [f"自法定期限 {statutory_due} 向前倒推 {rule.length} 个工作日（该日不计入），为内部时限"],
            "source": rule.source,
            "quote": rule.quote,
            "summary": f"法定期限 {statutory_due} 前 {rule.length} 个工作日：{due}",
        }
    return dl


def _hours(rule: Rule, start: dt.date | dt.datetime, region: str, explain: bool) -> Deadline:
    if not isinstance(start, dt.datetime):
        start = dt.datetime.combine(start, dt.time(0, 0), SHANGHAI)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=SHANGHAI)
    due = start + dt.timedelta(hours=rule.length)
    dl = Deadline(rule.id, start, region, due, False)
    if explain:
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "length": rule.length,
            "start": start.isoformat(),
            "region": region,
            "due": due.isoformat(),
            "provisional": False,
            "provisional_reasons": [],
            "notes": ["按自然小时连续计算，不区分工作日与休息日"],
            "source": rule.source,
            "quote": rule.quote,
            "summary": f"自 {start.isoformat()} 起 {rule.length} 小时内，即 {due.astimezone(SHANGHAI).isoformat()} 前",
        }
    return dl


def _fixed(rule: Rule, start: dt.date, region: str, explain: bool) -> Deadline:
    due = dt.date(start.year + rule.year_offset, rule.month, rule.day)  # type: ignore[arg-type]
    if due < start:  # 每年: the next such day; 次年 (year_offset 1) is never before the start
        due = dt.date(start.year + 1, rule.month, rule.day)  # type: ignore[arg-type]
    dl = Deadline(rule.id, start, region, due, False)
    if explain:
        dl.explanation = {
            "rule": rule.id,
            "rule_name": rule.name,
            "unit": rule.unit,
            "start": start.isoformat(),
            "region": region,
            "due": due.isoformat(),
            "provisional": False,
            "provisional_reasons": [],
            "notes": ["法定固定日期，不因节假日顺延"],
            "source": rule.source,
            "quote": rule.quote,
            "summary": f"{rule.limit_text}：{due}",
        }
    return dl


# ---------------------------------------------------------------- correction period
@dataclass(frozen=True)
class CorrectionTerms:
    """The applicant's correction period (条例第三十条 “合理的补正期限”) as the law reads it."""

    respond_by: dt.date  # the last day, moved off a rest day
    stated: dt.date  # as the notice said
    working_days: int  # working days after the notice day up to the last day
    min_working_days: int
    too_short: bool  # accepted (the agency decides) but shown to the supervisor as 补正期限过短

    @property
    def note(self) -> str:
        parts = []
        if self.respond_by != self.stated:
            parts.append(f"补正期限末日 {self.stated} 为休息日，顺延至 {self.respond_by}（民法典第二百零三条）")
        if self.too_short:
            parts.append(
                f"补正期限过短：仅 {self.working_days} 个工作日，少于 {self.min_working_days} 个工作日"
                f"（条例第三十条要求“合理的补正期限”）"
            )
        return "；".join(parts)


def correction_terms(
    on: dt.date, respond_by: dt.date, cal: WorkCalendar, region: str = NATIONAL, min_working_days: int = 5
) -> CorrectionTerms:
    last = cal.next_working_day(respond_by, region)
    wd = cal.working_days_between(on, last, region)
    return CorrectionTerms(last, respond_by, wd, min_working_days, wd < min_working_days)


# ---------------------------------------------------------------- after the fact
def lateness_working_days(
    cal: WorkCalendar, due: dt.date | dt.datetime, met: dt.date | dt.datetime, region: str = NATIONAL
) -> int:
    """Working days after the due date up to and including the day it was met (0 when on time)."""
    return cal.working_days_between(_as_date(due), _as_date(met), region)


def is_late(due: dt.date | dt.datetime, met: dt.date | dt.datetime) -> bool:
    if isinstance(due, dt.datetime):
        met_i = met if isinstance(met, dt.datetime) else end_of_day(met)
        return met_i > due
    return _as_date(met) > due


def judged_late(rule: Rule, due: dt.date | dt.datetime, met: dt.date | dt.datetime) -> bool:
    """Late against the due date; a minimum window ("不少于") is never late: its due date is the earliest
    allowed close, and a close after it is what the law asks."""
    return False if rule.minimum else is_late(due, met)


def shortened(rule: Rule, due: dt.date | dt.datetime | None, met: dt.date | dt.datetime | None) -> bool:
    """A minimum window closed on or before its last day (accepted only with a stated urgent reason)."""
    return bool(rule.minimum and due is not None and met is not None and _as_date(met) <= _as_date(due))


def minimum_explanation(rule: Rule, dl: Deadline) -> None:
    """A minimum window's explanation: its due date is the last day of the minimum, the earliest close is
    the day after; a window still open after it simply runs (nothing is late)."""
    due = dl.due_iso()
    dl.explanation["minimum"] = True
    dl.explanation["earliest_close_after"] = due
    shorter = (
        "因情况紧急等原因需要缩短期限的，须在结束事件中说明理由（urgent_reason），按缩短征求意见期标记"
        if rule.shorter_allowed
        else "不得提前结束"
    )
    dl.explanation["notes"] = [
        *dl.explanation.get("notes", []),
        f"{rule.limit_text}：{due} 为最短期限的最后一日，须在该日之后结束；{shorter}；期满后仍在征求意见的，不属逾期",
    ]
    dl.explanation["summary"] = f"{dl.explanation.get('summary', '')}；{rule.limit_text}，须在 {due} 之后结束"


def compute_rule(
    rules: Mapping[str, Rule],
    rule: Rule,
    start: dt.date | dt.datetime,
    calendar: WorkCalendar,
    region: str | None = NATIONAL,
    **kw: Any,
) -> Deadline:
    """`compute`, and for a backward pre-deadline (`counted_back_from`) the named rule's deadline first, with
    the same pauses, extensions and restart, then N working days back from it: the internal date moves
    whenever the statutory one does. Its explanation keeps the statutory computation under "base"."""
    if not rule.counted_back_from:
        dl = compute(rule, start, calendar, region, **kw)
        if rule.minimum and dl.explanation and dl.due is not None:
            minimum_explanation(rule, dl)
        return dl
    base_rule = rules.get(rule.counted_back_from)
    if base_rule is None:
        raise ClockError(f"规则“{rule.name}”倒推所依据的规则“{rule.counted_back_from}”不存在")
    base = compute(base_rule, start, calendar, region, **kw)
    if base.due is None:  # the statutory clock is paused with no end: so is its pre-deadline
        return Deadline(rule.id, base.start, base.region, None, base.provisional, dict(base.explanation))
    if isinstance(base.due, dt.datetime):
        raise ClockError(f"规则“{rule.name}”只能从按日计算的期限倒推")
    explain = bool(kw.get("explain", True))
    dl = counted_back(rule, base.due, calendar, base.region, explain=explain)
    dl.start, dl.provisional = base.start, dl.provisional or base.provisional
    dl.paused_days = base.paused_days
    if explain:
        dl.explanation["start"] = _as_date(base.start).isoformat()
        dl.explanation["base"] = base.explanation
        dl.explanation["provisional"] = dl.provisional
    return dl


# ---------------------------------------------------------------- a finished clock recomputed


def reprojected_text(
    reason: str,
    old_due: str | None,
    new_due: str | None,
    old_state: str,
    old_late: int | None,
    new_state: str,
    new_late: int | None,
) -> str:
    """What a calendar change did to a met or missed clock, as recorded and shown (Chinese)."""

    def name(state: str, late: int | None) -> str:
        return REPROJECTED_STATES.get(state, state) + (f" {late} 个工作日" if state == "missed" and late else "")

    parts = [f"到期日由 {old_due} 变为 {new_due}" if new_due != old_due else f"到期日仍为 {new_due}"]
    if (old_state, old_late) != (new_state, new_late):
        parts.append(f"由{name(old_state, old_late)}改为{name(new_state, new_late)}")
    return f"{reason}：已履行的时限按新日历重新计算，" + "，".join(parts)
