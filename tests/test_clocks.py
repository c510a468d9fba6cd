"""Clock semantics: pauses, restarts, extensions, units, explanations; hypothesis properties."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import load_calendar
from domain.clocks import ClockError, ExtensionGrant, Pause, compute, is_late, lateness_working_days, parse_start
from domain.rules import load_rules

D = dt.date
CAL = load_calendar()
RULES = load_rules()


def due(rule, start, **kw):
    return compute(RULES[rule], start, CAL, **kw)


def test_request_reply_golden():
    dl = due("request_reply", D(2024, 2, 1))
    assert dl.due == D(2024, 3, 5) and not dl.provisional
    ex = dl.explanation
    assert ex["counted_working_days"] == 20 and len(ex["counted"]) == 20
    assert {"date": "2024-02-04", "reason": "春节调休上班", "source": ex["makeup_workdays"][0]["source"]} in ex[
        "makeup_workdays"
    ]
    assert any(s["date"] == "2024-02-12" and s["reason"] == "春节" for s in ex["skipped"])
    assert dl.due_instant.isoformat() == "2024-03-05T23:59:59+08:00"


def test_2008_limits_before_2019_05_15():
    # 2019-05-06 (Mon) + 15 wd: 5/7..5/10 (4), 5/13..5/17 (9), 5/20..5/24 (14), 5/27 (15).
    assert due("request_reply", D(2019, 5, 6)).due == D(2019, 5, 27)
    assert due("request_reply", D(2019, 5, 15)).due == D(2019, 6, 13)  # 20 wd, 端午 6/7 skipped
    with pytest.raises(ClockError, match="15 个工作日"):
        due("request_reply", D(2019, 5, 6), extensions=[ExtensionGrant(D(2019, 5, 20), 16)])


def test_pause_keeps_used_days_and_resumes_after_end():
    dl = due("request_reply", D(2024, 3, 1), pauses=[Pause(D(2024, 3, 5), D(2024, 3, 11))])
    # 3/4 used (1); 3/5–3/11 not counted; 19 more from 3/11 -> 4/8 (清明 4/4–4/6, make-up 4/7).
    assert dl.due == D(2024, 4, 8)
    assert dl.paused_working_days == 5 and dl.paused_days == 7
    open_pause = due("request_reply", D(2024, 3, 1), pauses=[Pause(D(2024, 3, 5))])
    assert open_pause.due is None and open_pause.counted_working_days == 1


def test_pause_on_the_start_day():
    # Paused from the receipt day itself: nothing used; counting starts after the pause ends.
    dl = due("request_reply", D(2024, 3, 4), pauses=[Pause(D(2024, 3, 4), D(2024, 3, 8))])
    assert dl.due == CAL.add_working_days(D(2024, 3, 8), 20)


def test_extension_adds_after_current_due_with_caps():
    base = due("request_reply", D(2024, 3, 1)).due
    assert base == D(2024, 3, 29)
    dl = due("request_reply", D(2024, 3, 1), extensions=[ExtensionGrant(D(2024, 3, 29), 20)])
    assert dl.due == CAL.add_working_days(base, 20) == D(2024, 4, 28)  # 4/28 is a make-up Sunday
    with pytest.raises(ClockError, match="只能延期 1 次"):
        due(
            "request_reply",
            D(2024, 3, 1),
            extensions=[ExtensionGrant(D(2024, 3, 5), 5), ExtensionGrant(D(2024, 3, 6), 5)],
        )
    with pytest.raises(ClockError, match="最长不得超过 20"):
        due("request_reply", D(2024, 3, 1), extensions=[ExtensionGrant(D(2024, 3, 5), 21)])
    with pytest.raises(ClockError, match="已超期"):
        due("request_reply", D(2024, 3, 1), extensions=[ExtensionGrant(D(2024, 4, 1), 5)])
    with pytest.raises(ClockError, match="不允许延期"):
        due("policy_publication", D(2024, 3, 1), extensions=[ExtensionGrant(D(2024, 3, 5), 5)])


def test_calendar_days_move_off_rest_days():
    # 2024-09-10 + 20 = 9/30 (Mon), a working day.
    assert due("budget_disclosure", D(2024, 9, 10)).due == D(2024, 9, 30)
    # 2024-09-11 + 20 = 10/1, National Day: moves to 10/8, the first working day after the holiday.
    dl = due("budget_disclosure", D(2024, 9, 11))
    assert dl.due == D(2024, 10, 8)
    assert [m["date"] for m in dl.explanation["moved_over"]][:1] == ["2024-10-01"]


def test_hours_and_fixed_dates():
    dl = due("opinion_response_info", parse_start("2024-10-01T22:30"))
    assert dl.due.isoformat() == "2024-10-02T03:30:00+08:00"  # holidays do not matter for hours
    assert due("opinion_response_general", parse_start("2024-10-01T22:30+08:00")).due.day == 3
    assert due("annual_report_department", D(2027, 1, 1)).due == D(2027, 1, 31)
    assert due("annual_report_government", D(2027, 1, 1)).due == D(2027, 3, 31)
    assert due("annual_report_department", D(2019, 1, 1)).due == D(2019, 3, 31)  # 2008 rule


def test_start_on_next_working_day_option():
    from dataclasses import replace

    rule = replace(RULES["correction_notice"], start_on_next_working_day=True, editions=())
    # Received Saturday 2024-03-02: deemed received Monday 3/4; 7 wd after -> 3/13.
    dl = compute(rule, D(2024, 3, 2), CAL)
    assert dl.due == D(2024, 3, 13)
    assert "视为 2024-03-04" in dl.explanation["notes"][0]
    assert due("correction_notice", D(2024, 3, 2)).due == D(2024, 3, 12)  # off by default


def test_lateness():
    assert lateness_working_days(CAL, D(2024, 2, 8), D(2024, 2, 8)) == 0
    assert lateness_working_days(CAL, D(2024, 2, 8), D(2024, 2, 19)) == 3  # 2/9, 2/18, 2/19
    assert is_late(parse_start("2024-01-01T10:00"), parse_start("2024-01-01T10:01"))
    assert not is_late(D(2024, 1, 5), D(2024, 1, 5))


def test_provisional_crossing_2026_2027():
    dl = due("request_reply", D(2026, 12, 20))
    assert dl.due == D(2027, 1, 18) and dl.provisional
    assert "2027年全国节假日安排尚未发布" in dl.explanation["provisional_reasons"][0]
    assert {"date": "2027-01-01", "reason": "元旦（推算）"} in dl.explanation["provisional_days"]
    assert not due("request_reply", D(2026, 11, 2)).provisional


dates = st.dates(min_value=D(2005, 1, 1), max_value=D(2032, 12, 31))
regions = st.sampled_from(["national", "guangxi"])


@settings(max_examples=300, deadline=None)
@given(start=dates, n=st.integers(1, 60), region=regions)
def test_due_is_a_working_day_and_explanation_counts_n(start, n, region):
    from dataclasses import replace

    rule = replace(RULES["request_reply"], length=n, editions=())
    dl = compute(rule, start, CAL, region)
    assert CAL.is_workday(dl.due, region)
    assert dl.due > start
    assert dl.explanation["counted_working_days"] == n
    assert dl.explanation["counted"][-1] == dl.due.isoformat()
    assert CAL.working_days_between(start, dl.due, region) == n


@settings(max_examples=300, deadline=None)
@given(start=dates, a=st.integers(1, 40), b=st.integers(1, 40), region=regions)
def test_adding_a_then_b_equals_a_plus_b(start, a, b, region):
    assert CAL.add_working_days(CAL.add_working_days(start, a, region), b, region) == CAL.add_working_days(
        start, a + b, region
    )


@settings(max_examples=300, deadline=None)
@given(s1=dates, gap=st.integers(0, 30), n=st.integers(1, 40), region=regions)
def test_monotonic_in_start(s1, gap, n, region):
    s2 = s1 + dt.timedelta(days=gap)
    assert CAL.add_working_days(s1, n, region) <= CAL.add_working_days(s2, n, region)


@settings(max_examples=200, deadline=None)
@given(start=dates, p_off=st.integers(1, 25), p_len=st.integers(0, 20))
def test_pause_never_shortens_and_adds_exactly_the_paused_working_days(start, p_off, p_len):
    p = Pause(start + dt.timedelta(days=p_off), start + dt.timedelta(days=p_off + p_len))
    n = RULES["request_reply"].for_start(start).length  # 15 before 2019-05-15, else 20
    plain = due("request_reply", start)
    paused = due("request_reply", start, pauses=[p])
    assert paused.due >= plain.due
    if p.start <= plain.due:
        # Counting days outside the pause from start to the due date are exactly n.
        counted = CAL.working_days_between(start, paused.due) - CAL.working_days_between(
            max(start, p.start - dt.timedelta(days=1)), min(p.end, paused.due)
        )
        assert counted == n


@settings(max_examples=300, deadline=None)
@given(
    start=dates,
    region=regions,
    rule_id=st.sampled_from(["request_reply", "policy_publication", "policy_interpretation", "correction_notice"]),
)
def test_fast_path_agrees_with_the_explained_path(start, region, rule_id):
    fast = compute(RULES[rule_id], start, CAL, region, explain=False)
    full = compute(RULES[rule_id], start, CAL, region, explain=True)
    assert (fast.due, fast.provisional) == (full.due, full.provisional)


def test_guangxi_dates_near_an_unpublished_sanyuesan_are_provisional():
    # 2027 has no Guangxi notice on file: 3/3 = Fri 4/9 off, 3/4 = Sat 4/10 made up on Thu 4/8 (estimate).
    dl = due("request_reply", D(2027, 4, 1), region="guangxi")
    assert dl.provisional and any("壮族三月三" in r for r in dl.explanation["provisional_reasons"])
    assert {"date": "2027-04-09", "reason": "壮族三月三（推算）"} in dl.explanation["provisional_days"]
    assert {"date": "2027-04-08", "reason": "壮族三月三（推算，补休）"} in dl.explanation["provisional_days"]
    assert dl.due == CAL.add_working_days(D(2027, 4, 1), 20, "guangxi")
    assert dl.due > due("request_reply", D(2027, 4, 1)).due  # two more days off than national
    later = due("request_reply", D(2027, 7, 1), region="guangxi")  # provisional (national 2027), not for 三月三
    assert not any("壮族三月三" in r for r in later.explanation["provisional_reasons"])
    # 2026's notice is on file: the same dates a year earlier are final.
    assert not due("request_reply", D(2026, 4, 1), region="guangxi").provisional


def test_a_granted_extension_is_not_judged_again():
    # Decided on 2024-03-29 (the due day). Recomputed under a calendar where the due day came earlier,
    # the decision stands (granted=True) with a note; judged fresh it would be refused.
    ext = [ExtensionGrant(D(2024, 3, 29), 10)]
    rule = RULES["request_reply"]
    from dataclasses import replace

    short = replace(rule, length=19, editions=())  # stands in for "the due date moved a day earlier"
    with pytest.raises(ClockError, match="已超期"):
        compute(short, D(2024, 3, 1), CAL, extensions=ext)
    dl = compute(short, D(2024, 3, 1), CAL, extensions=ext, granted=True)
    assert dl.due == CAL.add_working_days(D(2024, 3, 28), 10)
    assert any("决定时有效" in n for n in dl.explanation["notes"])
