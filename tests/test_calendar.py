"""Golden cases derived by hand from the State Council notices, overlays and bad input."""

import datetime as dt
import shutil
from pathlib import Path

import pytest

from domain.calendar import (
    WorkCalendar,
    decree_for,
    load_calendar,
    load_calendar_refusing,
    load_overlays,
    missing_statutory,
    parse_overlay,
    statutory_holidays,
)
from domain.config import ConfigError
from tests.pins import statutory_days_off

D = dt.date


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


# 2024 Spring Festival: off 2/10–2/17, make-up Sundays 2/4 and 2/18 (国办发明电〔2023〕7号).
@pytest.mark.parametrize(
    "start,n,due",
    [
        (D(2024, 2, 1), 1, D(2024, 2, 2)),
        (D(2024, 2, 1), 2, D(2024, 2, 4)),  # the make-up Sunday counts
        (D(2024, 2, 8), 2, D(2024, 2, 18)),  # 2/9 then the make-up Sunday 2/18, holiday skipped
        (D(2024, 2, 1), 20, D(2024, 3, 5)),
        (D(2024, 2, 9), 1, D(2024, 2, 18)),
    ],
)
def test_spring_festival_2024(cal, start, n, due):
    assert cal.add_working_days(start, n) == due


# 2025 National Day + Mid-Autumn: off 10/1–10/8, make-up 9/28 (Sun) and 10/11 (Sat) (国办发明电〔2024〕12号).
@pytest.mark.parametrize(
    "start,n,due",
    [
        (D(2025, 9, 26), 1, D(2025, 9, 28)),
        (D(2025, 9, 28), 2, D(2025, 9, 30)),
        (D(2025, 9, 28), 3, D(2025, 10, 9)),
        (D(2025, 9, 30), 2, D(2025, 10, 10)),
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        (D(2025, 9, 20), 20, D(2025, 10, 23)),
    ],
)
def test_national_day_2025(cal, start, n, due):
    assert cal.add_working_days(start, n) == due


def test_crossing_into_unpublished_2027_is_provisional(cal):
    # 2026-12-31 is a Thursday; 2027-01-01 元旦 (statutory) is a Friday; then weekend.
    assert cal.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)
    day = cal.day(D(2027, 2, 5))
    assert (day.workday, day.reason, day.provisional) == (False, "农历除夕", True)
    assert cal.day(D(2026, 12, 31)).provisional is False
    assert cal.national_coverage(2027) == "provisional"
    # No swaps are invented: 2027-02-20 is an ordinary Saturday.
    assert cal.is_workday(D(2027, 2, 20)) is False


def test_guangxi_sanyuesan_2024(cal):
    # National: 4/4–4/6 清明 off, 4/7 (Sun) make-up. Guangxi adds 4/11–4/12.
    assert cal.add_working_days(D(2024, 4, 1), 10) == D(2024, 4, 16)
    assert cal.add_working_days(D(2024, 4, 1), 10, "guangxi") == D(2024, 4, 18)
    assert cal.working_days_between(D(2024, 4, 10), D(2024, 4, 15), "guangxi") == 1
    assert cal.day(D(2024, 4, 11), "guangxi").reason == "壮族三月三"
    assert "guangxi-2024.toml" in cal.day(D(2024, 4, 11), "guangxi").source


def test_never_raises_outside_package_range(cal):
    for d in (D(1999, 5, 3), D(2030, 10, 2), D(2090, 1, 1)):
        cal.day(d)
    assert cal.add_working_days(D(2090, 1, 1), 300) > D(2091, 1, 1)
    assert cal.subtract_working_days(D(2001, 1, 10), 5) < D(2001, 1, 10)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / "calendars"
    p.mkdir(exist_ok=True)
    (p / name).write_text(text, encoding="utf-8")
    return p


def test_national_overlay_makes_year_official_and_corrects_package(tmp_path):
    d = write(
        tmp_path,
        "national-2027.toml",
        f"""
region = "national"
source = "国务院办公厅关于2027年部分节假日安排的通知"
[days_off]
{statutory_days_off(2027)}"2027-02-09" = "春节"
[workdays]
"2027-02-20" = "春节调休上班"
""",
    )
    write(
        tmp_path,
        "fix-2024.toml",
        """
region = "national"
source = "更正测试"
[workdays]
"2024-02-16" = "测试更正"
""",
    )
    cal = WorkCalendar(load_overlays(d))
    assert cal.national_coverage(2027) == "overlay"
    assert cal.national_coverage(2024) == "package+overlay"
    assert cal.is_workday(D(2027, 2, 20)) and not cal.is_workday(D(2027, 2, 9))
    # Make-up days (补假) are no longer invented for an officially covered year: the notice sets them.
    assert cal.is_workday(D(2027, 2, 10)) and not cal.day(D(2027, 2, 10)).provisional
    assert cal.is_workday(D(2024, 2, 16))  # overlay overrides the package on that date
    assert not cal.is_workday(D(2024, 2, 15))


def test_chinese_calendar_years_hold_every_statutory_holiday():
    # The published arrangements of 2008–2026 are the truth the completeness check must accept.
    from chinese_calendar import constants as cc

    for year in range(2008, 2027):
        off = {d for d in cc.holidays if d.year == year}
        work = {d for d in cc.workdays if d.year == year}
        assert missing_statutory(year, off, work) == [], year


def test_statutory_holidays_follow_the_decree_revision_of_their_year():
    # 2008–2013 (国务院令第513号): 春节 = 除夕、初一、初二; 2014–2024 (第644号): 初一至初三;
    # from 2025 (第795号): 除夕至初三, and 劳动节 5/1–5/2.
    assert D(2013, 2, 9) in statutory_holidays(2013) and D(2013, 2, 12) not in statutory_holidays(2013)
    assert D(2014, 1, 30) not in statutory_holidays(2014) and D(2014, 2, 2) in statutory_holidays(2014)
    assert D(2024, 5, 2) not in statutory_holidays(2024)
    assert {D(2025, 1, 28), D(2025, 1, 31), D(2025, 5, 2)} <= set(statutory_holidays(2025))
    assert "第644号" in decree_for(2024) and "第795号" in decree_for(2025) and "第513号" in decree_for(2008)


def test_national_file_dropping_statutory_holidays_is_refused(tmp_path):
    # The README's old example: a 2027 notice listing 元旦 only would have replaced every other holiday.
    d = write(tmp_path, "national-2027.toml", 'region = "national"\nsource = "x"\n[days_off]\n"2027-01-01" = "元旦"\n')
    with pytest.raises(ConfigError) as exc:
        load_overlays(d)
    text = str(exc.value)
    assert text.startswith("national-2027.toml:") and "国务院令第795号" in text
    for day in ("2027-02-05（农历除夕）", "2027-02-08（春节）", "2027-04-05（清明节）", "2027-10-01（国庆节）"):
        assert day in text
    assert "2027-01-01" not in text  # listed
    # A make-up workday on a statutory holiday drops it too, also in a year the package covers.
    d = write(
        tmp_path, "national-2027.toml", f'region = "national"\nsource = "x"\n[days_off]\n{statutory_days_off(2027)}'
    )
    write(tmp_path, "fix-2026.toml", 'region = "national"\nsource = "y"\n[workdays]\n"2026-10-01" = "上班"\n')
    with pytest.raises(ConfigError, match=r"fix-2026.toml: 2026年.*2026-10-01（国庆节）"):
        load_overlays(d)
    (d / "fix-2026.toml").unlink()
    assert WorkCalendar(load_overlays(d)).national_coverage(2027) == "overlay"  # complete: accepted


def test_incomplete_national_file_is_refused_alone_at_start(tmp_path):
    # A process starting with such a file refuses that file and keeps the rest (2027 stays provisional).
    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    (cfg / "calendars" / "national-2027.toml").write_text(
        'region = "national"\nsource = "x"\n[days_off]\n"2027-01-01" = "元旦"\n', encoding="utf-8"
    )
    cal, errors = load_calendar_refusing(cfg)
    assert len(errors) == 1 and "national-2027.toml" in errors[0] and "2027-02-05" in errors[0]
    assert cal.is_provisional_year(2027) and not cal.is_workday(D(2027, 2, 5))


@pytest.mark.parametrize(
    "text,needle",
    [
        ('region = "national"\n[days_off]\n"2027-01-01" = "元旦"\n', "缺少 source"),
        ('region = "national"\nsource = "x"\n[days_off]\n"2027-13-01" = "元旦"\n', "2027-13-01"),
        (
            'region = "national"\nsource = "x"\n[days_off]\n"2027-01-01" = "a"\n[workdays]\n"2027-01-01" = "b"\n',
            "2027-01-01 同时出现",
        ),
        ('region = "national"\nsource = "x"\nyear = 2027\n', "year"),
        ('region = "national"\nsource = "x"\n[days_off\n', "TOML"),
    ],
)
def test_bad_overlay_rejected_naming_file_and_entry(tmp_path, text, needle):
    d = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as exc:
        parse_overlay(d / "bad.toml")
    assert "bad.toml" in str(exc.value) and needle in str(exc.value)


def test_contradicting_files_rejected(tmp_path):
    write(tmp_path, "a.toml", 'region = "national"\nsource = "a"\n[days_off]\n"2027-03-01" = "x"\n')
    d = write(tmp_path, "b.toml", 'region = "national"\nsource = "b"\n[workdays]\n"2027-03-01" = "y"\n')
    with pytest.raises(ConfigError, match="b.toml.*a.toml"):
        load_overlays(d)


def test_unknown_region_is_a_clear_error(cal):
    with pytest.raises(ConfigError, match="未知地区 “mars”"):
        cal.check_region("mars")


def test_status_reports_sources(cal):
    rows = {(r["year"], r["region"]): r for r in cal.status(range(2024, 2028))}
    assert rows[(2024, "guangxi")]["coverage"] == "overlay"
    assert rows[(2026, "national")]["coverage"] == "package"
    assert rows[(2027, "national")]["provisional"] is True


def test_provisional_years_include_statutory_make_up_days(cal):
    # 《全国年节及纪念日放假办法》第六条: a holiday on a weekend is made up on a working day (补假).
    # 2027-02-06/07 (春节) fall on Sat/Sun, so 2/9 and 2/10 are off; 10/2–10/3 likewise give 10/4–10/5.
    for d in (D(2027, 2, 9), D(2027, 2, 10), D(2027, 10, 4), D(2027, 10, 5)):
        info = cal.day(d)
        assert (info.workday, info.provisional) == (False, True) and "补假" in info.reason
    assert cal.add_working_days(D(2027, 9, 29), 3) == D(2027, 10, 7)


def test_regional_festival_estimated_for_years_without_a_notice(cal):
    # No Guangxi notice for 2027 on file: 壮族三月三 is estimated from the lunar date (3/3 = Fri 2027-04-09,
    # 3/4 = Sat 04-10) and every result near it is provisional; results far from it are not.
    info = cal.day(D(2027, 4, 9), "guangxi")
    assert (info.workday, info.origin, info.provisional) == (False, "regional-estimate", True)
    assert cal.day(D(2027, 4, 9)).workday  # not for national departments
    assert cal.day(D(2027, 4, 8)).workday and not cal.day(D(2027, 4, 8), "guangxi").workday  # the make-up day
    assert cal.regional_uncertainty("guangxi", D(2027, 4, 1), D(2027, 4, 30))
    assert cal.regional_uncertainty("guangxi", D(2027, 7, 1), D(2027, 8, 1)) == []
    assert cal.regional_uncertainty("guangxi", D(2024, 4, 1), D(2024, 4, 30)) == []  # 2024 is on file
    row = {(r["year"], r["region"]): r for r in cal.status(range(2027, 2028))}[(2027, "guangxi")]
    assert row["coverage"] == "estimate" and row["provisional"]
    assert "2027-04-08" in row["sources"][0] and "2027-04-09" in row["sources"][0]


def test_event_errors_are_chinese_and_name_the_field():
    from domain.events import EventError, parse_event

    cases = [
        (
            {
                "event_id": "a",
                "type": "document.published",
                "document_id": "D",
                "published_on": "2026-13-01",
                "url": "http://u.cn",
            },
            "published_on",
            "不是有效日期",
        ),
        (
            {
                "event_id": "b",
                "type": "opinion.detected",
                "case_id": "C",
                "department": "d",
                "detected_at": "yesterday",
                "severity": "major",
            },
            "detected_at",
            "不是有效时间",
        ),
        (
            {
                "event_id": "c",
                "type": "request.extended",
                "request_id": "R",
                "on": "2026-11-02",
                "working_days": "many",
                "approved_by": "x",
                "notified_on": "2026-11-02",
                "reason": "y",
            },
            "working_days",
            "应为整数",
        ),
        (
            {
                "event_id": "d",
                "type": "annual_report.published",
                "department": "d",
                "year": 9999,
                "published_on": "2026-01-01",
                "url": "http://u.cn",
            },
            "year",
            "2000–2100",
        ),
        ({"event_id": "e", "type": "request.abandoned", "request_id": "R", "on": "2026-11-02"}, "type", "系统"),
    ]
    for obj, field, text in cases:
        with pytest.raises(EventError) as exc:
            parse_event(obj)
        assert exc.value.field == field and text in exc.value.reason, (obj, exc.value)


def test_shipped_config_has_the_national_notice_rhythm_and_older_files_no_evidence(cal):
    """regions.toml's [national] is the national notice's rhythm, not a region; the Guangxi files predate
    `evidence` (shown as 未注明) and Guangxi, without a parent, is its own chain."""
    assert cal.national_rule is not None and cal.national_rule.notice_by == "11-30"
    assert "national" not in cal.region_rules and cal.chain("guangxi") == ("guangxi",)
    assert {ov.evidence for ov in cal.overlays if ov.region == "guangxi"} == {"unknown"}
    # the national arrangement of a year after the package's is missing once 11-30 of the year before passed
    year = max(y for y in range(2020, 2040) if not cal.is_provisional_year(y)) + 1
    missing = cal.missing_notices(D(year - 1, 12, 1))
    assert [(m.region, m.year, m.expected) for m in missing if m.region == "national"] == [
        ("national", year, D(year - 1, 11, 30))
    ]
    assert not [m for m in cal.missing_notices(D(year - 1, 11, 30)) if m.region == "national"]


def test_fingerprint_follows_the_losar_table(tmp_path):
    (tmp_path / "calendars").mkdir()
    regions = tmp_path / "regions.toml"
    regions.write_text('[x]\nname = "某地"\nsource = "s"\n# losar: 2027-02-07 (某历书)\n', encoding="utf-8")
    before = load_calendar(tmp_path).fingerprint()
    regions.write_text('[x]\nname = "某地"\nsource = "s"\n# losar: 2027-02-08 (某历书)\n', encoding="utf-8")
    assert load_calendar(tmp_path).fingerprint() != before
