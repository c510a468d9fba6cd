"""Issue 20 §1: internal pre-deadlines per node (jurisdictions.toml [[node.deadline]]) become rules for the
items of the departments they cover; not statutory: config check does not ask a weight for them."""

from __future__ import annotations

import pytest

from domain.config import REPO_CONFIG
from domain.jurisdictions import JurisdictionError, parse_jurisdictions
from domain.rules import internal_rules, load_rules, parse_rules

PROVINCE = (REPO_CONFIG / "demo" / "province" / "jurisdictions.toml").read_text(encoding="utf-8")


def test_deadlines_parse_and_cover_the_nodes_they_name():
    tree = parse_jurisdictions(PROVINCE)
    got = {(n.id, d.id): tree.deadline_nodes(n.id, d) for n, d in tree.deadlines()}
    assert got == {
        ("wlmq", "dept_submit"): {"wlmq"},
        ("wlmq", "dept_publish"): {"wlmq"},
        ("wlmq", "county_rollup"): {"tsq", "sybkq"},
    }


def test_internal_rules_follow_their_statutory_rule_with_their_own_date():
    import tomllib

    rules = parse_rules(tomllib.loads((REPO_CONFIG / "rules.toml").read_text(encoding="utf-8")))
    extra = internal_rules(rules, parse_jurisdictions(PROVINCE))
    r = extra["pre_wlmq_dept_submit"]
    base = rules["annual_report_department"]
    assert (r.unit, r.month, r.day, r.internal, r.nodes) == ("fixed_date", 1, 26, True, frozenset({"wlmq"}))
    assert (r.start_event, r.met_by, r.when) == (base.start_event, base.met_by, base.when)
    assert "怀化市" in r.source and "1月26日" in r.quote
    assert extra["pre_wlmq_county_rollup"].when == rules["annual_report_government"].when
    # rules.toml's only internal rules are backward pre-deadlines (counted_back_from), off by default
    assert all(x.counted_back_from and x.nodes == frozenset() for x in rules.values() if x.internal)


def test_the_shipped_city_has_no_internal_rules():
    # request_reply_draft ships off (nodes = []): no department of the city has an internal clock
    assert not [r for r in load_rules(REPO_CONFIG).values() if r.internal and r.nodes != frozenset()]


@pytest.mark.parametrize(
    "entry, message",
    [
        ('id = "x"\nname = "n"\nrule = "r"\nmonth = 1\nday = 26\nsource = "s"\nwhen = 1', "未知的键"),
        ('id = "x"\nname = "n"\nrule = "r"\nmonth = 2\nday = 30\nsource = "s"', "month 与 day"),
        ('id = "x"\nname = "n"\nrule = "r"\nmonth = 1\nday = 2\nsource = "s"\napplies_to = "all"', "applies_to"),
        ('id = "x"\nname = "n"\nmonth = 1\nday = 2\nsource = "s"', "缺少 rule"),
    ],
)
def test_bad_deadlines_are_refused_with_the_node_named(entry, message):
    text = f'[[node]]\nid = "c"\nname = "市"\nlevel = "city"\n[[node.deadline]]\n{entry}\n'
    with pytest.raises(JurisdictionError, match=message) as exc:
        parse_jurisdictions(text)
    assert 'node "c"' in str(exc.value)


def test_an_internal_rule_is_named_as_internal():
    import tomllib

    rules = parse_rules(tomllib.loads((REPO_CONFIG / "rules.toml").read_text(encoding="utf-8")))
    text = (
        '[[node]]\nid = "c"\nname = "市"\nlevel = "city"\n[[node.deadline]]\nid = "x"\nname = "报送公开办"\n'
        'rule = "annual_report_department"\nmonth = 1\nday = 20\nsource = "s"\n'
    )
    (r,) = internal_rules(rules, parse_jurisdictions(text)).values()
    assert (r.id, r.name, r.nodes) == ("pre_c_x", "报送公开办（内部时限）", frozenset({"c"}))
    assert internal_rules(rules, parse_jurisdictions(PROVINCE))["pre_wlmq_dept_submit"].name == (
        "部门年报报送市政务公开办（内部时限）"
    )


def test_a_deadline_on_an_unknown_rule_is_a_config_error():
    from domain.config import ConfigError

    text = '[[node]]\nid = "c"\nname = "市"\nlevel = "city"\n[[node.deadline]]\nid = "x"\nname = "n"\nrule = "nope"\nmonth = 1\nday = 2\nsource = "s"\n'
    with pytest.raises(ConfigError, match="nope"):
        internal_rules({}, parse_jurisdictions(text))


def test_scores_count_an_internal_clock_only_where_the_scheme_weights_it():
    import tomllib

    from domain.scoring import ScoringConfig, check_scheme_rules

    rules = parse_rules(tomllib.loads((REPO_CONFIG / "rules.toml").read_text(encoding="utf-8")))
    extra = internal_rules(rules, parse_jurisdictions(PROVINCE))
    scheme = ScoringConfig()
    assert not scheme.weights("pre_wlmq_dept_submit")
    # a scheme with indicators need not list the internal rules (no "每个计分的法定时限都应有权重" complaint)
    from domain.engine import engine

    problems = check_scheme_rules(engine().scoring, rules | extra, [])
    assert not [p for p in problems if "pre_wlmq" in p]


def test_a_missed_internal_clock_does_not_touch_the_score_unless_weighted():
    import datetime as dt
    import tomllib

    from domain.scoring import ClockRecord, RuleDeduction, ScoringConfig, parse_period, score_period

    rules = parse_rules(tomllib.loads((REPO_CONFIG / "rules.toml").read_text(encoding="utf-8")))
    rules |= internal_rules(rules, parse_jurisdictions(PROVINCE))

    def rec(rule: str, due: str, met_on: str) -> ClockRecord:
        return ClockRecord(
            item_id="wlmq-jyj-ndbg",
            item_type="annual_report",
            department="wlmq-jyj",
            rule=rule,
            due=due,
            state="met",
            met_on=met_on,
            lateness_working_days=1 if met_on > due else 0,
        )

    records = [
        rec("annual_report_department", "2026-01-31", "2026-01-29"),  # on time (statutory)
        rec("pre_wlmq_dept_publish", "2026-01-28", "2026-01-29"),  # late against the city's 01-28
    ]
    period, as_of = parse_period("2026-Q1"), dt.date(2026, 4, 10)
    plain = score_period(records, period, as_of, ScoringConfig(), rules=rules)
    (d,) = plain.summary
    assert (d.items_due, d.on_time, d.late) == (1, 1, 0)
    weighted = ScoringConfig(deductions={"pre_wlmq_dept_publish": RuleDeduction(points=2, source="测试")})
    res = score_period(records, period, as_of, weighted, rules=rules)
    (d,) = res.summary
    assert (d.items_due, d.on_time, d.late, d.deduction) == (2, 1, 1, 2)
