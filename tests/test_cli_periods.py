"""`shixian deadline --explain` for every new kind of period (months, years, 0 working days, minimum windows,
backward pre-deadlines), text and --json, through the real console script."""

import json
import shutil

from domain.config import REPO_CONFIG
from tests.test_cli_deadline import run


def test_minimum_window_names_its_last_day_and_the_earliest_close():
    r = run("deadline", "major_decision_consultation", "2026-03-02", "--explain")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "2026-04-01"  # start day not counted: day 30 is 04-01, a Wednesday
    assert "不少于30日，须在 2026-04-01 之后结束" in r.stdout
    assert "期满后仍在征求意见的，不属逾期" in r.stdout and "第十五条" in r.stdout
    out = json.loads(run("deadline", "normative_consultation", "2026-09-25", "--json", "--explain").stdout)
    # 7 working days over 中秋 and 国庆 (10-10 a make-up working day)
    assert out["due"] == "2026-10-12" and out["explanation"]["minimum"] is True
    assert out["explanation"]["earliest_close_after"] == "2026-10-12"


def test_counted_back_rule_computes_its_statutory_rule_first_and_shows_both():
    r = run("deadline", "request_reply_draft", "2026-03-02", "--explain")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "2026-03-25"
    assert "法定期限：2026-03-30（依申请公开答复）" in lines
    assert "倒推：2026-03-25" in lines and "内部时限" in r.stdout
    out = json.loads(run("deadline", "request_reply_draft", "2026-03-02", "--json", "--explain").stdout)
    ex = out["explanation"]
    assert (out["due"], ex["statutory_due"], ex["base"]["due"], ex["base"]["rule"]) == (
        "2026-03-25",
        "2026-03-30",
        "2026-03-30",
        "request_reply",
    )
    # over the Spring Festival 2026 (02-15..02-23 off, 02-14 and 02-28 make-up days) it moves with the base
    r = run("deadline", "--batch", "-", stdin="rule,start,region\nrequest_reply_draft,2026-02-10,\n")
    assert r.returncode == 0, r.stderr
    base = json.loads(run("deadline", "request_reply", "2026-02-10", "--json").stdout)["due"]
    draft = r.stdout.splitlines()[1].split(",")[3]
    assert (
        draft < base
        and json.loads(run("deadline", "request_reply_draft", "2026-02-10", "--json").stdout)["due"] == draft
    )


def test_same_day_rule_is_the_start_day_itself():
    r = run("deadline", "policy_interpretation_same_day", "2026-03-07", "--explain")  # a Saturday: not moved
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "2026-03-07"
    assert "须于 2026-03-07 当日完成" in r.stdout
    out = json.loads(run("deadline", "policy_interpretation_same_day", "2026-03-07", "--json", "--explain").stdout)
    assert out["explanation"]["length"] == 0


def test_months_and_years_with_explanation(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    with (cfg / "rules.toml").open("a", encoding="utf-8") as f:
        for rid, unit, length in (("t_months", "months", 1), ("t_quarter", "months", 3), ("t_years", "years", 1)):
            f.write(
                f'\n[rules.{rid}]\nname = "测试{rid}"\nunit = "{unit}"\nlength = {length}\n'
                f'start_event = "budget.approved"\nmet_by = ["budget.published"]\n'
                f'source = "《中华人民共和国民法典》第二百零二条"\nquote = "按照年、月计算期间的，到期月的对应日为期间的最后一日"\n'
            )
    env = {"SHIXIAN_CONFIG_DIR": str(cfg)}
    r = run("deadline", "t_months", "2026-01-31", "--explain", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "2026-02-28"  # no 31st in February: its last day
    assert "没有对应日" in r.stdout and "民法典第二百零二条" in r.stdout
    out = json.loads(run("deadline", "t_quarter", "2026-03-31", "--json", "--explain", env=env).stdout)
    assert out["due"] == "2026-06-30" and out["explanation"]["months"] == 3
    r = run("deadline", "t_years", "2024-02-29", "--explain", env=env)
    assert r.stdout.splitlines()[0] == "2025-02-28"  # 12 months; no 29th in February 2025
    out = json.loads(run("deadline", "t_months", "2026-09-01", "--json", "--explain", env=env).stdout)
    # 10-01 falls in the National Day holiday: moved to its next working day (民法典第二百零三条)
    assert out["explanation"]["nominal_last_day"] == "2026-10-01" and out["due"] == "2026-10-08"
    assert any("第二百零三条" in n for n in out["explanation"]["notes"])
