"""Issue 20 §2: inherited regional calendars (parents), partial days, per-festival coverage, the festival
kinds (solar, Islamic with a learned offset, Tibetan), ±N provisional reasons and missing notices.

Each test writes its own regions.toml and notices into a temporary config directory: the years are past
years the national data covers (2023–2025), or estimates whose national year does not matter."""

import datetime as dt
from pathlib import Path

import pytest

from domain.calendar import (
    LOSAR_PACKAGE_CAVEAT,
    NATIONAL,
    _islamic_dates,
    load_calendar,
    load_region_rules,
    parse_overlay,
)
from domain.config import ConfigError

D = dt.date

REGIONS = """
[national]
source = "国务院办公厅通知"
notice_by = "11-30"
notice_year = -1

[prov]
name = "某省"
source = "某省条例"

  [[prov.festivals]]
  name = "省节"
  calendar = "solar"
  month = 6
  day = 17
  days = 1
  since = 2020
  makeup = "none"
  uncertainty_days = 1

[pref]
name = "某州"
parent = "prov"
source = "某州自治条例"
notice_by = "12-31"
notice_year = -1

  [[pref.festivals]]
  name = "州庆"
  calendar = "solar"
  month = 6
  day = 16
  days = 1
  since = 2020
  makeup = "none"
  uncertainty_days = 1

  [[pref.festivals]]
  name = "火把节"
  lunar_month = 6
  lunar_day = 24
  days = 3
  since = 2020
  makeup = "none"
  uncertainty_days = 2

  [[pref.festivals]]
  name = "民族节"
  calendar = "solar"
  month = 3
  day = 10
  days = 1
  since = 2020
  staff = "some"
  makeup = "none"
  uncertainty_days = 1
"""


def config(tmp_path: Path, regions: str = REGIONS, **files: str) -> Path:
    (tmp_path / "calendars").mkdir(exist_ok=True)
    (tmp_path / "regions.toml").write_text(regions, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / "calendars" / f"{name.replace('_', '-')}.toml").write_text(text, encoding="utf-8")
    return tmp_path


PREF_2025 = """region = "pref"
source = "某州人民政府办公室关于2025年节假日安排的通知"
issued_by = "某州人民政府办公室"
issued_on = 2024-12-20
evidence = "notice"
found_at = ["https://example.org/n"]
[days_off]
"2025-06-16" = "州庆"
"2025-07-18" = "火把节"
[workdays]
"2025-06-19" = "州庆调休上班"
[partial_days_off]
"2025-06-20" = "民族节（少数民族职工放假1天）"
"""
PROV_2025 = """region = "prov"
source = "某省通知"
evidence = "report"
[days_off]
"2025-06-17" = "省节"
"2025-06-19" = "省节补休"
"""


def test_prefecture_day_plus_province_day_plus_national(tmp_path):
    cal = load_calendar(config(tmp_path, pref_2025=PREF_2025, prov_2025=PROV_2025))
    assert cal.chain("pref") == ("pref", "prov")
    fri = D(2025, 6, 13)
    assert cal.add_working_days(fri, 1) == D(2025, 6, 16)  # national: Monday
    assert cal.add_working_days(fri, 1, "prov") == D(2025, 6, 16)  # the province rests on Tuesday only
    assert cal.add_working_days(fri, 2, "prov") == D(2025, 6, 18)
    # the prefecture rests on Monday (its own) and Tuesday (its province's); Thursday it works although
    # the province rests: the most specific region's mark wins
    assert cal.add_working_days(fri, 1, "pref") == D(2025, 6, 18)
    assert cal.day(D(2025, 6, 17), "pref").reason == "省节"
    thu = cal.day(D(2025, 6, 19), "pref")
    assert thu.workday and thu.reason == "州庆调休上班" and "某州人民政府办公室" in thu.source
    assert not cal.day(D(2025, 6, 19), "prov").workday
    # national holidays still apply down the chain (端午 2025-05-31–06-02)
    assert not cal.day(D(2025, 6, 2), "pref").workday
    assert cal.check_region("pref") == "pref"


def test_partial_days_are_shown_and_never_move_a_deadline(tmp_path):
    cal = load_calendar(config(tmp_path, pref_2025=PREF_2025, prov_2025=PROV_2025))
    info = cal.day(D(2025, 6, 20), "pref")
    assert info.workday and info.partial == "民族节（少数民族职工放假1天）"
    assert "某州人民政府办公室" in (info.partial_source or "")
    assert cal.add_working_days(D(2025, 6, 19), 1, "pref") == D(2025, 6, 20)
    # an estimated some-staff festival (2027: no notice) is partial too, and no reason for provisional
    est = cal.day(D(2027, 3, 10), "pref")
    assert est.workday and est.partial and "部分职工" in est.partial
    assert cal.regional_uncertainty("pref", D(2027, 3, 1), D(2027, 3, 20)) == []


def test_explanation_lists_partial_days(tmp_path):
    from domain.clocks import compute
    from domain.rules import load_rules

    cal = load_calendar(config(tmp_path, pref_2025=PREF_2025, prov_2025=PROV_2025))
    rule = load_rules()["policy_interpretation"]  # 3 working days
    dl = compute(rule, D(2025, 6, 19), cal, "pref")
    assert dl.due == D(2025, 6, 24)  # 6/20 (partial: counted), 6/23, 6/24
    ex = dl.explanation
    assert [p["date"] for p in ex["partial_days"]] == ["2025-06-20"]
    assert "2025-06-20" in ex["counted"]


def test_coverage_is_per_festival(tmp_path):
    only_zhouqing = """region = "pref"
source = "某州关于2025年州庆放假的通知"
evidence = "report"
festivals = ["州庆"]
[days_off]
"2025-06-16" = "州庆"
"""
    cal = load_calendar(config(tmp_path, pref_2025_zhouqing=only_zhouqing))
    assert cal.is_covered("pref", 2025, "州庆") and not cal.is_covered("pref", 2025, "火把节")
    names = {e.festival.name for e in cal.estimates("pref", 2025)}
    assert names == {"火把节", "民族节"}  # 州庆 has its notice; the others are estimated
    torch = [d for d, (n, _) in cal.estimated_days("pref", 2025).items() if n.startswith("火把节")]
    assert torch and not cal.day(torch[0], "pref").workday
    assert cal.day(torch[0], "pref").origin == "regional-estimate"
    [row] = [r for r in cal.status(range(2025, 2026)) if r["region"] == "pref"]
    assert row["coverage"] == "estimate" and row["provisional"]
    # a file listing no festivals is the notice for all of them
    cal = load_calendar(config(tmp_path, pref_2025=PREF_2025))
    assert cal.estimates("pref", 2025) == []
    [summary] = [s for s in cal.notice_summary(2025) if s["region"] == "pref"]
    assert 2025 in summary["covered"] and summary["parent"] == "prov"


ISLAMIC = """
[xj]
name = "某自治区"
source = "某放假办法"

  [[xj.festivals]]
  name = "古尔邦节"
  calendar = "islamic"
  islamic = "eid_al_adha"
  days = 1
  since = 2020
  makeup = "none"
  uncertainty_days = 1
"""


def islamic_file(year: int, shift: int) -> str:
    day = _islamic_dates("eid_al_adha", year)[0] + dt.timedelta(days=shift)
    return f'region = "xj"\nsource = "某区{year}年通知"\nevidence = "notice"\n[days_off]\n"{day}" = "古尔邦节"\n'


def test_islamic_offset_is_learned_from_the_notices(tmp_path):
    pkg_2027 = _islamic_dates("eid_al_adha", 2027)[0]
    cal = load_calendar(config(tmp_path, ISLAMIC))
    assert cal.estimated_days("xj", 2027) and min(cal.estimated_days("xj", 2027)) == pkg_2027  # no file: 0
    files = {"xj_2023": islamic_file(2023, 0), "xj_2024": islamic_file(2024, 1), "xj_2025": islamic_file(2025, 1)}
    cal = load_calendar(config(tmp_path, ISLAMIC, **files))
    [fest] = cal.region_rules["xj"].festivals
    assert cal.islamic_offset("xj", fest) == 1  # the most common difference
    assert min(cal.estimated_days("xj", 2027)) == pkg_2027 + dt.timedelta(days=1)
    # a tie (one year +1, one year 0) goes to the smaller difference
    (tmp_path / "calendars" / "xj-2025.toml").unlink()
    assert load_calendar(tmp_path).islamic_offset("xj", fest) == 0
    # offset_days overrides what the notices say
    fixed = ISLAMIC.replace('islamic = "eid_al_adha"', 'islamic = "eid_al_adha"\n  offset_days = -1')
    cal = load_calendar(config(tmp_path, fixed))
    assert min(cal.estimated_days("xj", 2027)) == pkg_2027 - dt.timedelta(days=1)


TIBET = """
[xz]
name = "某区"
source = "某区规定"

[city]
name = "某市"
parent = "xz"
source = "某市通知"
notice_lead_days = 14
# losar: 2027-02-07 (某历书)

  [[city.festivals]]
  name = "藏历新年"
  calendar = "tibetan"
  days = 7
  start_offset = -1
  since = 2020
  makeup = "none"
  uncertainty_days = 1
"""


def test_tibetan_estimate_from_the_losar_table_or_the_package(tmp_path):
    cal = load_calendar(config(tmp_path, TIBET))
    assert cal.losar[2027][0] == D(2027, 2, 7)
    est = cal.estimated_days("city", 2027)
    assert sorted(est) == [D(2027, 2, 6) + dt.timedelta(days=i) for i in range(7)]
    [reason] = cal.regional_uncertainty("city", D(2027, 1, 20), D(2027, 2, 6))
    assert "藏历新年" in reason and "2027-02-06" in reason and "±1天" in reason
    assert LOSAR_PACKAGE_CAVEAT not in reason
    # a year not in the table: the package's (Bhutanese) date, with the caveat
    [e] = cal.estimates("city", 2028)
    assert e.caveat == LOSAR_PACKAGE_CAVEAT and e.base.year == 2028
    assert LOSAR_PACKAGE_CAVEAT in e.reason("某市")


def test_solar_estimate_and_uncertainty_window(tmp_path):
    cal = load_calendar(config(tmp_path))
    assert set(cal.estimated_days("pref", 2027)) >= {D(2027, 6, 16)}
    assert D(2027, 6, 17) in cal.estimated_days("prov", 2027)
    # the prefecture's clock knows of both its own and its province's estimates (±1 day)
    [reason] = cal.regional_uncertainty("pref", D(2027, 6, 1), D(2027, 6, 15))
    assert "州庆" in reason and "2027-06-16" in reason and "±1天" in reason
    reasons = cal.regional_uncertainty("pref", D(2027, 6, 1), D(2027, 6, 16))
    assert len(reasons) == 2 and any("某省2027年“省节”" in r for r in reasons)
    assert cal.regional_uncertainty("pref", D(2027, 6, 1), D(2027, 6, 14)) == []  # 6/15 is 6/16 − 1


def test_a_computed_deadline_touching_an_estimate_is_provisional_with_the_reason(tmp_path):
    from domain.clocks import compute
    from domain.rules import load_rules

    cal = load_calendar(config(tmp_path, TIBET))
    rule = load_rules()["policy_interpretation"]
    # 2026 is published nationally; the city's 2026 藏历新年 (Losar 2026-02-18 from the package) is estimated
    dl = compute(rule, D(2026, 2, 12), cal, "city")
    assert dl.due == D(2026, 2, 24) and dl.provisional  # 2/13, 2/14 (调休), then after 春节
    reasons = dl.explanation["provisional_reasons"]
    assert any("藏历新年" in r and "±1天" in r for r in reasons)
    assert not compute(rule, D(2026, 6, 1), cal, "city").provisional
    # the fast path (no explanation) agrees
    assert compute(rule, D(2026, 2, 12), cal, "city", explain=False).provisional


def test_missing_notices_with_pinned_dates(tmp_path):
    cal = load_calendar(config(tmp_path, TIBET + REGIONS))
    # 2027-01-05: the national arrangement for 2027 was due by 2026-11-30; the prefecture's 2027 notice by
    # 2026-12-31 (its two all-staff festivals and the partial one: one notice)
    got = {(m.region, m.year): m for m in cal.missing_notices(D(2027, 1, 5))}
    assert set(got) == {(NATIONAL, 2027), ("pref", 2027)}
    assert got[NATIONAL, 2027].expected == D(2026, 11, 30)
    assert got["pref", 2027].expected == D(2026, 12, 31)
    assert set(got["pref", 2027].festivals) == {"州庆", "火把节", "民族节"}
    assert "某州2027年" in got["pref", 2027].text and "2026-12-31" in got["pref", 2027].text
    # the city's notice is due 14 days before its first day off (2027-02-06 − 14 = 2027-01-23)
    assert ("city", 2027) not in {(m.region, m.year) for m in cal.missing_notices(D(2027, 1, 23))}
    city = [m for m in cal.missing_notices(D(2027, 1, 24)) if m.region == "city"]
    assert [(m.year, m.expected) for m in city] == [(2027, D(2027, 1, 23))]
    # a file for the year silences it
    f = 'region = "city"\nsource = "某市2027年藏历新年通知"\nevidence = "notice"\n[days_off]\n"2027-02-06" = "藏历新年"\n'
    (tmp_path / "calendars" / "city-2027.toml").write_text(f, encoding="utf-8")
    assert not [m for m in load_calendar(tmp_path).missing_notices(D(2027, 1, 24)) if m.region == "city"]
    # before 12-01 of the year before, nothing national is late; a published year never is
    assert not [m for m in cal.missing_notices(D(2026, 11, 30)) if m.region == NATIONAL]


def test_regions_toml_parent_errors(tmp_path):
    bad = REGIONS.replace('parent = "prov"', 'parent = "nowhere"')
    (tmp_path / "regions.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"regions\.toml.*nowhere"):
        load_region_rules(tmp_path / "regions.toml")
    cycle = REGIONS.replace('source = "某省条例"', 'source = "某省条例"\nparent = "pref"')
    (tmp_path / "regions.toml").write_text(cycle, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"regions\.toml.*循环"):
        load_region_rules(tmp_path / "regions.toml")


def test_new_keys_need_evidence(tmp_path):
    p = tmp_path / "x-2025.toml"
    p.write_text('region = "x"\nsource = "s"\nfestivals = ["a"]\n[days_off]\n"2025-01-02" = "a"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="evidence"):
        parse_overlay(p)
    p.write_text('region = "x"\nsource = "s"\nevidence = "rumour"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="evidence"):
        parse_overlay(p)
    p.write_text('region = "x"\nsource = "s"\n[days_off]\n"2025-01-02" = "a"\n', encoding="utf-8")
    assert parse_overlay(p).evidence == "unknown"  # files from before issue 20


def test_admins_digest_gets_one_line_per_missing_notice(tmp_path):
    """plan_for (the digest activity's pure part) on the sample directory, with the calendar of a temp
    config: the admin reads the national and its departments' regions' missing notices; a region no
    department uses is not their business."""
    from activities.digests import plan_for
    from activities.notify_templates import render
    from domain.directory import load_directory

    regions = (
        REGIONS
        + '\n[guangxi]\nname = "广西壮族自治区"\nsource = "某办法"\nnotice_lead_days = 30\n'
        + (
            '  [[guangxi.festivals]]\n  name = "壮族三月三"\n  lunar_month = 3\n  lunar_day = 3\n  days = 2\n'
            "  since = 2014\n"
        )
    )
    cal = load_calendar(config(tmp_path, regions))
    directory = load_directory()
    assert {d.region for d in directory.departments.values()} == {"guangxi"}
    day = D(2027, 4, 1)  # a Thursday; 三月三 2027 is 04-09: its notice was due by 03-10
    plan = plan_for(day, [], directory, cal)
    [msg] = [m for m in plan.messages if m.step == "digest_admin"]
    assert msg.person_id == "admin"
    lines = msg.context["missing_notices"]
    assert lines == [
        "全国2027年放假安排通知通常于 2026-11-30 前发布，尚未录入",
        "广西壮族自治区2027年壮族三月三放假通知通常于 2027-03-10 前发布，尚未录入",
    ]
    title, body = render("digest_admin", msg.context)
    assert title == "【日历通知未录入】2027年4月1日：2份放假通知通常已发布，尚未录入"
    assert lines[1] in body and "某州" not in body
    # nothing missing (the 2026 notice on file, 2027's not yet due): no admin digest
    from domain.config import REPO_CONFIG

    (tmp_path / "calendars" / "guangxi-2026.toml").write_bytes(
        (REPO_CONFIG / "calendars/guangxi-2026.toml").read_bytes()
    )
    cal = load_calendar(tmp_path)
    assert not [m for m in plan_for(D(2026, 10, 12), [], directory, cal).messages if m.step == "digest_admin"]


async def test_calendar_page_shows_tree_evidence_partial_estimates_and_missing(tmp_path, monkeypatch):
    """The calendar page over real HTTP (ASGI) on a temp config: the region tree with parents, a notice's
    evidence and links, its partial days, the estimates with ±N天 and the missing notices."""
    import shutil

    import httpx

    import domain.engine as engine_mod
    from domain.config import REPO_CONFIG

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "regions.toml").write_text(
        (REPO_CONFIG / "regions.toml").read_text(encoding="utf-8") + REGIONS.replace("[national]", "[national_x]"),
        encoding="utf-8",
    )
    (cfg / "calendars" / "pref-2025.toml").write_text(PREF_2025, encoding="utf-8")
    (cfg / "calendars" / "prov-2025.toml").write_text(PROV_2025, encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SHIXIAN_WEB_ANONYMOUS", "read")
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    from store.db import database_url, get_engine, init_db

    init_db(get_engine(database_url()))
    engine_mod.reset()
    try:
        from app.web.server import create_app
        from domain.shanghai import today

        app = create_app(None, host="127.0.0.1")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            r = await c.get("/calendar")
        assert r.status_code == 200
        page = r.text
        tree = page[page.index('id="region-tree"') : page.index("</ul>", page.index('id="region-tree"'))]
        assert tree.index("某省") < tree.index("某州") and "上级：某省" in tree
        assert "通知原文" in page and "仅见报道" in page and "未注明" in page  # pref, prov, the Guangxi files
        assert '<a href="https://example.org/n"' in page
        assert "民族节（少数民族职工放假1天）" in page and "部分职工放假（不影响期限）" in page
        assert "暂定 ±1天" in page and f"{today().year + 1}年“州庆”放假通知未录入" in page
        # the prefecture's notice for this year (due 12-31 of the year before) is never on file here
        missing = engine_mod.engine().calendar.missing_notices(today())
        assert ("pref", today().year) in {(m.region, m.year) for m in missing}
        listed = page[page.index('id="missing-notices"') :]
        for m in missing:
            assert m.text in listed
    finally:
        engine_mod.reset()


def test_cli_status_lists_missing_notices_and_deadline_explains_the_estimate(tmp_path):
    """`shixian calendar status` and `shixian deadline --explain` through the console script."""
    import os
    import shutil
    import subprocess
    import sys

    from domain.config import REPO_CONFIG

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "regions.toml").write_text(
        (REPO_CONFIG / "regions.toml").read_text(encoding="utf-8") + TIBET + REGIONS.replace("[national]", "[nat_x]"),
        encoding="utf-8",
    )
    env = {**os.environ, "SHIXIAN_CONFIG_DIR": str(cfg)}
    shixian = str(Path(sys.executable).with_name("shixian"))

    def run(*args):
        return subprocess.run([shixian, *args], capture_output=True, text=True, env=env, timeout=60)

    r = run("calendar", "status")
    assert r.returncode == 0, r.stderr
    assert "某州（pref，上级：某省）" in r.stdout
    assert [line for line in r.stdout.splitlines() if line.startswith("未录入：某州")]
    r = run("deadline", "policy_interpretation", "2026-02-12", "--region", "city", "--explain")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "2026-02-24（暂定）"
    assert "暂定：某市2026年“藏历新年”放假通知未录入" in r.stdout and "±1天" in r.stdout


def test_since_and_until_bound_the_estimates(tmp_path):
    regions = REGIONS.replace(
        '  since = 2020\n  makeup = "none"\n  uncertainty_days = 1\n\n[pref]',
        '  since = 2020\n  until = 2026\n  makeup = "none"\n  uncertainty_days = 1\n\n[pref]',
    )
    assert "until = 2026" in regions
    cal = load_calendar(config(tmp_path, regions))
    assert D(2026, 6, 17) in cal.estimated_days("prov", 2026)
    assert cal.estimated_days("prov", 2027) == {} and cal.estimated_days("prov", 2019) == {}
    assert cal.day(D(2027, 6, 17), "prov").workday  # a Thursday
