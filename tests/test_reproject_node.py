"""Issue 20 §2: a calendar change recomputes only the clocks of the departments whose calendar region changed,
and tells each of those departments' liaisons (站内消息) what changed.

The province demo's config with 察布查尔县 on a test-only region of its own ("qapqal", fictitious days: test
data, not a notice) so that one county's change can be told apart from the rest of the tree."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.workflow_harness import app_worker  # at import: it reads the session's config dir

OLD = 'region = "qapqal"\nsource = "测试用县级日历（tests/test_reproject_node.py）"\n[days_off]\n"2025-04-14" = "测试节日"\n'
NEW = OLD + '"2025-04-15" = "测试节日"\n'


@pytest.fixture
def county_region(tmp_path, monkeypatch):
    from services.demo import use_province_demo
    from store.db import get_engine, init_db

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", "")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from tests.test_demo_province import xinjiang_calendar

    _, config = use_province_demo()
    xinjiang_calendar(config)  # the shipped 新疆 files, or the 2025 notice while they are not on this branch
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
    # without years: the edited file's year (2025) is compared whatever today is
    assert changed_departments(old, new) == (changed, departments)
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


async def test_reload_recomputes_the_county_only_and_tells_its_liaison_what_moved(wf_env, county_region):
    """The real reload (services/calendar.py) on a real time-skipping server: two open requests, one in the
    changed county and one in its neighbour; only the first is recomputed and its liaison is told old → new."""
    import asyncio
    import os

    from domain.engine import engine
    from services.calendar import reload_calendar
    from services.inbox import messages
    from services.ingest import Ingestor
    from store.db import get_engine, session
    from store.items import get_item

    _, f = county_region
    received = "2025-04-10"  # a Thursday: 20 working days run over the county's 04-14 (and, after, 04-15)

    def request(n: int, dept: str) -> tuple[int, dict]:
        return (
            n,
            {
                "event_id": f"rn-{n}",
                "recorded_by": f"liaison-{dept}",
                "type": "request.received",
                "request_id": f"{dept}-ysq-rn-{n}",
                "department": dept,
                "channel": "online",
                "received_on": received,
                "applicant_type": "natural_person",
                "subject": "申请公开某项目的批复文件",
            },
        )

    from services.inbox import open_message

    def open_body(mid: int) -> str:
        return open_message("liaison-cbcr-jyj", mid)["body"]

    async def connect():
        return wf_env.client

    def due(item: str) -> str:
        with session() as s:
            snap = get_item(s, item)
        return next(c.due for c in snap.clocks if c.rule == "request_reply")

    async with app_worker(wf_env.client):
        ing = Ingestor(wf_env.client, db_engine=get_engine())
        out = await ing.ingest([request(1, "cbcr-jyj"), request(2, "tsq-jyj")])
        assert [r.status for r in out] == ["applied", "applied"], [r.text() for r in out]
        county, neighbour = "cbcr-jyj-ysq-rn-1", "tsq-jyj-ysq-rn-2"
        before = {county: due(county), neighbour: due(neighbour)}
        cal = engine().calendar
        expected = cal.add_working_days(dt.date(2025, 4, 10), 20, "qapqal")
        assert before[county] == expected.isoformat()
        # a finished request in the county too, replied on its due date: re-projected, still on time
        out = await ing.ingest([request(3, "cbcr-zfb")])
        finished = "cbcr-zfb-ysq-rn-3"
        reply = {"event_id": "rn-3r", "recorded_by": "liaison-cbcr-zfb", "type": "request.replied"}
        reply |= {"request_id": finished, "on": expected.isoformat(), "outcome": "granted"}
        out += await ing.ingest([(4, reply)])
        assert [r.status for r in out] == ["applied", "applied"], [r.text() for r in out]
        for _ in range(200):
            with session() as s:
                if get_item(s, finished).state != "open":
                    break
            await asyncio.sleep(0.05)
        with session() as s:
            assert get_item(s, finished).state != "open"

        f.write_text(NEW, encoding="utf-8")
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        engine()  # something else in the process (a page, an activity) sees the new file first
        done = await reload_calendar(connect, "测试：察布查尔县日历更新")
        assert done.recalculating == 1  # the county's open request only, not the neighbour's

        moved = engine().calendar.add_working_days(dt.date(2025, 4, 10), 20, "qapqal")
        assert moved > expected
        for _ in range(200):
            if due(county) == moved.isoformat():
                break
            await asyncio.sleep(0.05)
        assert due(county) == moved.isoformat()
        assert due(neighbour) == before[neighbour]
        for _ in range(200):  # the finished one: by the re-projection workflow of the county's departments
            if due(finished) == moved.isoformat():
                break
            await asyncio.sleep(0.05)
        assert due(finished) == moved.isoformat()

        # the item workflow's own 期限变更 notices come per clock; the reload's summary is one message
        box = [m for m in messages("liaison-cbcr-jyj")["messages"] if m["title"] == "日历变更：本部门期限重新计算"]
        assert len(box) == 1
        body = open_body(box[0]["id"])
        assert f"{county}：" in body and f"{expected.isoformat()} → {moved.isoformat()}" in body, body
        assert "2025-04-15放假" in body
        finished_box = [m for m in messages("liaison-cbcr-zfb")["messages"] if m["title"].startswith("日历变更")]
        assert len(finished_box) == 1
        assert f"{finished}：" in open_message("liaison-cbcr-zfb", finished_box[0]["id"])["body"]
        assert not [m for m in messages("liaison-tsq-jyj")["messages"] if m["title"].startswith("日历变更")]
        for item in (county, neighbour, finished):
            try:
                await wf_env.client.get_workflow_handle(f"request:{item}").terminate("test finished")
            except Exception:
                pass


def _touch(f, text: str) -> None:
    import os

    f.write_text(text, encoding="utf-8")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new signature even within one tick


def test_a_rules_only_change_reaches_every_clock_of_that_rule(county_region):
    """No calendar day changed, the rule did: every open item with a clock of that rule, in every department."""
    from domain.engine import engine, take_superseded
    from services.calendar import reload_scope

    config, _ = county_region
    old = engine()
    take_superseded()  # nothing superseded before this test's edit
    rules = config / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    edited = text.replace('[rules.request_reply]\nname = "依申请公开答复"\nunit = "working_days"\nlength = 20\n', "")
    assert edited != text, "rules.toml's request_reply changed shape: adjust the test"
    _touch(
        rules,
        text.replace(
            'unit = "working_days"\nlength = 20\nstart_event = "request.received"',
            'unit = "working_days"\nlength = 15\nstart_event = "request.received"',
            1,
        ),
    )
    new = engine()
    assert new is not old and new.rules["request_reply"].length == 15
    assert take_superseded() is old
    scope = reload_scope(old, new)
    assert scope.changed == {}
    assert scope.departments is None  # a statutory rule: every department
    assert scope.rules == {"request_reply"} and scope.rule_ids == {"request_reply"}


def test_a_nodes_pre_deadline_change_reaches_that_nodes_departments_only(county_region):
    """A node's internal pre-deadline (jurisdictions.toml [[node.deadline]]) moved: only the departments it
    applies to (乌鲁木齐市's own), and only their items with that clock."""
    from domain.engine import engine
    from services.calendar import reload_scope

    config, _ = county_region
    old = engine()
    old.department_map()  # what a reload (or the worker's watch at start) reads for the next comparison
    j = config / "jurisdictions.toml"
    text = j.read_text(encoding="utf-8")
    assert 'id = "dept_submit"' in text
    _touch(j, text.replace("  month = 1\n  day = 26\n", "  month = 1\n  day = 25\n", 1))
    new = engine()
    rid = "pre_wlmq_dept_submit"
    assert (old.rules[rid].day, new.rules[rid].day) == (26, 25)
    scope = reload_scope(old, new)
    own = set(new.directory.departments_in("wlmq", deep=False))
    assert own and scope.departments == own
    assert scope.rules == {rid} and scope.changed == {}


def test_a_county_put_on_another_calendar_reaches_its_departments(county_region):
    """jurisdictions.toml alone moves 察布查尔县 off its own calendar: no day of any calendar changed, the
    county's departments now count on 新疆's days, so theirs (all of their open items) are recomputed."""
    from domain.engine import engine
    from services.calendar import reload_scope

    config, _ = county_region
    old = engine()
    old.department_map()
    j = config / "jurisdictions.toml"
    _touch(j, j.read_text(encoding="utf-8").replace('code = "654022"\ncalendar = "qapqal"\n', 'code = "654022"\n'))
    new = engine()
    assert new.directory.region_of("cbcr-jyj") != "qapqal"
    scope = reload_scope(old, new)
    assert scope.departments == {"cbcr-zfb", "cbcr-jyj"} and scope.rules is None
    # the placement unknown (a process that never read it): every department, to be safe
    import dataclasses

    fresh = dataclasses.replace(engine(), _placement=None)
    _touch(j, j.read_text(encoding="utf-8").replace('code = "654022"\n', 'code = "654022"\ncalendar = "qapqal"\n'))
    assert reload_scope(fresh, engine()).departments is None


def test_many_items_one_message_per_liaison_and_one_read_per_department_set(county_region):
    """A change reaching many items still tells each liaison once, all its moved clocks in that one message,
    and the items are read per set of departments, not per department or item."""
    from sqlalchemy import event

    from activities.clocks import ClockSpec, calc
    from domain.engine import engine
    from domain.model import ClockSnapshot, ItemSnapshot
    from services.calendar import changed_departments, tell_liaisons
    from services.inbox import messages, open_message
    from store.db import get_engine, session
    from store.items import save_snapshot

    _, f = county_region
    old = engine().calendar
    n = 40
    with session() as s:
        for i in range(n):
            dept = ("cbcr-jyj", "cbcr-zfb")[i % 2]
            c = calc(ClockSpec(rule="request_reply", start="2025-04-10", region="qapqal"))
            clock = ClockSnapshot(
                rule="request_reply",
                start="2025-04-10",
                due=c.due,
                state="open",
                region="qapqal",
                explanation=c.explanation,
            )
            snap = ItemSnapshot(
                id=f"{dept}-ysq-many-{i:03}", type="request", department=dept, state="open", version=1, clocks=[clock]
            )
            save_snapshot(s, snap)
    _touch(f, NEW)
    changed, departments = changed_departments(old, engine().calendar)
    assert departments == {"cbcr-zfb", "cbcr-jyj"}

    reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and ("FROM item" in statement or "FROM clock" in statement):
            reads.append(statement)

    db = get_engine()
    event.listen(db, "before_cursor_execute", count)
    try:
        assert tell_liaisons(changed, departments, "测试日历变更") == 2
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert len(reads) == 2, reads  # the two departments' items and their clocks: one set, one read each
    for dept in ("cbcr-jyj", "cbcr-zfb"):
        box = messages(f"liaison-{dept}")["messages"]
        assert len(box) == 1, box
        body = open_message(f"liaison-{dept}", box[0]["id"])["body"]
        assert body.count(f"{dept}-ysq-many-") == n // 2, body
    # told again (a second reload of the same change), in batches of one department: still once each
    assert tell_liaisons(changed, departments, "测试日历变更", batch=1) == 0
    assert tell_liaisons(changed, None, "测试日历变更") == 0  # every department: only these two changed


async def test_a_rules_only_reload_recomputes_the_open_items_of_that_rule(wf_env, county_region):
    """rules.toml alone changed (no calendar day did): the reload still reaches the open request, whose
    workflow recomputes its due date under the new length; the liaison is told what moved, once."""
    import asyncio

    from domain.engine import engine
    from services.calendar import reload_calendar
    from services.inbox import messages, open_message
    from services.ingest import Ingestor
    from store.db import get_engine, session
    from store.items import get_item

    config, _ = county_region
    received = "2025-04-10"
    event = {
        "event_id": "rr-1",
        "recorded_by": "liaison-tsq-jyj",
        "type": "request.received",
        "request_id": "tsq-jyj-ysq-rr-1",
        "department": "tsq-jyj",
        "channel": "online",
        "received_on": received,
        "applicant_type": "natural_person",
        "subject": "申请公开某项目的批复文件",
    }

    async def connect():
        return wf_env.client

    def due(item: str) -> str:
        with session() as s:
            snap = get_item(s, item)
        return next(c.due for c in snap.clocks if c.rule == "request_reply")

    async with app_worker(wf_env.client):
        out = await Ingestor(wf_env.client, db_engine=get_engine()).ingest([(1, event)])
        assert [r.status for r in out] == ["applied"], [r.text() for r in out]
        item = "tsq-jyj-ysq-rr-1"
        region = engine().directory.region_of("tsq-jyj")
        cal = engine().calendar
        assert due(item) == cal.add_working_days(dt.date(2025, 4, 10), 20, region).isoformat()
        rules = config / "rules.toml"
        text = rules.read_text(encoding="utf-8")
        twenty = 'unit = "working_days"\nlength = 20\nstart_event = "request.received"'
        assert twenty in text
        _touch(rules, text.replace(twenty, twenty.replace("20", "15"), 1))
        engine()  # a page or an activity sees the new file first
        done = await reload_calendar(connect, "测试：答复期限改为15个工作日")
        assert done.recalculating == 1
        moved = engine().calendar.add_working_days(dt.date(2025, 4, 10), 15, region).isoformat()
        for _ in range(200):
            if due(item) == moved:
                break
            await asyncio.sleep(0.05)
        assert due(item) == moved
        box = [m for m in messages("liaison-tsq-jyj")["messages"] if m["title"].startswith("日历变更")]
        assert len(box) == 1, box
        body = open_message("liaison-tsq-jyj", box[0]["id"])["body"]
        assert f"{item}：" in body and f"→ {moved}" in body and "依申请公开答复" in body, body
        # an explicit reload with nothing changed since recomputes every open item (as before) and tells no one
        assert (await reload_calendar(connect, "测试：再次重新加载")).recalculating == 1
        assert len([m for m in messages("liaison-tsq-jyj")["messages"] if m["title"].startswith("日历变更")]) == 1
        try:
            await wf_env.client.get_workflow_handle(f"request:{item}").terminate("test finished")
        except Exception:
            pass
