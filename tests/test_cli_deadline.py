"""`shixian deadline`, `--batch` and `calendar status` through the real console script."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.pins import statutory_days_off

SHIXIAN = str(Path(sys.executable).with_name("shixian"))


def run(*args, stdin=None, env=None):
    return subprocess.run(
        [SHIXIAN, *args], input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60
    )


def test_deadline_plain_and_json():
    r = run("deadline", "request_reply", "2024-02-01")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "2024-03-05"
    assert "provisional: false" in r.stdout
    r = run("deadline", "request_reply", "2026-12-20", "--json", "--explain")
    out = json.loads(r.stdout)
    assert out["due"] == "2027-01-18" and out["provisional"] is True and out["region"] == "national"
    assert out["explanation"]["counted_working_days"] == 20
    assert out["explanation"]["provisional_reasons"]


def test_deadline_hours_prints_datetime_with_offset():
    r = run("deadline", "opinion_response_press", "2024-10-01T09:00", "--json")
    assert json.loads(r.stdout)["due"] == "2024-10-02T09:00:00+08:00"


def test_deadline_region_and_explain_text():
    r = run("deadline", "policy_interpretation", "2024-04-10", "--region", "guangxi", "--explain")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == "2024-04-17"  # 4/11–4/12 壮族三月三, weekend, 4/15 4/16 4/17
    assert "壮族三月三" in r.stdout


def test_bad_input_errors():
    r = run("deadline", "no_such_rule", "2024-01-01")
    assert r.returncode != 0 and "未知规则 “no_such_rule”" in r.stderr
    r = run("deadline", "request_reply", "2024-02-30")
    assert r.returncode != 0 and "2024-02-30" in r.stderr
    r = run("deadline", "request_reply", "2024-02-01", "--region", "atlantis")
    assert r.returncode != 0 and "atlantis" in r.stderr


def test_batch_in_order_and_bad_row():
    text = (
        "rule,start,region\nrequest_reply,2024-02-01,\npolicy_publication,2024-04-01,guangxi\n"
        "opinion_response_info,2024-09-10T22:00,\nrequest_reply,2026-12-20,national\n"
    )
    r = run("deadline", "--batch", "-", stdin=text)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "rule,start,region,due,provisional",
        "request_reply,2024-02-01,,2024-03-05,false",
        "policy_publication,2024-04-01,guangxi,2024-05-06,false",
        "opinion_response_info,2024-09-10T22:00,,2024-09-11T03:00:00+08:00,false",
        "request_reply,2026-12-20,national,2027-01-18,true",
    ]
    bad = "rule,start,region\nrequest_reply,2024-02-01,\nrequest_reply,not-a-date,\n"
    r = run("deadline", "--batch", "-", stdin=bad)
    assert r.returncode != 0 and "第 3 行" in r.stderr and "not-a-date" in r.stderr
    assert r.stdout == ""  # nothing half-printed
    r = run("deadline", "--batch", "-", stdin="rule,begin\nx,y\n")
    assert r.returncode != 0 and "表头" in r.stderr


def test_calendar_status_and_config_dir_override(tmp_path):
    r = run("calendar", "status", "--json")
    rows = {(x["year"], x["region"]): x for x in json.loads(r.stdout)}
    assert rows[(2027, "national")]["coverage"] == "provisional"
    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    (cfg / "calendars" / "national-2027.toml").write_text(
        'region = "national"\nsource = "国务院办公厅关于2027年部分节假日安排的通知（测试）"\n'
        f'[days_off]\n{statutory_days_off(2027)}"2027-01-04" = "元旦"\n',
        encoding="utf-8",
    )
    env = {"SHIXIAN_CONFIG_DIR": str(cfg)}
    r = run("calendar", "status", "--json", env=env)
    rows = {(x["year"], x["region"]): x for x in json.loads(r.stdout)}
    assert rows[(2027, "national")]["coverage"] == "overlay"
    r = run("deadline", "request_reply", "2026-12-20", "--json", env=env)
    out = json.loads(r.stdout)
    assert out["provisional"] is False and out["due"] == "2027-01-19"  # 1/4 now off too
    (cfg / "calendars" / "broken.toml").write_text('region = "x"\n', encoding="utf-8")
    r = run("deadline", "request_reply", "2024-01-01", env=env)
    assert r.returncode != 0 and "broken.toml" in r.stderr


def test_config_check_catches_cross_file_problems(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    env = {"SHIXIAN_CONFIG_DIR": str(cfg)}
    assert run("config", "check", env=env).returncode == 0
    deps = cfg / "departments.toml"
    deps.write_text(
        deps.read_text(encoding="utf-8") + '\n[[department]]\nid = "qz-new"\nname = "新设部门"\nregion = "penglai"\n',
        encoding="utf-8",
    )
    (cfg / "templates" / "notify" / "t_minus_3.j2").unlink()
    r = run("config", "check", env=env)
    assert r.returncode == 2
    assert 'department "qz-new"' in r.stderr and "penglai" in r.stderr and "t_minus_3.j2" in r.stderr


def test_config_check_refuses_a_national_file_that_drops_statutory_holidays(tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    env = {"SHIXIAN_CONFIG_DIR": str(cfg)}
    notice = cfg / "calendars" / "national-2027.toml"
    notice.write_text('region = "national"\nsource = "测试"\n[days_off]\n"2027-01-01" = "元旦"\n', encoding="utf-8")
    r = run("config", "check", env=env)
    assert r.returncode != 0
    assert (
        "national-2027.toml" in r.stderr and "2027-02-05（农历除夕）" in r.stderr and "2027-10-01（国庆节）" in r.stderr
    )
    notice.write_text(f'region = "national"\nsource = "测试"\n[days_off]\n{statutory_days_off(2027)}', encoding="utf-8")
    assert run("config", "check", env=env).returncode == 0


def test_deadline_before_the_rules_source_says_it_was_not_in_force():
    r = run("deadline", "request_reply", "2008-04-30")
    assert r.returncode == 0 and "该时限规则当时尚未施行（自 2008-05-01 起施行）" in r.stderr
    r = run("deadline", "request_reply", "2008-05-01")
    assert r.returncode == 0 and "尚未施行" not in r.stderr
