"""Minimum windows, backward pre-deadlines and node versions of a rule: rule data, checks and reminders (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.calendar import load_calendar
from domain.config import ConfigError
from domain.ladder import load_ladders, plan
from domain.rules import load_rules, parse_rules
from domain.shanghai import SHANGHAI
from domain.standing import can_be_overdue
from services.ingest import internal_rule_nodes, item_rules, rule_table

BASE = {"name": "n", "source": "s", "quote": "q", "start_event": "x.started", "met_by": ["x.done"]}


def test_shipped_windows_cite_their_sources_and_are_never_overdue():
    rules = load_rules()
    for rid, article in (
        ("major_decision_consultation", "第十五条"),
        ("regulation_draft_consultation", "第十五条"),
        ("normative_consultation", "37号"),
        ("normative_consultation_business", "第六十二条"),
    ):
        r = rules[rid]
        assert r.minimum and r.shorter_allowed and not can_be_overdue(r)
        assert article in r.source and "不少于" in r.quote and r.limit_text.startswith("不少于")
    assert rules["normative_consultation"].limit_text == "不少于7个工作日"
    assert can_be_overdue(rules["request_reply"])


def test_a_minimum_window_reminds_its_earliest_close_and_never_goes_overdue():
    ladder = load_ladders().for_rule("major_decision_consultation", "calendar_days")
    due = dt.date(2026, 4, 1)
    steps = plan(ladder, due, load_calendar(), "national", dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    assert [(s.step, s.to, s.overdue) for s in steps] == [("earliest_close", ("liaison",), False)]
    assert steps[0].fire_at.date() == due
    # long after its last day nothing more is planned: no overdue notice, no repeats
    assert plan(ladder, due, load_calendar(), "national", dt.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)) == []


def test_counted_back_and_node_versions_are_checked():
    other = {**BASE, "unit": "working_days", "length": 20}
    with pytest.raises(ConfigError, match="start_event 须与 counted_back_from"):
        parse_rules(
            {
                "rules": {
                    "a": other,
                    "b": {**BASE, "unit": "working_days", "length": 3, "counted_back_from": "a", "start_event": "y"},
                }
            }
        )
    with pytest.raises(ConfigError, match="nodes 只适用于"):
        parse_rules({"rules": {"a": {**other, "nodes": ["qinzhou"]}}})
    with pytest.raises(ConfigError, match="replaces “nope”"):
        parse_rules(
            {"rules": {"a": other, "b": {**BASE, "unit": "working_days", "length": 0, "replaces": "nope", "nodes": []}}}
        )
    rules = parse_rules(
        {"rules": {"a": other, "b": {**BASE, "unit": "working_days", "length": 3, "counted_back_from": "a"}}}
    )
    assert (rules["b"].internal, rules["b"].nodes, rules["b"].met_by) == (True, frozenset(), ("x.done",))
    assert "内部时限" in rules["b"].name


def test_a_node_version_replaces_its_rule_only_for_the_nodes_it_lists():
    rules = load_rules()
    same_day = rules["policy_interpretation_same_day"]
    assert (same_day.length, same_day.replaces, same_day.nodes) == (0, "policy_interpretation", frozenset())
    assert (
        same_day.met_by == rules["policy_interpretation"].met_by
        and same_day.when == rules["policy_interpretation"].when
    )
    table = rule_table(rules)
    off = item_rules(table, "document", "qinzhou", internal_rule_nodes(rules))
    assert "policy_interpretation" in off and "policy_interpretation_same_day" not in off
    nodes = {**internal_rule_nodes(rules), "policy_interpretation_same_day": frozenset({"qinzhou"})}
    on = item_rules(table, "document", "qinzhou", nodes)
    # both are the node's item rules; at the start the node version applies in the 3-day rule's place
    assert "policy_interpretation_same_day" in on and on["policy_interpretation_same_day"].replaces in on
    assert "policy_interpretation" in item_rules(table, "document", "guangxi", nodes)  # another node keeps 3 wd


def test_a_pre_deadline_follows_its_statutory_clock_in_the_checks():
    """An extension decided after the draft's date but before the reply's is not late: the pre-deadline is
    judged by the statutory clock (no second extension check, no 补录 hold), and it gets the extension too."""
    from domain import transitions as tr
    from domain.events import parse_event
    from domain.item_state import ItemState
    from domain.review import Recorded
    from services.ingest import rule_table

    rules = {k: m for k, m in rule_table(load_rules()).items() if k in ("request_reply", "request_reply_draft")}
    st = ItemState(id="R-1", type="request", department="qz-fgw", region="guangxi", rules=rules)
    start = parse_event(
        {
            "event_id": "r1",
            "type": "request.received",
            "request_id": "R-1",
            "department": "qz-fgw",
            "channel": "online",
            "received_on": "2026-03-02",
            "applicant_type": "natural_person",
            "subject": "申请公开",
        }
    )
    tr.transition(st, start)
    st.version = 1
    reply, draft = tr.clock(st, "request_reply"), tr.clock(st, "request_reply_draft")
    assert reply is not None and draft is not None and tr.reply_clock(st) is reply
    reply.due, reply.due_instant = "2026-03-30", "2026-03-30T23:59:59+08:00"
    draft.due, draft.due_instant = "2026-03-25", "2026-03-25T23:59:59+08:00"
    ext = parse_event(
        {
            "event_id": "x1",
            "type": "request.extended",
            "request_id": "R-1",
            "on": "2026-03-26",
            "working_days": 10,
            "reason": "需调阅档案",
            "approved_by": "head-fgw",
            "notified_on": "2026-03-26",
        }
    )
    ext = ext.model_copy(
        update={"recorded": Recorded(at="2026-03-26T10:00:00+08:00", on="2026-03-26", role="liaison", by="liaison-fgw")}
    )
    tr.check(st, ext)  # the draft's date (03-25) is past: only the reply's (03-30) decides
    assert tr.late_reason(st, ext) is None
    touched = tr.transition(st, ext)
    assert {c.rule for c in touched.clocks} == {"request_reply", "request_reply_draft"}
    assert [e.working_days for e in draft.extensions] == [10]


def test_the_annual_report_counts_a_same_day_interpretation_among_the_interpretations():
    from types import SimpleNamespace

    from domain.annual_document import _share, _status_index

    clocks = [
        SimpleNamespace(item_id="D1", rule="policy_interpretation", state="met", due="2026-03-05", met_on="2026-03-04"),
        SimpleNamespace(
            item_id="D2", rule="policy_interpretation_same_day", state="missed", due="2026-03-05", met_on="2026-03-06"
        ),
    ]
    status = _status_index(clocks, dt.date(2026, 12, 31))
    assert _share(["D1", "D2"], "policy_interpretation", status) == (1, 2)
