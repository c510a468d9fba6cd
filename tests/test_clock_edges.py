"""Issue 8 §1/§2 on the domain: overlapping consultations, edition by receipt, the correction period,
scores of withheld documents and lost cases, table 四 pairing of litigation without `after_review`."""

import datetime as dt

import pytest

from domain.calendar import load_calendar
from domain.clocks import ClockError, ExtensionGrant, Pause, compute, correction_terms
from domain.model import ItemSnapshot
from domain.report import annual_report
from domain.rules import ConfigError, load_correction_min, load_rules, parse_correction_min
from domain.scoring import (
    ClockRecord,
    load_scoring,
    marks_from_events,
    marks_from_snapshots,
    parse_period,
    score_period,
)

D = dt.date
CAL = load_calendar()
RULES = load_rules()


def reply(start, **kw):
    return compute(RULES["request_reply"], start, CAL, **kw)


def test_two_consultations_one_after_the_other():
    # Received 03-02; third party 03-05..03-10 (03-03, 03-04 used: 2 wd); 03-11..03-13 run (3 wd);
    # agency 03-16..04-01; then 15 wd: 04-02, 04-03, (清明 04-04..06), 04-07..10, 04-13..17, 04-20..23.
    dl = reply(D(2026, 3, 2), pauses=[Pause(D(2026, 3, 5), D(2026, 3, 10)), Pause(D(2026, 3, 16), D(2026, 4, 1))])
    assert dl.due == D(2026, 4, 23)
    assert dl.paused_days == 6 + 17


def test_overlapping_consultations_pause_for_their_union():
    third, agency = Pause(D(2026, 3, 5), D(2026, 3, 10)), Pause(D(2026, 3, 9), D(2026, 3, 20))
    union = reply(D(2026, 3, 2), pauses=[third, agency])
    assert union.due == reply(D(2026, 3, 2), pauses=[Pause(D(2026, 3, 5), D(2026, 3, 20))]).due
    assert union.paused_days == 16  # 03-05..03-20 once, not 6 + 12
    # Still paused while the second one is open, though the first has ended.
    assert reply(D(2026, 3, 2), pauses=[third, Pause(D(2026, 3, 9))]).due is None


def test_edition_follows_the_original_receipt_through_a_restart():
    dl = reply(D(2019, 5, 16), restarted_from=D(2019, 5, 8))
    assert dl.due == D(2019, 6, 6)  # 15 wd (2007 条例), 端午 06-07 not reached
    assert "原收到申请日" in " ".join(dl.explanation["notes"])
    with pytest.raises(ClockError, match="15 个工作日"):
        reply(D(2019, 5, 16), restarted_from=D(2019, 5, 8), extensions=[ExtensionGrant(D(2019, 6, 3), 20)])
    ext = reply(D(2019, 5, 16), restarted_from=D(2019, 5, 8), extensions=[ExtensionGrant(D(2019, 6, 3), 15)])
    assert ext.due == D(2019, 6, 28)
    # A request received on 2019-05-15 or later gets 20 wd, restarted or not.
    assert reply(D(2019, 5, 20), restarted_from=D(2019, 5, 15)).due == CAL.add_working_days(D(2019, 5, 20), 20)


def test_correction_period_moves_off_a_rest_day_and_is_flagged_when_short():
    t = correction_terms(D(2026, 3, 4), D(2026, 3, 7), CAL, min_working_days=5)  # 03-07 is a Saturday
    assert t.respond_by == D(2026, 3, 9) and t.working_days == 3 and t.too_short
    assert "顺延至 2026-03-09" in t.note and "补正期限过短" in t.note
    ok = correction_terms(D(2026, 3, 4), D(2026, 3, 13), CAL, min_working_days=5)
    assert ok.respond_by == D(2026, 3, 13) and ok.working_days == 7 and not ok.too_short and ok.note == ""
    # National Day 2026: a last day of 10-03 moves to 10-08 (10-01..07 off).
    assert correction_terms(D(2026, 9, 28), D(2026, 10, 3), CAL).respond_by == D(2026, 10, 8)


def test_correction_min_working_days_is_config():
    assert load_correction_min() == 5
    assert parse_correction_min({}) == 5
    assert parse_correction_min({"correction": {"min_working_days": 3}}) == 3
    with pytest.raises(ConfigError, match="min_working_days"):
        parse_correction_min({"correction": {"min_working_days": "five"}})
    with pytest.raises(ConfigError, match="未知字段"):
        parse_correction_min({"correction": {"min_days": 3}})


# ---------------------------------------------------------------- scores
def _withheld_doc(i: str, dept: str, signed: str) -> ItemSnapshot:
    return ItemSnapshot(
        id=i,
        type="document",
        department=dept,
        title=f"内部文件{i}",
        state="recorded",
        data={"disclosure": "withheld", "withheld_reason": "withheld.internal_affairs", "signed_on": signed},
    )


def test_withheld_documents_counted_per_department_and_period_not_deducted_by_default():
    snaps = [
        _withheld_doc("W1", "qz-fgw", "2026-08-03"),
        _withheld_doc("W2", "qz-fgw", "2026-09-30"),
        _withheld_doc("W3", "qz-fgw", "2026-10-02"),  # next quarter
        ItemSnapshot(
            id="P1", type="document", department="qz-fgw", data={"disclosure": "public", "signed_on": "2026-08-03"}
        ),
    ]
    marks = marks_from_snapshots(snaps)
    assert [m.item_id for m in marks] == ["W1", "W2", "W3"]
    res = score_period([], parse_period("2026-Q3"), D(2026, 10, 16), load_scoring(), marks=marks, rules=RULES)
    (d,) = res.summary
    assert (d.department, d.withheld, d.deduction, d.score) == ("qz-fgw", 2, 0, 100)
    rows = [r for r in res.details if r.status == "withheld"]
    assert [r.item_id for r in rows] == ["W1", "W2"]
    assert rows[0].status_label == "不予公开" and "内部事务信息" in rows[0].explanation


def test_withheld_deduction_and_case_lost_from_config(tmp_path):
    cfg = tmp_path / "scoring.toml"
    cfg.write_text('[score]\nsource = "测试"\n[deductions]\nwithheld = 1\ncase_lost = 4\n', encoding="utf-8")
    config = load_scoring(cfg)
    assert config.points("withheld") == 1 and config.points("case_lost") == 4
    marks = marks_from_snapshots([_withheld_doc("W1", "qz-fgw", "2026-08-03")])
    res = score_period([], parse_period("2026-Q3"), D(2026, 10, 16), config, marks=marks, rules=RULES)
    assert res.summary[0].score == 99


def _case_events():
    return [
        {"type": "request.received", "request_id": "R1", "department": "qz-jyj", "on": "2026-01-05"},
        {"type": "review.filed", "request_id": "R1", "on": "2026-03-01"},
        {"type": "review.decided", "request_id": "R1", "on": "2026-05-10", "result": "corrected"},
        {"type": "request.received", "request_id": "R2", "department": "qz-jyj", "on": "2026-01-06"},
        {"type": "litigation.filed", "request_id": "R2", "on": "2026-03-01"},
        {"type": "litigation.decided", "request_id": "R2", "on": "2026-08-10", "result": "corrected"},
        {"type": "request.received", "request_id": "R3", "department": "qz-jyj", "on": "2026-01-07"},
        {"type": "review.decided", "request_id": "R3", "on": "2026-05-11", "result": "upheld"},
    ]


def test_lost_review_or_litigation_deducts_in_the_period_of_the_decision():
    marks = marks_from_events(_case_events())
    assert [(m.item_id, m.on) for m in marks] == [("R1", "2026-05-10"), ("R2", "2026-08-10")]
    records = [
        ClockRecord(
            item_id="R9",
            item_type="request",
            department="qz-jyj",
            rule="request_reply",
            due="2026-04-20",
            state="met",
            met_on="2026-04-10",
        )
    ]
    q2 = score_period(records, parse_period("2026-Q2"), D(2026, 12, 1), load_scoring(), marks=marks, rules=RULES)
    (d,) = q2.summary
    assert (d.cases_lost, d.deduction, d.score) == (1, 3, 97)
    row = next(r for r in q2.details if r.status == "case_lost")
    assert row.item_id == "R1" and row.deduction == 3 and "行政复议" in row.explanation
    q3 = score_period([], parse_period("2026-Q3"), D(2026, 12, 1), load_scoring(), marks=marks, rules=RULES)
    assert q3.summary[0].cases_lost == 1 and q3.summary[0].score == 97
    # Not yet decided on the as-of day: not counted.
    early = score_period([], parse_period("2026-Q3"), D(2026, 8, 1), load_scoring(), marks=marks, rules=RULES)
    assert early.summary == []


def test_table4_litigation_decided_takes_after_review_from_its_filing():
    events = [
        {
            "event_id": "1",
            "type": "request.received",
            "request_id": "R1",
            "department": "qz-jyj",
            "received_on": "2026-01-05",
        },
        {"event_id": "2", "type": "litigation.filed", "request_id": "R1", "on": "2026-03-01", "after_review": True},
        {"event_id": "3", "type": "litigation.decided", "request_id": "R1", "on": "2026-06-01", "result": "upheld"},
    ]
    t4 = annual_report(events, 2026)["table4"]
    assert t4["litigation_after_review"]["upheld"] == 1 and t4["litigation_after_review"]["total"] == 1
    assert t4["litigation_direct"]["total"] == 0
