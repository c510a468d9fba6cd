"""The pinned "today" (tests/pins.py): the days chosen and that a pinned session really runs on them."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from domain import shanghai
from domain.calendar import load_calendar
from domain.config import REPO_CONFIG
from tests import pins
from tests.workflow_harness import stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def cal():
    return load_calendar(REPO_CONFIG)


def test_the_pinned_days_are_what_broke_tests():
    c = cal()
    # from a known past day: the days of 2026's published arrangement
    assert pins.friday_before_holiday(dt.date(2026, 4, 1), c) == dt.date(2026, 4, 3)  # 清明节 4-4..4-6
    assert pins.friday_before_holiday(dt.date(2026, 9, 1), c) == dt.date(2027, 4, 2)  # provisional 2027
    assert pins.makeup_saturday(dt.date(2026, 9, 1), c) == dt.date(2026, 10, 10)
    assert pins.december_31(dt.date(2026, 12, 2)) == dt.date(2026, 12, 31)
    assert pins.december_31(dt.date(2026, 12, 31)) == dt.date(2027, 12, 31)
    today = dt.date(2026, 12, 2)
    days = pins.pins(today)
    assert len(days) == 3 and all(d > today for d, _ in days)
    friday, (saturday, config), dec31 = days[0][0], days[1], days[2][0]
    assert friday.weekday() == 4 and c.is_workday(friday) and dec31 == dt.date(2026, 12, 31)
    assert saturday.weekday() == 5
    if config is not None:  # no make-up Saturday ahead in the data: a test notice makes one
        assert load_calendar(config).is_workday(saturday) and not c.is_workday(saturday)
        shutil.rmtree(config.parent)


def test_a_test_notice_for_a_provisional_year_keeps_its_statutory_holidays():
    # From late December the next Saturdays lie in 2027: its test notice must list the decree's holidays, or
    # the calendar refuses it (domain.calendar.check_national_complete).
    saturday = dt.date(2027, 1, 2)
    config = pins.config_with_makeup(saturday)
    try:
        loaded = load_calendar(config)
        assert loaded.is_workday(saturday) and not loaded.is_provisional_year(2027)
        assert not loaded.is_workday(dt.date(2027, 2, 5)) and not loaded.is_workday(dt.date(2027, 10, 1))
    finally:
        shutil.rmtree(config.parent)


@pytest.mark.date_sensitive
async def test_a_pinned_session_runs_on_its_day(temporal_test_server_path, tmp_path, monkeypatch):
    env = await pins.start_time_skipping(temporal_test_server_path)
    try:
        async with stack(env, tmp_path, monkeypatch) as st:
            server_today = await st.today()
            assert shanghai.today() == server_today  # the process clock agrees with the server's
            day = pins.pinned_day()
            if day is not None:
                assert server_today == day
                assert (await st.now()).time() >= pins.PIN_TIME
    finally:
        await env.shutdown()
