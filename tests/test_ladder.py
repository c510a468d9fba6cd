"""Reminder ladder planning (pure): once per step, working days only, backfill, cadence."""

import datetime as dt

import pytest

from domain.calendar import load_calendar
from domain.config import REPO_CONFIG, ConfigError
from domain.ladder import load_ladders, plan
from domain.shanghai import SHANGHAI

CAL = load_calendar()
L = load_ladders()


def at(y, m, d, h=9, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=SHANGHAI)


def keys(steps):
    return [(s.key, s.fire_at.isoformat()) for s in steps]


def test_default_ladder_skips_rest_days():
    # Due Thursday 2025-10-09, the first working day after the National Day holiday (10/1–10/8);
    # three working days before it: 9/30, 9/29 and the make-up Sunday 9/28.
    steps = plan(L.default, dt.date(2025, 10, 9), CAL, "national", at(2025, 9, 20))
    assert keys(steps) == [
        ("t_minus_3@2025-10-09", "2025-09-28T09:00:00+08:00"),
        ("t_minus_1@2025-10-09", "2025-09-30T09:00:00+08:00"),
        ("due_today@2025-10-09", "2025-10-09T09:00:00+08:00"),
        ("overdue_1@2025-10-09", "2025-10-10T09:00:00+08:00"),
    ]
    for s in steps:
        assert CAL.is_workday(s.fire_at.date())


def test_make_up_saturday_can_carry_a_step():
    # 2025-10-11 (Saturday) is a make-up working day: overdue_1 for a 10/10 due date fires then.
    steps = plan(L.default, dt.date(2025, 10, 10), CAL, "national", at(2025, 10, 1))
    assert ("overdue_1@2025-10-10", "2025-10-11T09:00:00+08:00") in keys(steps)


def test_fired_steps_do_not_come_back_and_repeats_follow_the_last_notice():
    due = dt.date(2026, 11, 2)
    now = at(2026, 11, 26, 10)
    first = plan(L.default, due, CAL, "national", now)
    assert keys(first) == [("overdue_1@2026-11-02", "2026-11-26T10:15:00+08:00")]  # one catch-up
    fired = {first[0].key}
    second = plan(L.default, due, CAL, "national", first[0].fire_at, fired, first[0].fire_at)
    assert keys(second) == [("overdue_repeat_1@2026-11-02", "2026-12-01T09:00:00+08:00")]  # +3 wd
    fired.add(second[0].key)
    third = plan(L.default, due, CAL, "national", second[0].fire_at, fired, second[0].fire_at)
    assert keys(third) == [("overdue_repeat_2@2026-11-02", "2026-12-04T09:00:00+08:00")]


def test_worker_down_for_a_week_sends_one_notice_not_a_burst():
    due = dt.date(2026, 11, 2)
    fired = {"overdue_1@2026-11-02"}
    late = plan(L.default, due, CAL, "national", at(2026, 11, 20, 19), fired, at(2026, 11, 3))
    assert len(late) == 1 and late[0].key == "overdue_repeat_1@2026-11-02"
    assert late[0].fire_at == at(2026, 11, 23)  # next working day 09:00 (after 18:00 Friday)


def test_hour_rules_fire_by_the_clock():
    due = dt.datetime(2026, 10, 1, 13, 0, tzinfo=SHANGHAI)  # a holiday: emergencies do not wait
    steps = plan(L.hours, due, CAL, "national", at(2026, 10, 1, 8))
    assert keys(steps) == [
        ("t_minus_1h@2026-10-01T13:00:00+08:00", "2026-10-01T12:00:00+08:00"),
        ("overdue_1@2026-10-01T13:00:00+08:00", "2026-10-01T13:00:00+08:00"),
    ]


def test_every_ladder_step_has_a_template():
    import tomllib

    data = tomllib.loads((REPO_CONFIG / "reminders.toml").read_text(encoding="utf-8"))
    tables = [data["default"], data["hours"], *data.get("rules", {}).values()]
    for t in tables:
        for step in t.get("steps", []):
            assert (REPO_CONFIG / "templates" / "notify" / f"{step['id']}.j2").exists(), step["id"]
    assert (REPO_CONFIG / "templates" / "notify" / "overdue_repeat.j2").exists()


def test_bad_ladder_config_names_the_entry(tmp_path):
    (tmp_path / "reminders.toml").write_text(
        '[default]\nsteps = [{ id = "x", offset = -1, to = ["boss"] }]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"reminders.toml: \[default\].*x.*boss"):
        load_ladders(tmp_path)


def test_rest_day_due_date_announced_once_not_twice():
    # 2026-01-31 is a Saturday (fixed-date annual report): the last working day before it carries
    # "due today"; the T-1 reminder on that same moment would be a duplicate.
    steps = plan(L.default, dt.date(2026, 1, 31), CAL, "national", at(2026, 1, 20))
    fires = [(s.step, s.fire_at.isoformat()) for s in steps]
    assert ("due_today", "2026-01-30T09:00:00+08:00") in fires
    assert [f for f in fires if f[1] == "2026-01-30T09:00:00+08:00"] == [("due_today", "2026-01-30T09:00:00+08:00")]
