"""The item's checks and transitions as pure functions (workflows/transitions.py), without Temporal:
the workflow class only orchestrates them (issue 9 §4)."""

from __future__ import annotations

import datetime as dt

import pytest

from activities.clocks import engine
from domain.events import parse_event
from services.ingest import rule_table
from workflows import transitions as tr
from workflows.state import CONFLICT, ItemState, Refusal


def request_state() -> ItemState:
    return ItemState(id="R-1", type="request", department="qz-fgw", region="guangxi", rules=rule_table(engine().rules))


def ev(obj: dict):
    return parse_event({"request_id": "R-1", **obj})


RECEIVED = {
    "event_id": "r1",
    "type": "request.received",
    "department": "qz-fgw",
    "channel": "online",
    "received_on": "2026-03-02",
    "applicant_type": "natural_person",
    "subject": "申请公开",
}


def started() -> ItemState:
    st = request_state()
    e = ev(RECEIVED)
    tr.check(st, e)
    touched = tr.transition(st, e)
    st.applied[e.event_id] = e.content_hash
    st.version = 1
    assert {c.rule for c in touched.clocks} >= {"request_reply"}  # the clocks to compute
    return st


def test_a_start_event_opens_the_item_and_its_clocks():
    st = started()
    assert st.state == "open" and st.title == "申请公开" and st.data["start_on"] == "2026-03-02"
    assert tr.clock(st, "request_reply").start == "2026-03-02"
    with pytest.raises(Refusal, match="已存在"):  # a second start event for the same item
        tr.check(st, ev({**RECEIVED, "event_id": "r1-again"}))


def test_the_state_knows_what_an_event_id_means():
    st = started()
    same = ev(RECEIVED)
    assert tr.known(st, same) == "duplicate"
    tr.check(st, same)  # a duplicate is not refused: the handler answers "duplicate"
    other = ev({**RECEIVED, "subject": "另一申请"})
    with pytest.raises(Refusal) as exc:
        tr.check(st, other)
    assert exc.value.field == "event_id" and exc.value.reason == CONFLICT
    assert tr.known(st, ev({**RECEIVED, "event_id": "new"})) is None


def test_checks_refuse_what_the_state_cannot_accept():
    st = request_state()
    with pytest.raises(Refusal, match="未知事项"):  # nothing before the start event
        tr.check(st, ev({"event_id": "x", "type": "request.replied", "on": "2026-03-05", "outcome": "granted"}))
    st = started()
    with pytest.raises(Refusal, match="早于事项起算日"):
        tr.check(st, ev({"event_id": "x", "type": "request.replied", "on": "2026-03-01", "outcome": "granted"}))
    with pytest.raises(Refusal, match="未告知补正"):
        tr.check(st, ev({"event_id": "x", "type": "request.corrected", "on": "2026-03-05"}))
    with pytest.raises(Refusal, match="未处于征求意见状态"):
        tr.check(st, ev({"event_id": "x", "type": "request.consultation_ended", "on": "2026-03-05"}))


def test_a_fact_dated_after_the_recording_day_is_refused_by_the_workflows_check():
    """issue 16 A7: the workflow's check takes the day from its own clock, whatever the sender's host said."""
    st = started()
    reply = ev({"event_id": "r2", "type": "request.replied", "on": "2026-03-18", "outcome": "granted"})
    with pytest.raises(Refusal) as exc:
        tr.check(st, reply, today=dt.date(2026, 3, 17))
    assert exc.value.field == "on" and "2026-03-18" in exc.value.reason and "2026-03-17" in exc.value.reason
    tr.check(st, reply, today=dt.date(2026, 3, 18))  # on the day itself
    tr.check(st, reply)  # no day given (approving a held entry): not judged again
    fresh = request_state()
    with pytest.raises(Refusal) as exc:  # a start event too
        tr.check(fresh, ev(RECEIVED), today=dt.date(2026, 3, 1))
    assert exc.value.field == "received_on"
    assert tr.known(st, ev(RECEIVED)) == "duplicate"
    tr.check(st, ev(RECEIVED), today=dt.date(2026, 3, 1))  # a duplicate is answered, not re-judged


def test_a_reply_meets_the_clock_and_a_second_reply_is_refused():
    st = started()
    reply = ev({"event_id": "r2", "type": "request.replied", "on": "2026-03-10", "outcome": "granted"})
    tr.check(st, reply)
    touched = tr.transition(st, reply)
    c = tr.clock(st, "request_reply")
    assert c in touched.clocks and c.met_on == "2026-03-10" and st.data["outcome"] == "granted"
    with pytest.raises(Refusal, match="不能重复答复"):
        tr.check(st, ev({"event_id": "r3", "type": "request.replied", "on": "2026-03-11", "outcome": "granted"}))


def test_a_consultation_pauses_and_its_end_resumes_the_reply_clock():
    st = started()
    tr.transition(
        st, ev({"event_id": "c1", "type": "request.consultation_started", "on": "2026-03-04", "with": "third_party"})
    )
    reply = tr.clock(st, "request_reply")
    assert [(p.start, p.end, p.kind) for p in reply.pauses] == [("2026-03-04", None, "third_party")]
    assert tr.open_consultations(st) == {"third_party"}
    with pytest.raises(Refusal, match="已处于"):
        tr.check(
            st,
            ev({"event_id": "c2", "type": "request.consultation_started", "on": "2026-03-05", "with": "third_party"}),
        )
    tr.transition(st, ev({"event_id": "c3", "type": "request.consultation_ended", "on": "2026-03-09"}))
    assert reply.pauses[0].end is not None and tr.open_consultations(st) == set()


def test_refresh_state_closes_an_item_whose_clocks_all_ended():
    st = started()
    tr.close_all(st)
    tr.refresh_state(st)
    assert st.state == "closed" and tr.next_wake(st) is None
