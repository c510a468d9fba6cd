"""Issue 20 §2: a calendar change recomputes only the clocks of the departments whose calendar region changed,
and tells each of those departments' liaisons (站内消息) what changed.

The province demo's config with 察布查尔县 on a test-only region of its own ("qapqal", fictitious days: test
data, not a notice) so that one county's change can be told apart from the rest of the tree."""

from __future__ import annotations

import datetime as dt

import pytest

OLD = 'region = "qapqal"\nsource = "测试用县级日历（tests/test_reproject_node.py）"\n[days_off]\n"2025-04-14" = "测试节日"\n'
NEW = OLD + '"2025-04-15" = "测试节日"\n'


@pytest.fixture
def county_region(tmp_path, monkeypatch):
    from services.demo import use_province_demo
    from store.db import get_engine, init_db

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", "")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    _, config = use_province_demo()
    j = config / "jurisdictions.toml"
    j.write_text(
        j.read_text(encoding="utf-8").replace('code = "654022"\n', 'code = "654022"\ncalendar = "qapqal"\n'),
        encoding="utf-8",
    )
    f = config / "calendars" / "qapqal-2025.toml"
    f.write_text(OLD, encoding="utf-8")
    get_engine.cache_clear()
    init_db()
    yield config, f
    get_engine.cache_clear()


def test_only_the_changed_regions_departments_are_recomputed_and_told(county_region):
    import os

    from domain.engine import engine
    from services.calendar import changed_departments, tell_liaisons
    from services.inbox import messages

    _, f = county_region
    old = engine().calendar
    assert engine().directory.region_of("cbcr-jyj") == "qapqal"
    f.write_text(NEW, encoding="utf-8")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new signature even within one tick
    new = engine().calendar
    assert new is not old and not new.is_workday(dt.date(2025, 4, 15), "qapqal")

    changed, departments = changed_departments(old, new, range(2025, 2026))
    assert departments == {"cbcr-zfb", "cbcr-jyj"}  # not the neighbouring counties, not the city
    assert [c.date for c in changed["qapqal"]] == [dt.date(2025, 4, 15)]
    assert set(changed) == {"qapqal"}

    assert tell_liaisons(changed, departments, "测试日历变更") == 2
    for person in ("liaison-cbcr-zfb", "liaison-cbcr-jyj"):
        box = messages(person)["messages"]
        assert len(box) == 1, box
        body = box[0]["body"]
        assert "2025-04-15 放假（测试节日）" in body and "测试用县级日历" in body
    for person in ("liaison-tsq-jyj", "liaison-cbcr-zfb".replace("cbcr", "yl"), "liaison-xj-fgw"):
        assert messages(person)["messages"] == []
    # idempotent: the same change told twice is one message
    assert tell_liaisons(changed, departments, "测试日历变更") == 0


def test_an_unchanged_calendar_touches_no_department(county_region):
    from domain.engine import engine
    from services.calendar import changed_departments

    cal = engine().calendar
    changed, departments = changed_departments(cal, cal, range(2025, 2027))
    assert changed == {} and departments == set()
