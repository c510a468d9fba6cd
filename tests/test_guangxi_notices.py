"""Guangxi's 壮族三月三 notices 2014–2026 (config/calendars/guangxi-*.toml) and the estimate for later years.

Every expected date below was counted by hand from the notice (as cited in each file) against a printed
calendar; the national arrangement is the State Council's for that year (chinese-calendar).
"""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.calendar import WorkCalendar, load_calendar, load_overlays, load_region_rules, parse_overlay
from domain.clocks import compute
from domain.config import ConfigError, config_dir
from domain.rules import load_rules

D = dt.date
SHIXIAN = str(Path(sys.executable).with_name("shixian"))


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


@pytest.fixture(scope="module")
def rules_only():
    """The calendar as if no Guangxi notice were on file: every year is estimated from regions.toml."""
    return WorkCalendar([], load_region_rules(config_dir() / "regions.toml"))


# Per year, each date on which a Guangxi department's working day differs from a national one
# ("off": rests in Guangxi, works nationally; "work": the reverse).
NOTICE_DIFFERENCES = {
    2014: {"2014-04-02": "off", "2014-04-03": "off"},
    2015: {"2015-04-20": "off", "2015-04-21": "off"},  # 初二、初三
    2016: {"2016-04-08": "off", "2016-04-11": "off"},  # 3/3–3/4 Sat–Sun: Fri and Mon
    2017: {
        "2017-03-30": "off",
        "2017-03-31": "off",
        "2017-04-01": "off",  # national make-up Sat -> rest
        "2017-04-08": "work",
    },  # the region's own make-up Sat
    2018: {"2018-04-18": "off", "2018-04-19": "off", "2018-04-20": "off", "2018-04-15": "work"},
    2019: {"2019-04-04": "off", "2019-04-08": "off"},  # 3/3 on 清明 Sunday
    2020: {},  # cancelled (epidemic)
    2021: {"2021-04-14": "off", "2021-04-15": "off", "2021-04-16": "off", "2021-04-18": "work"},
    2022: {"2022-04-02": "off", "2022-04-06": "off"},  # national make-up Sat -> rest
    2023: {"2023-04-21": "off", "2023-04-23": "off"},  # national make-up Sun -> rest
    2024: {"2024-04-11": "off", "2024-04-12": "off"},
    2025: {"2025-03-31": "off", "2025-04-01": "off"},
    2026: {"2026-04-17": "off", "2026-04-20": "off"},
}


def differences(c: WorkCalendar, year: int) -> dict[str, str]:
    out = {}
    d = D(year, 1, 1)
    while d.year == year:
        gx, nat = c.is_workday(d, "guangxi"), c.is_workday(d)
        if gx != nat:
            out[d.isoformat()] = "work" if gx else "off"
        d += dt.timedelta(days=1)
    return out


@pytest.mark.parametrize("year", sorted(NOTICE_DIFFERENCES))
def test_each_year_matches_its_notice_and_is_not_provisional(cal, year):
    assert differences(cal, year) == NOTICE_DIFFERENCES[year]
    assert cal.regional_uncertainty("guangxi", D(year - 1, 12, 31), D(year, 12, 31)) == []
    row = {(r["year"], r["region"]): r for r in cal.status(range(year, year + 1))}[(year, "guangxi")]
    assert (row["coverage"], row["provisional"]) == ("overlay", False)
    assert any(f"guangxi-{year}.toml" in s for s in row["sources"])


@pytest.mark.parametrize(
    "start,n,guangxi,national",
    [
        (D(2014, 4, 1), 1, D(2014, 4, 4), D(2014, 4, 2)),
        (D(2016, 4, 7), 1, D(2016, 4, 12), D(2016, 4, 8)),
        (D(2017, 3, 29), 1, D(2017, 4, 5), D(2017, 3, 30)),  # 3/30–4/4 all off, incl. the national Sat 4/1
        (D(2017, 4, 7), 1, D(2017, 4, 8), D(2017, 4, 10)),  # Guangxi works Sat 4/8
        (D(2018, 4, 13), 1, D(2018, 4, 15), D(2018, 4, 16)),  # Guangxi works Sun 4/15
        (D(2018, 4, 17), 1, D(2018, 4, 23), D(2018, 4, 18)),
        (D(2019, 4, 3), 1, D(2019, 4, 9), D(2019, 4, 4)),
        (D(2020, 3, 25), 1, D(2020, 3, 26), D(2020, 3, 26)),  # holiday cancelled: same as national
        (D(2021, 4, 13), 1, D(2021, 4, 18), D(2021, 4, 14)),
        (D(2022, 4, 1), 1, D(2022, 4, 7), D(2022, 4, 2)),
        (D(2023, 4, 20), 1, D(2023, 4, 24), D(2023, 4, 21)),
        (D(2025, 3, 28), 1, D(2025, 4, 2), D(2025, 3, 31)),
        (D(2026, 4, 16), 1, D(2026, 4, 21), D(2026, 4, 17)),
        # 20 working days (request reply) across the festival, counted day by day:
        (D(2017, 3, 27), 20, D(2017, 4, 27), D(2017, 4, 25)),
        (D(2023, 4, 10), 20, D(2023, 5, 11), D(2023, 5, 9)),
    ],
)
def test_hand_counted_working_days(cal, start, n, guangxi, national):
    assert cal.add_working_days(start, n, "guangxi") == guangxi
    assert cal.add_working_days(start, n) == national
    assert cal.working_days_between(start, guangxi, "guangxi") == n


def test_request_reply_2023_04_10_is_the_notice_date_and_not_provisional(cal):
    # 4/11–4/14 (4), 4/17–4/20 (8), 4/21–4/23 off by the notice, 4/24–4/28 (13), 4/29–5/3 劳动节,
    # 5/4–5/5 (15), 5/6 make-up Saturday (16), 5/8–5/11 (20).
    dl = compute(load_rules()["request_reply"], D(2023, 4, 10), cal, "guangxi", explain=True)
    assert (dl.due, dl.provisional) == (D(2023, 5, 11), False)
    skipped = {s["date"]: s for s in dl.explanation["skipped"]}
    assert "guangxi-2023.toml" in skipped["2023-04-23"]["source"]


@pytest.mark.parametrize("year", [2014, 2016, 2019, 2022, 2023, 2024, 2025, 2026])
def test_estimate_reproduces_the_notices_that_followed_the_pattern(rules_only, year):
    # The estimate (lunar 3/3 and 3/4; a day on a rest day made up next to the run of rest days, before
    # first) gives what these notices gave. 2015 (初二–初三), 2017, 2018 and 2021 (extra bridge swaps)
    # and 2020 (cancelled) did something no rule predicts: that is why estimates stay provisional.
    assert differences(rules_only, year) == NOTICE_DIFFERENCES[year]
    assert rules_only.regional_uncertainty("guangxi", D(year, 3, 1), D(year, 4, 30))


@pytest.mark.parametrize("year", [2015, 2017, 2018, 2020, 2021])
def test_estimate_differs_where_the_notice_did_not_follow_the_pattern(rules_only, cal, year):
    assert differences(rules_only, year) != differences(cal, year)


def test_2027_has_no_notice_and_is_estimated_and_provisional(cal):
    # Lunar 3/3 = Fri 2027-04-09 (off), 3/4 = Sat 04-10 (a rest day, made up on Thu 04-08).
    assert differences(cal, 2027) == {"2027-04-08": "off", "2027-04-09": "off"}
    assert cal.day(D(2027, 4, 8), "guangxi").origin == "regional-estimate"
    dl = compute(load_rules()["request_reply"], D(2027, 4, 1), cal, "guangxi", explain=True)
    assert dl.provisional
    assert any("2027-04-08、2027-04-09" in r for r in dl.explanation["provisional_reasons"])


def test_notice_summary(cal):
    [gx] = [r for r in cal.notice_summary(2027) if r["region"] == "guangxi"]
    assert gx["region"] == "guangxi" and gx["since"] == 2014
    assert gx["covered"] == list(range(2014, 2027)) and gx["estimated"] == [2027]


def test_no_festival_before_2014(cal):
    row = {(r["year"], r["region"]): r for r in cal.status(range(2013, 2014))}[(2013, "guangxi")]
    assert (row["coverage"], row["provisional"]) == ("no-festival", False)


def test_a_notice_for_a_missing_year_replaces_the_estimate(tmp_path):
    # Remove 2019's file: the year falls back to the estimate (provisional); restoring it makes it final.
    d = tmp_path / "calendars"
    d.mkdir()
    for p in (config_dir() / "calendars").glob("guangxi-*.toml"):
        if p.name != "guangxi-2019.toml":
            (d / p.name).write_bytes(p.read_bytes())
    rules = load_region_rules(config_dir() / "regions.toml")
    without = WorkCalendar(load_overlays(d), rules)
    assert without.regional_uncertainty("guangxi", D(2019, 3, 31), D(2019, 4, 30))
    [gx] = [r for r in without.notice_summary(2026) if r["region"] == "guangxi"]
    assert gx["estimated"] == [2019]
    (d / "guangxi-2019.toml").write_bytes((config_dir() / "calendars" / "guangxi-2019.toml").read_bytes())
    assert WorkCalendar(load_overlays(d), rules).regional_uncertainty("guangxi", D(2019, 3, 31), D(2019, 4, 30)) == []


def test_notice_files_cite_their_source():
    for p in sorted((config_dir() / "calendars").glob("guangxi-*.toml")):
        ov = parse_overlay(p)
        year = int(p.stem.split("-")[1])
        assert ov.years == {year}, p.name  # one notice, one year
        assert str(year) in ov.source and "壮族三月三" in ov.source, p.name
        assert ov.issued_by == "广西壮族自治区人民政府办公厅" and ov.found_at, p.name
        assert "依据" in p.read_text(encoding="utf-8"), p.name  # the comment says what was found


@pytest.mark.parametrize(
    "extra,needle",
    [
        ('issued_on = "2023-02-30"\n', "issued_on"),
        ("issued_on = 12\n", "issued_on"),
        ('found_at = "http://x"\n', "found_at"),
        ('found_at = [""]\n', "found_at"),
        ('issued_by = ""\n', "issued_by"),
    ],
)
def test_bad_citation_fields_rejected(tmp_path, extra, needle):
    p = tmp_path / "gx.toml"
    p.write_text(
        'region = "guangxi"\nsource = "x"\n' + extra + '[days_off]\n"2027-04-09" = "壮族三月三"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        parse_overlay(p)
    assert "gx.toml" in str(exc.value) and needle in str(exc.value)


@pytest.mark.parametrize(
    "line,needle",
    [('makeup = "sideways"', "makeup"), ("uncertainty_days = -1", "uncertainty_days")],
)
def test_bad_region_rule_rejected(tmp_path, line, needle):
    p = tmp_path / "regions.toml"
    p.write_text(
        '[gx]\nsource = "x"\n[[gx.festivals]]\nname = "f"\nlunar_month = 3\nlunar_day = 3\n' + line + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=needle):
        load_region_rules(p)


def _run(*args):
    return subprocess.run([SHIXIAN, *args], capture_output=True, text=True, env=dict(os.environ), timeout=60)


def test_cli_deadline_and_status():
    r = _run("deadline", "request_reply", "2023-04-10", "--region", "guangxi")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["2023-05-11", "provisional: false"]
    r = _run("calendar", "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for y in range(2014, 2027):
        assert any(ln.startswith(f"{y}  guangxi    地方通知") and f"guangxi-{y}.toml" in ln for ln in lines), y
    assert any(ln.startswith("2027  guangxi    暂定") for ln in lines)
    assert "广西壮族自治区（guangxi）：2014–2026 年已录入地方通知" in r.stdout
    rows = json.loads(_run("calendar", "status", "--json").stdout)
    assert {x["year"] for x in rows if x["region"] == "guangxi" and x["coverage"] == "overlay"} == set(
        range(2014, 2027)
    )
