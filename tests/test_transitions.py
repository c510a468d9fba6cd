"""The item's checks and transitions as pure functions (domain/transitions.py), without Temporal:
the workflow class only orchestrates them (issue 9 §4)."""

from __future__ import annotations

import datetime as dt

import pytest

from activities.clocks import engine
from domain import transitions as tr
from domain.events import parse_event
from domain.item_state import CONFLICT, ItemState, Refusal
from domain.review import Recorded
from services.ingest import rule_table


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


def test_extension_checks_of_17_apply_to_new_input_only():
    """A run recorded before #17 accepted an extension without `notified_on` (or approved by its recorder):
    its handler re-check (strict=False) keeps accepting it on replay; new input is refused."""
    st = started()
    tr.transition(
        st, ev({"event_id": "c1", "type": "request.consultation_started", "on": "2026-03-03", "with": "agency"})
    )
    tr.clock(st, "request_reply").due = "2026-03-30"
    told_then = ev(
        {"event_id": "x1", "type": "request.extended", "on": "2026-03-05", "working_days": 5, "approved_by": "head-fgw"}
        | {"reason": "复杂", "notified_on": "2026-03-05"}
    )  # as a history recorded before #17 holds it: no notice
    old = told_then.model_copy(update={"data": {k: v for k, v in told_then.data.items() if k != "notified_on"}})
    tr.check(st, old, strict=False)
    with pytest.raises(Refusal) as exc:
        tr.check(st, old)
    assert exc.value.field == "notified_on"
    assert "告知申请人" in exc.value.reason
    told = ev({**old.data, "event_id": "x2", "notified_on": "2026-03-04"})
    with pytest.raises(Refusal, match="早于延期决定日期"):
        tr.check(st, told)
    after_due = ev({**old.data, "event_id": "x5", "notified_on": "2026-03-31"})
    with pytest.raises(Refusal, match="答复期限届满前告知申请人：当前期限 2026-03-30") as exc:
        tr.check(st, after_due)
    assert exc.value.field == "notified_on"
    mine = ev({**old.data, "event_id": "x3", "notified_on": "2026-03-05"}).model_copy(
        update={"recorded": Recorded(at="2026-03-05T09:00:00+08:00", on="2026-03-05", role="head", by="head-fgw")}
    )
    with pytest.raises(Refusal) as exc:
        tr.check(st, mine)
    assert exc.value.field == "approved_by" and "登记人本人" in exc.value.reason
    tr.check(st, ev({**old.data, "event_id": "x4", "notified_on": "2026-03-05"}))


def test_a_consultation_is_kept_with_the_due_date_it_paused():
    st = started()
    tr.clock(st, "request_reply").due = "2026-03-30"
    tr.clock(st, "request_reply").due_instant = "2026-03-30T23:59:59+08:00"
    late = ev({"event_id": "c0", "type": "request.consultation_started", "on": "2026-03-31", "with": "agency"})
    with pytest.raises(Refusal, match="答复期限届满前"):
        tr.check(st, late)
    tr.check(st, late, strict=False)  # what a run recorded before accepted
    e = ev({"event_id": "c1", "type": "request.consultation_started", "on": "2026-03-27", "with": "agency"})
    tr.check(st, e)
    tr.transition(st, e)
    assert st.data["consultations"] == [
        {"event_id": "c1", "on": "2026-03-27", "with": "agency", "due_before": "2026-03-30"}
    ]


def test_the_applicant_key_is_a_keyed_hash_of_name_and_number():
    from domain.pii import applicant_key

    a = applicant_key({"name": "王五", "id_number": "45070219900101123x"}, b"k1")
    assert a == applicant_key({"name": " 王 五", "id_number": "45070219900101123X"}, b"k1")  # normalised
    assert a != applicant_key({"name": "王五", "id_number": "45070219900101123X"}, b"k2")  # keyed
    assert a != applicant_key({"name": "王六", "id_number": "45070219900101123X"}, b"k1")
    assert "王五" not in a and "450702" not in a and len(a) == 64
    org = applicant_key({"name": "某某公司", "org_code": "91450700MA5KXXXX0X"}, b"k1")
    assert org and org != a
    assert applicant_key({"name": "王五"}, b"k1") is None  # a name alone links nothing
    assert applicant_key({"id_number": "45070219900101123X"}, b"k1") is None


def test_the_applicant_key_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    from services.ingest import applicant_secret

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SHIXIAN_APPLICANT_KEY_SECRET", raising=False)
    first = applicant_secret()
    assert len(first) == 64 and applicant_secret() == first
    assert (tmp_path / "applicant-key.secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("SHIXIAN_APPLICANT_KEY_SECRET", "from-the-environment")
    assert applicant_secret() == b"from-the-environment"


def test_counting_limits_are_read_from_rules_toml_and_checked():
    from domain.config import ConfigError
    from domain.rules import CountingLimits, parse_counting_limits

    assert parse_counting_limits({}) == CountingLimits()
    got = parse_counting_limits(
        {"correction": {"max_working_days": 20}, "consultation": {"max_paused_working_days": 40}}
    )
    assert (got.correction_max_working_days, got.consultation_max_paused_working_days) == (20, 40)
    with pytest.raises(ConfigError, match="max_paused_working_days"):
        parse_counting_limits({"consultation": {"max_paused_working_days": "30"}})
    with pytest.raises(ConfigError, match="未知字段"):
        parse_counting_limits({"withdrawal": {"days": 10}})


def test_admit_holds_a_late_start_of_a_pause_and_its_end_with_it():
    """`tr.admit` (what the workflow decides per event, pure: the import preview can use it): a liaison's
    consultation recorded weeks later is held, its end held with it (not refused), and the held group
    applies in order (the pause then ends)."""
    st = started()

    def late(obj: dict):
        rec = Recorded(at="2026-05-06T10:00:00+08:00", on="2026-05-06", role="liaison", late_from="2026-03-20")
        return ev(obj).model_copy(update={"recorded": rec})

    start = late({"event_id": "c1", "type": "request.consultation_started", "on": "2026-03-09", "with": "agency"})
    end = late({"event_id": "c2", "type": "request.consultation_ended", "on": "2026-03-16", "with": "agency"})
    with pytest.raises(Refusal):  # on its own, the end fits nothing (no consultation open)
        tr.check(st, end)
    a, b = tr.admit(st, start), tr.admit(st, end)
    assert (a.status, a.depends_on) == ("held", None) and (b.status, b.depends_on) == ("held", "c1")
    assert "依赖待审核的开始征求意见事件（c1）" in b.reason
    assert [e.event_id for e in tr.dependents(st, "c1")] == ["c2"]
    assert tr.clock(st, "request_reply").pauses == []  # held: the clocks ignore them
    sim = tr.simulated(st)
    (pause,) = tr.clock(sim, "request_reply").pauses
    assert (pause.start, pause.end) == ("2026-03-09", "2026-03-16")
    # an unrelated event by the operator (not reviewed) that fits the item as it is applies as before
    other = ev({"event_id": "x1", "type": "request.replied", "on": "2026-03-20", "outcome": "granted"})
    assert (
        tr.held_dependency(st, other.model_copy(update={"recorded": Recorded(at="", on="", role="operator")})) is None
    )
