"""The daily ladder sweep (issue 22 §2): day-rule steps due at the daily fire time are sent by one sweep, one
message per person listing the items, each item step once in the delivery log; item workflows leave those
steps alone and keep their hour rules."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import pytest_asyncio

from domain.engine import engine
from domain.ladder import PlannedStep, is_swept, load_ladders, plan, swept_steps
from domain.shanghai import SHANGHAI
from tests.workflow_harness import REPO_CONFIG, up_task

# A pinned working-day due date (checked below), so the test holds on every day of the year.
DUE = dt.date(2025, 6, 20)  # a Friday


def _at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI)


def test_swept_steps_fire_exactly_at_their_instant_once():
    cal = engine().calendar
    assert cal.is_workday(DUE, "national")
    ladders = load_ladders()
    assert ladders.sweep  # on by default (reminders.toml)
    ladder = ladders.default
    t3 = _at(cal.subtract_working_days(DUE, 3, "national"))
    t1 = _at(cal.subtract_working_days(DUE, 1, "national"))
    o1 = _at(cal.add_working_days(DUE, 1, "national"))

    def keys(instant, fired=frozenset(), last=None):
        return [s.key for s in swept_steps(ladder, DUE, cal, "national", instant, fired, last)]

    assert keys(t3) == [f"t_minus_3@{DUE}"]
    assert keys(t1) == [f"t_minus_1@{DUE}"]
    assert keys(_at(DUE)) == [f"due_today@{DUE}"]
    assert keys(o1) == [f"overdue_1@{DUE}"]
    # Never early, never at another minute, never twice.
    assert keys(t3 - dt.timedelta(days=1)) == []
    assert keys(t3 + dt.timedelta(minutes=1)) == []
    assert keys(t1, {f"t_minus_1@{DUE}"}) == []
    # A repeat 3 working days after the last overdue notice the log holds.
    r1 = _at(cal.add_working_days(o1.date(), 3, "national"))
    assert keys(r1, {f"overdue_1@{DUE}"}, o1) == [f"overdue_repeat_1@{DUE}"]
    assert keys(r1 - dt.timedelta(days=1), {f"overdue_1@{DUE}"}, o1) == []


def test_catch_ups_and_hour_rules_stay_with_the_item():
    cal = engine().calendar
    ladders = load_ladders()
    at = ladders.default.fire_at
    # An item planned two working days after its due date: one catch-up notice, the item's own.
    late = _at(cal.add_working_days(DUE, 2, "national"), 11)
    steps = plan(ladders.default, DUE, cal, "national", late)
    assert steps[0].catch_up and not is_swept(steps[0], ladders.default, False, at)
    nominal = plan(ladders.default, DUE, cal, "national", _at(DUE, 8))
    assert nominal[0].key == f"due_today@{DUE}" and is_swept(nominal[0], ladders.default, False, at)
    hour = PlannedStep("t_minus_1h@x", "t_minus_1h", ("liaison",), _at(DUE), False)
    assert not is_swept(hour, ladders.hours, True, at)
    assert not is_swept(nominal[0], ladders.default, False, None)  # sweep = false: every step the item's


async def test_sweep_sends_one_message_per_person_each_step_once(st):
    from store import deliveries, inbox
    from store.db import session
    from worker.client import task_queue_name
    from workflows.sweep import LadderSweepWorkflow, SweepInput, SweepSummary

    assert engine().ladders.sweep  # the default
    today = await st.today()
    docs = [st.id(f"SW{i}") for i in range(3)]
    for d in docs:
        await st.ok(
            {
                "type": "document.signed",
                "document_id": d,
                "department": "qz-fgw",
                "title": f"测试文件{d}",
                "kind": "normative",
                "signed_on": today.isoformat(),
                "disclosure": "public",
            }
        )
    clocks = [next(c for c in st.item(d).clocks if c.state == "open") for d in docs]
    assert len({(c.rule, c.due) for c in clocks}) == 1
    cal = engine().calendar
    due = dt.date.fromisoformat(clocks[0].due)
    instant = _at(cal.subtract_working_days(due, 3, clocks[0].region))
    # Past the instant: the item workflows sent nothing themselves (the sweep's steps are not their timers).
    await st.env.sleep(instant - await st.now() + dt.timedelta(hours=1))
    for d in docs:
        await st.settle(f"document:{d}")
    assert st.receiver.posts == []

    async def sweep(n: int) -> SweepSummary:
        return await st.client.execute_workflow(
            LadderSweepWorkflow.run,
            SweepInput(instant=instant.isoformat()),
            id=f"sweep-{st.tag}-{n}",
            task_queue=task_queue_name(),
            result_type=SweepSummary,
        )

    first = await sweep(1)
    assert (first.steps, first.notices, first.messages, first.sent) == (3, 3, 1, 3)
    assert len(st.receiver.posts) == 1
    post = st.receiver.posts[0]
    assert post.path == "/hook/liaison-fgw"
    text = f"{post.json.get('title')}\n{post.json.get('message')}"
    assert "3项" in text and all(d in text for d in docs)
    with session() as s:
        rows = [deliveries.get_delivery(s, f"{d}:{clocks[0].rule}:t_minus_3@{due}:liaison-fgw") for d in docs]
        assert all(r is not None and r.state == "sent" for r in rows)
        assert len(inbox.messages_for(s, "liaison-fgw")) >= 3  # the inbox has each item on its own
    # Run again (a retried or caught-up sweep): nothing is sent twice.
    again = await sweep(2)
    assert (again.steps, again.sent, again.already_sent, again.messages) == (3, 0, 3, 0)
    assert len(st.receiver.posts) == 1


async def test_hour_rules_keep_their_item_timer_with_the_sweep_on(st):
    assert engine().ladders.sweep  # the default
    now = await st.now()
    case = st.id("OP")
    await st.ok(
        {
            "type": "opinion.detected",
            "case_id": case,
            "department": "qz-fgw",
            "detected_at": now.isoformat(),
            "severity": "major",
        }
    )
    await st.env.sleep(dt.timedelta(hours=4, minutes=5))
    await st.settle(f"clocks:{case}")
    await st.wait_for(lambda: len(st.posts_for(case)), lambda n: n >= 2)
    assert {p.path for p in st.posts_for(case)} == {"/hook/liaison-fgw", "/hook/head-fgw"}


async def test_sweep_off_leaves_every_step_to_the_item_timer(st):
    """reminders.toml `sweep = false`: no step is the sweep's, and the item's own timer sends the 09:00 step."""
    st.ladder_sweep(False)
    today = await st.today()
    doc = st.id("OFF")
    await st.ok(
        {
            "type": "document.signed",
            "document_id": doc,
            "department": "qz-fgw",
            "title": f"测试文件{doc}",
            "kind": "normative",
            "signed_on": today.isoformat(),
            "disclosure": "public",
        }
    )
    clock = next(c for c in st.item(doc).clocks if c.state == "open")
    due = dt.date.fromisoformat(clock.due)
    instant = _at(engine().calendar.subtract_working_days(due, 3, clock.region))
    runs = await st.sleep(instant - await st.now() + dt.timedelta(hours=1))
    assert runs == []  # no sweep runs: its schedule is paused
    await st.settle(f"document:{doc}")
    await st.wait_for(lambda: [p.path for p in st.posts_for(doc)], lambda v: v == ["/hook/liaison-fgw"])


def test_batched_delivery_log_and_inbox_writes(db_session):
    """On SQLite and PostgreSQL: claim_many is insert-or-get for many keys, stamped no earlier than the
    instant; mark_sent_many, reopen_many, add_attempts and add_messages each in one commit."""
    from store import deliveries as store
    from store import inbox

    instant = dt.datetime(2099, 1, 5, 1, 0, tzinfo=dt.UTC)
    rows = [
        dict(key=f"i{n}:r:t_minus_1@x:p", item_id=f"i{n}", rule="r", step="t_minus_1", person="p") for n in range(3)
    ]
    first = store.claim_many(db_session, rows[:2])
    again = store.claim_many(db_session, rows, not_before=instant)
    assert {k: d.id for k, d in first.items()} == {k: again[k].id for k in first}
    assert all(d.state == "intent" for d in again.values())
    assert again[rows[2]["key"]].created_at.replace(tzinfo=dt.UTC) >= instant  # the new one, stamped at the instant
    # An instant given in Beijing time is stamped in UTC too (SQLite keeps only the wall clock).
    beijing = store.claim_many(
        db_session,
        [{**rows[0], "key": "i9:r:t_minus_1@x:p"}],
        not_before=(instant + dt.timedelta(days=1)).astimezone(SHANGHAI),
    )
    later = beijing["i9:r:t_minus_1@x:p"].created_at
    assert (later if later.tzinfo else later.replace(tzinfo=dt.UTC)) == instant + dt.timedelta(days=1)
    store.mark_failed(db_session, rows[1]["key"], "x")
    store.reopen_many(db_session, [rows[1]["key"]])
    assert store.get_delivery(db_session, rows[1]["key"]).state == "intent"
    store.add_attempts(
        db_session,
        [
            dict(key=r["key"], item_id=r["item_id"], step=r["step"], person="p", channel="json://x", status="ok")
            for r in rows
        ],
    )
    store.mark_sent_many(db_session, [r["key"] for r in rows], "json://x")
    assert {store.get_delivery(db_session, r["key"]).state for r in rows} == {"sent"}
    assert [a.status for a in store.attempts_for(db_session, rows[0]["key"])] == ["ok"]
    msgs = [dict(key=r["key"], person="p", kind="reminder", title="t", body="b") for r in rows]
    inbox.add_messages(db_session, msgs[:1])
    inbox.add_messages(db_session, msgs)  # the first one is not written twice
    assert sorted(m.key for m in inbox.messages_for(db_session, "p")) == sorted(r["key"] for r in rows)


# ---------------------------------------------------------------- the Schedule (a real dev server)
@pytest_asyncio.fixture(loop_scope="session")
async def dev_env(temporal_cli_path):
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path, data_converter=pydantic_data_converter, ui=False
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.mark.e2e
async def test_up_and_schedules_create_the_sweep_schedule(dev_env, tmp_path, monkeypatch, capsys):
    """On by default: `shixian up` (its task "ladder-sweep") and `shixian schedules` create the Schedule, every
    day at 09:00 Asia/Shanghai; `sweep = false` pauses it, and `sweep = true` again lifts that pause."""

    from app.composition import up_tasks
    from app.prod import _schedules
    from worker.sweep import OFF_NOTE, ensure_sweep_schedule, sweep_schedule_task
    from workflows.sweep import SWEEP_SCHEDULE_ID

    client = dev_env.client
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("TEMPORAL_ADDRESS", client.service_client.config.target_host)
    assert engine().ladders.sweep
    assert "ladder-sweep" in [t.name for t in up_tasks()]

    async with up_task(sweep_schedule_task, client, tmp_path) as ctx:
        assert ctx.addresses and f"{SWEEP_SCHEDULE_ID}（已创建）" in ctx.addresses[0][1]
    handle = client.get_schedule_handle(SWEEP_SCHEDULE_ID)
    desc = await handle.describe()
    spec = desc.schedule.spec
    assert spec.time_zone_name == "Asia/Shanghai"
    assert [(c.hour[0].start, c.minute[0].start, c.second[0].start) for c in spec.calendars] == [(9, 0, 0)]
    assert desc.schedule.action.workflow == "ladder_sweep" and not desc.schedule.state.paused
    nxt = desc.info.next_action_times[:2]
    assert [(t.astimezone(dt.UTC).hour, t.minute) for t in nxt] == [(1, 0)] * 2  # 09:00 Beijing time
    assert nxt[1] - nxt[0] == dt.timedelta(days=1)

    assert await _schedules() == 0  # `shixian schedules`
    assert f"每日提醒汇总 {SWEEP_SCHEDULE_ID}：已更新" in capsys.readouterr().out

    reminders = cfg / "reminders.toml"
    text = reminders.read_text(encoding="utf-8")
    reminders.write_text(text.replace("\nsweep = true\n", "\nsweep = false\n"), encoding="utf-8")
    assert await ensure_sweep_schedule(client) == "off"
    state = (await handle.describe()).schedule.state
    assert state.paused and state.note == OFF_NOTE
    reminders.write_text(text, encoding="utf-8")
    assert await ensure_sweep_schedule(client) == "updated"
    assert not (await handle.describe()).schedule.state.paused
    # An operator's own pause stays.
    await handle.pause(note="运维暂停")
    assert await ensure_sweep_schedule(client) == "updated"
    assert (await handle.describe()).schedule.state.paused
    await handle.delete()
