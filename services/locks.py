"""Locking a scoring period: the published numbers stay, later changes are listed as corrections.
(The annual report's lock is services.annual.lock_annual_report; both ask first when late entries dated in
what they lock still wait for review, `pending_reviews`.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from domain.scoring import Period, ScoreResult
from services.access import Principal, node_label


class LockRefused(Exception):
    """Nothing was locked. `code`: "not_ended" (the period still runs), "already_locked" or
    "pending_review" (late entries dated in it wait for review: `pending` names them; lock again with
    `confirm_pending=True`)."""

    def __init__(self, reason: str, code: str, pending: list[dict[str, Any]] | None = None):
        super().__init__(reason)
        self.code = code
        self.pending = pending or []


def pending_reviews(first: dt.date, last: dt.date, departments: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The late entries dated in [first, last] (of these departments; None: all) that wait for review, as a
    lock's confirmation names them: item, department (and its name), event in words, date."""
    from domain.engine import engine
    from domain.labels import EVENT_TYPES
    from store.db import session
    from store.items import late_entries

    with session() as s:
        rows = late_entries(s, status="held", occurred=(first.isoformat(), last.isoformat()))
    try:
        names = {d.id: d.name for d in engine().directory.departments.values()}
    except Exception:  # a broken directory file: ids stand in for the names
        names = {}
    return [
        {
            "event_id": r.event_id,
            "item_id": r.item_id,
            "department": r.department,
            "department_name": names.get(r.department, r.department),
            "type": r.type,
            "type_name": EVENT_TYPES.get(r.type, r.type),
            "occurred_on": r.occurred_on[:10],
            "depends_on": r.depends_on,
        }
        for r in rows
        if departments is None or r.department in departments
    ]


def pending_text(what: str, pending: list[dict[str, Any]]) -> str:
    """The refusal: what is locked and each entry waiting (one line each)."""
    lines = [f"{p['item_id']}（{p['department_name']}）{p['type_name']} {p['occurred_on']}" for p in pending]
    return (
        f"{what}有 {len(pending)} 条补录待审核："
        + "；".join(lines)
        + "。审核后再锁定，或确认仍要锁定（待审核的按未决计）"
    )


def lock_scores(
    period: Period,
    as_of: dt.date,
    *,
    department: str | None = None,
    locked_by: str | None = None,
    force: bool = False,
    confirm_pending: bool = False,
) -> ScoreResult:
    """Lock `period` with the numbers as they count on `as_of` (the same as `shixian scores lock`, marks
    included); a period still running only with `force`; late entries dated in it still waiting for
    review only with `confirm_pending`. Returns the locked result (its `locked_at` set)."""
    from services.scores import fresh_scores
    from store.db import session
    from store.locks import PeriodLockedError, lock_period, locked

    if as_of <= period.end and not force:  # a period still running is not published
        raise LockRefused(f"{period.title}尚未结束（截止 {period.end}）", "not_ended")
    with session() as s:
        is_locked = locked(s, period, department) is not None
    if not confirm_pending and not is_locked:  # (a locked one is refused as such below)
        pending = pending_reviews(period.start, period.end, None if department is None else {department})
        if pending:
            raise LockRefused(pending_text(period.title, pending), "pending_review", pending)
    with session() as s:
        res = fresh_scores(s, period, as_of, department)
        try:
            row = lock_period(s, period, res, locked_by=locked_by)
        except PeriodLockedError as exc:
            raise LockRefused(str(exc), "already_locked") from None
        return row.result()


def lock_for(
    who: Principal,
    period: Period,
    as_of: dt.date,
    *,
    department: str | None = None,
    node: str | None = None,
    confirm_pending: bool = False,
    force: bool = False,
) -> list[ScoreResult]:
    """What `who` locks of `period` from the scores page or the API: one department (of their subtree); with
    none, an unscoped (or the root's) assessor or admin all departments at once, a node-scoped one their
    node's departments (or those of `node` below it) one by one, those already locked left as they are.
    Refusals: 403 (services.access), LockRefused. Returns the locked results."""
    from services.access import read_scope, require_lock, visible_departments

    what = "锁定考评期间"
    if not who.may_lock:
        who.require(("assessor", "admin"), what)
    if department:
        require_lock(who, department, "考评期间")
        return [
            lock_scores(
                period, as_of, department=department, locked_by=who.actor, force=force, confirm_pending=confirm_pending
            )
        ]
    if node is None and visible_departments(who) is None:
        require_lock(who, None, "考评期间")
        return [lock_scores(period, as_of, locked_by=who.actor, force=force, confirm_pending=confirm_pending)]
    sc = read_scope(who, node=node, what=what, roles=("assessor", "admin"))
    if sc.departments is None:  # the root node: every department at once
        require_lock(who, None, "考评期间")
        return [lock_scores(period, as_of, locked_by=who.actor, force=force, confirm_pending=confirm_pending)]
    return lock_departments(
        period,
        as_of,
        sc.departments,
        where=node_label(sc.node),
        locked_by=who.actor,
        force=force,
        confirm_pending=confirm_pending,
    )


def lock_departments(
    period: Period,
    as_of: dt.date,
    departments: Collection[str],
    *,
    where: str = "",
    locked_by: str | None = None,
    force: bool = False,
    confirm_pending: bool = False,
) -> list[ScoreResult]:
    """Lock `period` for each of `departments` on its own (a node's subtree), skipping those locked already
    (on their own or with all departments); nothing left to lock is "already_locked". The pending-review
    question is asked once for all of them."""
    from services.scores import fresh_scores
    from store.db import session
    from store.locks import PeriodLockedError, find_lock, lock_period

    if as_of <= period.end and not force:
        raise LockRefused(f"{period.title}尚未结束（截止 {period.end}）", "not_ended")
    with session() as s:
        todo = sorted(d for d in departments if find_lock(s, period, d) is None)
    if not todo:
        raise LockRefused(f"期间 {period.label}（{where or '所选部门'}）已锁定，不能重复锁定", "already_locked")
    if not confirm_pending:
        pending = pending_reviews(period.start, period.end, set(todo))
        if pending:
            raise LockRefused(pending_text(period.title, pending), "pending_review", pending)
    out = []
    with session() as s:
        for d in todo:
            try:
                out.append(lock_period(s, period, fresh_scores(s, period, as_of, d), locked_by=locked_by).result())
            except PeriodLockedError:  # locked meanwhile by someone else: theirs stands
                continue
    return out
