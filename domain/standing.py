"""Where a clock stands on a day: working days left, working days overdue, and whether it can be overdue.

The API, the pages, the notices, the digests, the overdue list and the scores all count with these functions
(README, counting rules: `overdue_working_days` = working days after the due date up to and including the
as-of date; 0 = due today).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from domain.shanghai import due_day


class _Calendar(Protocol):
    def working_days_between(self, a: dt.date, b: dt.date, region: str = ...) -> int: ...


def working_days_left(calendar: _Calendar, today: dt.date, due: dt.date, region: str) -> int:
    """Signed: n > 0 working days left, 0 due today, -n overdue by n working days."""
    if due >= today:
        return calendar.working_days_between(today, due, region)
    return -calendar.working_days_between(due, today, region)


def overdue_working_days(calendar: _Calendar, due: dt.date, as_of: dt.date, region: str) -> int:
    """Working days d with due < d <= as_of (0 when not past due)."""
    return calendar.working_days_between(due, as_of, region) if as_of > due else 0


def can_be_overdue(rule: Any | None) -> bool:
    """A window that lapses (correction notice, opinion periods) closes at its due date, a minimum window
    (a consultation open 不少于30日) is only ended after it: never overdue. Nor is a window the supervisor
    watches (audience = "supervisor": an appeal window, the applicant's time)."""
    if rule is None:
        return True
    return not (
        getattr(rule, "lapses", False)
        or getattr(rule, "minimum", False)
        or getattr(rule, "audience", "department") == "supervisor"
    )


def department_duty(rule: Any | None) -> bool:
    """False for a window the supervisor watches (audience = "supervisor": an appeal window): it is never on a
    liaison's 待办 or digest."""
    return rule is None or getattr(rule, "audience", "department") != "supervisor"


def due_label(rule: Any | None, name: str) -> str:
    """The name a due-soon list shows: a minimum window's due date is the earliest day AFTER which it may
    close (closing on it is refused), not a deadline to meet."""
    return f"{name}（最短期限届满日，此后方可结束）" if getattr(rule, "minimum", False) else name


def clock_days_left(clock: Any, today: dt.date, calendar: _Calendar, rules: Mapping[str, Any]) -> int | None:
    """Working days left for an open clock with a due date (negative: overdue); None when it has no standing
    (closed, met, paused without a due date, or a lapsing window past its last day)."""
    if clock.state != "open" or not clock.due:
        return None
    left = working_days_left(calendar, today, due_day(clock.due), clock.region or "national")
    if left < 0 and not can_be_overdue(rules.get(clock.rule)):
        return None
    return left
