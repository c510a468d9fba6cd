"""Every workflow path on the time-skipping server, through the real ingest path, store and receivers.

The test server's clock starts at the real present and only moves forward; every date here is derived
from it with the production calendar, so the tests hold whatever day they run on.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from domain.engine import engine
from store.deliveries import list_deliveries
from store.models import DueDateChange, EventRecord
from tests.workflow_harness import NotificationRecorder, stack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]

DAY = dt.timedelta(days=1)


# Every department of config/departments.toml is in Guangxi (钦州市): dates are derived with its calendar
# (壮族三月三 included), or a test fails on the days around it.
REGION = "guangxi"
# Calendar methods taking a region, and how many positional arguments come before it.
_REGIONAL = {"add_working_days": 2, "subtract_working_days": 2, "working_days_between": 2, "next_working_day": 1}
_REGIONAL |= {"is_workday": 1, "day": 1}


class _RegionCalendar:
    """The production calendar with the departments' region as the default region."""

    def __init__(self, calendar, region: str):
        self._calendar, self._region = calendar, region

    def __getattr__(self, name):
        method = getattr(self._calendar, name)
        if name not in _REGIONAL:
            return method

        def call(*args, **kw):
            if len(args) <= _REGIONAL[name] and "region" not in kw:
                kw["region"] = self._region
            return method(*args, **kw)

        return call


def cal():
    return _RegionCalendar(engine().calendar, REGION)


def signed(doc_id, dept, day, **kw):
    return {
        "type": "document.signed",
        "document_id": doc_id,
        "department": dept,
        "title": f"测试文件{doc_id}",
        "kind": kw.pop("kind", "normative"),
        "signed_on": day.isoformat(),
        "disclosure": kw.pop("disclosure", "public"),
        **kw,
    }


def received(req_id, dept, day):
    return {
        "type": "request.received",
        "request_id": req_id,
        "department": dept,
        "channel": "online",
        "received_on": day.isoformat(),
        "applicant_type": "natural_person",
        "applicant": {"name": "张三", "contact": "13800000000"},
        "subject": "申请公开某项目批复",
    }


@pytest.fixture
async def sent():
    return NotificationRecorder()


@pytest.fixture
async def st_mocked(wf_env, tmp_path, monkeypatch, sent):
    """The stack with `send_notification` replaced by the recorder (samples-python style): for tests of
    when and to whom the workflow notifies, not of the delivery itself (tests/test_notify.py does that)."""
    async with stack(wf_env, tmp_path, monkeypatch, mocks=[sent.activity]) as s:
        yield s


async def test_on_time_publication_and_interpretation_chain(st):
    today = await st.today()
    c = cal()
    doc = st.id("D")
    sign_day = c.subtract_working_days(today, 5)
    await st.ok(signed(doc, "qz-fgw", sign_day))
    pub = st.clock(doc, "policy_publication")
    assert pub.state == "open" and pub.due == c.add_working_days(sign_day, 20).isoformat()
    await st.ok(
        {"type": "document.published", "document_id": doc, "published_on": today.isoformat(), "url": "https://x/1"}
    )
    snap = st.item(doc)
    pub = next(k for k in snap.clocks if k.rule == "policy_publication")
    interp = next(k for k in snap.clocks if k.rule == "policy_interpretation")
    assert (pub.state, pub.lateness_working_days, pub.met_on) == ("met", 0, today.isoformat())
    assert interp.state == "open" and interp.due == c.add_working_days(today, 3).isoformat()
    assert snap.state == "open"
    live = await st.query("document", doc)  # the workflow's own state, readable by Query at any moment
    assert [(k.rule, k.state, k.due) for k in live.clocks] == [(k.rule, k.state, k.due) for k in snap.clocks]
    await st.ok(
        {
            "type": "interpretation.published",
            "document_id": doc,
            "published_on": today.isoformat(),
            "url": "https://x/1-jd",
            "form": "graphic",
        }
    )
    snap = st.item(doc)
    assert {k.rule: k.state for k in snap.clocks} == {"policy_publication": "met", "policy_interpretation": "met"}
    assert snap.state == "closed"
    # The workflow ends once every clock is settled; a second publication is refused.
    assert (await st.result("document", doc)).state == "closed"
    r = await st.ingest(
        {"type": "document.published", "document_id": doc, "published_on": today.isoformat(), "url": "http://u.cn"}
    )
    assert r[0].status == "rejected" and "已结束" in r[0].reason


async def test_late_publication_counts_working_days(st):
    today = await st.today()
    c = cal()
    doc = st.id("D")
    pub_day = today if c.is_workday(today) else c.subtract_working_days(today, 1)
    sign_day = c.subtract_working_days(pub_day, 27)
    await st.ok(signed(doc, "qz-czj", sign_day, kind="regulation", needs_interpretation=False))
    await st.ok(
        {"type": "document.published", "document_id": doc, "published_on": pub_day.isoformat(), "url": "http://u.cn"}
    )
    pub = st.clock(doc, "policy_publication")
    due = c.add_working_days(sign_day, 20)
    assert pub.state == "missed" and pub.due == due.isoformat()
    assert pub.lateness_working_days == c.working_days_between(due, pub_day) == 7
    assert st.item(doc).state == "closed"  # no interpretation needed


async def test_withheld_and_on_request_documents_have_no_clock(st):
    today = await st.today()
    r = await st.ingest(signed(st.id("W0"), "qz-fgw", today, kind="policy", disclosure="withheld"))
    assert r[0].status == "rejected" and r[0].field == "disclosure_reason"
    r = await st.ingest(signed(st.id("Q0"), "qz-fgw", today, kind="other", disclosure="on_request"))
    assert r[0].status == "rejected" and r[0].field == "disclosure_reason"
    await st.ok(
        signed(st.id("W1"), "qz-fgw", today, kind="policy", disclosure="withheld", withheld_reason="涉及国家秘密"),
        signed(st.id("Q1"), "qz-fgw", today, kind="other", disclosure="on_request", disclosure_reason="仅涉及特定对象"),
    )
    for doc in (st.id("W1"), st.id("Q1")):
        snap = st.item(doc)
        assert snap.clocks == [] and snap.state == "recorded"


async def test_regulations_and_normative_documents_must_be_public(st):
    """条例第二十条(一): a normative document or regulation cannot escape its 20-working-day clock by being
    recorded as on request or withheld; refused through the ingest path with the field named."""
    today = await st.today()
    for kind in ("normative", "regulation"):
        for disclosure in ("on_request", "withheld"):
            doc = st.id(f"{kind}-{disclosure}")
            r = await st.ingest(signed(doc, "qz-fgw", today, kind=kind, disclosure=disclosure, disclosure_reason="x"))
            assert r[0].status == "rejected" and r[0].field == "disclosure", r[0]
            assert "第二十条" in r[0].reason
    doc = st.id("N")
    await st.ok(signed(doc, "qz-fgw", today, needs_interpretation=False))
    assert [c.rule for c in st.item(doc).clocks] == ["policy_publication"]


async def test_publication_before_signing_is_rejected(st):
    today = await st.today()
    doc = st.id("D")
    r = await st.ingest(
        {"type": "document.published", "document_id": doc, "published_on": today.isoformat(), "url": "http://u.cn"}
    )
    assert r[0].status == "rejected" and "未知事项" in r[0].reason
    await st.ok(signed(doc, "qz-fgw", today))
    r = await st.ingest(
        {
            "type": "document.published",
            "document_id": doc,
            "published_on": (today - 3 * DAY).isoformat(),
            "url": "http://u.cn",
        }
    )
    assert (r[0].status, r[0].field) == ("rejected", "published_on") and "早于" in r[0].reason
    r = await st.ingest(
        {
            "type": "interpretation.published",
            "document_id": doc,
            "published_on": today.isoformat(),
            "url": "http://u.cn",
        }
    )
    assert r[0].status == "rejected" and "尚未公开" in r[0].reason


async def test_correction_restarts_the_reply_clock(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 6)
    await st.ok(received(req, "qz-jyj", recv))
    asked = c.subtract_working_days(today, 4)
    await st.ok(
        {
            "type": "request.correction_requested",
            "request_id": req,
            "on": asked.isoformat(),
            "respond_by": (today + 10 * DAY).isoformat(),
        }
    )
    reply = st.clock(req, "request_reply")
    assert reply.state == "paused" and reply.due is None
    assert st.clock(req, "correction_notice").state == "met"
    corrected = c.subtract_working_days(today, 1)
    await st.ok({"type": "request.corrected", "request_id": req, "on": corrected.isoformat()})
    reply = st.clock(req, "request_reply")
    assert reply.state == "open" and reply.start == corrected.isoformat()
    assert reply.due == c.add_working_days(corrected, 20).isoformat()
    assert "重新起算" in " ".join(reply.explanation["notes"])
    r = await st.ingest({"type": "request.corrected", "request_id": req, "on": today.isoformat()})
    assert r[0].status == "rejected" and "未告知补正" in r[0].reason


async def test_no_correction_by_respond_by_abandons_the_request(st):
    today = await st.today()
    req = st.id("R")
    await st.ok(received(req, "qz-jyj", today))
    # A working day: a respond_by on a rest day moves to the next working day (民法典第二百零三条), so
    # "today + 3 days" would be a later deadline whenever it falls on a weekend or holiday.
    respond_by = cal().add_working_days(today, 3)
    await st.ok(
        {
            "type": "request.correction_requested",
            "request_id": req,
            "on": today.isoformat(),
            "respond_by": respond_by.isoformat(),
        }
    )
    assert st.item(req).data["respond_by"] == respond_by.isoformat()
    await st.env.sleep(dt.datetime.combine(respond_by + 2 * DAY, dt.time(12), st_tz()) - await st.now())
    final = await st.result("request", req)
    assert final.state == "abandoned" and final.data["outcome"] == "other.no_correction"
    snap = st.item(req)
    assert snap.state == "abandoned"
    assert st.clock(req, "request_reply").state == "closed"
    from store.db import session

    with session() as s:
        ev = s.exec(
            select(EventRecord).where(EventRecord.item_id == req, EventRecord.type == "request.abandoned")
        ).one()
    assert ev.payload["on"] == respond_by.isoformat() and "applicant" not in str(ev.payload)


async def test_consultation_pause_excludes_the_paused_days(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 8)
    p_start, p_end = c.subtract_working_days(today, 5), c.subtract_working_days(today, 2)
    await st.ok(
        received(req, "qz-fgw", recv),
        {"type": "request.consultation_started", "request_id": req, "on": p_start.isoformat(), "with": "third_party"},
    )
    reply = st.clock(req, "request_reply")
    assert reply.state == "paused" and reply.due is None
    third = st.clock(req, "third_party_opinion")
    assert third.due == c.add_working_days(p_start, 15).isoformat()
    await st.ok({"type": "request.consultation_ended", "request_id": req, "on": p_end.isoformat()})
    reply = st.clock(req, "request_reply")
    used = c.working_days_between(recv, p_start - DAY)
    assert reply.state == "open" and reply.due == c.add_working_days(p_end, 20 - used).isoformat()
    assert reply.paused_days == (p_end - p_start).days + 1
    assert st.clock(req, "third_party_opinion").state == "met"


async def test_extension_accepted_once_and_refused_otherwise(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 3)
    await st.ok(received(req, "qz-czj", recv))
    base = c.add_working_days(recv, 20)
    r = await st.ingest(
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 21,
            "approved_by": "head-czj",
            "notified_on": today.isoformat(),
            "reason": "复杂",
        }
    )
    assert r[0].status == "rejected" and r[0].field == "working_days"
    await st.ok(
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 15,
            "approved_by": "head-czj",
            "notified_on": today.isoformat(),
            "reason": "需调阅档案",
        }
    )
    reply = st.clock(req, "request_reply")
    assert reply.due == c.add_working_days(base, 15).isoformat()
    assert reply.explanation["extensions"][0]["from_due"] == base.isoformat()
    r = await st.ingest(
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 5,
            "approved_by": "head-czj",
            "notified_on": today.isoformat(),
            "reason": "again",
        }
    )
    assert r[0].status == "rejected" and "只能延期 1 次" in r[0].reason
    # Late extension on another request: decided after the due date.
    req2 = st.id("R2")
    await st.ok(received(req2, "qz-czj", c.subtract_working_days(today, 25)))
    r = await st.ingest(
        {
            "type": "request.extended",
            "request_id": req2,
            "on": today.isoformat(),
            "working_days": 5,
            "approved_by": "head-czj",
            "notified_on": today.isoformat(),
            "reason": "late",
        }
    )
    assert (r[0].status, r[0].field) == ("rejected", "on") and "届满前" in r[0].reason
    # Replied late: lateness counted; replying twice is refused.
    await st.ok({"type": "request.replied", "request_id": req2, "on": today.isoformat(), "outcome": "granted"})
    reply2 = st.clock(req2, "request_reply")
    assert reply2.state == "missed" and reply2.lateness_working_days == 5
    r = await st.ingest({"type": "request.replied", "request_id": req2, "on": today.isoformat(), "outcome": "granted"})
    assert r[0].status == "rejected"


async def test_requests_before_2019_05_15_use_the_2008_limits(st):
    req = st.id("OLD")
    await st.ok(received(req, "qz-fgw", dt.date(2019, 5, 6)))
    assert st.clock(req, "request_reply").due == "2019-05-27"  # 15 wd
    r = await st.ingest(
        {
            "type": "request.extended",
            "request_id": req,
            "on": "2019-05-10",
            "working_days": 16,
            "approved_by": "head-fgw",
            "notified_on": "2019-05-10",
            "reason": "y",
        }
    )
    assert r[0].status == "rejected" and "15" in r[0].reason


async def test_reminders_fire_once_each_on_working_days(st_mocked, sent):
    st = st_mocked
    st.ladder_sweep(False)  # the per-item timer path (sweep = false), each notice asked of the recorder
    today = await st.today()
    c = cal()
    req = st.id("R")
    await st.ok(received(req, "qz-fgw", today))
    due = dt.date.fromisoformat(st.clock(req, "request_reply").due)
    sleep = dt.datetime.combine(c.add_working_days(due, 2), dt.time(12), tzinfo=st_tz()) - await st.now()
    await st.env.sleep(sleep)
    await st.settle(f"request:{req}")
    reply = [r for r in sent.requests if r.item_id == req and r.rule == "request_reply"]
    assert sorted((r.step, r.person_id) for r in reply) == [
        ("due_today", "head-fgw"),
        ("due_today", "liaison-fgw"),
        ("overdue_1", "supervisor-zwgk"),
        ("t_minus_1", "liaison-fgw"),
        ("t_minus_3", "liaison-fgw"),
    ]
    keys = [r.key for r in sent.requests if r.item_id == req]
    assert len(keys) == len(set(keys))  # each notice asked for once, without relying on the store's dedup
    # The correction window only warns the liaison the day before it closes, then lapses (never overdue).
    window = [r for r in sent.requests if r.item_id == req and r.rule == "correction_notice"]
    assert [(r.step, r.person_id) for r in window] == [("t_minus_1", "liaison-fgw")]
    assert st.clock(req, "correction_notice").state == "closed"
    assert {r.context.get("due") for r in reply} == {due.isoformat()}
    assert st.receiver.posts == []  # nothing reached a real channel
    # Every notice was planned for 09:00 on a working day (the occurrence carries the planned day).
    for r in reply + window:
        fired_day = r.key.split("@")[1].split(":")[0]
        assert c.is_workday(dt.date.fromisoformat(fired_day[:10]))


async def test_swept_reminders_fire_once_each_never_early(st):
    """The default path: the daily sweep (its Schedule's runs, every day at 09:00) sends the request's 09:00
    steps, each item step once to each person, on a working day, at its instant and never before."""
    from domain.ladder import plan
    from store.db import session
    from store.deliveries import attempts_for, deliveries_for_item

    today = await st.today()
    c = cal()
    req = st.id("R")
    registered = await st.now()
    await st.ok(received(req, "qz-fgw", today))
    clocks = {r: st.clock(req, r) for r in ("request_reply", "correction_notice")}
    due = dt.date.fromisoformat(clocks["request_reply"].due)
    instants = {}  # step key -> its planned instant, as the item planned it at registration
    for rule, clock in clocks.items():
        ladder = engine().ladders.for_rule(rule, engine().rules[rule].unit)
        for s in plan(ladder, dt.date.fromisoformat(clock.due), c, clock.region, registered):
            instants[(rule, s.key)] = s.fire_at
    end = dt.datetime.combine(c.add_working_days(due, 2), dt.time(12), tzinfo=st_tz())
    runs = await st.sleep_until(end)
    assert len(runs) >= (end.date() - today).days  # one run a day
    await st.settle(f"request:{req}")
    with session() as s:
        rows = deliveries_for_item(s, req)
        attempts = {r.key: [a.status for a in attempts_for(s, r.key)] for r in rows}
    reply = sorted((r.step, r.person) for r in rows if r.rule == "request_reply")
    assert reply == [
        ("due_today", "head-fgw"),
        ("due_today", "liaison-fgw"),
        ("overdue_1", "supervisor-zwgk"),
        ("t_minus_1", "liaison-fgw"),
        ("t_minus_3", "liaison-fgw"),
    ]
    assert sorted((r.step, r.person) for r in rows if r.rule == "correction_notice") == [("t_minus_1", "liaison-fgw")]
    for r in rows:
        occurrence = r.key.split(":")[2]
        planned = instants[(r.rule, occurrence)]
        assert r.state == "sent" and attempts[r.key] == ["ok"], (r.key, attempts[r.key])  # sent once
        claimed = r.created_at.replace(tzinfo=r.created_at.tzinfo or dt.UTC)
        assert planned <= claimed < planned + dt.timedelta(hours=1), (r.key, planned, claimed)  # at its sweep
        assert c.is_workday(planned.date())
    assert sum(run.sent for run in runs) == len(rows)  # every notice was the sweep's, none the item timer's
    assert sum(run.steps for run in runs) == len({(r.rule, r.key.split(":")[2]) for r in rows})
    # A second run for the due day's instant (a retried Schedule run) sends nothing again.
    again = await st.sweep(instants[("request_reply", f"due_today@{due}")])
    assert (again.sent, again.already_sent) == (0, 2)


def st_tz():
    from domain.shanghai import SHANGHAI

    return SHANGHAI


async def test_backfilled_overdue_item_gets_one_notice_not_the_ladder(st_mocked, sent):
    st = st_mocked
    today = await st.today()
    c = cal()
    doc = st.id("OLD")
    await st.ok(signed(doc, "qz-zrzyj", c.subtract_working_days(today, 60), needs_interpretation=False))
    from domain.ladder import BACKFILL_GRACE, next_allowed

    catch_up = next_allowed(c, await st.now() + BACKFILL_GRACE, "national", dt.time(9))
    await st.env.sleep(catch_up - await st.now() + dt.timedelta(hours=1))
    await st.settle(f"document:{doc}")
    notices = [r for r in sent.requests if r.item_id == doc]
    assert len(notices) == 1, [r.key for r in notices]
    assert notices[0].person_id.startswith("supervisor") and notices[0].step.startswith("overdue")


async def test_calendar_change_moves_due_date_records_and_tells_liaison(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    await st.ok(received(req, "qz-fgw", today))
    old_due = dt.date.fromisoformat(st.clock(req, "request_reply").due)
    assert st.clock(req, "request_reply").region == "guangxi"  # from departments.toml
    # A newly published regional notice makes the working day before the due date a day off.
    # (A partial national file would make its whole year official; regional days only add.)
    extra = c.subtract_working_days(old_due, 1, "guangxi")
    # A notice covers its year: one for a year whose 三月三 is still estimated states those days too.
    estimated = engine().calendar.estimated_days("guangxi", extra.year)
    days = "".join(f'"{d.isoformat()}" = "壮族三月三"\n' for d in sorted(estimated))
    (st.config / "calendars" / "guangxi-extra.toml").write_text(
        f'region = "guangxi"\nsource = "测试通知"\n[days_off]\n{days}"{extra.isoformat()}" = "临时调整"\n',
        encoding="utf-8",
    )
    from services.calendar import signal_open_items

    assert await signal_open_items(st.client, "日历数据已更新（测试）") >= 1
    new_due = await st.wait_for(lambda: st.clock(req, "request_reply").due, lambda v: v != old_due.isoformat())
    from domain.calendar import load_calendar

    # The extra day off pushes the 20th working day one working day later.
    assert (
        new_due
        == load_calendar().add_working_days(today, 20, "guangxi").isoformat()
        == c.add_working_days(old_due, 1, "guangxi").isoformat()
    )
    from store.db import session

    with session() as s:
        change = s.exec(select(DueDateChange).where(DueDateChange.item_id == req)).one()
    assert (change.old_due, change.new_due) == (old_due.isoformat(), new_due) and "日历" in change.reason
    told = await st.wait_for(
        lambda: [d for d in list_deliveries(item_id=req) if d.step == "due_date_changed" and d.state == "sent"], bool
    )
    assert [d.person for d in told] == ["liaison-fgw"]
    msg = next(p.json["message"] for p in st.posts_for(req) if "liaison-fgw" in p.path and "变" in p.json["title"])
    assert new_due[:4] in msg


async def test_duplicate_and_conflicting_event_ids(st):
    today = await st.today()
    req = st.id("R")
    ev = {"event_id": f"{st.tag}-dup", **received(req, "qz-fgw", today)}
    r1 = st._track(await st.ingestor.ingest([(1, ev), (2, ev), (3, {**ev, "subject": "改了内容"})]))
    assert [r.status for r in r1] == ["applied", "duplicate", "rejected"]
    assert r1[2].field == "event_id"
    r2 = await st.ingestor.ingest([(1, ev)])
    assert r2[0].status == "duplicate"


async def test_opinion_budget_and_annual_report_run_on_the_generic_workflow(st):
    now = await st.now()
    today = now.date()
    detected = now - dt.timedelta(hours=24)  # every instant in the past: a fact is never dated ahead
    case = st.id("C")
    await st.ok(
        {
            "type": "opinion.detected",
            "case_id": case,
            "department": "qz-zfb",
            "detected_at": detected.isoformat(),
            "severity": "major",
        }
    )
    snap = st.item(case)
    assert {k.rule for k in snap.clocks} == {"opinion_response_info", "opinion_response_press"}
    await st.ok(
        {"type": "opinion.info_released", "case_id": case, "at": (detected + dt.timedelta(hours=6)).isoformat()}
    )
    assert st.clock(case, "opinion_response_info").state == "missed"
    await st.ok(
        {"type": "opinion.press_conference", "case_id": case, "at": (detected + dt.timedelta(hours=20)).isoformat()}
    )
    assert st.clock(case, "opinion_response_press").state == "met"
    b = st.id("B")
    await st.ok(
        {
            "type": "budget.approved",
            "item_id": b,
            "department": "qz-czj",
            "approved_on": today.isoformat(),
            "kind": "budget",
        }
    )
    budget = st.clock(b, "budget_disclosure")
    assert budget.due == cal().next_working_day(today + 20 * DAY).isoformat()
    dept = "qz-jyj"
    # a fresh report year per run, from 2008 (the first year 国务院令第492号 asked a report for)
    year = 2008 + int(st.tag[:2], 16) % 18
    await st.ok(
        {
            "type": "annual_report.published",
            "department": dept,
            "year": year,
            "published_on": f"{year + 1}-01-20",
            "url": "https://x/ar",
        }
    )
    rep = st.clock(f"annual-report:{dept}:{year}", "annual_report_department")
    assert rep.state == "met" and rep.start == f"{year + 1}-01-01"


async def test_annual_report_clocks_open_for_every_department_once(st):
    from activities.annual import OpenReports
    from domain.directory import load_directory
    from workflows.annual import AnnualReportKickoffWorkflow, KickoffInput

    year = 2019 + int(st.tag[:2], 16) % 6  # reports due under the 2019 regulation (Jan 31)
    out = await st.client.execute_workflow(
        AnnualReportKickoffWorkflow.run, KickoffInput(year=year), id=f"kickoff-{st.tag}", task_queue="shixian"
    )
    deps = load_directory().departments.values()
    expected = sum(len(d.annual_reports) for d in deps)
    assert len(out) == expected and all("已应用" in line for line in out), out
    for d in deps:
        st.started.add(f"annual_report:annual-report:{d.id}:{year}")
        rep = st.clock(f"annual-report:{d.id}:{year}", "annual_report_department")
        assert (rep.start, rep.due, rep.state) == (f"{year + 1}-01-01", f"{year + 1}-01-31", "open")
    gov = st.clock(f"government-annual-report:qz-zfb:{year}", "annual_report_government")
    assert gov.due == f"{year + 1}-03-31"
    st.started.add(f"annual_report:government-annual-report:qz-zfb:{year}")
    again = await st.client.execute_workflow(
        AnnualReportKickoffWorkflow.run, KickoffInput(year=year), id=f"kickoff2-{st.tag}", task_queue="shixian"
    )
    assert all("重复" in line for line in again)  # a repeated run changes nothing
    await st.ok(
        {
            "type": "annual_report.published",
            "department": "qz-czj",
            "year": year,
            "published_on": f"{year + 1}-03-02",
            "url": "https://x/ar",
        }
    )
    late = st.clock(f"annual-report:qz-czj:{year}", "annual_report_department")
    assert late.state == "missed" and late.lateness_working_days >= 1
    assert OpenReports(year=year).year == year


async def test_reply_during_consultation_or_awaiting_correction_settles_the_clock(st):
    today = await st.today()
    c = cal()
    r1, r2 = st.id("R1"), st.id("R2")
    recv = c.subtract_working_days(today, 6)
    await st.ok(
        received(r1, "qz-fgw", recv),
        {
            "type": "request.consultation_started",
            "request_id": r1,
            "on": c.add_working_days(recv, 2).isoformat(),
            "with": "third_party",
        },
        {"type": "request.replied", "request_id": r1, "on": today.isoformat(), "outcome": "granted"},
    )
    reply = st.clock(r1, "request_reply")
    assert (reply.state, reply.lateness_working_days) == ("met", 0) and st.item(r1).state == "closed"
    await st.ok(
        received(r2, "qz-fgw", recv),
        {
            "type": "request.correction_requested",
            "request_id": r2,
            "on": c.add_working_days(recv, 1).isoformat(),
            "respond_by": (today + 5 * DAY).isoformat(),
        },
        {"type": "request.replied", "request_id": r2, "on": today.isoformat(), "outcome": "unavailable.still_unclear"},
    )
    r2_reply = st.clock(r2, "request_reply")
    assert (r2_reply.state, r2_reply.lateness_working_days) == ("met", 0) and st.item(r2).state == "closed"
    assert r2_reply.explanation["pauses"][0]["reason"] == "待申请人补正"


async def test_correction_is_asked_once_and_within_seven_working_days(st):
    today = await st.today()
    c = cal()
    req, late = st.id("R"), st.id("LATE")
    recv = c.subtract_working_days(today, 3)
    await st.ok(
        received(req, "qz-jyj", recv),
        {
            "type": "request.correction_requested",
            "request_id": req,
            "on": today.isoformat(),
            "respond_by": (today + 5 * DAY).isoformat(),
        },
        {"type": "request.corrected", "request_id": req, "on": today.isoformat()},
    )
    r = await st.ingest(
        {
            "type": "request.correction_requested",
            "request_id": req,
            "on": today.isoformat(),
            "respond_by": (today + 5 * DAY).isoformat(),
        }
    )
    assert r[0].status == "rejected" and "一次性告知" in r[0].reason
    await st.ok(received(late, "qz-jyj", c.subtract_working_days(today, 12)))
    r = await st.ingest(
        {
            "type": "request.correction_requested",
            "request_id": late,
            "on": today.isoformat(),
            "respond_by": (today + 5 * DAY).isoformat(),
        }
    )
    assert (r[0].status, r[0].field) == ("rejected", "on") and "7个工作日" in r[0].reason
    r = await st.ingest({"type": "request.abandoned", "request_id": late, "on": today.isoformat()})
    assert r[0].status == "rejected" and "系统" in r[0].reason  # no closing one's own overdue request


async def test_unanswered_consultation_ends_when_its_window_lapses(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    await st.ok(
        received(req, "qz-czj", today),
        {"type": "request.consultation_started", "request_id": req, "on": today.isoformat(), "with": "agency"},
    )
    window = st.clock(req, "agency_opinion")
    lapse = dt.date.fromisoformat(window.due)
    await st.env.sleep(dt.datetime.combine(lapse + 2 * DAY, dt.time(12), st_tz()) - await st.now())
    reply = await st.wait_for(lambda: st.clock(req, "request_reply"), lambda k: k.state == "open")
    # Deemed consent (条例第三十四条): the pause ran from the start day through the window's last day.
    assert reply.due == c.add_working_days(lapse, 20, "guangxi").isoformat()
    assert st.clock(req, "agency_opinion").state == "closed"


async def test_item_ids_and_departments_are_checked(st):
    today = await st.today()
    doc = st.id("X")
    await st.ok(signed(doc, "qz-fgw", today, kind="policy", disclosure="withheld", withheld_reason="涉密"))
    r = await st.ingest(signed(doc, "qz-fgw", today))  # a second life for a finished item
    assert r[0].status == "rejected" and "已结束" in r[0].reason, r[0].text()
    assert st.item(doc).state == "recorded"
    r = await st.ingest(received(doc, "qz-jyj", today))  # the same id for another kind of item
    assert r[0].status == "rejected" and "已被" in r[0].reason
    r = await st.ingest(received(st.id("Y"), "no-such-dept", today))
    assert (r[0].status, r[0].field) == ("rejected", "department")


async def test_a_lapsing_window_is_never_listed_as_overdue(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    await st.ok(received(req, "qz-fgw", c.subtract_working_days(today, 25)))
    from services.queries import overdue_rows

    rows = [r for r in overdue_rows(today) if r["id"] == req]
    # The reply is overdue; the 7-day correction window (still open during the import grace) is not.
    assert [r["rule"] for r in rows] == ["request_reply"]
    assert rows[0]["overdue_working_days"] == 5
    from services.views import working_days_left  # what the item page and the API show

    assert working_days_left(st.clock(req, "request_reply"), today) == -5
    window = st.clock(req, "correction_notice")
    assert window.state == "open" and working_days_left(window, today) is None  # lapsed, not "逾期"


async def test_a_refused_start_leaves_no_item_behind(st):
    from temporalio.client import WorkflowFailureError

    from services.ingest import Ingestor

    today = await st.today()
    deps = st.config / "departments.toml"
    good = deps.read_text(encoding="utf-8")
    # A department configured with a region that has no calendar: its clocks cannot be computed.
    deps.write_text(
        good + '\n[[department]]\nid = "qz-new"\nname = "新设部门"\nregion = "atlantis"\n', encoding="utf-8"
    )
    doc = st.id("BAD")
    r = st._track(await Ingestor(st.client).ingest([(1, {"event_id": f"{doc}-1", **signed(doc, "qz-new", today)})]))
    assert r[0].status == "rejected" and "atlantis" in r[0].reason
    handle = st.client.get_workflow_handle(f"document:{doc}")
    with pytest.raises(WorkflowFailureError):  # started with its refused start event: ends at once, no orphan
        await handle.result()
    assert (await handle.describe()).status.name == "FAILED"
    assert st.item(doc) is None  # nothing of it reached the store
    deps.write_text(good + '\n[[department]]\nid = "qz-new"\nname = "新设部门"\nregion = "guangxi"\n', encoding="utf-8")
    ok = await Ingestor(st.client).ingest([(1, {"event_id": f"{doc}-2", **signed(doc, "qz-new", today)})])
    assert ok[0].status == "applied", ok[0].text()  # the corrected configuration can use the id
    assert st.clock(doc, "policy_publication").state == "open"


async def test_recalculation_keeps_a_lawful_extension_and_the_workflow_alive(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 20, "guangxi")  # due today: the extension is decided on the due day
    await st.ok(
        received(req, "qz-fgw", recv),
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 10,
            "approved_by": "head-fgw",
            "notified_on": today.isoformat(),
            "reason": "复杂",
        },
    )
    # A late notice turns a weekend day inside the counting period into a make-up working day: the
    # original due date moves earlier than the day the extension was decided.
    weekend = next(
        recv + dt.timedelta(days=k) for k in range(1, 30) if not c.is_workday(recv + dt.timedelta(days=k), "guangxi")
    )
    (st.config / "calendars" / "guangxi-makeup.toml").write_text(
        f'region = "guangxi"\nsource = "测试通知"\n[workdays]\n"{weekend.isoformat()}" = "调休上班"\n', encoding="utf-8"
    )
    from services.calendar import signal_open_items

    old_due = st.clock(req, "request_reply").due
    await signal_open_items(st.client, "日历数据已更新（测试）")
    reply = await st.wait_for(lambda: st.clock(req, "request_reply"), lambda k: k.due != old_due)
    assert reply.state == "open" and len(reply.explanation["extensions"]) == 1  # the decision stands
    desc = await st.client.get_workflow_handle(f"request:{req}").describe()
    assert desc.status.name == "RUNNING"


async def test_consultation_answered_after_its_window_counts_only_until_the_window(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 40, "guangxi")
    start = c.add_working_days(recv, 2, "guangxi")
    late_end = c.add_working_days(start, 25, "guangxi")  # the agency answered 10 wd after its window
    await st.ok(
        received(req, "qz-fgw", recv),
        {"type": "request.consultation_started", "request_id": req, "on": start.isoformat(), "with": "agency"},
        {"type": "request.consultation_ended", "request_id": req, "on": late_end.isoformat()},
    )
    window = st.clock(req, "agency_opinion")
    assert window.state == "closed" and window.lateness_working_days is None  # a window is never "missed"
    reply = st.clock(req, "request_reply")
    used = c.working_days_between(recv, start - DAY, "guangxi")
    assert reply.due == c.add_working_days(dt.date.fromisoformat(window.due), 20 - used, "guangxi").isoformat()


async def test_extension_during_a_consultation_survives_the_window_lapsing(st):
    today = await st.today()
    c = cal()
    req = st.id("R")
    recv = c.subtract_working_days(today, 40, "guangxi")
    decided = c.add_working_days(recv, 30, "guangxi")
    # Imported: the consultation was never answered; an extension was decided while it was pending.
    await st.ok(
        received(req, "qz-czj", recv),
        {"type": "request.consultation_started", "request_id": req, "on": recv.isoformat(), "with": "agency"},
        {
            "type": "request.extended",
            "request_id": req,
            "on": decided.isoformat(),
            "working_days": 5,
            "approved_by": "head-czj",
            "notified_on": decided.isoformat(),
            "reason": "复杂",
        },
    )
    window_due = dt.date.fromisoformat(st.clock(req, "agency_opinion").due)
    await st.env.sleep(dt.timedelta(hours=2))  # past the import grace: the window lapses, the pause ends
    reply = await st.wait_for(lambda: st.clock(req, "request_reply"), lambda k: k.due is not None)
    # The pause ran through the window's last day; 20 + 5 working days counted after it.
    assert reply.due == c.add_working_days(window_due, 25, "guangxi").isoformat()
    desc = await st.client.get_workflow_handle(f"request:{req}").describe()
    assert desc.status.name == "RUNNING"


async def test_requests_under_the_2007_regulation_have_no_correction_window(st):
    req = st.id("OLD")
    await st.ok(
        received(req, "qz-fgw", dt.date(2018, 3, 5)),
        {"type": "request.correction_requested", "request_id": req, "on": "2018-03-20", "respond_by": "2018-03-30"},
        {"type": "request.corrected", "request_id": req, "on": "2018-03-26"},
    )
    snap = st.item(req)
    assert {k.rule for k in snap.clocks} == {"request_reply"}
    assert st.clock(req, "request_reply").due == cal().add_working_days(dt.date(2018, 3, 26), 15, "guangxi").isoformat()
