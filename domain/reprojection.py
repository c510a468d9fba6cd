"""Which departments a calendar change touches (issue 20 §2: re-projection per node).

Pure: two calendars in, the changed days per region and the departments working on those regions out. A
region's working day already includes its parents' overlays and the national arrangement (`WorkCalendar.day`),
so comparing each department's own region on both calendars finds a prefecture notice as well as a regional or
national one; a department on an unchanged region keeps its clocks as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangedDay:
    date: dt.date
    region: str
    was_workday: bool
    workday: bool
    reason: str  # the new calendar's name for the day (e.g. 古尔邦节, 工作日)
    source: str  # the new calendar's source for it (the notice), empty for a plain weekday


def changed_days(old, new, regions: Iterable[str], years: Iterable[int]) -> dict[str, list[ChangedDay]]:
    """Per region, the days of `years` whose working-day status differs between `old` and `new` calendars."""
    out: dict[str, list[ChangedDay]] = {}
    for region in sorted(set(regions)):
        for year in sorted(set(years)):
            d = dt.date(year, 1, 1)
            while d.year == year:
                a, b = old.day(d, region), new.day(d, region)
                if a.workday != b.workday:
                    out.setdefault(region, []).append(ChangedDay(d, region, a.workday, b.workday, b.reason, b.source))
                d += dt.timedelta(days=1)
    return out


def affected_departments(region_of: Mapping[str, str], changed: Mapping[str, list[ChangedDay]]) -> set[str]:
    """The departments (id -> calendar region) whose region has a changed day."""
    return {dept for dept, region in region_of.items() if changed.get(region)}


def move_lines(moves: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """A liaison's message lines, one per moved clock: (item, rule name, old due, new due)."""
    return [f"{item}：{rule} {old} → {new}" for item, rule, old, new in moves]


def day_lines(days: Iterable[ChangedDay]) -> list[str]:
    """The changed days as the message states them (reason and source)."""
    out = []
    for c in days:
        what = "改为工作日" if c.workday else f"放假（{c.reason}）"
        out.append(f"{c.date.isoformat()} {what}" + (f"，依据：{c.source}" if c.source else ""))
    return out
