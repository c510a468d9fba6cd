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
    # missed with no met day: a recurring duty's window that lapsed unmet (transitions.lapse_period), over
    assert classify("missed", "2026-09-30", None, as_of) == "late"
    assert classify("missed", "2026-10-30", None, as_of) == "pending"
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
    # 鲤城 2020: 解读 −5 (indicator 政策解读, weight 5); two late replies −12, capped at 依申请公开's weight 6
    assert fin.deduction == 11 and fin.score == 89
    req = fin.indicators["request"]
    assert (req.weight, req.raw_deduction, req.deduction, req.points, req.capped) == (6, 12, 6, 0, True)
    assert fin.indicators["proactive"].points == 10 and fin.scheme == "licheng2020"
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


def test_score_floor_and_department_filter(tmp_path):
    many = [rec(f"R{i}", "request_reply", "2026-11-02", "open", overdue=3) for i in range(20)]
    res = score_period(
        many + RECORDS, parse_period("2026-11"), date(2026, 12, 1), load_scoring(), department=FIN, rules=load_rules()
    )
    # under the scheme twenty overdue requests take 依申请公开's 6 points, not the whole score
    assert len(res.summary) == 1 and res.summary[0].score == 94 and res.summary[0].deduction == 6
    # the old flat file (no indicators) still loads and has no cap: the floor holds
    flat = tmp_path / "scoring.toml"
    flat.write_text(
        "[score]\nsource = '旧格式'\n[deductions.request_reply]\npoints = 6\nsource = 'x'\n", encoding="utf-8"
    )
    res = score_period(many, parse_period("2026-11"), date(2026, 12, 1), load_scoring(flat), rules=load_rules())
    assert res.summary[0].score == 0 and res.summary[0].deduction == 120 and res.config_source == "旧格式"


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
    assert cfg.id == "licheng2020" and set(cfg.schemes) == {"licheng2020", "jinzhou2020"}
    assert {k: d.points for k, d in cfg.deductions.items()} == {
        "policy_publication": 5,
        "budget_disclosure": 5,
        "withheld": 0,
        "on_request": 0,
        "policy_interpretation": 5,
        "no_interpretation": 0,
        "request_reply": 6,
        "case_lost": 3,
        "reply_delayed": 0,
        "annual_report_department": 5,
        "annual_report_government": 5,
        "opinion_response_info": 5,
        "opinion_response_press": 5,
        "opinion_response_general": 5,
        "duty_*": 0,  # the catalogue duties, one family (i21-catalogue)
        # minimum windows (不少于): never overdue, listed with weight 0 so that nothing counts silently
        "major_decision_consultation": 0,
        "regulation_draft_consultation": 0,
        "normative_consultation": 0,
        "normative_consultation_business": 0,
        "policy_interpretation_same_day": 5,  # off by default; in place of policy_interpretation where on
        # 国办秘函〔2019〕19号 单项否决 items: counted, never deducted (i21-fresh)
        "website_freshness_news": 0,
        "website_freshness_notice": 0,
        "website_freshness_policy": 0,
        "new_media_freshness": 0,
        # 建议提案、热线、网站留言 (i21-proposals): no scheme cites them, counted with weight 0
        "proposal_reply": 0,
        "proposal_reply_complex": 0,
        "proposal_reply_sichuan": 0,
        "proposal_reply_sichuan_cppcc_plenary": 0,
        "proposal_reply_sichuan_cppcc_recess": 0,
        "proposal_reply_sichuan_complex": 0,
        "proposal_reanswer_sichuan": 0,
        "hotline_reply_shandong": 0,
        "website_message_reply": 0,
        "website_error_report": 0,
    }
    weights = {i.id: i.weight for i in cfg.indicators.values()}
    assert weights == {
        "proactive": 10,
        "interpretation": 5,
        "request": 6,
        "annual_report": 10,
        "opinion": 5,
        "catalogue": 0,
        "consultation": 0,
        "freshness": 0,
        "interaction": 0,
    }
    assert cfg.indicator_of("duty_qinzhou_7") == "catalogue" and cfg.points("duty_qinzhou_7") == 0
    assert all(i.source for s in cfg.schemes.values() for i in s.indicators.values())
    assert all("鲤城" in d.source for k, d in cfg.deductions.items() if k.startswith(("request", "policy_pub")))
    assert "一级指标减分上限为自身权重分值" in cfg.schemes["jinzhou2020"].source
    assert explanation_line({}, "2026-01-31") == "期限：2026-01-31"


SCHEME_A = """
[schemes.a]
name = "测试方案"
source = "测试"
[schemes.a.indicators.req]
name = "依申请公开"
weight = 6
source = "测试"
[schemes.a.indicators.req.items.request_reply]
points = 6
source = '鲤城'
"""


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
        ("[schemes.a]\nname = 'a'\nsource = 'x'\n", "schemes.a.indicators"),
        (SCHEME_A.replace("weight = 6\n", ""), "schemes.a.indicators.req.weight"),
        (SCHEME_A.replace("weight = 6", "weight = 'six'"), "schemes.a.indicators.req.weight"),
        (SCHEME_A.replace("weight = 6", "weight = 106"), "schemes.a.indicators"),
        (
            SCHEME_A.replace("points = 6\n", "points = 6\nlimit = 1\n"),
            "schemes.a.indicators.req.items.request_reply.limit",
        ),
        (SCHEME_A.replace("source = '鲤城'\n", ""), "schemes.a.indicators.req.items.request_reply.source"),
        (SCHEME_A + "[schemes.a.bonus.b]\nname = 'b'\npoints = 1\nmax = 2\nsource = 'x'\n", "schemes.a.bonus.b.basis"),
        ("default_scheme = 'b'\n" + SCHEME_A, "default_scheme"),
        ("[jurisdictions]\nqz-fgw = 'b'\n" + SCHEME_A, "jurisdictions.qz-fgw"),
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


# ---------------------------------------------------------------------------------- schemes (issue 17 §7)


def test_every_statutory_clock_costs_points_under_the_shipped_scheme():
    """Before the scheme a late budget or opinion response cost nothing: each scored rule is now weighted."""
    rules = load_rules()
    recs = [
        rec("B1", "budget_disclosure", "2026-08-20", "met", "2026-08-25", late=5),
        rec("O1", "opinion_response_general", "2026-08-01T10:00:00+08:00", "met", "2026-08-01T12:00:00+08:00", late=0),
    ]
    res = score_period(recs, parse_period("2026-Q3"), date(2026, 10, 16), load_scoring(), rules=rules)
    fin = res.summary[0]
    assert fin.indicators["proactive"].deduction == 5 and fin.indicators["opinion"].deduction == 5
    assert fin.score == 90
    cfg = load_scoring()
    # internal pre-deadlines (request_reply_draft) count only where a scheme weights them
    scored = {rid for rid, r in rules.items() if not r.lapses and not r.internal}
    for s in cfg.schemes.values():
        assert scored <= {i for ind in s.indicators.values() for i in ind.items}, s.id


def test_department_scored_under_the_scheme_of_its_jurisdiction(tmp_path):
    """`[jurisdictions]` names a department or a unit above it; the rest get default_scheme."""
    text = (Path(__file__).resolve().parents[1] / "config" / "scoring.toml").read_text(encoding="utf-8")
    p = tmp_path / "scoring.toml"
    p.write_text(text.replace('# "jz-zfb" = "jinzhou2020"', '"jz-zfb" = "jinzhou2020"'), encoding="utf-8")
    cfg = load_scoring(p)
    parents = {"jz-fgw": "jz-zfb", "jz-zfb": None, FIN: None}
    late = [
        rec(f"D{i}", "policy_publication", "2026-08-20", "open", overdue=9, dept=d)
        for i in range(8)
        for d in (FIN, "jz-fgw")
    ]
    res = score_period(late, parse_period("2026-Q3"), date(2026, 10, 16), cfg, rules=load_rules(), parents=parents)
    by = {d.department: d for d in res.summary}
    # 鲤城: 8 × 5 = 40 capped at 主动公开 10; 锦州 (placeholder items): 8 × 2 = 16 under its weight 30
    assert (by[FIN].scheme, by[FIN].indicators["proactive"].deduction, by[FIN].score) == ("licheng2020", 10, 90)
    jz = by["jz-fgw"]
    assert (jz.scheme, jz.indicators["proactive"].deduction, jz.indicators["proactive"].capped) == (
        "jinzhou2020",
        16,
        False,
    )
    assert jz.score == 84 and "锦州" in jz.scheme_name
    assert "鲤城" in res.config_source and "锦州" in res.config_source
    # without the parents map the department is not found under jz-zfb: the default scheme applies
    res = score_period(late, parse_period("2026-Q3"), date(2026, 10, 16), cfg, rules=load_rules())
    assert {d.scheme for d in res.summary} == {"licheng2020"}


def test_bonus_items_are_capped_and_added_after_deductions(tmp_path):
    p = tmp_path / "scoring.toml"
    p.write_text(
        SCHEME_A
        + "[schemes.a.bonus.fast]\nname = '按时答复'\nbasis = 'request_reply'\npoints = 1\nmax = 2\nsource = 'x'\n"
        + "[schemes.a.bonus.open]\nname = '依申请'\nbasis = 'on_request'\npoints = 0.5\nmax = 3\nsource = 'x'\n",
        encoding="utf-8",
    )
    from domain.scoring import Mark

    recs = [rec(f"R{i}", "request_reply", "2026-08-20", "met", "2026-08-01") for i in range(3)]
    recs.append(rec("R9", "request_reply", "2026-08-20", "met", "2026-08-25", late=3))
    marks = [Mark(kind="on_request", department=FIN, item_id="D1", item_type="document", on="2026-08-01")]
    res = score_period(
        recs, parse_period("2026-Q3"), date(2026, 10, 16), load_scoring(p), marks=marks, rules=load_rules()
    )
    d = res.summary[0]
    assert (d.bonus_items["fast"].count, d.bonus_items["fast"].points) == (3, 2)  # 3 on time, capped at 2
    assert (d.bonus_items["open"].count, d.bonus_items["open"].points) == (1, 0.5)
    assert (d.deduction, d.bonus, d.score) == (6, 2.5, 96.5)
    assert d.on_request == 1


def test_config_check_requires_every_scored_rule_in_each_scheme(tmp_path):
    import shutil

    from domain.config_check import check_config

    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    assert check_config(cfg) == []
    text = (cfg / "scoring.toml").read_text(encoding="utf-8")
    start = text.index("  [schemes.jinzhou2020.indicators.proactive.items.budget_disclosure]")
    end = text.index("  [schemes.jinzhou2020.indicators.proactive.items.withheld]")
    (cfg / "scoring.toml").write_text(text[:start] + text[end:], encoding="utf-8")
    problems = check_config(cfg)
    assert problems == [
        "scoring.toml: schemes.jinzhou2020: 时限规则 budget_disclosure 没有列入任何指标（每个计分的法定时限都应有权重）"
    ]
    (cfg / "scoring.toml").write_text(
        text.replace("items.budget_disclosure]", "items.budget_disclosure_x]", 1).replace(
            '# "jz-zfb" = "jinzhou2020"', '"jz-zfb" = "jinzhou2020"'
        ),
        encoding="utf-8",
    )
    problems = check_config(cfg)
    assert any(
        "schemes.licheng2020.indicators.proactive.items.budget_disclosure_x: 不是 rules.toml 中的规则" in p
        for p in problems
    )
    assert any("jurisdictions.jz-zfb: 不是 departments.toml 中的部门" in p for p in problems)


def test_normative_document_without_interpretation_deduction_is_configurable(tmp_path):
    """金东 2021 deducts 4 per normative document published without its interpretation: default 0 (counted and
    listed only); set in scoring.toml it is taken, within the indicator's weight."""
    from domain.scoring import marks_from_snapshots

    snaps = [
        ItemSnapshot(
            id=f"N{i}",
            type="document",
            department=FIN,
            title="规范性文件",
            data={
                "kind": "normative",
                "disclosure": "public",
                "needs_interpretation": False,
                "signed_on": "2026-08-03",
            },
        )
        for i in range(2)
    ]
    snaps.append(
        ItemSnapshot(
            id="P1",
            type="document",
            department=FIN,
            data={"kind": "policy", "needs_interpretation": False, "signed_on": "2026-08-03"},
        )
    )
    marks = marks_from_snapshots(snaps)
    assert [(m.kind, m.item_id) for m in marks] == [("no_interpretation", "N0"), ("no_interpretation", "N1")]
    q3, as_of = parse_period("2026-Q3"), date(2026, 10, 16)
    d = score_period([], q3, as_of, load_scoring(), marks=marks, rules=load_rules()).summary[0]
    assert (d.no_interpretation, d.deduction, d.score) == (2, 0, 100)
    text = (Path(__file__).resolve().parents[1] / "config" / "scoring.toml").read_text(encoding="utf-8")
    marker = "  [schemes.licheng2020.indicators.interpretation.items.no_interpretation]\n  points = 0"
    assert marker in text
    p = tmp_path / "scoring.toml"
    p.write_text(text.replace(marker, marker[:-1] + "4"), encoding="utf-8")
    res = score_period([], q3, as_of, load_scoring(p), marks=marks, rules=load_rules())
    d = res.summary[0]
    assert [r.deduction for r in res.details] == [4, 4]
    assert (d.indicators["interpretation"].raw_deduction, d.deduction, d.score) == (8, 5, 95)  # capped at 5
