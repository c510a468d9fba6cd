"""Appeal windows after a reply (i21-proposals): what the supervisor watches, and 表四 reconciled with them.

An appeal window (rules with audience = "supervisor": 行政复议法第二十条 60 日, 行政诉讼法第四十六条 六个月) is
the applicant's time, not a duty of the department: never overdue, never scored, never reminded to the liaison.
The supervisor sees the windows ending soon ("复议/诉讼期限届满前"), and the year's filings as 表四 counts them
(recorded review.filed / litigation.filed events) set against the windows they closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Days ahead the supervisor's list looks (calendar days: the windows are counted in days and months).
WINDOW_LIST_DAYS = 30


def supervisor_rules(rules: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Rule id -> the events that close it, for the rules the supervisor watches."""
    return {k: tuple(r.closed_by) for k, r in rules.items() if getattr(r, "audience", "department") == "supervisor"}


@dataclass
class Reconciled:
    """One filing type's year (e.g. review.filed): 表四 counts every recorded filing; `within` closed a window
    on or before its last day, `outside` came after it, `no_window` has no window (a reply never recorded, an
    answer on the spot, a reply before the rule applied)."""

    event_type: str
    rule: str
    recorded: int = 0
    within: int = 0
    outside: list[str] = field(default_factory=list)
    no_window: list[str] = field(default_factory=list)

    @property
    def mismatch(self) -> int:
        return self.recorded - self.within


def reconcile(
    filings: Iterable[tuple[str, str, str]],
    windows: Iterable[tuple[str, str, str | None]],
    closers: Mapping[str, tuple[str, ...]],
) -> list[Reconciled]:
    """`filings`: (item id, event type, ISO date) of the year's recorded filings; `windows`: (item id, rule,
    due) of the windows of those items; `closers`: supervisor_rules(). One Reconciled per (closing event, rule)."""
    due = {(i, r): d for i, r, d in windows}
    out = {(t, r): Reconciled(t, r) for r, ts in closers.items() for t in ts}
    for item_id, type_, on in filings:
        for (t, r), rec in out.items():
            if t != type_:
                continue
            rec.recorded += 1
            last = due.get((item_id, r))
            if last is None:
                rec.no_window.append(item_id)
            elif str(on)[:10] <= last[:10]:
                rec.within += 1
            else:
                rec.outside.append(item_id)
    return list(out.values())


def days_left(due: str, today: dt.date) -> int:
    return (dt.date.fromisoformat(due[:10]) - today).days
