"""新疆 and 宁夏 Islamic festivals as the shipped notices give them (config/calendars/xinjiang-*, ningxia-*).

Every date below is copied from the notice (or report) cited in the file named; the README of config/calendars
says which years rest on reports only. A regional day off moves deadlines only for that region.
"""

import datetime as dt

import pytest

from domain.calendar import load_calendar

D = dt.date

XJ_2023 = "新疆维吾尔自治区人民政府办公厅关于2023年节假日放假安排和冬夏季作息时间的通知"
XJ_2025 = "新疆维吾尔自治区人民政府办公厅关于2025年节假日放假和冬夏季作息时间安排的通知"
NX_2020 = "宁夏回族自治区人民政府办公厅关于2020年部分节假日安排的通知"
NX_2021 = "宁夏回族自治区人民政府办公厅关于2021年部分节假日安排的通知"
NX_2022 = "宁夏回族自治区人民政府办公厅关于2022年部分节假日安排的通知"


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


@pytest.mark.parametrize(
    "region,day,festival,title",
    [
        # 2023: 肉孜节 4/22 is a Saturday, 4/21 off instead; 古尔邦节 6/28–30.
        ("xinjiang", D(2023, 4, 21), "肉孜节", XJ_2023),
        ("xinjiang", D(2023, 6, 28), "古尔邦节", XJ_2023),
        ("xinjiang", D(2023, 6, 30), "古尔邦节", XJ_2023),
        # 2025: 肉孜节 3/29 (Sat)–3/31 (Mon); 古尔邦节 6/6 (Fri)–6/10 (Tue).
        ("xinjiang", D(2025, 3, 31), "肉孜节", XJ_2025),
        ("xinjiang", D(2025, 6, 6), "古尔邦节", XJ_2025),
        ("xinjiang", D(2025, 6, 10), "古尔邦节", XJ_2025),
        # 宁夏 2020: 开斋节 5/25–26, 古尔邦节 7/30–31; 2021: 开斋节 5/13–14, 古尔邦节 7/19–20; 2022: 古尔邦节 7/11–12.
        ("ningxia", D(2020, 5, 25), "开斋节", NX_2020),
        ("ningxia", D(2020, 7, 30), "古尔邦节", NX_2020),
        ("ningxia", D(2021, 5, 14), "开斋节", NX_2021),
        ("ningxia", D(2021, 7, 19), "古尔邦节", NX_2021),
        ("ningxia", D(2022, 7, 12), "古尔邦节", NX_2022),
    ],
)
def test_notice_days_off(cal, region, day, festival, title):
    info = cal.day(day, region)
    assert info.workday is False
    assert festival in info.reason
    assert title in info.source
    assert not info.provisional
    assert cal.day(day).workday is True  # a weekday elsewhere: only the region rests


@pytest.mark.parametrize(
    "region,start,regional_due,national_due",
    [
        # The day before 古尔邦节 2023: 6/28–30 off, 7/1–2 weekend.
        ("xinjiang", D(2023, 6, 27), D(2023, 7, 3), D(2023, 6, 28)),
        # The day before 肉孜节 2023 (4/21 off, weekend, then 4/23 the national 劳动节 make-up Sunday).
        ("xinjiang", D(2023, 4, 20), D(2023, 4, 23), D(2023, 4, 21)),
        # 古尔邦节 2025: 6/6–10 off.
        ("xinjiang", D(2025, 6, 5), D(2025, 6, 11), D(2025, 6, 6)),
        # 开斋节 2020 (Friday 5/22 → 5/25–26 off).
        ("ningxia", D(2020, 5, 22), D(2020, 5, 27), D(2020, 5, 25)),
        # 古尔邦节 2021: 7/19–20 off.
        ("ningxia", D(2021, 7, 16), D(2021, 7, 21), D(2021, 7, 19)),
    ],
)
def test_deadline_skips_regional_days(cal, region, start, regional_due, national_due):
    assert cal.add_working_days(start, 1, region) == regional_due
    assert cal.add_working_days(start, 1, "national") == national_due


def test_regions_do_not_leak_into_each_other(cal):
    # Both regions' notices of 2021 and 2022 are on file; their 古尔邦节 days differ.
    assert cal.day(D(2021, 7, 19), "ningxia").workday is False
    assert cal.day(D(2021, 7, 19), "xinjiang").workday is True  # 新疆: 7/20–22
    assert cal.add_working_days(D(2021, 7, 16), 1, "xinjiang") == D(2021, 7, 19)
    assert cal.day(D(2022, 7, 13), "xinjiang").workday is False  # 新疆: 7/9–13
    assert cal.day(D(2022, 7, 13), "ningxia").workday is True  # 宁夏: 7/11–12


def test_ningxia_2022_eid_merged_with_labour_day(cal):
    # “劳动节、开斋节：4月30日至5月4日放假调休，共5天。4月24日（星期日）、5月7日（星期六）上班。” — no extra day.
    assert "开斋节" in cal.day(D(2022, 5, 3), "ningxia").reason
    assert cal.day(D(2022, 5, 5), "ningxia").workday is True
    assert cal.day(D(2022, 5, 7), "ningxia").workday is True
    assert cal.add_working_days(D(2022, 4, 29), 1, "ningxia") == cal.add_working_days(D(2022, 4, 29), 1)


def test_xinjiang_2022_ramadan_day_after_labour_day(cal):
    # 肉孜节 5/3 fell in the national 劳动节 holiday; “5月5日放假调休1天” (report of the notice's text).
    assert cal.day(D(2022, 5, 5), "xinjiang").workday is False
    assert cal.add_working_days(D(2022, 4, 29), 1, "xinjiang") == D(2022, 5, 6)
    assert cal.add_working_days(D(2022, 4, 29), 1) == D(2022, 5, 5)


def test_all_staff_days_only(cal):
    # No notice of either region gives a day to some staff only: the days around the festivals stay working days.
    for region, day in [("xinjiang", D(2023, 4, 20)), ("xinjiang", D(2025, 6, 11)), ("ningxia", D(2020, 7, 29))]:
        assert cal.day(day, region).workday is True


def test_per_festival_coverage(cal):
    # xinjiang-2024.toml is the 肉孜节 arrangement only: 2024 古尔邦节 stays estimated (provisional).
    assert cal.day(D(2024, 4, 10), "xinjiang").workday is False
    assert cal.regional_uncertainty("xinjiang", D(2024, 4, 1), D(2024, 4, 30)) == []
    assert cal.regional_uncertainty("xinjiang", D(2024, 6, 1), D(2024, 6, 30))
    assert cal.regional_uncertainty("xinjiang", D(2023, 6, 1), D(2023, 6, 30)) == []
    assert cal.regional_uncertainty("ningxia", D(2024, 4, 1), D(2024, 4, 30))  # no 宁夏 notice for 2024
