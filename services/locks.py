"""Locking a scoring period: the published numbers stay, later changes are listed as corrections.
(The annual report's lock is services.annual.lock_annual_report.)"""

from __future__ import annotations

import datetime as dt

from domain.scoring import Period, ScoreResult


class LockRefused(Exception):
    """Nothing was locked. `code`: "not_ended" (the period still runs) or "already_locked"."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.code = code


def lock_scores(
    period: Period, as_of: dt.date, *, department: str | None = None, locked_by: str | None = None, force: bool = False
) -> ScoreResult:
    """Lock `period` with the numbers as they count on `as_of` (the same as `shixian scores lock`, marks
    included); a period still running only with `force`. Returns the locked result (its `locked_at` set)."""
    from services.scores import fresh_scores
    from store.db import session
    from store.locks import PeriodLockedError, lock_period

    if as_of <= period.end and not force:  # a period still running is not published
        raise LockRefused(f"{period.title}尚未结束（截止 {period.end}）", "not_ended")
    with session() as s:
        res = fresh_scores(s, period, as_of, department)
        try:
            row = lock_period(s, period, res, locked_by=locked_by)
        except PeriodLockedError as exc:
            raise LockRefused(str(exc), "already_locked") from None
        return row.result()
