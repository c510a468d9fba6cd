"""凉山州 and 延边州 on the shipped calendar: each assertion restates a cited notice (config/calendars/)."""

import datetime as dt

import pytest

from domain.calendar import load_calendar

D = dt.date

LIANGSHAN_2023 = "凉山州人民政府办公室关于2023年部分节假日安排的通知"
LIANGSHAN_2024 = "凉山州人民政府办公室关于2024年部分节假日安排的通知"
YANBIAN_2023 = "延边朝鲜族自治州人民政府办公室关于2023年州庆放假的通告"
YANBIAN_2024 = "延边朝鲜族自治州人民政府办公室关于2024年州庆放假的通告"


@pytest.fixture(scope="module")
def cal():
    return load_calendar()


def off(cal, day, region, reason, source):
    info = cal.day(day, region)
    assert not info.workday, (day, info)
    assert reason in info.reason, (day, info)
    assert source in info.source, (day, info)
    assert not info.provisional


# 凉府办函〔2022〕121号: 民族团结进步节 8/9; 火把节 8/10–8/16, 8/6 (Sun) and 8/19 (Sat) worked;
# 中秋国庆州庆 9/29–10/7 (the State Council works 10/7); 彝历新年 11/20–11/26, 11/18 and 11/19 worked.
def test_liangshan_2023_notice(cal):
    off(cal, D(2023, 8, 9), "liangshan", "民族团结进步节", LIANGSHAN_2023)
    for d in (D(2023, 8, 10), D(2023, 8, 11), D(2023, 8, 14), D(2023, 8, 15), D(2023, 8, 16)):
        off(cal, d, "liangshan", "火把节", LIANGSHAN_2023)
    for d in (D(2023, 8, 6), D(2023, 8, 19), D(2023, 11, 18), D(2023, 11, 19)):
        info = cal.day(d, "liangshan")
        assert info.workday and "调休上班" in info.reason and LIANGSHAN_2023 in info.source, (d, info)
        assert not cal.day(d, "national").workday  # a weekend nationally
    # 10/7 is a national make-up Saturday; 凉山 rests for 州庆.
    assert cal.day(D(2023, 10, 7), "national").workday
    off(cal, D(2023, 10, 7), "liangshan", "州庆", LIANGSHAN_2023)
    for d in (D(2023, 11, 20), D(2023, 11, 24)):
        off(cal, d, "liangshan", "彝历新年", LIANGSHAN_2023)
    # National days still apply through the parent chain (liangshan -> sichuan -> national).
    assert not cal.day(D(2023, 10, 2), "liangshan").workday
    assert cal.day(D(2023, 10, 8), "liangshan").workday  # national make-up Sunday, worked in 凉山 too


def test_liangshan_2023_arithmetic(cal):
    # The day before 民族团结进步节: the next working day is after 火把节 in 凉山, the next day elsewhere.
    assert cal.add_working_days(D(2023, 8, 8), 1, "liangshan") == D(2023, 8, 17)
    assert cal.add_working_days(D(2023, 8, 8), 1, "national") == D(2023, 8, 9)
    assert cal.add_working_days(D(2023, 8, 8), 1, "sichuan") == D(2023, 8, 9)
    # The make-up Saturday 8/19 counts in 凉山: 8/17, 8/18, 8/19.
    assert cal.add_working_days(D(2023, 8, 8), 3, "liangshan") == D(2023, 8, 19)
    # 彝历新年: Friday 11/17 -> the make-up weekend 11/18, 11/19, then 11/27.
    assert cal.add_working_days(D(2023, 11, 17), 3, "liangshan") == D(2023, 11, 27)
    assert cal.add_working_days(D(2023, 11, 17), 3, "national") == D(2023, 11, 22)


# 凉府办函〔2023〕112号: 民族团结进步节 7/28; 火把节 7/29–8/4, 7/27 and 8/10 worked; 国庆州庆 10/1–10/8;
# 彝历新年 11/20–11/26, 11/17 and 11/30 worked.
def test_liangshan_2024_notice(cal):
    off(cal, D(2024, 7, 29), "liangshan", "火把节", LIANGSHAN_2024)
    off(cal, D(2024, 8, 2), "liangshan", "火把节", LIANGSHAN_2024)
    off(cal, D(2024, 10, 8), "liangshan", "州庆", LIANGSHAN_2024)
    assert cal.day(D(2024, 10, 8), "national").workday
    off(cal, D(2024, 11, 20), "liangshan", "彝历新年", LIANGSHAN_2024)
    assert cal.day(D(2024, 7, 27), "liangshan").workday
    assert cal.day(D(2024, 11, 30), "liangshan").workday
    assert cal.add_working_days(D(2024, 7, 26), 1, "liangshan") == D(2024, 7, 27)  # the make-up Saturday
    assert cal.add_working_days(D(2024, 7, 26), 2, "liangshan") == D(2024, 8, 5)
    assert cal.add_working_days(D(2024, 7, 26), 2, "national") == D(2024, 7, 30)
    # 凉山's days are not 延边's.
    assert cal.day(D(2024, 7, 29), "yanbian").workday


# 2023 通告 (2023-08-17): 9/3 (Sun) to 9/5 (Tue); 2024 通告 (2024-08-16): 9/2 (Mon) to 9/4 (Wed), no make-up days.
def test_yanbian_zhouqing(cal):
    off(cal, D(2023, 9, 4), "yanbian", "州庆", YANBIAN_2023)
    off(cal, D(2023, 9, 5), "yanbian", "州庆", YANBIAN_2023)
    assert cal.day(D(2023, 9, 6), "yanbian").workday
    for d in (D(2024, 9, 2), D(2024, 9, 3), D(2024, 9, 4)):
        off(cal, d, "yanbian", "州庆", YANBIAN_2024)
    assert cal.day(D(2024, 9, 5), "yanbian").workday
    assert cal.add_working_days(D(2024, 8, 30), 1, "yanbian") == D(2024, 9, 5)
    assert cal.add_working_days(D(2024, 8, 30), 1, "jilin") == D(2024, 9, 2)
    assert cal.add_working_days(D(2024, 8, 30), 1, "national") == D(2024, 9, 2)
    assert cal.add_working_days(D(2023, 9, 1), 1, "yanbian") == D(2023, 9, 6)
    assert cal.add_working_days(D(2023, 9, 1), 1, "national") == D(2023, 9, 4)


def test_partial_notice_covers_only_its_festival(cal):
    # liangshan-2022.toml is the notice for 火把节 only: 7/22–7/28 off, 7/17 and 7/30 worked, from the report.
    info = cal.day(D(2022, 7, 25), "liangshan")
    assert not info.workday and "火把节" in info.reason and not info.provisional
    assert cal.day(D(2022, 7, 30), "liangshan").workday
    # 彝族年 2022 has no notice on file: estimated from 11/20, provisional.
    est = cal.day(D(2022, 11, 21), "liangshan")
    assert not est.workday and est.provisional and "彝族年" in est.reason


# 黔南州 2024 notice (2024-01-09): 苗族 5/15, 布依族 7/11, 州庆 8/8–8/9. 恩施州 2023 notice: 州庆 8/21–8/22.
def test_qiannan_and_enshi(cal):
    qn = "黔南州人民政府办公室关于2024年民族传统节日和州庆放假的通知"
    off(cal, D(2024, 5, 15), "qiannan", "苗族传统节日", qn)
    off(cal, D(2024, 7, 11), "qiannan", "布依族传统节日", qn)
    off(cal, D(2024, 8, 9), "qiannan", "州庆", qn)
    assert cal.add_working_days(D(2024, 8, 7), 1, "qiannan") == D(2024, 8, 12)
    assert cal.add_working_days(D(2024, 8, 7), 1, "guizhou") == D(2024, 8, 8)
    off(cal, D(2023, 8, 21), "enshi", "州庆", "恩施州人民政府办公室关于2023年州庆放假的通知")
    assert cal.add_working_days(D(2023, 8, 18), 1, "enshi") == D(2023, 8, 23)
    assert cal.add_working_days(D(2023, 8, 18), 1, "hubei") == D(2023, 8, 21)


# 湘西州 2024 notice (2024-09-02): 9/15–9/20 off with 中秋节, 9/22 (Sun) worked; nationally 9/18–9/20 are worked.
def test_xiangxi_2024(cal):
    xx = "湘西自治州人民政府办公室关于2024年州庆放假的通知"
    off(cal, D(2024, 9, 18), "xiangxi", "州庆", xx)
    off(cal, D(2024, 9, 20), "xiangxi", "州庆", xx)
    assert not cal.day(D(2024, 9, 16), "xiangxi").workday  # 中秋节, national, through the parent chain
    assert cal.day(D(2024, 9, 22), "xiangxi").workday
    assert cal.add_working_days(D(2024, 9, 14), 1, "xiangxi") == D(2024, 9, 22)
    assert cal.add_working_days(D(2024, 9, 14), 1, "hunan") == D(2024, 9, 18)
