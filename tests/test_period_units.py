"""Months and years (民法典第二百零一至二百零三条), same-day clocks and backward pre-deadlines, on the shipped
national calendar (dates pinned: each is checked against the published 2026 arrangement)."""

import datetime as dt

import pytest

from domain.clocks import add_months, compute, counted_back
from domain.config import ConfigError
from domain.engine import engine
from domain.rules import Rule, parse_rules

D = dt.date


def _rule(unit: str, length: int, **kw) -> Rule:
    return Rule("t", "测试", unit, length, "x", "来源", "原文", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2026, 3, 31), 3, D(2026, 6, 30)),
        (D(2026, 3, 31), 6, D(2026, 9, 30)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2026, 11, 15), 3, D(2027, 2, 15)),
        (D(2026, 5, 10), 12, D(2027, 5, 10)),
    ],
)
def test_corresponding_day_or_month_end(start, months, end):
    assert add_months(start, months) == end


def test_month_period_moves_off_a_rest_day_and_explains():
    cal = engine().calendar
    # 2026-10-31 is a Saturday: the period ends on Monday 2026-11-02 (第二百零三条).
    dl = compute(_rule("months", 2), D(2026, 8, 31), cal)
    assert dl.due == D(2026, 11, 2)
    ex = dl.explanation
    assert ex["nominal_last_day"] == "2026-10-31"
    assert any("第二百零三条" in n for n in ex["notes"])
    assert any("二百零二条" in n for n in ex["notes"])
    # 2026-02-28 (Saturday) is a make-up working day of the 2026 Spring Festival arrangement: no move.
    dl = compute(_rule("months", 1), D(2026, 1, 31), cal)
    assert dl.due == D(2026, 2, 28) and "月末日" in dl.explanation["summary"]


def test_years_are_twelve_months():
    cal = engine().calendar
    assert compute(_rule("years", 1), D(2025, 6, 3), cal).due == compute(_rule("months", 12), D(2025, 6, 3), cal).due


def test_same_day_and_counted_back():
    cal = engine().calendar
    assert compute(_rule("working_days", 0), D(2026, 3, 7), cal).due == D(2026, 3, 7)
    back = counted_back(_rule("working_days", 3, counted_back_from="a"), D(2026, 3, 20), cal)
    assert back.due == D(2026, 3, 17)
    # across the 2026 National Day holiday (10-01..10-07): 3 working days before 10-09 is 09-29
    assert counted_back(_rule("working_days", 3, counted_back_from="a"), D(2026, 10, 9), cal).due == D(2026, 9, 29)


def test_rule_fields_are_checked():
    base = {"name": "n", "start_event": "x", "source": "s", "quote": "q"}
    with pytest.raises(ConfigError, match="shorter_allowed"):
        parse_rules({"rules": {"a": base | {"unit": "calendar_days", "length": 30, "shorter_allowed": True}}})
    with pytest.raises(ConfigError, match="counted_back_from"):
        parse_rules({"rules": {"a": base | {"unit": "working_days", "length": 3, "counted_back_from": "nope"}}})
    with pytest.raises(ConfigError, match="length"):
        parse_rules({"rules": {"a": base | {"unit": "months", "length": 0}}})
    rules = parse_rules({"rules": {"a": base | {"unit": "months", "length": 3, "minimum": True}}})
    assert rules["a"].limit_text == "不少于3个月"
