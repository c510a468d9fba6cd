"""Daily digests (issue 4 §3/§5): DigestWorkflow on the time-skipping server with a real worker, a temp
SQLite store and a real webhook receiver; the Schedule on a local dev server (the time-skipping test server
does not implement the schedule API: CreateSchedule is "unimplemented" there)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio
from sqlmodel import Session
from temporalio.client import ScheduleOverlapPolicy

from activities.digests import DigestInput, DigestSummary, digest_date
from domain.config import REPO_CONFIG
from domain.model import ClockSnapshot, ItemSnapshot
from domain.shanghai import SHANGHAI_OFFSET
from store import deliveries as dstore
from tests.receivers import WebhookReceiver, hook_every_person
from tests.workflow_harness import NotificationRecorder, app_worker, up_task

MAKEUP_SATURDAY = date(2026, 10, 10)  # 国庆节调休上班 (2026 arrangement, chinese-calendar data)
HOLIDAY_MONDAY = date(2026, 10, 5)  # 国庆节
PLAIN_SATURDAY = date(2026, 9, 19)  # ordinary weekend
GUANGXI_DAY_OFF = date(2026, 4, 20)  # a Monday; made a guangxi rest day by a test overlay below
PUBLIC_URL = "https://gk.qinzhou.example"


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def hook():
    with WebhookReceiver() as h:
        yield h


@pytest.fixture
def digest_env(tmp_path, monkeypatch, hook):
    """Copy of config/ whose people notify the webhook receiver; a fresh SQLite store."""
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    text = hook_every_person((cfg / "departments.toml").read_text(encoding="utf-8"), hook.port)
    assert text.count(f"json://127.0.0.1:{hook.port}/hook/") >= 10
    (cfg / "departments.toml").write_text(text, encoding="utf-8")
    # A regional rest day on a national working day (as a 壮族三月三 notice would add).
    (cfg / "calendars" / "guangxi-2026-test.toml").write_text(
        'region = "guangxi"\nsource = "测试用：2026年壮族三月三放假安排"\n[days_off]\n"2026-04-20" = "壮族三月三"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SHIXIAN_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    from store.db import database_url, get_engine, init_db

    engine = get_engine(database_url())
    init_db(engine)
    yield engine
    engine.dispose()


def _seed(engine, snaps: list[ItemSnapshot]) -> None:
    from store.items import save_snapshot

    with Session(engine) as s:
        for snap in snaps:
            assert save_snapshot(s, snap)


def _doc(id, dept, title, due, *, rule="policy_publication", type="document", state="open", clock_state="open"):
    return ItemSnapshot(
        id=id,
        type=type,
        department=dept,
        title=title,
        state=state,
        version=1,
        clocks=[ClockSnapshot(rule=rule, start="2026-09-01", due=due, state=clock_state, region="guangxi")],
    )


OCTOBER_ITEMS = [
    _doc("doc-fgw-1", "qz-fgw", "关于印发《钦州市优化营商环境若干措施》的通知", "2026-10-13"),  # 2 working days left
    _doc("doc-fgw-2", "qz-fgw", "钦州市2026年重点项目建设计划", "2026-09-30"),  # overdue across National Day
    _doc(
        "req-czj-3",
        "qz-czj",
        "关于公开2025年度部门预算执行情况的申请",
        "2026-10-10",
        rule="request_reply",
        type="request",
    ),  # due on the make-up Saturday itself
    _doc("doc-jyj-4", "qz-jyj", "钦州市教育局远期文件", "2026-10-30"),  # beyond 5 working days
    _doc("doc-zfb-5", "qz-zfb", "已办结的文件", "2026-10-09", state="closed", clock_state="met"),
    _doc("doc-zrz-6", "qz-zrzyj", "已按时公开的文件", "2026-10-12", clock_state="met"),
]


async def _run(client, tq: str, for_date: date | None) -> DigestSummary:
    from workflows.digests import DigestWorkflow

    return await client.execute_workflow(
        DigestWorkflow.run,
        DigestInput(for_date=for_date.isoformat() if for_date else None),
        id=f"digest-test-{uuid.uuid4().hex[:8]}",
        task_queue=tq,
        result_type=DigestSummary,
    )


# ---------------------------------------------------------------------------------------------- pure
def test_calendar_facts_used_here():
    from domain.engine import engine

    cal = engine().calendar
    assert MAKEUP_SATURDAY.weekday() == 5 and cal.is_workday(MAKEUP_SATURDAY)
    assert cal.day(MAKEUP_SATURDAY).reason == "国庆节调休上班"
    assert (
        cal.is_workday(date(2026, 9, 20)) and cal.is_workday(date(2025, 9, 28)) and cal.is_workday(date(2025, 10, 11))
    )
    assert HOLIDAY_MONDAY.weekday() == 0 and not cal.is_workday(HOLIDAY_MONDAY)
    assert PLAIN_SATURDAY.weekday() == 5 and not cal.is_workday(PLAIN_SATURDAY)
    assert GUANGXI_DAY_OFF.weekday() == 0 and cal.is_workday(GUANGXI_DAY_OFF)


def test_digest_date():
    utc = UTC
    now = datetime(2026, 10, 10, 1, 0, 5, tzinfo=utc)
    assert digest_date("2026-10-05", None, now) == ("2026-10-05", "input", False)
    # 09:00 Asia/Shanghai is 01:00 UTC: the scheduled time's date in Shanghai
    assert digest_date(None, datetime(2026, 10, 10, 1, 0, tzinfo=utc), now) == ("2026-10-10", "schedule", False)
    # a catch-up run of the 10-09 schedule starting at 01:00 Shanghai on 10-10 is stale
    late = datetime(2026, 10, 9, 17, 0, tzinfo=utc)
    assert digest_date(None, datetime(2026, 10, 9, 1, 0, tzinfo=utc), late) == ("2026-10-09", "schedule", True)
    # late the same day (20:00 Shanghai) still sends that day's digest
    assert digest_date(None, datetime(2026, 10, 9, 1, 0, tzinfo=utc), datetime(2026, 10, 9, 12, 0, tzinfo=utc)) == (
        "2026-10-09",
        "schedule",
        False,
    )
    # clock only: 16:30 UTC on 10-09 is 00:30 on 10-10 in Shanghai
    assert digest_date(None, None, datetime(2026, 10, 9, 16, 30, tzinfo=utc)) == ("2026-10-10", "clock", False)


# ---------------------------------------------------------------------------------------------- workflow
async def test_makeup_saturday_sends_digests_once(digest_env, hook, ts_env):
    _seed(digest_env, OCTOBER_ITEMS)
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        first = await _run(ts_env.client, tq, MAKEUP_SATURDAY)
        assert first.workday and first.status == "sent" and first.date == "2026-10-10"
        assert (first.sent, first.already_sent, first.failed) == (5, 0, 0), first
        assert first.reason == "国庆节调休上班" and first.date_source == "input"
        posts = hook.wait_for(5)
        await asyncio.sleep(0.3)
        assert len(hook.posts) == 5

        by_path = {p.path: p.json for p in posts}
        assert set(by_path) == {
            "/hook/liaison-fgw",
            "/hook/head-fgw",
            "/hook/liaison-czj",
            "/hook/head-czj",
            "/hook/supervisor-zwgk",
        }
        liaison = by_path["/hook/liaison-fgw"]
        assert liaison["title"] == (
            "【每日提醒】2026年10月10日：钦州市发展和改革委员会有1项事项已逾期、1项将在5个工作日内到期"
        )
        assert "关于印发《钦州市优化营商环境若干措施》的通知" in liaison["message"]
        assert "到期日：2026-10-13" in liaison["message"] and "剩余2个工作日" in liaison["message"]
        assert f"{PUBLIC_URL}/items/doc-fgw-1" in liaison["message"]
        # the liaison's overdue item comes first, before the due-soon list
        msg = liaison["message"]
        assert "钦州市2026年重点项目建设计划" in msg and "已逾期3个工作日" in msg
        assert (
            msg.index("已逾期（请优先办理）")
            < msg.index("重点项目")
            < msg.index("5个工作日内到期")
            < msg.index("营商环境")
        )

        head = by_path["/hook/head-fgw"]
        assert head["title"] == "【部门汇总】2026年10月10日：钦州市发展和改革委员会逾期1项、5个工作日内到期1项"
        # 09-30 due; 10-01..07 National Day; 10-08, 10-09 and the make-up 10-10 are working days
        assert "钦州市2026年重点项目建设计划｜政策文件主动公开｜到期日2026-09-30｜已逾期3个工作日" in head["message"]
        assert "营商环境" in head["message"]

        czj = by_path["/hook/liaison-czj"]
        assert czj["title"] == "【每日提醒】2026年10月10日：钦州市财政局有1项事项将在5个工作日内到期"
        # A webhook is a group channel: a request's title stays off it, its number and link remain.
        assert "关于公开2025年度部门预算执行情况的申请" not in czj["message"]
        assert "1. req-czj-3" in czj["message"] and f"{PUBLIC_URL}/items/req-czj-3" in czj["message"]
        assert "到期日：2026-10-10" in czj["message"] and "今日到期" in czj["message"]

        sup = by_path["/hook/supervisor-zwgk"]
        assert sup["title"] == "【逾期汇总】2026年10月10日：1个部门共1项事项逾期"
        assert "钦州市发展和改革委员会（1项）" in sup["message"]
        assert "钦州市2026年重点项目建设计划" in sup["message"] and "到期日2026-09-30" in sup["message"]
        for p in posts:  # nobody hears about items that are far off, closed or met
            assert "远期" not in p.json["message"] and "已办结" not in p.json["message"]
            assert "已按时公开" not in p.json["message"]

        # The same day again (schedule re-run, manual run, restarted worker): nothing new is sent.
        second = await _run(ts_env.client, tq, MAKEUP_SATURDAY)
        assert (second.sent, second.already_sent, second.failed) == (0, 5, 0), second
        await asyncio.sleep(0.3)
        assert len(hook.posts) == 5

    rows = dstore.list_deliveries(item_id="digest-2026-10-10")
    assert sorted(r.key for r in rows) == sorted(
        [
            "digest-2026-10-10:digest:digest_head:head-czj",
            "digest-2026-10-10:digest:digest_head:head-fgw",
            "digest-2026-10-10:digest:digest_liaison:liaison-czj",
            "digest-2026-10-10:digest:digest_liaison:liaison-fgw",
            "digest-2026-10-10:digest:digest_supervisor:supervisor-zwgk",
        ]
    )
    assert {r.state for r in rows} == {"sent"}
    with Session(digest_env) as s:
        for r in rows:  # one attempt each: the second run never reached a channel
            assert [(a.status, a.channel_index) for a in dstore.attempts_for(s, r.key)] == [("ok", 0)]


@pytest.mark.parametrize(
    "day, reason", [(HOLIDAY_MONDAY, "国庆节"), (PLAIN_SATURDAY, "周末")], ids=["holiday-monday", "plain-saturday"]
)
async def test_rest_days_send_nothing(digest_env, ts_env, day, reason):
    """Workflow behaviour only: delivery is the recorded stand-in activity (the real path is tested above)."""
    _seed(
        digest_env,
        [
            _doc("doc-fgw-1", "qz-fgw", "本该提醒的文件", (day + timedelta(days=2)).isoformat()),
            _doc("doc-fgw-2", "qz-fgw", "逾期文件", (day - timedelta(days=10)).isoformat()),
        ],
    )
    sent = NotificationRecorder()
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq, mocks=[sent.activity]):
        summary = await _run(ts_env.client, tq, day)
    assert summary.status == "skipped" and not summary.workday and summary.reason == reason
    assert (summary.sent, summary.already_sent) == (0, 0)
    assert sent.requests == []


async def test_regional_rest_day_only_city_wide_roles(digest_env, ts_env):
    """Guangxi rests on 2026-04-20 (test overlay), the nation works: only the city-wide supervisor reads.
    Workflow behaviour only: delivery is the recorded stand-in activity."""
    _seed(
        digest_env,
        [
            _doc("doc-fgw-1", "qz-fgw", "三月三前到期的文件", "2026-04-15"),
            _doc("doc-fgw-2", "qz-fgw", "下周到期的文件", "2026-04-22"),
        ],
    )
    sent = NotificationRecorder()
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq, mocks=[sent.activity]):
        summary = await _run(ts_env.client, tq, GUANGXI_DAY_OFF)
    assert summary.workday and summary.status == "sent" and summary.sent == 1, summary
    assert sorted(summary.resting_people) == ["head-fgw", "liaison-fgw"]
    assert summary.deliveries == ["supervisor-zwgk:digest_supervisor:sent"]
    [req] = sent.requests
    assert (req.item_id, req.person_id, req.step, req.channel_index) == (
        "digest-2026-04-20",
        "supervisor-zwgk",
        "digest_supervisor",
        0,
    )
    # counted on the department's (guangxi) calendar: 04-16 is a working day; 04-17 and 04-20 are not
    # (the 2026 notice: 4/17–4/20 off, config/calendars/guangxi-2026.toml); the next week's item is no
    # supervisor's business
    [dep] = req.context["departments"]
    assert dep["department"] == "qz-fgw" and req.context["total"] == 1
    assert [(i["item_id"], i["due"], i["overdue_working_days"]) for i in dep["items"]] == [
        ("doc-fgw-1", "2026-04-15", 1)
    ]


# ---------------------------------------------------------------------------------------------- schedule
@pytest_asyncio.fixture(loop_scope="session")
async def dev_env(temporal_cli_path):
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path,
        data_converter=pydantic_data_converter,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.mark.e2e
async def test_schedule_at_nine_shanghai_and_scheduled_run(digest_env, hook, dev_env, tmp_path):
    from domain.engine import engine
    from worker.digests import DIGEST_SCHEDULE_ID, digest_schedule_task, ensure_schedule

    client = dev_env.client
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    assert await ensure_schedule(client, task_queue=tq) == "created"
    handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)
    desc = await handle.describe()
    spec = desc.schedule.spec
    assert spec.time_zone_name == "Asia/Shanghai"
    assert [(c.hour[0].start, c.minute[0].start, c.second[0].start) for c in spec.calendars] == [(9, 0, 0)]
    cal = spec.calendars[0]
    assert (cal.day_of_week[0].start, cal.day_of_week[0].end) == (0, 6)  # every day: the workflow decides
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert desc.schedule.policy.catchup_window == timedelta(days=1)
    assert desc.schedule.action.workflow == "daily_digest" and desc.schedule.action.task_queue == tq
    # next runs: 01:00 UTC = 09:00 Beijing time, on consecutive days
    nxt = desc.info.next_action_times[:3]
    assert [(t.astimezone(UTC).hour, t.minute, t.second) for t in nxt] == [(1, 0, 0)] * 3
    assert (nxt[1] - nxt[0]) == timedelta(days=1)

    # Idempotent at every `shixian up`: an update, keeping an operator's pause.
    await handle.pause(note="运维暂停")
    assert await ensure_schedule(client, task_queue=tq) == "updated"
    desc = await handle.describe()
    assert desc.schedule.state.paused and desc.schedule.spec.time_zone_name == "Asia/Shanghai"
    await handle.unpause()

    # The up task: creates/updates, announces itself, ends on stop.
    async with up_task(digest_schedule_task, client, tmp_path) as ctx:
        assert ctx.addresses and "每天09:00 Asia/Shanghai" in ctx.addresses[0][1]
    # (the up task used the default task queue; put ours back for the triggered run below)
    await ensure_schedule(client, task_queue=tq)

    # A real scheduled run (triggered now): the date comes from the schedule's TemporalScheduledStartTime.
    _seed(digest_env, OCTOBER_ITEMS)
    async with app_worker(client, tq):
        await handle.trigger()
        wf_id = None
        for _ in range(200):
            desc = await handle.describe()
            if desc.info.recent_actions:
                wf_id = desc.info.recent_actions[-1].action.workflow_id
                break
            await asyncio.sleep(0.05)
        assert wf_id and wf_id.startswith(f"{DIGEST_SCHEDULE_ID}-")
        summary = await asyncio.wait_for(client.get_workflow_handle(wf_id, result_type=DigestSummary).result(), 60)
    today = datetime.now(SHANGHAI_OFFSET).date()
    assert summary.date_source == "schedule" and summary.date == today.isoformat()
    cal = engine().calendar
    assert summary.workday == (cal.is_workday(today, "national") or cal.is_workday(today, "guangxi"))
    if summary.workday:  # whatever today is, what was reported is what the receiver got
        assert summary.status in ("sent", "empty") and summary.failed == 0
        await asyncio.sleep(0.3)
        assert len(hook.posts) == summary.sent
        assert len(dstore.list_deliveries("sent", item_id=f"digest-{today.isoformat()}")) == summary.sent
    else:
        assert summary.status == "skipped" and hook.posts == []
    await handle.delete()


# ---------------------------------------------------------------------------------------------- issue 19
def _late(event_id, item_id, dept, status, decided_at, reason=None, type_="document.published"):
    from store.models import LateEntryRecord

    return LateEntryRecord(
        event_id=event_id,
        item_id=item_id,
        department=dept,
        type=type_,
        occurred_on="2026-09-28",
        recorded_at=decided_at - timedelta(days=1),
        role="liaison",
        status=status,
        decided_by="supervisor-zwgk",
        decided_at=decided_at,
        decision_reason=reason,
    )


async def test_overdue_only_liaison_gets_a_digest_with_review_results(digest_env, hook, ts_env):
    """A liaison whose department has only overdue items gets a digest, overdue first; liaison and head read
    their department's 补录 decisions since the previous digest (one line each), and each digest is also in
    the person's 站内消息, once however often the day is run."""
    from store import inbox

    day = date(2026, 10, 12)  # a Monday, a working day
    at = lambda d, h, m=0: datetime(d.year, d.month, d.day, h, m, tzinfo=SHANGHAI_OFFSET)  # noqa: E731
    _seed(
        digest_env,
        [
            _doc("doc-jyj-1", "qz-jyj", "钦州市教育局逾期未公开的文件", "2026-09-30"),
            _doc("doc-jyj-2", "qz-jyj", "钦州市教育局补录的文件", "2026-09-29", state="closed", clock_state="met"),
        ],
    )
    with Session(digest_env) as s:
        for row in (
            _late("ev-1", "doc-jyj-2", "qz-jyj", "approved", at(date(2026, 10, 9), 15)),
            _late("ev-2", "doc-jyj-2", "qz-jyj", "rejected", at(day, 8, 30), reason="发布日期与原件不符"),
            _late("ev-3", "doc-jyj-2", "qz-jyj", "approved", at(date(2026, 9, 20), 10)),  # before the window
            _late("ev-4", "doc-czj-9", "qz-czj", "rejected", at(day, 8), reason="另一部门"),
            _late("ev-5", "doc-jyj-2", "qz-jyj", "held", at(day, 8)),  # not decided
        ):
            s.add(row)
        s.commit()
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        first = await _run(ts_env.client, tq, day)
        assert first.failed == 0, first
        got = {d.split(":")[0] for d in first.deliveries}
        assert {"liaison-jyj", "head-jyj", "liaison-czj", "head-czj"} <= got, first
        posts = {p.path: p.json for p in hook.wait_for(first.sent)}
        liaison = posts["/hook/liaison-jyj"]
        assert liaison["title"] == "【每日提醒】2026年10月12日：钦州市教育局有1项事项已逾期"
        msg = liaison["message"]
        assert "钦州市教育局逾期未公开的文件" in msg and "已逾期" in msg and "5个工作日内到期：" not in msg
        lines = [ln for ln in msg.splitlines() if ln.startswith("  - ")]
        assert lines == [
            "  - 钦州市教育局补录的文件｜文件公开（2026-09-28）｜批准｜10月9日 15:00",
            # a webhook is a group channel: the reviewer's free text stays off it (the inbox copy has it)
            "  - 钦州市教育局补录的文件｜文件公开（2026-09-28）｜驳回：（理由请登录时限系统查看）｜10月12日 08:30",
        ], msg
        assert "发布日期与原件不符" not in msg
        assert msg.index("已逾期（请优先办理）") < msg.index("审核结果")
        head = posts["/hook/head-jyj"]
        assert "审核结果" in head["message"] and "驳回：（理由请登录时限系统查看）" in head["message"]
        assert "补录审核结果2条" in head["title"]
        czj = posts["/hook/liaison-czj"]  # another department's decision, and nothing else to report
        assert czj["title"] == "【每日提醒】2026年10月12日：钦州市财政局有1条补录审核结果"
        assert "驳回：（理由请登录时限系统查看）" in czj["message"] and "教育局" not in czj["message"]

        again = await _run(ts_env.client, tq, day)
        assert again.sent == 0 and again.already_sent == first.sent
    with Session(digest_env) as s:
        (m,) = inbox.messages_for(s, "liaison-jyj")
        assert m.kind == "digest" and m.title == liaison["title"] and m.link is None
        assert "驳回：发布日期与原件不符" in m.body


async def test_a_person_added_on_the_admin_page_gets_the_digest_without_restart(digest_env, hook, ts_env):
    """The worker's directory comes from the store (app.composition registers it): a second liaison added
    there (services.directory, as the admin page does) receives the department's digest, no restart."""
    from services.directory import save_person

    _seed(digest_env, OCTOBER_ITEMS)
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        save_person(
            {
                "id": "liaison2-fgw",
                "name": "发改委第二联络员",
                "department": "qz-fgw",
                "role_liaison": "1",
                "channel_kind": "webhook",
                "ch_webhook_address": f"http://127.0.0.1:{hook.port}/hook/liaison2-fgw",
            },
            "admin",
            new=True,
        )
        first = await _run(ts_env.client, tq, MAKEUP_SATURDAY)
        assert first.sent == 6, first
        posts = hook.wait_for(6)
        new = [p for p in posts if p.path == "/hook/liaison2-fgw"]
        assert new and "钦州市发展和改革委员会有1项事项" in new[0].json["title"]


def test_a_clock_held_for_review_is_not_in_the_digest_as_overdue():
    """Held is neither late nor on time (issue 19): an overdue clock that a late entry waiting for review
    would meet is left out of the overdue lines; the same clock without the entry is in them."""
    from activities.digests import plan_for
    from domain.engine import engine
    from domain.review import LateEntry

    day = date(2026, 10, 12)  # a Monday, a working day
    late = _doc("doc-czj-held", "qz-czj", "补录待审核的文件", "2026-09-30")
    plain = _doc("doc-czj-late", "qz-czj", "逾期未公开的文件", "2026-09-30")
    entry = LateEntry(
        event_id="ev-held",
        type="document.published",
        on="2026-09-29",
        recorded_at="2026-10-12T08:00:00+08:00",
        recorded_on="2026-10-12",
        reason="补录",
    )
    late = late.model_copy(update={"late_entries": [entry]})
    eng = engine()
    plan = plan_for(day, [late, plain], eng.directory, eng.calendar, held=["qz-czj"])
    text = {d.person_id: str(d.context) for d in plan.messages}
    assert "doc-czj-late" in text["liaison-czj"] and "doc-czj-held" not in text["liaison-czj"]


def test_a_supervisor_digest_covers_the_node_subtree(tmp_path):
    """Issue 20 §1: a county supervisor's digest lists the county's overdue clocks and late entries only; a city
    supervisor's its own departments and its counties'; the province's every department (tests/province.py)."""
    from domain.calendar import load_calendar
    from domain.digests import build_digests, working_days_left_from
    from domain.directory import load_directory
    from tests.province import write_province

    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    write_province(config)
    directory = load_directory(config)
    day = date(2026, 10, 12)  # a Monday, a working day
    items = [_doc(f"doc-{d}", d, f"{d} 逾期文件", "2026-09-30") for d in ("ls-jyj", "pb-jyj", "qz-fgw", "hp-jyj")]
    cal = load_calendar(config)
    out = build_digests(items, directory, day, working_days_left_from(cal), held=["pb-jyj", "hp-jyj"])
    sup = {p: ctx for p, step, ctx in out if step == "digest_supervisor"}

    def shown(person: str) -> set[str]:
        return {d["department"] for d in sup[person]["departments"]}

    assert shown("sup-ls") == {"ls-jyj"} and sup["sup-ls"]["held_count"] == 0
    assert shown("sup-qz") == {"ls-jyj", "pb-jyj", "qz-fgw"} and sup["sup-qz"]["held_count"] == 1
    assert shown("sup-hp") == {"hp-jyj"} and sup["sup-hp"]["held_count"] == 1
    assert shown("sup-gx") == {"ls-jyj", "pb-jyj", "qz-fgw", "hp-jyj"} and sup["sup-gx"]["held_count"] == 2
    assert "sup-pb" in sup and shown("sup-pb") == {"pb-jyj"}
    assert sup["sup-ls"]["total"] == 1 and sup["sup-gx"]["total"] == 4
