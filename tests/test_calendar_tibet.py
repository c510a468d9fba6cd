"""西藏/拉萨 calendars: the shipped notices of 拉萨市 on 藏历新年 (config/calendars/lhasa-*.toml).

Every date asserted here is copied from the notice (or the report of it) that the file cites; the
comments name it. 西藏自治区 itself sets no dates (its cities do), so `xizang` adds nothing on its own.
"""

import datetime as dt

import pytest

from domain.calendar import load_calendar

D = dt.date


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


def _span(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_lhasa_2023_losar_notice(cal):
    # 拉萨市人民政府办公室关于2023年藏历新年放假安排的通知（2023-02-14）：2月20日至2月26日放假调休，
    # 2月18日（星期六）、2月19日（星期日）上班。
    for day in _span(D(2023, 2, 20), D(2023, 2, 26)):
        info = cal.day(day, "lhasa")
        assert not info.workday, day
        assert "藏历新年" in info.reason
        assert "2023年藏历新年放假安排的通知" in info.source
        assert not info.provisional
    for day in (D(2023, 2, 18), D(2023, 2, 19)):
        assert cal.day(day, "lhasa").workday
        assert "调休上班" in cal.day(day, "lhasa").reason
        assert not cal.day(day).workday  # a weekend elsewhere
    # A request registered on the make-up Sunday: the next working day skips the whole holiday in 拉萨.
    assert cal.add_working_days(D(2023, 2, 19), 1, "lhasa") == D(2023, 2, 27)
    assert cal.add_working_days(D(2023, 2, 17), 1, "national") == D(2023, 2, 20)
    assert cal.add_working_days(D(2023, 2, 17), 1, "lhasa") == D(2023, 2, 18)


def test_lhasa_2025_losar_notice_without_makeup_days(cal):
    # 拉萨市人民政府办公室关于2025年藏历新年放假安排的通知（2025-02-11）：2月27日至3月4日，共6天，不调休。
    for day in _span(D(2025, 2, 27), D(2025, 3, 4)):
        info = cal.day(day, "lhasa")
        assert not info.workday, day
        assert "藏历新年" in info.reason
        assert "2025年藏历新年放假安排的通知" in info.source
    assert cal.add_working_days(D(2025, 2, 26), 1, "lhasa") == D(2025, 3, 5)
    assert cal.add_working_days(D(2025, 2, 26), 1, "national") == D(2025, 2, 27)
    assert cal.working_days_between(D(2025, 2, 26), D(2025, 3, 5), "lhasa") == 1
    assert cal.day(D(2025, 3, 1), "lhasa").workday is False  # a Saturday, no 调休


def test_lhasa_2026_spring_festival_and_losar_merged(cal):
    # 中新社2026-01-28 报道的拉萨市通知：春节、藏历新年放假12天，2月15日至2月26日放假调休，
    # 2月14日（周六）、2月28日（周六）上班。全国只放到2月23日。
    for day in _span(D(2026, 2, 15), D(2026, 2, 26)):
        info = cal.day(day, "lhasa")
        assert not info.workday, day
        assert "藏历新年" in info.reason
        assert "2026年春节、藏历新年放假安排的通知" in info.source
    for day in (D(2026, 2, 24), D(2026, 2, 25), D(2026, 2, 26)):
        assert cal.day(day).workday  # working days for the rest of the country
    assert cal.day(D(2026, 2, 14), "lhasa").workday and cal.day(D(2026, 2, 28), "lhasa").workday
    assert cal.add_working_days(D(2026, 2, 23), 1, "lhasa") == D(2026, 2, 27)
    assert cal.add_working_days(D(2026, 2, 23), 1, "national") == D(2026, 2, 24)


def test_lhasa_2022_losar_report(cal):
    # 中国新闻网2022-02-19 报道的拉萨市通知：3月2日至3月8日放假调休，2月26日（星期六）、3月13日（星期日）上班。
    for day in _span(D(2022, 3, 2), D(2022, 3, 8)):
        assert not cal.day(day, "lhasa").workday, day
        assert "2022年藏历新年放假安排的通知" in cal.day(day, "lhasa").source
    assert cal.day(D(2022, 2, 26), "lhasa").workday and not cal.day(D(2022, 2, 26)).workday
    assert cal.day(D(2022, 3, 13), "lhasa").workday and not cal.day(D(2022, 3, 13)).workday
    assert cal.add_working_days(D(2022, 3, 1), 1, "lhasa") == D(2022, 3, 9)
    assert cal.add_working_days(D(2022, 3, 1), 1, "national") == D(2022, 3, 2)


def test_xizang_sets_no_days_itself(cal):
    # The autonomous region leaves the dates to its cities: a department on `xizang` keeps the national days,
    # while 拉萨 (parent xizang) rests on its notice.
    for day in (D(2023, 2, 20), D(2025, 2, 27), D(2026, 2, 24)):
        assert cal.day(day, "xizang").workday
        assert not cal.day(day, "lhasa").workday


def test_lhasa_losar_2027_is_estimated_and_provisional(cal):
    # No 2027 notice is on file: 藏历新年 is estimated from the Losar table in config/regions.toml
    # (2027-02-07), 7 days from the day before; every such day is provisional.
    info = cal.day(D(2027, 2, 11), "lhasa")
    assert not info.workday
    assert info.provisional
    assert "藏历新年" in info.reason
