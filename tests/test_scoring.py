"""Compliance scores: periods, classification, deductions from scoring.toml, config errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from domain.config import ConfigError
from domain.model import ClockSnapshot, ItemSnapshot
from domain.rules import load_rules
from domain.scoring import (
    ClockRecord,
    ScoringConfig,
    classify,
    explanation_line,
    load_scoring,
    parse_period,
    records_from_snapshots,
    score_period,
)

FIN, EDU = "财政局", "教育局"


def test_parse_period():
    q = parse_period("2026-Q3")
    assert (q.start, q.end, q.label, q.kind, q.title) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        "2026-Q3",
        "quarter",
        "2026年第3季度",
    )
    m = parse_period("2026-2")
    assert (m.start, m.end, m.label) == (date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    y = parse_period("2026")
    assert (y.start, y.end, y.label) == (date(2026, 1, 1), date(2026, 12, 31), "2026")
    for bad in ("2026-Q5", "2026-13", "Q3", "26"):
        with pytest.raises(ValueError, match="期间"):
            parse_period(bad)


def test_classify():
    as_of = date(2026, 10, 15)
    assert classify("met", "2026-09-30", "2026-09-30", as_of) == "on_time"
    assert classify("met", "2026-09-30", "2026-10-08", as_of) == "late"
    assert classify("missed", "2026-09-30", None, as_of) == "overdue"
    assert classify("open", "2026-09-30", None, as_of) == "overdue"
    assert classify("paused", "2026-10-15", None, as_of) == "pending"  # due today: not yet late
    assert classify("closed", "2026-09-30", None, as_of) == "closed"
    assert classify("met", "2026-09-30", "2026-10-20", as_of) == "overdue"  # met after as_of
    # hour rules: instants, +08:00 assumed
    assert classify("met", "2026-09-01T10:00:00", "2026-09-01T11:00:00+08:00", as_of) == "late"
    assert classify("met", "2026-09-01T10:00:00+08:00", "2026-09-01T09:59:00", as_of) == "on_time"


def rec(item, rule, due, state, met_on=None, late=None, overdue=None, dept=FIN, summary=None):
    return ClockRecord(
        item_id=item,
        item_type="request" if rule == "request_reply" else "document",
        department=dept,
        title=f"事项{item}",
        rule=rule,
        due=due,
        state=state,
        met_on=met_on,
        lateness_working_days=late,
        overdue_working_days=overdue,
        explanation={"summary": summary} if summary else {},
    )


RECORDS = [
    rec("D1", "policy_publication", "2026-07-20", "met", "2026-07-10"),  # on time
    rec("D1", "policy_interpretation", "2026-07-16", "met", "2026-07-20", late=2),  # late: -5
    rec("R1", "request_reply", "2026-08-28", "met", "2026-09-03", late=4),  # late: -6
    rec("R2", "request_reply", "2026-09-15", "open", overdue=22),  # overdue: -6
    rec("R3", "request_reply", "2026-09-20", "closed"),  # not counted
    rec("R4", "request_reply", "2026-10-10", "open"),  # other period
    rec(
        "E1",
        "request_reply",
        "2026-08-01",
        "met",
        "2026-07-30",
        dept=EDU,
        summary="收到申请之日起20个工作日\n（8月1日）",
    ),
]


def test_score_period_counts_and_deductions():
    res = score_period(RECORDS, parse_period("2026-Q3"), date(2026, 10, 16), load_scoring(), rules=load_rules())
    assert [d.department for d in res.summary] == [EDU, FIN]
    edu, fin = res.summary
    assert (fin.items_due, fin.on_time, fin.late, fin.overdue, fin.pending, fin.closed) == (4, 1, 2, 1, 0, 1)
    assert fin.deduction == 17 and fin.score == 83
    assert fin.on_time_rate == 0.25
    assert fin.avg_lateness_working_days == round((2 + 4 + 22) / 3, 2)
    rr = fin.per_rule["request_reply"]
    assert (rr.items_due, rr.late, rr.overdue, rr.on_time_rate, rr.deduction) == (2, 1, 1, 0.0, 12)
    assert rr.label == "依申请公开答复"
    assert fin.per_rule["policy_publication"].on_time_rate == 1.0
    assert (edu.score, edu.on_time_rate, edu.avg_lateness_working_days) == (100, 1.0, None)
    assert len(res.details) == 6
    e1 = next(d for d in res.details if d.item_id == "E1")
    assert e1.explanation == "收到申请之日起20个工作日 （8月1日）"
    r2 = next(d for d in res.details if d.item_id == "R2")
    assert (r2.status_label, r2.deduction, r2.explanation) == ("逾期未办", 6, "期限：2026-09-15")


def test_score_floor_and_department_filter():
    many = [rec(f"R{i}", "request_reply", "2026-11-02", "open", overdue=3) for i in range(20)]
    res = score_period(
        many + RECORDS, parse_period("2026-11"), date(2026, 12, 1), load_scoring(), department=FIN, rules=load_rules()
    )
    assert len(res.summary) == 1 and res.summary[0].score == 0 and res.summary[0].deduction == 120


def test_records_from_snapshots():
    snap = ItemSnapshot(
        id="R9",
        type="request",
        department=FIN,
        title="申请",
        clocks=[
            ClockSnapshot(
                rule="correction_notice",
                start="2026-09-01",
                due="2026-09-10",
                state="met",
                met_on="2026-09-05",
                explanation={"summary": "7个工作日"},
            ),
            ClockSnapshot(rule="request_reply", start="2026-09-01", due="2026-09-29", state="open"),
            ClockSnapshot(rule="third_party_opinion", start="2026-09-03", due=None, state="paused"),
        ],
    )
    seen = []

    def overdue(clock, as_of):
        seen.append((clock.rule, as_of))
        return 7

    recs = records_from_snapshots([snap], date(2026, 10, 12), overdue, load_rules())
    # The correction-notice window lapses (rules.toml lapses = true): it is no duty to be scored on.
    assert [(r.rule, r.overdue_working_days) for r in recs] == [("request_reply", 7)]
    assert seen == [("request_reply", date(2026, 10, 12))]


def test_calendar_overdue_days_uses_working_days():
    from domain.calendar import load_calendar
    from domain.scoring import calendar_overdue_days

    f = calendar_overdue_days(load_calendar())
    clock = ClockSnapshot(rule="request_reply", start="2026-09-01", due="2026-09-30")
    # 2026-10-01..07 national holiday; 10-08 and 10-09 working days (10-10 Saturday is a make-up day)
    assert f(clock, date(2026, 9, 30)) == 0
    assert f(clock, date(2026, 10, 9)) == 2


def test_default_config_and_explanation_line():
    cfg = load_scoring()
    assert {k: d.points for k, d in cfg.deductions.items()} == {
        "policy_publication": 5,
        "policy_interpretation": 5,
        "request_reply": 6,
        "annual_report_department": 5,
        "annual_report_government": 5,
        "withheld": 0,
        "case_lost": 3,
    }
    assert all("鲤城" in d.source for k, d in cfg.deductions.items() if k != "withheld")
    assert explanation_line({}, "2026-01-31") == "期限：2026-01-31"


@pytest.mark.parametrize(
    "text,key",
    [
        ("[deductions.request_reply]\npoints = -1\nsource = 'x'\n", "deductions.request_reply.points"),
        ("[deductions.request_reply]\npoints = 'six'\nsource = 'x'\n", "deductions.request_reply.points"),
        ("[deductions.request_reply]\npoints = 6\n", "deductions.request_reply.source"),
        ("[deductions.request_reply]\npoints = 6\nsource = 'x'\npoint = 1\n", "deductions.request_reply.point"),
        ("[score]\nfull_score = 100\nfloor = 100\n", "score.floor"),
        ("[score]\noverdue_counts_as_late = 1\n", "score.overdue_counts_as_late"),
        ("[scores]\n", "scores"),
        ("[deductions\n", "TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text, key):
    p = tmp_path / "scoring.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_scoring(p)
    assert str(p) in str(exc.value) and key in str(exc.value)


def test_scoring_reads_rules_only_from_its_arguments(tmp_path, monkeypatch):
    """The rules in use come in as an argument (pure scoring): with no config directory at all, the
    lapsing windows and rule names still come from the given rules."""
    from dataclasses import dataclass

    @dataclass
    class R:
        name: str
        lapses: bool = False

    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(tmp_path / "missing"))
    rules = {"request_reply": R("答复申请（测试名）"), "correction_notice": R("补正窗口", lapses=True)}
    snap = ItemSnapshot(
        id="R9",
        type="request",
        department=FIN,
        title="申请",
        clocks=[
            ClockSnapshot(rule="correction_notice", start="2026-09-01", due="2026-09-10", state="open"),
            ClockSnapshot(rule="request_reply", start="2026-09-01", due="2026-09-29", state="open"),
        ],
    )
    recs = records_from_snapshots([snap], date(2026, 10, 12), lambda c, d: 9, rules)
    assert [(r.rule, r.overdue_working_days) for r in recs] == [("request_reply", 9)]
    res = score_period(recs, parse_period("2026-Q3"), date(2026, 10, 12), ScoringConfig(), rules=rules)
    assert [d.rule_label for d in res.details] == ["答复申请（测试名）"]
