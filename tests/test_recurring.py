"""Recurring duties in the pure item state machine (domain/transitions.py): each update ends the current
period and starts the next from its own date; the state keeps only the last periods; refusals name the field.
Due dates are not computed here (activities do): tests/test_freshness.py runs the whole path."""

from __future__ import annotations

import datetime as dt

import pytest

import domain.transitions as tr
from domain.events import parse_event
from domain.item_state import ItemState, Refusal
from domain.model import period_rule, rule_of
from domain.rules import load_rules
from services.ingest import item_rules, rule_table

RULE = "website_freshness_news"
DAY = dt.timedelta(days=1)


def event(n: int, type_: str, **fields):
    return parse_event({"event_id": f"e{n}", "type": type_, "column_id": "C1", **fields}, today=None)


def column(kind: str = "news") -> ItemState:
    rules = item_rules(rule_table(load_rules()), "column", None, {})
    st = ItemState(id="C1", type="column", department="qz-fgw", rules=rules)
    reg = event(
        0,
        "column.registered",
        department="qz-fgw",
        registered_on="2025-01-06",
        kind=kind,
        name="工作动态",
        url="https://www.example.gov.cn/gzdt/",
    )
    tr.transition(st, reg)
    st.version = 1
    return st


def test_the_column_rules_are_recurring_and_chosen_by_kind():
    rules = load_rules()
    assert {r: rules[r].limit_text for r in ("website_freshness_news", "website_freshness_notice")} == {
        "website_freshness_news": "每14日",
        "website_freshness_notice": "每6个月",
    }
    assert all(rules[r].recurring and rules[r].quote for r in (RULE, "website_freshness_policy", "new_media_freshness"))
    for kind, rule in (("news", RULE), ("notice", "website_freshness_notice"), ("new_media", "new_media_freshness")):
        st = column(kind)
        assert [(c.rule, c.start, c.period) for c in st.clocks] == [(rule, "2025-01-06", 1)]


def test_each_update_ends_the_period_and_starts_the_next_from_its_date():
    st = column()
    out = tr.transition(st, event(1, "column.updated", updated_on="2025-01-10"))
    (done,) = out.finished
    assert (done.rule, done.start, done.met_on, done.period) == (RULE, "2025-01-06", "2025-01-10", 1)
    assert [(c.rule, c.start, c.period, c.met_on) for c in st.clocks] == [(RULE, "2025-01-10", 2, None)]
    assert [c.period for c in out.clocks] == [1, 2] and st.periods == [done]
    assert st.data["last_update"] == "2025-01-10"
    # decided (as the compute activity would): counted once, by state
    done.state, done.lateness_working_days = "missed", 3
    tr.count_periods(st, out.finished)
    assert st.data["periods"][RULE] == {"finished": 1, "on_time": 0, "late": 1, "late_working_days": 3}
    # an update on the period's first day starts no period; one before it is refused, naming its field
    assert tr.transition(st, event(2, "column.updated", updated_on="2025-01-10")).finished == []
    with pytest.raises(Refusal) as exc:
        tr.check(st, event(3, "column.updated", updated_on="2025-01-09"))
    assert exc.value.field == "updated_on" and "早于本期起算日 2025-01-10" in exc.value.reason


def test_the_state_keeps_only_the_last_periods():
    st = column()
    for n in range(1, 41):
        tr.transition(st, event(n, "column.updated", updated_on=(dt.date(2025, 1, 6) + n * DAY).isoformat()))
    # the workflow trims once the periods are in a store write (workflows/items.py _save_soon)
    assert len(st.periods) == 40
    # a period not yet in a finished store write stays (continue-as-new hands it on to be written)
    tr.trim_periods(st, {RULE: 10})
    assert [p.period for p in st.periods] == list(range(11, 41))
    tr.trim_periods(st, {"other_rule": 40})
    assert [p.period for p in st.periods] == list(range(11, 41))
    tr.trim_periods(st, {RULE: 40})
    assert [p.period for p in st.periods] == list(range(40 - tr.RECENT_PERIODS + 1, 41))
    tr.trim_periods(st)
    assert len(st.periods) == tr.RECENT_PERIODS
    assert [p.period for p in st.periods] == list(range(40 - tr.RECENT_PERIODS + 1, 41))
    assert (st.clocks[0].period, st.clocks[0].start) == (41, "2025-02-15")


def test_closing_a_column_ends_its_period():
    st = column()
    tr.transition(st, event(1, "column.closed", closed_on="2025-01-08", reason="栏目整合"))
    assert st.clocks[0].state == "closed" and not st.periods


def test_a_period_row_counts_under_its_rule():
    assert period_rule(RULE, 12) == f"{RULE}#12" and rule_of(f"{RULE}#12") == RULE == rule_of(RULE)


def test_closing_a_lapsed_column_ends_a_late_period():
    st = column()
    c = st.clocks[0]
    c.due, c.due_instant = "2025-01-20", "2025-01-20T23:59:59+08:00"  # as the compute activity set it
    out = tr.transition(st, event(1, "column.closed", closed_on="2025-01-24", reason="栏目整合"))
    assert out.finished == [c] == out.closed_late and c.met_on == "2025-01-24"


def test_a_lapsed_period_ends_unmet_and_the_next_starts_from_its_due_date():
    """Review #4: a window with no update ends at its due date, missed with no met day (late in the scoring
    period of its own due date), and the next window runs from that due date."""
    from domain.scoring import classify, classify_day

    st = column()
    c = st.clocks[0]
    c.due, c.due_instant = "2025-01-20", "2025-01-20T23:59:59+08:00"  # as the compute activity set it
    assert tr.recurring_lapsing(st) == [c]
    nxt = tr.lapse_period(st, c)
    assert (c.state, c.met_on, c.lateness_working_days, c.plan) == ("missed", None, None, [])
    assert c.explanation["lapsed"] == tr.LAPSED_NOTE
    assert st.clocks == [nxt] and (nxt.rule, nxt.start, nxt.period, nxt.state) == (RULE, "2025-01-20", 2, "open")
    assert st.periods == [c] and tr.recurring_lapsing(st) == []  # the next one has no due date yet
    tr.count_periods(st, [c])
    assert st.data["periods"][RULE] == {"finished": 1, "on_time": 0, "late": 1, "late_working_days": 0}
    assert classify("missed", "2025-01-20", None, dt.date(2025, 1, 21)) == "late"
    assert classify_day("missed", "2025-01-20", None, "2025-01-21") == "late"
    assert classify_day("missed", "2025-01-20", None, "2025-01-20") == "pending"
    # an update on the next window's first day ends nothing; a later one meets it
    assert tr.transition(st, event(1, "column.updated", updated_on="2025-01-20")).finished == []
    out = tr.transition(st, event(2, "column.updated", updated_on="2025-01-22"))
    assert [(p.period, p.start, p.met_on) for p in out.finished] == [(2, "2025-01-20", "2025-01-22")]


def test_freshness_windows_keep_a_last_day_that_is_a_rest_day():
    """Review #11: 19号 checks a monitoring window ("监测时间点前2周内…未更新"), not a time to act: a last day in
    国庆 stays (moves_off_rest_days = false); a rule without the option still moves (民法典第二百零三条).
    Pinned dates: 2025-10-01 to 10-08 off work (国办发明电〔2024〕12号)."""
    from dataclasses import replace

    from domain.calendar import load_calendar
    from domain.clocks import NOT_MOVED, compute

    cal, rules = load_calendar(), load_rules()
    assert not cal.is_workday(dt.date(2025, 10, 1))
    for rid, start in (
        (RULE, dt.date(2025, 9, 17)),
        ("new_media_freshness", dt.date(2025, 9, 17)),
        ("website_freshness_notice", dt.date(2025, 4, 1)),
        ("website_freshness_policy", dt.date(2025, 4, 1)),
    ):
        rule = rules[rid]
        assert rule.moves_off_rest_days is False, rid
        kept = compute(rule, start, cal)
        assert kept.due == dt.date(2025, 10, 1), rid
        assert NOT_MOVED in kept.explanation["notes"] and not kept.explanation["moved_over"], rid
        moved = compute(replace(rule, moves_off_rest_days=True), start, cal)
        assert moved.due == dt.date(2025, 10, 9) and NOT_MOVED not in moved.explanation["notes"], rid
    assert all(r.moves_off_rest_days for r in rules.values() if not r.recurring)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"moves_off_rest_days": "no"}, "moves_off_rest_days 必须是 true/false"),
        ({"moves_off_rest_days": False, "unit": "working_days"}, "只适用于 calendar_days、months、years"),
    ],
)
def test_moves_off_rest_days_is_checked(change, message):
    from domain.config import ConfigError, config_dir, read_toml
    from domain.rules import parse_rules

    raw = {**read_toml(config_dir() / "rules.toml")["rules"][RULE], **change}
    with pytest.raises(ConfigError) as exc:
        parse_rules({"rules": {"x_fresh": raw}}, "rules.toml")
    assert "x_fresh" in str(exc.value) and message in str(exc.value)
