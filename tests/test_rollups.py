"""store/rollups.py department_figures: per-department counts in SQL equal what the scores and the board count
from the same clocks (SQLite and PostgreSQL), and store reads restricted to a department set (a node's
subtree) return the union of the single-department reads."""

from __future__ import annotations

import datetime as dt
import random

from domain.model import ClockSnapshot, ItemSnapshot
from domain.scoring import Period, parse_period, score_period
from domain.shanghai import SHANGHAI

PERIOD = parse_period("2025-Q2")
DEPTS = ["d1", "d2", "d3", "d4"]


def _rules():
    from domain.engine import engine

    rules = engine().rules
    lapsing = next(r.id for r in rules.values() if r.lapses)
    return lapsing


def _fill(s, seed: int = 3) -> None:
    """Clocks of every shape the figures must classify like domain.scoring.classify: day and instant due
    dates and met dates, met on the as-of day and after it, open, paused, met, missed, closed, a lapsing
    window; some due outside the period."""
    from store.items import save_snapshot

    rng = random.Random(seed)
    lapsing = _rules()
    days = [dt.date(2025, 3, 25) + dt.timedelta(days=k) for k in range(110)]  # around and in 2025-Q2
    for n in range(400):
        due_day = rng.choice(days)
        due = due_day.isoformat()
        if rng.random() < 0.2:  # an hour rule's due instant
            due = dt.datetime.combine(due_day, dt.time(rng.randint(8, 18)), SHANGHAI).isoformat()
        state = rng.choice(["open", "open", "paused", "met", "met", "met", "missed", "closed"])
        met_on = None
        if state in ("met", "missed"):
            met_day = due_day + dt.timedelta(days=rng.randint(-6, 6))
            met_on = met_day.isoformat()
            if rng.random() < 0.2:
                met_on = dt.datetime.combine(met_day, dt.time(rng.randint(8, 18)), SHANGHAI).isoformat()
        rule = lapsing if rng.random() < 0.05 else rng.choice(["request_reply", "policy_publication"])
        assert save_snapshot(
            s,
            ItemSnapshot(
                id=f"I{n:04d}",
                type="request" if rule == "request_reply" else "document",
                department=DEPTS[n % len(DEPTS)],
                title=f"事项{n}",
                version=1,
                state="open" if state in ("open", "paused") else "closed",
                clocks=[
                    ClockSnapshot(
                        rule=rule,
                        start=(due_day - dt.timedelta(days=20)).isoformat(),
                        due=due,
                        # the workflows' due instant: an hour rule's own, a day's end (23:59:59) otherwise
                        due_instant=due
                        if "T" in due
                        else dt.datetime.combine(due_day, dt.time(23, 59, 59), SHANGHAI).isoformat(),
                        state=state,
                        met_on=met_on,
                        lateness_working_days=None,
                    )
                ],
            ),
        )


def _scores(s, period: Period, as_of: dt.date, departments):
    from domain.engine import engine
    from services.scores import period_records

    records = period_records(s, period, as_of, departments, lambda clock, day: 1)
    res = score_period(records, period, as_of, engine().scoring, None, rules=engine().rules)
    return {d.department: d for d in res.summary}


def test_department_figures_equal_the_scores_counts(db_session):
    from domain.engine import engine
    from store.clock_rows import open_clocks_due_before
    from store.rollups import department_figures

    _fill(db_session)
    lapsing = [r.id for r in engine().rules.values() if r.lapses]
    for as_of in (dt.date(2025, 5, 10), dt.date(2025, 6, 30), dt.date(2025, 4, 2)):
        instant = dt.datetime.combine(as_of, dt.time(23, 59, 59), SHANGHAI)  # the scores' as-of instant
        scope = {"d1", "d2", "d3"}
        got = department_figures(db_session, scope, instant, PERIOD.start, PERIOD.end, lapsing=lapsing)
        assert set(got) == scope
        want = _scores(db_session, PERIOD, as_of, scope)
        for dept in scope:
            f, w = got[dept], want[dept]
            assert (f["due"], f["met_on_time"], f["met_late"], f["missed"]) == (
                w.items_due,
                w.on_time,
                w.late,
                w.overdue,
            ), (as_of, dept)
            # open now, and of them past due at `instant` (the lapsing windows are never overdue)
            overdue = [c for i, c in open_clocks_due_before(db_session, instant, dept) if c.rule not in lapsing]
            assert f["overdue"] == len(overdue)
            assert f["overdue"] > 0 or as_of == dt.date(2025, 4, 2)
            from sqlalchemy import func, select

            from store.models import Clock, Item

            n_open = db_session.execute(
                select(func.count())
                .select_from(Clock)
                .join(Item, Item.id == Clock.item_id)
                .where(Clock.state == "open", Item.department == dept)
            ).scalar_one()
            assert f["open"] == n_open


def test_department_figures_mid_day_instant_and_scopes(db_session):
    """An instant during the day: a clock met that day later than the instant is not met yet (classify)."""
    from domain.scoring import classify
    from store.rollups import department_figures

    _fill(db_session, seed=5)
    instant = dt.datetime(2025, 5, 12, 11, 30, tzinfo=SHANGHAI)
    everything = department_figures(db_session, None, instant, "2025-04-01", "2025-06-30")
    assert set(everything) == set(DEPTS)
    one = department_figures(db_session, "d2", instant, "2025-04-01", "2025-06-30")
    assert one == {"d2": everything["d2"]}
    assert department_figures(db_session, set(), instant, "2025-04-01", "2025-06-30") == {}
    # the same figures counted row by row in Python
    from sqlalchemy import select

    from store.models import Clock, Item

    want = {d: {"due": 0, "met_on_time": 0, "met_late": 0, "missed": 0} for d in DEPTS}
    for dept, state, due, met_on in db_session.execute(
        select(Item.department, Clock.state, Clock.due, Clock.met_on).join(Item, Item.id == Clock.item_id)
    ):
        if not due or not "2025-04-01" <= due[:10] <= "2025-06-30":
            continue
        status = classify(state, due, met_on, instant)
        if status == "closed":
            continue
        want[dept]["due"] += 1
        key = {"on_time": "met_on_time", "late": "met_late", "overdue": "missed"}.get(status)
        if key:
            want[dept][key] += 1
    for d in DEPTS:
        assert {k: everything[d][k] for k in want[d]} == want[d], d


def test_store_reads_take_a_department_set(db_session):
    """A node's reads are the union of its departments' reads (store/scope.py Departments)."""
    from store.clock_rows import clock_rows_due_between, open_board_counts, overdue_clock_rows
    from store.items import list_items

    _fill(db_session, seed=7)
    instant = dt.datetime(2025, 5, 20, 12, tzinfo=SHANGHAI)
    pair = frozenset({"d1", "d3"})
    rows = overdue_clock_rows(db_session, instant, pair)
    assert sorted(r.id for r in rows) == sorted(r.id for d in pair for r in overdue_clock_rows(db_session, instant, d))
    assert {r.department for r in rows} == set(pair)
    period = sorted(clock_rows_due_between(db_session, "2025-04-01", "2025-06-30", pair))
    assert period == sorted(r for d in pair for r in clock_rows_due_between(db_session, "2025-04-01", "2025-06-30", d))
    n, prov = open_board_counts(db_session, pair)
    assert n == sum(open_board_counts(db_session, d)[0] for d in pair)
    assert [i.id for i in list_items(db_session, department=pair)] == sorted(
        i.id for d in pair for i in list_items(db_session, department=d)
    )
    assert overdue_clock_rows(db_session, instant, frozenset()) == []


def test_start_lag_counts_are_start_lags_counted(db_session):
    """The scores' registration lag counted in SQL (start_lag_counts) is start_lags grouped, per department
    and lag, on a department set too; its median is statistics.median of the lags."""
    import statistics
    from collections import Counter

    from domain.review import HELD_ROLES, REGISTRATION_STARTS
    from services.scores import _median
    from store.events import add_event, event_record_from, start_lag_counts, start_lags

    rng = random.Random(11)
    for n in range(300):
        lag = rng.choice((0, 0, 1, 2, 3, 5, 10))
        assert add_event(
            db_session,
            event_record_from(
                {
                    "event_id": f"e{n}",
                    "type": "request.received",
                    "request_id": f"R{n}",
                    "department": DEPTS[n % 4],
                    "received_on": f"2026-{rng.randint(9, 12):02d}-{rng.randint(1, 28):02d}",
                    "channel": "online",
                    "applicant_type": "natural_person",
                },
                ingested_at=dt.datetime(2026, 12, 30, tzinfo=SHANGHAI),
                recorded_role=rng.choice(("liaison", "liaison", "head", "operator")),
                lag_working_days=lag,
                registration_late=lag > 3,
            ),
        )
    args = (REGISTRATION_STARTS, HELD_ROLES, "2026-10-01", "2026-12-31")
    for scope in (None, {"d1", "d3"}, "d2"):
        rows = start_lags(db_session, *args, scope)
        want = Counter((d, lag) for d, lag, _ in rows)
        late = Counter((d, lag) for d, lag, flagged in rows if flagged)
        got = start_lag_counts(db_session, *args, scope)
        assert {(d, lag): n for d, lag, n, _ in got} == dict(want)
        assert {(d, lag): k for d, lag, _, k in got if k} == dict(late)
        for dept in {d for d, _, _ in rows}:
            values = [lag for d, lag, _ in rows if d == dept]
            hist = {lag: n for d, lag, n, _ in got if d == dept}
            assert _median(hist) == float(statistics.median(values))


def test_load_events_by_types_is_the_log_filtered(db_session):
    """load_events(types=…) (one equality query per type) returns the log's events of those types, in the
    log's order."""
    from store.events import add_event, event_record_from, load_events

    for n in range(40):
        typ = ("request.received", "request.replied", "review.decided")[n % 3]
        ev = {"event_id": f"x{n:02d}", "type": typ, "request_id": f"R{n % 7}"}
        if typ == "request.received":
            ev |= {"department": "d1", "received_on": f"2026-03-{n % 28 + 1:02d}", "channel": "online"}
            ev |= {"applicant_type": "natural_person"}
        elif typ == "request.replied":
            ev |= {"on": f"2026-04-{n % 28 + 1:02d}", "outcome": "granted"}
        else:
            ev |= {"on": f"2026-05-{n % 28 + 1:02d}", "result": "corrected", "case_id": f"C{n}"}
        assert add_event(db_session, event_record_from(ev, department="d1"))
    every = load_events(db_session)
    for types in (("review.decided",), ("review.decided", "request.replied"), ("litigation.decided",)):
        got = load_events(db_session, types=types)
        assert [e["event_id"] for e in got] == [e["event_id"] for e in every if e["type"] in types]


def test_classify_day_is_classify_for_days():
    """score_period's fast path for day-shaped dates decides as domain.scoring.classify does."""
    from domain.scoring import classify, classify_day

    rng = random.Random(2)
    days = [(dt.date(2025, 1, 1) + dt.timedelta(days=k)).isoformat() for k in range(12)]
    for _ in range(20000):
        state = rng.choice(["open", "paused", "met", "missed", "closed"])
        due, met_on, as_of = rng.choice(days), rng.choice([None, "", *days]), rng.choice(days)
        assert classify_day(state, due, met_on, as_of) == classify(state, due, met_on, dt.date.fromisoformat(as_of))


def test_deducted_details_keep_the_summary_and_the_rows_the_page_lists(db_session):
    """details="deducted" (the scores page, the board) drops only the 明细 rows without a deduction."""
    from domain.engine import engine
    from services.scores import period_records

    _fill(db_session)
    as_of = dt.date(2025, 6, 30)
    records = period_records(db_session, PERIOD, as_of, None, lambda clock, day: 1)
    every = score_period(records, PERIOD, as_of, engine().scoring, None, rules=engine().rules)
    page = score_period(records, PERIOD, as_of, engine().scoring, None, rules=engine().rules, details="deducted")
    assert page.summary == every.summary and page.details_kept == "deducted" and every.details_kept == "all"
    assert any(not d.deduction for d in every.details) and any(d.deduction for d in every.details)
    assert page.details == [d for d in every.details if d.deduction]
