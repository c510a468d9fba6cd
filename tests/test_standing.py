"""One count of working days left / overdue, and lapsing windows are never overdue — everywhere."""

import datetime as dt
from types import SimpleNamespace

from domain.calendar import load_calendar
from domain.rules import load_rules
from domain.standing import can_be_overdue, clock_days_left, overdue_working_days, working_days_left

CAL = load_calendar()
RULES = load_rules()


def clock(rule="request_reply", due="2026-10-09", state="open"):
    return SimpleNamespace(rule=rule, due=due, state=state, region="national")


def test_signed_working_days_around_national_day():
    # 2026: 10-01..10-07 off, 10-08 and 10-09 working, 10-10 (Sat) a make-up working day, 10-11 off.
    assert working_days_left(CAL, dt.date(2026, 9, 30), dt.date(2026, 10, 9), "national") == 2
    assert working_days_left(CAL, dt.date(2026, 10, 9), dt.date(2026, 10, 9), "national") == 0
    assert working_days_left(CAL, dt.date(2026, 10, 12), dt.date(2026, 10, 9), "national") == -2
    assert overdue_working_days(CAL, dt.date(2026, 10, 9), dt.date(2026, 10, 12), "national") == 2
    assert overdue_working_days(CAL, dt.date(2026, 10, 9), dt.date(2026, 10, 9), "national") == 0


def test_lapsing_window_has_no_standing_after_its_last_day():
    assert not can_be_overdue(RULES["correction_notice"])
    assert can_be_overdue(RULES["request_reply"])
    late_day = dt.date(2026, 10, 20)
    assert clock_days_left(clock("correction_notice"), late_day, CAL, RULES) is None
    assert clock_days_left(clock("request_reply"), late_day, CAL, RULES) < 0
    assert clock_days_left(clock("correction_notice"), dt.date(2026, 10, 8), CAL, RULES) == 1
    assert clock_days_left(clock(state="met"), late_day, CAL, RULES) is None


def test_digest_leaves_out_lapsed_windows():
    from domain.digests import build_digests, working_days_left_from
    from domain.directory import load_directory
    from domain.model import ClockSnapshot, ItemSnapshot

    d = load_directory()
    dept = next(iter(d.departments))
    snap = ItemSnapshot(
        id="R-1",
        type="request",
        department=dept,
        title="t",
        state="open",
        clocks=[
            ClockSnapshot(
                rule="correction_notice", start="2026-09-25", due="2026-10-09", state="open", region="national"
            ),
            ClockSnapshot(rule="request_reply", start="2026-09-10", due="2026-10-09", state="open", region="national"),
        ],
    )
    out = build_digests([snap], d, dt.date(2026, 10, 20), working_days_left_from(CAL), RULES)
    supervisor = [ctx for _, step, ctx in out if step == "digest_supervisor"]
    assert supervisor, "the overdue reply must reach the supervisors"
    rules_listed = {it["rule"] for dep in supervisor[0]["departments"] for it in dep["items"]}
    assert rules_listed == {"request_reply"}
