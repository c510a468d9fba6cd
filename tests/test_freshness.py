"""Recurring freshness duties (website columns, 政务新媒体) on the time-skipping server, through the real ingest
path and store: a period lapses and reminds, a late update ends it late with its lateness, an update in time
starts the next period from its own date; each period is its own clock row (`rule#n`).

Dates derive from the server's clock (the real present) and the production calendar (the departments are in
Guangxi), so the tests hold on any day of the year."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from temporalio import activity

from activities.notify import NotificationRequest, NotificationResult
from domain.engine import engine
from domain.model import period_rule
from domain.shanghai import SHANGHAI
from tests.workflow_harness import NotificationRecorder, stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]

DAY = dt.timedelta(days=1)
REGION = "guangxi"
RULE = "website_freshness_news"
DEPT = "qz-fgw"


def due_after(start: dt.date, days: int = 14) -> dt.date:
    """14 calendar days from the day after `start`. A monitoring window: a last day off work stays where it
    falls (moves_off_rest_days = false; 民法典第二百零三条 extends a time to act, not a window checked)."""
    return start + days * DAY


def expected_periods(start: dt.date, updates: list[dt.date]) -> list[tuple[dt.date, dt.date, dt.date | None]]:
    """(start, due, met day) of each finished period: an update ends the period it falls in and starts the next
    from its own date; a period whose due day passes with no update ends unmet, the next from its due date."""
    out: list[tuple[dt.date, dt.date, dt.date | None]] = []
    begin = start
    for day in updates:
        while due_after(begin) < day:
            out.append((begin, due_after(begin), None))
            begin = due_after(begin)
        if day > begin:
            out.append((begin, due_after(begin), day))
            begin = day
    return out


def registered(column_id: str, day: dt.date, kind: str = "news") -> dict:
    return {
        "type": "column.registered",
        "column_id": column_id,
        "department": DEPT,
        "registered_on": day.isoformat(),
        "kind": kind,
        "name": "工作动态",
        "url": "https://www.example.gov.cn/gzdt/",
    }


def updated(column_id: str, day: dt.date) -> dict:
    return {"type": "column.updated", "column_id": column_id, "updated_on": day.isoformat()}


class TimedRecorder(NotificationRecorder):
    """The recorder, also noting when (the server's skipped time) each notice was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[tuple[str, str, str, dt.datetime]] = []  # item, step, person, scheduled (Shanghai)
        record = self.activity

        @activity.defn(name="send_notification")
        async def send_notification(req: NotificationRequest) -> NotificationResult:
            when = activity.info().scheduled_time.astimezone(SHANGHAI)
            self.at.append((req.item_id, req.step, req.person_id, when))
            return await record(req)

        self.activity = send_notification


@pytest.fixture
async def sent():
    return TimedRecorder()


@pytest.fixture
async def st(wf_env, tmp_path, monkeypatch, sent):
    async with stack(wf_env, tmp_path, monkeypatch, mocks=[sent.activity]) as s:
        yield s


async def sleep_until(st, day: dt.date, hour: int = 12) -> None:
    """Skip to `hour` on `day`, the daily sweep's 09:00 runs on the way (the 09:00 notices are the sweep's)."""
    await st.sleep_until(dt.datetime.combine(day, dt.time(hour), SHANGHAI))


def notices(item_id: str) -> list[tuple[str, str, dt.datetime]]:
    """(step, person, when claimed, Shanghai) of the item's notices in the delivery log, whoever sent them."""
    from store.db import session
    from store.deliveries import deliveries_for_item

    with session() as s:
        rows = deliveries_for_item(s, item_id)
    return [
        (r.step, r.person, r.created_at.replace(tzinfo=r.created_at.tzinfo or dt.UTC).astimezone(SHANGHAI))
        for r in rows
    ]


async def test_a_column_lapses_reminds_and_each_update_starts_the_next_period(st, sent):
    cal = engine().calendar
    reg = await st.today()
    col = st.id("COL")
    await st.ok(registered(col, reg))
    first = st.clock(col, RULE)
    due1 = due_after(reg)
    assert (first.state, first.start, first.due) == ("open", reg.isoformat(), due1.isoformat())
    assert st.item(col).title == "工作动态"

    # No update for 15 days and more: the period lapses (overdue), reminded before and escalated after; it stays
    # the open, overdue period until the window after it (from its due date) has lapsed too.
    after = cal.add_working_days(due1, 2, REGION)
    await sleep_until(st, after)
    await st.settle(f"column:{col}")
    lapsed = st.clock(col, RULE)
    assert lapsed.state == "open" and lapsed.due == due1.isoformat() and lapsed.met_on is None
    assert (after - reg).days >= 15 and after < due_after(due1)
    steps = [(step, who, at.date()) for step, who, at in notices(col)]
    # A freshness window's last day is not moved off a rest day (a monitoring window); on a rest day its
    # due-day notice goes on the working day before, in place of t_minus_1.
    if cal.is_workday(due1, REGION):
        before, due_day = {("t_minus_3", "liaison-fgw"), ("t_minus_1", "liaison-fgw")}, due1
    else:
        due_day = cal.subtract_working_days(due1, 1, REGION)
        before = {("t_minus_3", "liaison-fgw"), ("due_today", "liaison-fgw"), ("due_today", "head-fgw")}
    assert {(s, p) for s, p, day in steps if day < due1} == before, steps
    assert ("due_today", "head-fgw", due_day) in steps
    assert any(s == "overdue_1" and p == "supervisor-zwgk" and day > due1 for s, p, day in steps), steps
    from store.clock_rows import overdue_clock_rows
    from store.db import session

    with session() as s:  # as of the test server's own clock (review #17: never the wall clock)
        overdue = [r for r in overdue_clock_rows(s, await st.now()) if r[0] == col]
    assert overdue, "the lapsed period is on the overdue list"

    # The update after the lapse: period 1 ends missed (no update in its window), period 2 (from due1) is met
    # by it on time, period 3 runs from its date.
    late_day = await st.today()
    await st.ok(updated(col, late_day))
    snap = st.item(col)
    rows = {c.rule: c for c in snap.clocks}
    assert rows[period_rule(RULE, 1)].state == "missed"
    p2 = rows[period_rule(RULE, 2)]
    assert (p2.state, p2.start, p2.met_on, p2.lateness_working_days) == (
        "met",
        due1.isoformat(),
        late_day.isoformat(),
        0,
    )
    current = rows[RULE]
    assert (current.state, current.start, current.due) == (
        "open",
        late_day.isoformat(),
        due_after(late_day).isoformat(),
    )

    # An update in time: period 3 is met, period 4 starts from this update's date.
    await sleep_until(st, late_day + 3 * DAY, hour=10)
    in_time = await st.today()
    await st.ok(updated(col, in_time))
    snap = st.item(col)
    rows = {c.rule: c for c in snap.clocks}
    p3 = rows[period_rule(RULE, 3)]
    assert (p3.state, p3.met_on, p3.lateness_working_days) == ("met", in_time.isoformat(), 0)
    assert (rows[RULE].start, rows[RULE].due) == (in_time.isoformat(), due_after(in_time).isoformat())
    assert snap.data["last_update"] == in_time.isoformat()
    assert snap.data["periods"][RULE] == {"finished": 3, "on_time": 2, "late": 1, "late_working_days": 0}
    # The workflow's own state says the same as the store.
    live = await st.query("column", col)
    assert sorted((c.rule, c.state, c.due) for c in live.clocks) == sorted(
        (c.rule, c.state, c.due) for c in snap.clocks
    )

    # An update dated before the current period's start is refused; one on its first day changes no period.
    r = await st.ingest(updated(col, in_time - DAY))
    assert r[0].status == "rejected" and "早于本期起算日" in r[0].reason
    await st.ok(updated(col, in_time))
    assert len(st.item(col).clocks) == 4

    # Closing the column ends the current period without counting it.
    await st.ok({"type": "column.closed", "column_id": col, "closed_on": in_time.isoformat(), "reason": "栏目整合"})
    snap = st.item(col)
    assert {c.rule: c.state for c in snap.clocks}[RULE] == "closed" and snap.state == "closed"
    assert snap.data["periods"][RULE]["finished"] == 3


async def test_scores_count_each_period_under_its_rule(st):
    """The period rows count under the rule (on time / late), weight 0 in the scheme: nothing is deducted."""
    from domain.scoring import Period
    from services.scores import fresh_scores
    from store.db import session

    today = await st.today()
    col = st.id("COLS")
    start = today - 50 * DAY
    await st.ok(registered(col, start, kind="new_media"))
    # on time (5 days), then 40 days without an update: two windows lapse unmet (due +19, +33), the third
    # (from +33) is met on +45; then the current period
    await st.ok(updated(col, start + 5 * DAY), updated(col, start + 45 * DAY))
    rule = "new_media_freshness"
    snap = st.item(col)
    assert {c.rule: c.state for c in snap.clocks} == {
        period_rule(rule, 1): "met",
        period_rule(rule, 2): "missed",
        period_rule(rule, 3): "missed",
        period_rule(rule, 4): "met",
        rule: "open",
    }
    period = Period(start=start, end=today + 60 * DAY, label="test", kind="year")
    with session() as s:
        res = fresh_scores(s, period, today, department=DEPT)
    dept = next(d for d in res.summary if d.department == DEPT)
    stats = dept.per_rule[rule]
    assert (stats.on_time, stats.late) == (2, 2)
    mine = [r for r in res.details if r.item_id == col]
    assert [r.rule for r in mine] == [rule] * 5  # the current one pending
    assert sorted(r.key for r in mine) == sorted([rule, *(period_rule(rule, n) for n in range(1, 5))])
    assert dept.deduction == 0


async def test_with_no_update_the_timer_ends_each_window_once_the_next_has_lapsed(st):
    """Review #4 without any update: the board's overdue period is the latest window; each earlier one ends
    missed on the timer, from which the next runs from its due date (each in its own scoring period)."""
    reg = await st.today()
    col = st.id("IDLE")
    await st.ok(registered(col, reg, kind="new_media"))
    due1 = due_after(reg)
    due2 = due_after(due1)
    due3 = due_after(due2)
    await sleep_until(st, due3 - DAY)  # windows 1 and 2 past, window 3 running
    await st.settle(f"column:{col}")
    rows = {c.rule: c for c in st.item(col).clocks}
    assert [(r, c.state, c.start, c.due, c.met_on) for r, c in sorted(rows.items())] == [
        ("new_media_freshness", "open", due1.isoformat(), due2.isoformat(), None),
        (period_rule("new_media_freshness", 1), "missed", reg.isoformat(), due1.isoformat(), None),
    ]
    await sleep_until(st, due3 + 2 * DAY)
    await st.settle(f"column:{col}")
    rows = {c.rule: c for c in st.item(col).clocks}
    assert rows[period_rule("new_media_freshness", 2)].state == "missed"
    assert (rows["new_media_freshness"].start, rows["new_media_freshness"].due) == (
        due2.isoformat(),
        due3.isoformat(),
    )
    assert st.item(col).data["periods"]["new_media_freshness"]["late"] == 2


async def test_a_long_lapse_counts_one_missed_period_per_window_each_in_its_own_quarter(st):
    """Registered 300 days ago and not updated since (review #4): one missed period per 14 days elapsed, each
    scored in the quarter of its own due date; the ~21 periods ended by one update are all written (more than
    the state keeps: review #19); a lock keys each period row apart (rule#n), so a period ended after the
    lock is an amendment of its own (review #5)."""
    import domain.transitions as tr
    from domain.scoring import parse_period
    from services.scores import current_records, fresh_scores
    from store.db import session
    from store.locks import amendments, lock_period

    today = await st.today()
    start = today - 300 * DAY
    col = st.id("LAPSE")
    await st.ok(registered(col, start), updated(col, today))
    want = expected_periods(start, [today])
    missed = [due for _, due, met in want if met is None]
    assert len(missed) == len(want) - 1 > tr.RECENT_PERIODS  # the last window (from a due date) met today
    snap = st.item(col)
    rows = {c.rule: c for c in snap.clocks}
    assert len(rows) == len(want) + 1
    for n, (begin, due, met) in enumerate(want, start=1):
        row = rows[period_rule(RULE, n)]
        assert (row.start, row.due, row.state) == (
            begin.isoformat(),
            due.isoformat(),
            "missed" if met is None else "met",
        )
    assert snap.data["periods"][RULE] == {
        "finished": len(want),
        "on_time": 1,
        "late": len(missed),
        "late_working_days": 0,
    }
    quarters = sorted({f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in missed})
    assert len(quarters) >= 3  # 300 days span at least three quarters
    with session() as s:
        for q in quarters:
            res = fresh_scores(s, parse_period(q), today, department=DEPT)
            stats = next(d for d in res.summary if d.department == DEPT).per_rule[RULE]
            period = parse_period(q)
            assert stats.late == sum(period.contains(d) for d in missed), q

        # Lock the quarter of the current period's due date, then end that period: its row (rule#n) is new;
        # the next period's row (the plain rule id) left the quarter only if its due date is past the end.
        due = due_after(today)
        quarter = parse_period(f"{due.year}-Q{(due.month - 1) // 3 + 1}")
        lock_period(s, quarter, fresh_scores(s, quarter, today, department=DEPT))
    later = today + 3 * DAY
    await sleep_until(st, later, hour=10)
    await st.ok(updated(col, later))
    with session() as s:
        changes = amendments(s, quarter, current_records(s, later, DEPT, period=quarter), DEPT)
    n = len(want) + 1
    expected = [("new", RULE, period_rule(RULE, n), "met")]
    if not quarter.contains(due_after(later)):
        expected.insert(0, ("removed", RULE, "", None))
    assert [(a.change, a.rule, a.row, a.current_state) for a in changes if a.item_id == col] == expected


# ---------------------------------------------------------------- bounded history
UPDATES = 2000
LATE_EVERY = 66  # every 66th gap is 20 days: one 14-day window lapses unmet, the next is met
EVENTS_BOUND, BYTES_BOUND = 10_000, 10 * 1024 * 1024  # per run; Temporal warns at 10,240 events / 10 MB


def gaps() -> list[int]:
    return [20 if n % LATE_EVERY == LATE_EVERY - 1 else 1 for n in range(UPDATES)]


async def runs_of(client, wid: str) -> list:
    """Every run's history of the workflow, first run first (following continue-as-new backwards)."""
    out, run = [], (await client.get_workflow_handle(wid).describe()).run_id
    while run:
        history = await client.get_workflow_handle(wid, run_id=run).fetch_history()
        out.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run = started.continued_execution_run_id
    return out[::-1]


async def test_a_column_with_2000_updates_continues_as_new_and_keeps_its_periods(st):
    """~50 s here: 2,000 Updates, each with its store write, through the production ingest in batches (7 runs
    of at most ~4,200 events / 2.5 MB when measured)."""
    from temporalio.api.enums.v1 import EventType

    today = await st.today()
    steps = gaps()
    start = today - sum(steps) * DAY
    col = st.id("LONG")
    await st.ok(registered(col, start))
    days, day = [], start
    for g in steps:
        day += g * DAY
        days.append(day)
    for i in range(0, UPDATES, 250):
        results = await st.ingest(*(updated(col, d) for d in days[i : i + 250]))
        assert all(r.status == "applied" for r in results), [r.text() for r in results if r.status != "applied"][:3]
    wid = f"column:{col}"
    await st.settle(wid)

    runs = await runs_of(st.client, wid)
    assert len(runs) >= 2, "continued as new"
    for h in runs:
        size = sum(e.ByteSize() for e in h.events)
        assert len(h.events) < EVENTS_BOUND and size < BYTES_BOUND, (len(h.events), size)
    ends = [h.events[-1].event_type for h in runs[:-1]]
    assert set(ends) == {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW}

    # The read model, as if the item had never continued: period n from the update (or the registration, or
    # a lapsed period's due date) before it; a period whose due date passed with no update is missed, unmet.
    snap = st.item(col)
    rows = {c.rule: c for c in snap.clocks}
    want = expected_periods(start, days)
    late = UPDATES // LATE_EVERY
    assert len(want) == UPDATES + late
    missing = {period_rule(RULE, n) for n in range(1, len(want) + 1)} - set(rows)
    assert not missing and len(rows) == len(want) + 1, sorted(missing, key=lambda r: int(r.split("#")[1]))
    for n, (begin, due, met) in enumerate(want, start=1):
        row = rows[period_rule(RULE, n)]
        assert (row.start, row.due, row.met_on) == (begin.isoformat(), due.isoformat(), met and met.isoformat()), n
        assert (row.state, row.lateness_working_days) == (("met", 0) if met else ("missed", None)), n
    current = rows[RULE]
    assert (current.state, current.start, current.due) == ("open", today.isoformat(), due_after(today).isoformat())
    counts = snap.data["periods"][RULE]
    assert (counts["finished"], counts["on_time"], counts["late"]) == (len(want), UPDATES, late)
    assert counts["late_working_days"] == 0
    assert snap.data["last_update"] == today.isoformat()
    # The workflow's state is bounded (the last periods only) and agrees with the store on what it holds.
    live = await st.query("column", col)
    assert len(live.clocks) <= 1 + 16
    assert live.data["periods"] == snap.data["periods"] and live.version == snap.version
    for c in live.clocks:
        assert (c.state, c.due, c.met_on) == (rows[c.rule].state, rows[c.rule].due, rows[c.rule].met_on)
    # Its page shows the current period and the last ones, named by period; the counts cover all.
    from services.views import SHOWN_PERIODS, item_view

    view = item_view(snap)
    shown = {c.rule for c in view.clocks}
    last = len(want)
    assert shown == {RULE, *(period_rule(RULE, n) for n in range(last - SHOWN_PERIODS + 1, last + 1))}
    assert any(c.rule_name == f"动态要闻类栏目更新（第{last}期）" for c in view.clocks)


async def test_reminders_fire_once_across_continue_as_new(st, sent, monkeypatch):
    """With a small history bound the column continues as new between its reminders: the new run rebuilds its
    timers from the carried plan and sends each step once (the fired steps travel in the state)."""
    import workflows.items

    monkeypatch.setattr(workflows.items, "HISTORY_EVENTS", 25)
    st.ladder_sweep(False)  # the per-item timer path (sweep = false): its run wakes, and continues, per step
    cal = engine().calendar
    reg = await st.today()
    col = st.id("CAN")
    await st.ok(registered(col, reg, kind="new_media"))
    due = due_after(reg)
    await sleep_until(st, cal.add_working_days(due, 1, REGION), hour=12)
    await st.settle(f"column:{col}")
    runs = await runs_of(st.client, f"column:{col}")
    assert len(runs) >= 3, len(runs)
    steps = [(step, who) for item, step, who, _ in sent.at if item == col]
    assert len(steps) == len(set(steps)), steps
    expected = {"t_minus_3", "due_today", "overdue_1"} | ({"t_minus_1"} if cal.is_workday(due, REGION) else set())
    assert expected <= {s for s, _ in steps}, steps
    assert st.clock(col, "new_media_freshness").state == "open"


# ---------------------------------------------------------------- the column ledger over HTTP
async def test_column_ledger_over_http_and_the_liaisons_form(st):
    """Registered and updated through POST /api/events as the department's liaison; GET /api/columns answers
    the ledger row (栏目名称, 类型, 网址, 最近更新日期, the current period) to the supervisor."""
    import httpx
    from sqlmodel import Session

    from app.web.forms import build_fields
    from app.web.server import create_app
    from store.db import get_engine
    from store.tokens import create_token, ensure_table

    assert [f.name for f in build_fields("column.registered", {})][:2] == ["column_id", "department"]
    eng = get_engine()
    ensure_table(eng)
    with Session(eng) as s:
        liaison, _ = create_token(s, "liaison", DEPT, person="liaison-fgw")
        supervisor, _ = create_token(s, "supervisor", person="supervisor-zwgk")
    app = create_app(st.client, open_pages=False)

    def http(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {token}"},
        )

    await st.sync_clock()
    today = await st.today()
    col = st.id("WX")
    async with http(liaison) as c:
        body = [
            {"event_id": f"{col}-r", **registered(col, today - 20 * DAY, kind="new_media")},
            {"event_id": f"{col}-u", **updated(col, today - 2 * DAY), "url": "https://mp.example.cn/s/1"},
        ]
        body[0]["name"] = "钦州发改微信公众号"
        r = await c.post("/api/events", json=body)
        assert r.status_code == 200 and r.json()["applied"] == 2, r.text
        st.started.add(f"column:{col}")
        mine = (await c.get("/api/columns")).json()  # a liaison reads the own department's ledger
        assert mine["department"] == DEPT and col in [x["栏目编号"] for x in mine["rows"]]
    async with http(supervisor) as c:
        r = await c.get("/api/columns", params={"department": DEPT})
    assert r.status_code == 200, r.text
    row = next(x for x in r.json()["rows"] if x["栏目编号"] == col)
    assert row["栏目名称"] == "钦州发改微信公众号" and row["类型"] == "政务新媒体"
    assert row["网址"] == "https://www.example.gov.cn/gzdt/"
    assert row["最近更新日期"] == (today - 2 * DAY).isoformat()
    assert row["更新周期"] == "每14日" and row["当前期限"] == due_after(today - 2 * DAY).isoformat()
    # 18 days without an update: the first window lapsed unmet, the next (from its due date) was met
    assert (row["periods"], row["on_time"], row["late"]) == (2, 1, 1)


# ---------------------------------------------------------------- the forms and the item page
from tests.test_accounts import csrf_of, env, event_id_of, sign_in  # noqa: E402, F401  (its stack fixture)


async def test_a_liaison_registers_and_updates_a_column_through_the_forms(env):
    from domain.shanghai import today as shanghai_today

    cid = f"qz-fgw-lm-web-{uuid.uuid4().hex[:6]}"
    day = shanghai_today()
    async with env.browser("10.8.2.1") as c:
        await sign_in(c, "liaison-fgw")
        form = await c.get("/events/new?type=column.registered")
        assert form.status_code == 200 and "栏目名称" in form.text and "政务新媒体" in form.text
        fields = {
            "csrf_token": csrf_of(form.text),
            "type": "column.registered",
            "event_id": event_id_of(form.text),
            "column_id": cid,
            "department": DEPT,
            "registered_on": (day - 5 * DAY).isoformat(),
            "kind": "news",
            "name": "发改动态",
            "url": "https://www.example.gov.cn/fgw/dt/",
        }
        r = await c.post("/events/new", data=fields)
        assert r.status_code == 303 and r.headers["location"] == f"/items/{cid}", r.text[:500]
        page = await c.get(r.headers["location"])
        assert "动态要闻类栏目更新" in page.text and "登记更新" in page.text and "关闭栏目" in page.text
        upd = await c.get(f"/events/new?type=column.updated&item={cid}")
        r = await c.post(
            "/events/new",
            data={
                "csrf_token": csrf_of(upd.text),
                "type": "column.updated",
                "item": cid,
                "event_id": event_id_of(upd.text),
                "column_id": cid,
                "updated_on": day.isoformat(),
            },
        )
        assert r.status_code == 303, r.text[:500]
        page = await c.get(f"/items/{cid}")
    assert "动态要闻类栏目更新（第1期）" in page.text and "website_freshness_news#1" in page.text
