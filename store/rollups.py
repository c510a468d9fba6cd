"""Per-department figures counted in SQL, for the roll-up tables of a node (domain/rollup.py aggregates them up
the tree): a province's board shows every city and county as one row each, so it cannot load 300,000 clocks.

Each query is one GROUP BY department over a covering index (ix_clock_open_report for the open clocks,
ix_clock_due_report for a period's clocks), restricted to a department set (store/scope.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, true
from sqlmodel import Session, col

from domain.scoring import classify
from domain.shanghai import SHANGHAI
from store.items import parse_instant
from store.models import Clock, Item
from store.scope import Departments, department_clause

FIGURES = ("open", "overdue", "due", "met_on_time", "met_late", "missed")


def _zero() -> dict[str, int]:
    return dict.fromkeys(FIGURES, 0)


def department_figures(
    session: Session,
    departments: Departments,
    instant: datetime,
    period_start: date | str,
    period_end: date | str,
    *,
    lapsing: Iterable[str] = (),
) -> dict[str, dict[str, int]]:
    """Department id -> {open, overdue, due, met_on_time, met_late, missed}:

    - open: its clocks open now; overdue: those of them whose due instant is before `instant` (aware), the
      rules in `lapsing` left out (a window that lapses is never overdue, domain.standing.can_be_overdue);
    - due: its clocks due in [period_start, period_end] (ISO days or dates) and not closed (the scores'
      items_due), and of those met_on_time and met_late (met by `instant`, on or before the due date / after
      it) and missed (not met by `instant`, due before it: the scores' overdue).

    Counted as the scores count them (domain.scoring.classify as of `instant`), the lapsing rules left out;
    a clock held for a late entry's review is counted as its state says (the board's 待审核 is counted apart).
    Departments with no clock are absent (the caller knows its departments)."""
    out: dict[str, dict[str, int]] = {}
    before = parse_instant(instant)
    if before is None:
        raise ValueError("department_figures needs an instant")
    lapsing = list(lapsing)
    scope = department_clause(col(Item.department), departments)
    open_q = (
        select(
            col(Item.department),
            func.count(),
            func.sum(
                case(
                    (
                        and_(
                            col(Clock.due_instant).is_not(None),
                            col(Clock.due_instant) < before,
                            col(Clock.rule).not_in(lapsing) if lapsing else true(),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
        )
        .select_from(Clock)
        .join(Item, col(Item.id) == col(Clock.item_id))
        .where(col(Clock.state) == "open")
        .group_by(col(Item.department))
    )
    if scope is not None:
        open_q = open_q.where(scope)
    conn = session.connection()
    for dept, n, overdue in conn.execute(open_q):
        f = out.setdefault(dept, _zero())
        f["open"], f["overdue"] = int(n), int(overdue or 0)
    first = period_start.isoformat() if isinstance(period_start, date) else period_start
    last = period_end.isoformat() if isinstance(period_end, date) else period_end
    after_last = (date.fromisoformat(last[:10]) + timedelta(days=1)).isoformat()
    day = before.astimezone(SHANGHAI).date().isoformat()
    # Day-shaped due and met dates ("YYYY-MM-DD") compare as strings, which is what classify decides for them;
    # any other row (an hour rule's instant, met or due on `instant`'s own day or met after it) comes back
    # as a row and is classified in Python (domain.scoring.classify), so the figures equal the scores'.
    day_due = func.length(col(Clock.due)) == 10
    day_met = func.length(col(Clock.met_on)) == 10
    met = col(Clock.state).in_(("met", "missed"))
    live = col(Clock.state).in_(("open", "paused"))
    sure = {
        # met before `instant`'s day: met by then whatever its hour (met on that day itself: in Python)
        "met_on_time": and_(met, day_due, day_met, col(Clock.met_on) <= col(Clock.due), col(Clock.met_on) < day),
        "met_late": and_(met, day_due, day_met, col(Clock.met_on) > col(Clock.due), col(Clock.met_on) < day),
        "met_undated": and_(col(Clock.state) == "met", col(Clock.met_on).is_(None)),
        "missed": and_(live, day_due, col(Clock.due) < day),
        "pending": and_(live, day_due, col(Clock.due) > day),
        "closed": col(Clock.state) == "closed",
    }
    period = [col(Clock.due) >= first, col(Clock.due) < after_last]
    if lapsing:
        period.append(col(Clock.rule).not_in(lapsing))
    if scope is not None:
        period.append(scope)
    due_q = (
        select(col(Item.department), *(func.sum(case((c, 1), else_=0)) for c in sure.values()))
        .select_from(Clock)
        .join(Item, col(Item.id) == col(Clock.item_id))
        .where(*period)
        .group_by(col(Item.department))
    )
    for dept, on_time, met_late, undated, missed, pending, _closed in conn.execute(due_q):
        f = out.setdefault(dept, _zero())
        f["met_on_time"] += int(on_time or 0) + int(undated or 0)
        f["met_late"] += int(met_late or 0)
        f["missed"] += int(missed or 0)
        f["due"] += int(on_time or 0) + int(undated or 0) + int(met_late or 0) + int(missed or 0) + int(pending or 0)
    rest = (
        select(col(Item.department), col(Clock.state), col(Clock.due), col(Clock.met_on))
        .select_from(Clock)
        .join(Item, col(Item.id) == col(Clock.item_id))
        .where(*period, ~or_(*sure.values()))
    )
    status_figure = {"on_time": "met_on_time", "late": "met_late", "overdue": "missed"}
    for dept, state, due, met_on in conn.execute(rest):
        status = classify(state, str(due), met_on, before)
        if status == "closed":
            continue
        f = out.setdefault(dept, _zero())
        f["due"] += 1
        if status in status_figure:
            f[status_figure[status]] += 1
    return out
