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
