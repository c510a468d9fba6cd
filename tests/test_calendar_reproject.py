"""Finished clocks after a calendar change (issue 17 §6): a notice that moves a due date the clock was met
or missed against re-projects it, recorded like a moved open due date, and listed in a locked period's 更正.

On the time-skipping server: the server (and with it this process's today, tests/workflow_harness.py) is
moved to the day the reply is given, so the clock is met in a year without a published arrangement
whatever day the test runs on."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from domain.engine import engine
from domain.shanghai import SHANGHAI
from store.models import DueDateChange

REGION = "guangxi"  # qz-fgw's region (departments.toml)


def _provisional_window(today: dt.date):
    """A request received in a year without published national data (2027 today), away from 三月三 (April):
    received on a working day in January–March, on or after today."""
    cal = engine().calendar
    for year in range(today.year, today.year + 5):
        if not cal.is_provisional_year(year):
            continue
        first = max(today, dt.date(year, 1, 4))
        if first > dt.date(year, 2, 15):
            continue
        return year, cal.next_working_day(first, REGION)
    raise LookupError("no provisional year ahead")


def _notice(year: int, extra_off: dt.date) -> str:
    """The year's national notice as the calendar now estimates it (every statutory day and 补假), plus one
    more day off: only that day changes, and the year is no longer provisional."""
    cal = engine().calendar
    days = [
        d
        for d in (dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(366))
        if d.year == year and cal.day(d).origin == "statutory"
    ]
    lines = "".join(f'"{d.isoformat()}" = "{cal.day(d).reason}"\n' for d in days)
    return (
        f'region = "national"\nsource = "国务院办公厅关于{year}年部分节假日安排的通知（测试）"\n'
        f'[days_off]\n{lines}"{extra_off.isoformat()}" = "测试增加的放假日"\n'
    )


async def test_calendar_notice_reprojects_a_met_provisional_clock(st):
    from domain.scoring import parse_period
    from services.calendar import signal_open_items
    from services.scores import compute_scores, fresh_scores
    from store.db import session
    from store.locks import lock_period

    cal = engine().calendar
    year, received_on = _provisional_window(await st.today())
    old_due = cal.add_working_days(received_on, 20, REGION)
    replied = cal.add_working_days(old_due, 1, REGION)  # one working day late on the provisional calendar
    await st.env.sleep(dt.datetime.combine(replied, dt.time(10), SHANGHAI) - await st.now())
    req = st.id("R")
    await st.ok(
        {
            "type": "request.received",
            "request_id": req,
            "department": "qz-fgw",
            "channel": "online",
            "received_on": received_on.isoformat(),
            "applicant_type": "natural_person",
            "applicant": {"name": "张三", "contact": "13800000000"},
            "subject": "申请公开某项目批复",
        },
        {"type": "request.replied", "request_id": req, "on": replied.isoformat(), "outcome": "granted"},
    )
    await st.result("request", req)  # the item's workflow has ended
    before = st.clock(req, "request_reply")
    assert (before.state, before.lateness_working_days, before.provisional) == ("missed", 1, True)
    assert before.due == old_due.isoformat()
    with session() as s:  # the year's scores are published with the clock missed
        lock_period(s, str(year), fresh_scores(s, parse_period(str(year)), replied))

    # The notice makes a working day inside the counting period a day off: the 20th day is the reply's day.
    extra = cal.subtract_working_days(old_due, 3, REGION)
    (st.config / "calendars" / f"national-{year}-test.toml").write_text(_notice(year, extra), encoding="utf-8")
    await signal_open_items(st.client, "日历数据已更新（测试）")
    after = await st.wait_for(lambda: st.clock(req, "request_reply"), lambda c: c.state != "missed", timeout=30)
    assert (after.state, after.lateness_working_days, after.provisional) == ("met", 0, False)
    assert after.due == replied.isoformat()
    assert "由逾期 1 个工作日改为按时" in after.explanation["reprojected"][-1]
    with session() as s:
        changes = s.exec(select(DueDateChange).where(DueDateChange.item_id == req)).all()
        assert [(c.old_due, c.new_due) for c in changes] == [(old_due.isoformat(), replied.isoformat())]
        assert "不再是暂定结果" in changes[0].reason
        locked = compute_scores(s, parse_period(str(year)), replied)
    assert locked.locked_at is not None
    amended = [a for a in locked.amendments if a.item_id == req]
    assert [(a.change, a.locked_state, a.current_state) for a in amended] == [("changed", "missed", "met")]


async def test_calendar_correction_reprojects_a_missed_clock_of_an_open_item(st):
    """The item is still open (its interpretation is due): its own workflow recomputes the missed clock."""
    from services.calendar import signal_open_items
    from store.db import session

    cal = engine().calendar
    today = await st.today()
    signed = cal.subtract_working_days(today, 23, REGION)
    old_due = cal.add_working_days(signed, 20, REGION)
    published = cal.add_working_days(old_due, 1, REGION)  # one working day late
    doc = st.id("D")
    await st.ok(
        {
            "type": "document.signed",
            "document_id": doc,
            "department": "qz-fgw",
            "title": "测试文件",
            "kind": "normative",
            "signed_on": signed.isoformat(),
            "disclosure": "public",
            "needs_interpretation": True,
        },
        {
            "type": "document.published",
            "document_id": doc,
            "published_on": published.isoformat(),
            "url": "https://x.cn/1",
        },
    )
    before = st.clock(doc, "policy_publication")
    assert (before.state, before.lateness_working_days) == ("missed", 1)
    assert st.item(doc).state == "open"  # the interpretation clock runs
    # A regional correction: a working day inside the publication period becomes a day off.
    extra = cal.subtract_working_days(old_due, 3, REGION)
    estimated = cal.estimated_days(REGION, extra.year)  # a year without its 三月三 notice states those days too
    days = "".join(f'"{d.isoformat()}" = "壮族三月三"\n' for d in sorted(estimated))
    (st.config / "calendars" / "guangxi-correction.toml").write_text(
        f'region = "guangxi"\nsource = "测试更正通知"\n[days_off]\n{days}"{extra.isoformat()}" = "临时调整"\n',
        encoding="utf-8",
    )
    await signal_open_items(st.client, "日历数据已更新（测试）")
    after = await st.wait_for(lambda: st.clock(doc, "policy_publication"), lambda c: c.state != "missed")
    assert (after.state, after.lateness_working_days, after.due) == ("met", 0, published.isoformat())
    with session() as s:
        changes = s.exec(select(DueDateChange).where(DueDateChange.item_id == doc)).all()
    assert [(c.rule, c.old_due, c.new_due) for c in changes] == [
        ("policy_publication", old_due.isoformat(), published.isoformat())
    ]
    assert "由逾期 1 个工作日改为按时" in changes[0].reason
    assert st.clock(doc, "policy_interpretation").state == "open"


def _finished(spec):
    from activities.clocks import calc
    from domain.model import ClockSnapshot

    c = calc(spec)
    return ClockSnapshot(
        rule=spec.rule,
        start=spec.start,
        due=c.due,
        due_instant=c.due_instant,
        state="missed" if c.late else "met",
        met_on=spec.met_on,
        lateness_working_days=c.lateness_working_days,
        provisional=c.provisional,
        paused_days=c.paused_days,
        region=spec.region,
        explanation=c.explanation,
    )


def test_a_finished_clock_is_recomputed_from_its_snapshot_alone():
    """Pauses, an extension and a restart are read back from the stored explanation: on an unchanged
    calendar nothing changes (no false record on every reload); a stale due date is corrected."""
    from activities.clocks import ClockSpec, ExtensionSpec, PauseSpec, reproject, spec_from_snapshot

    spec = ClockSpec(
        rule="request_reply",
        start="2026-03-10",
        region=REGION,
        pauses=[PauseSpec(start="2026-03-16", end="2026-03-20", reason="征求第三方意见")],
        extensions=[ExtensionSpec(on="2026-04-10", working_days=10, reason="复杂")],
        restarted_from="2026-03-02",
        met_on="2026-05-06",  # the due day: 20 + 10 working days, the pause not counted
    )
    snap = _finished(spec)
    assert (snap.due, snap.state) == ("2026-05-06", "met")
    assert spec_from_snapshot(snap).model_dump() == spec.model_dump(exclude={"pauses", "extensions"}) | {
        "pauses": [p.model_dump() | {"kind": None} for p in spec.pauses],
        "extensions": [e.model_dump() | {"event_id": ""} for e in spec.extensions],
    }
    assert reproject(snap, "测试") is None
    stale = snap.model_copy(update={"due": "2026-05-05", "state": "missed", "lateness_working_days": 1})
    new, text = reproject(stale, "测试")
    assert (new.due, new.state, new.lateness_working_days) == (snap.due, snap.state, snap.lateness_working_days)
    assert text.startswith("测试：") and "到期日由 2026-05-05 变为 2026-05-06，由逾期 1 个工作日改为按时" in text
    # Only the provisional mark differs: the clock is corrected, nothing is recorded (as for an open clock).
    marked = snap.model_copy(update={"provisional": not snap.provisional})
    fixed, none = reproject(marked, "测试")
    assert fixed.provisional == snap.provisional and none is None
    # Withdrawn after the (old) due date, before the new one: closed, not met.
    closed = stale.model_copy(update={"explanation": {**stale.explanation, "closed_late": True}})
    assert reproject(closed, "测试")[0].state == "closed"


def test_a_delayed_reply_keeps_its_later_date_when_re_projected():
    """条例第三十五条: a reply met after the statutory due date but by the agency's notified later date is on
    time; a reload of an unchanged calendar must neither flip it to missed nor drop the receipt note."""
    from activities.clocks import ClockSpec, reproject, spec_from_snapshot

    spec = ClockSpec(
        rule="request_reply",
        start="2026-03-10",
        region=REGION,
        note="网上申请：按平台提交时间确定收到日期",
        delayed_to="2026-05-29",
        delay_note="按条例第三十五条延迟答复：申请数量明显超过合理范围",
        met_on="2026-05-20",  # after the statutory 20 working days, before the later date
    )
    snap = _finished(spec)
    assert (snap.due, snap.state) == ("2026-05-29", "met")
    back = spec_from_snapshot(snap)
    assert (back.delayed_to, back.note, back.delay_note) == (spec.delayed_to, spec.note, spec.delay_note)
    assert reproject(snap, "测试") is None  # nothing changed: nothing recorded, not missed


def test_finished_items_with_met_clocks_pages_over_finished_items_only(db_session):
    from domain.model import ClockSnapshot, ItemSnapshot
    from store.items import finished_items_with_met_clocks, save_snapshot

    def item(id_, state, *clock_states):
        clocks = [
            ClockSnapshot(rule=f"r{i}", start="2026-03-02", due="2026-03-30", state=cs, met_on="2026-03-30")
            for i, cs in enumerate(clock_states)
        ]
        save_snapshot(
            db_session,
            ItemSnapshot(id=id_, type="request", department="qz-fgw", state=state, version=1, clocks=clocks),
        )

    item("A", "closed", "met", "missed")
    item("B", "open", "met", "open")  # its workflow runs: it recomputes its own clocks
    item("C", "closed", "closed")  # nothing was met or missed
    item("D", "abandoned", "missed")
    item("E", "closed", "met")
    assert finished_items_with_met_clocks(db_session, None, 2) == ["A", "D"]
    assert finished_items_with_met_clocks(db_session, "D", 2) == ["E"]
