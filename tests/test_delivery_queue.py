"""Consolidated delivery through the durable, rate-limited queue (issue 22 §1), against a real webhook
receiver on 127.0.0.1 and the real store; the workflow test on the time-skipping server.

The channel is a group bot shared by several people (one notify URL = one rate-limit bucket), configured as
the WeCom/DingTalk bots are: 20 messages a minute, 2048 bytes a message."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from activities.notify import DeliveryBatch, DrainRequest, NotificationRequest, deliver_batch, drain
from domain import engine as engine_mod
from domain.config import REPO_CONFIG
from domain.shanghai import SHANGHAI
from store import deliveries
from store.inbox import InboxMessage
from store.outbox import OutboxMessage
from tests.receivers import WebhookReceiver

PEOPLE = 20
RATE = 20
# A Monday 09:00 in Shanghai: the ladder's hour; the queue's clock is given, so the day does not matter.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def _departments(url: str, people: int) -> str:
    out = ['[[department]]\nid = "qz-fgw"\nname = "钦州市发展和改革委员会"\nregion = "guangxi"\n']
    for i in range(1, people + 1):
        out.append(
            f'[[person]]\nid = "p{i:02d}"\nname = "联络员{i:02d}"\ndepartment = "qz-fgw"\nroles = ["liaison"]\n'
            f'notify = ["{url}"]\n'
        )
    out.append('[[person]]\nid = "sup"\nname = "督查"\nroles = ["supervisor"]\n')
    return "\n".join(out)


def _channels(extra: str = "") -> str:
    text = (REPO_CONFIG / "channels.toml").read_text(encoding="utf-8")
    head, _, tail = text.partition("[kind.webhook]")
    rest = tail[tail.index("\n[kind.", 1) :] if "\n[kind." in tail else ""
    webhook = (
        '[kind.webhook]\nname = "测试群机器人"\nschemes = ["json", "jsons"]\n'
        f"rate_per_minute = {RATE}\nmax_bytes = 2048\n{extra}"
        'source = "测试：按企业微信群机器人的限制（20条/分钟，2048字节）"\n'
    )
    return head + webhook + rest


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def _setup(
    tmp_path: Path, monkeypatch, hook: WebhookReceiver, *, people: int = PEOPLE, extra: str = "", shipped: bool = False
) -> None:
    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "departments.toml").write_text(_departments(hook.url("/bot"), people), encoding="utf-8")
    if not shipped:  # else the shipped channels.toml: a generic webhook has no limits
        (cfg / "channels.toml").write_text(_channels(extra), encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "https://gk.qinzhou.example")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    engine_mod.reset()


@pytest.fixture
def queue_env(tmp_path, monkeypatch, hook):
    _setup(tmp_path, monkeypatch, hook)
    yield hook
    engine_mod.reset()


def _items(person: str, first: int, count: int, step: str = "t_minus_1") -> list[NotificationRequest]:
    out = []
    for n in range(first, first + count):
        left = n % 4
        out.append(
            NotificationRequest(
                item_id=f"doc-q{n:03d}",
                rule="policy_publication",
                step=step,
                occurrence=f"{step}@2026-03-05",
                person_id=person,
                context={
                    "item_title": f"关于印发《钦州市第{n}号优化营商环境若干措施实施细则》的通知",
                    "department": "qz-fgw",
                    "due": "2026-03-05",
                    "working_days_left": left,
                },
            )
        )
    return out


def _store():
    from store.db import database_url, get_engine

    return get_engine(database_url())


def _sent_messages() -> list[OutboxMessage]:
    with Session(_store()) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.state == "sent")))


def _assert_rate(times: list[datetime], rate: int = RATE) -> None:
    """No `rate + 1` messages within any 60 s (the platform's per-minute count)."""
    times = sorted(times)
    for i in range(len(times) - rate):
        assert times[i + rate] - times[i] >= timedelta(seconds=60), (i, times[i], times[i + rate])


def _coverage(hook: WebhookReceiver, item_ids: list[str]) -> dict[str, int]:
    """In how many received posts each item appears."""
    bodies = [(p.json or {}).get("message", "") for p in hook.posts]
    return {i: sum(1 for b in bodies if f"items/{i}\n" in b + "\n" or f"items/{i}" in b) for i in item_ids}


def _delivery_states(keys: list[str]) -> dict[str, str]:
    with Session(_store()) as s:
        return {d.key: d.state for d in deliveries.deliveries_by_keys(s, keys)}


# ------------------------------------------------------------------------------------ the queue itself
async def test_rate_limited_bot_queues_durably_and_covers_every_item_once(queue_env):
    hook = queue_env
    batches = {f"p{i:02d}": _items(f"p{i:02d}", (i - 1) * 10, 10) for i in range(1, PEOPLE + 1)}
    keys = [r.key for b in batches.values() for r in b]
    first = {}
    for person, items in batches.items():
        first[person] = await deliver_batch(DeliveryBatch(person_id=person, items=items, at=T0))
    # The inbox has every item at once, whatever the bot's limit.
    with Session(_store()) as s:
        assert len(list(s.exec(select(InboxMessage)))) == 200
    assert all(len(b.inbox_ids) == 10 for b in first.values())
    assert len(hook.posts) == RATE  # the first minute's share went at once
    assert sum(b.messages for b in first.values()) == RATE
    assert all(not b.failed and len(b.sent) + len(b.queued) == 10 for b in first.values())
    total = RATE + len({m for b in first.values() for m in b.message_ids})
    assert total > RATE  # consolidated (fewer than one per item) but more than a minute's worth
    assert total < 200
    # A crash here loses nothing: the queue is in the store. A new drainer, nothing kept in memory:
    bucket = first[f"p{PEOPLE:02d}"].bucket
    assert bucket
    early = await drain(DrainRequest(bucket=bucket, at=T0 + timedelta(seconds=30)))
    assert early.sent == 0 and early.next_at is not None and early.next_at >= T0 + timedelta(seconds=60)
    at = early.next_at
    for _ in range(10):
        r = await drain(DrainRequest(bucket=bucket, at=at))
        if r.next_at is None:
            break
        at = r.next_at
    assert len(hook.posts) == total
    cover = _coverage(hook, [f"doc-q{n:03d}" for n in range(200)])
    assert set(cover.values()) == {1}, {k: v for k, v in cover.items() if v != 1}
    assert set(_delivery_states(keys).values()) == {"sent"}
    _assert_rate([m.claimed_at for m in _sent_messages() if m.claimed_at])
    # Most urgent first in every message: the overdue/fewest-days-left lines come before the others.
    import re

    for post in hook.posts:
        lefts = [
            0 if w == "今日到期" else int(w[1:-4]) for w in re.findall(r"今日到期|剩\d个工作日", post.json["message"])
        ]
        assert lefts and lefts == sorted(lefts), lefts
    # Everything again (the sweep re-run after a restart): nothing is sent twice.
    for person, items in batches.items():
        again = await deliver_batch(DeliveryBatch(person_id=person, items=items, at=at + timedelta(minutes=5)))
        assert sorted(again.already_sent) == sorted(r.key for r in items) and not again.sent and not again.queued
    assert len(hook.posts) == total
    with Session(_store()) as s:
        assert len(list(s.exec(select(InboxMessage)))) == 200  # the inbox copy is written once per step too


async def test_a_message_left_sending_by_a_dead_drainer_is_sent_once(queue_env):
    hook = queue_env
    res = await deliver_batch(DeliveryBatch(person_id="p01", items=_items("p01", 0, 3), at=T0))
    assert len(hook.posts) == 1 and len(res.sent) == 3 and res.messages == 1
    # A drainer that claimed a message and died before sending it: the next one sends it, once.
    more = _items("p02", 100, 2)
    with Session(_store()) as s:
        from store import outbox

        outbox.enqueue(
            s,
            message_key="crash-1",
            bucket=res.bucket or "",
            channel="json://127.0.0.1/bot",
            kind="webhook",
            person="p02",
            channel_index=0,
            title="【提醒】2项事项临近或超过办理时限",
            body="doc-q100 doc-q101",
            content_hash="x",
            keys=[r.key for r in more],
            individual=False,
            not_before=T0,
        )
        deliveries.claim_many(
            s, [dict(key=r.key, item_id=r.item_id, rule=r.rule, step=r.step, person="p02") for r in more]
        )
        m = s.exec(select(OutboxMessage).where(OutboxMessage.message_key == "crash-1")).one()
        outbox.claim(s, m, T0)
    r = await drain(DrainRequest(bucket=res.bucket or "", at=T0 + timedelta(seconds=1)))
    assert r.sent == 1
    assert sum(1 for p in hook.posts if "doc-q100" in p.json["message"]) == 1
    assert set(_delivery_states([x.key for x in more]).values()) == {"sent"}
    # The two items are covered by that message: a batch naming them again queues nothing new.
    again = await deliver_batch(DeliveryBatch(person_id="p02", items=more, at=T0 + timedelta(seconds=2)))
    assert len(again.already_sent) == 2 and not again.sent and len(hook.posts) == 2


async def test_quiet_hours_hold_the_ladder_not_the_hour_rules(tmp_path, monkeypatch, hook):
    _setup(tmp_path, monkeypatch, hook, people=2, extra='quiet_hours = "22:00-07:30"\n')
    night = datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI)
    warning = NotificationRequest(
        item_id="op-q1",
        rule="opinion_response_info",
        step="t_minus_1h",
        occurrence="t_minus_1h@2026-03-03T00:00",
        person_id="p01",
        context={"item_title": "网传某小区供水异常", "department": "qz-fgw", "due": "2026-03-03T00:00:00+08:00"},
    )
    res = await deliver_batch(DeliveryBatch(person_id="p01", items=[*_items("p01", 0, 4), warning], at=night))
    assert len(hook.posts) == 1  # the hour-rule warning, alone, at once
    assert "op-q1" in hook.posts[0].json["message"] and "doc-q000" not in hook.posts[0].json["message"]
    assert [k.split(":")[0] for k in res.sent] == ["op-q1"]
    assert sorted(k.split(":")[0] for k in res.queued) == [f"doc-q{n:03d}" for n in range(4)]
    assert res.next_at == datetime(2026, 3, 3, 7, 30, tzinfo=SHANGHAI)
    with Session(_store()) as s:
        assert len(list(s.exec(select(InboxMessage).where(InboxMessage.person == "p01")))) == 5  # inbox: at once
    r = await drain(DrainRequest(bucket=res.bucket or "", at=res.next_at, message_ids=res.message_ids))
    assert r.sent == 1 and r.pending == 0
    body = hook.posts[1].json["message"]
    assert all(f"doc-q{n:03d}" in body for n in range(4))  # the four reminders as one message


async def test_daily_cap_and_identical_content_defer_to_the_next_day(tmp_path, monkeypatch, hook):
    _setup(tmp_path, monkeypatch, hook, people=3, extra="daily_cap = 2\n")
    results = [
        await deliver_batch(DeliveryBatch(person_id=f"p{i:02d}", items=_items(f"p{i:02d}", i * 10, 2), at=T0))
        for i in (1, 2, 3)
    ]
    assert len(hook.posts) == 2
    assert len(results[2].message_ids) == 1 and len(results[2].queued) == 2
    assert results[2].next_at == datetime(2026, 3, 3, 0, 0, tzinfo=SHANGHAI)
    r = await drain(DrainRequest(bucket=results[2].bucket or "", at=results[2].next_at))
    assert r.sent == 1 and len(hook.posts) == 3


async def test_drain_all_hands_a_refused_message_back_with_its_notices(tmp_path, monkeypatch, hook):
    from activities.notify import drain_every_bucket
    from store import outbox

    _setup(tmp_path, monkeypatch, hook, people=2, extra="daily_cap = 1\n")
    a = await deliver_batch(DeliveryBatch(person_id="p01", items=_items("p01", 0, 2), at=T0))
    b = await deliver_batch(DeliveryBatch(person_id="p02", items=_items("p02", 10, 2), at=T0))
    assert len(a.sent) == 2 and len(b.queued) == 2 and b.next_at == datetime(2026, 3, 3, 0, 0, tzinfo=SHANGHAI)
    hook.status = 500  # the bot refuses from now on
    r = await drain_every_bucket(at=b.next_at)
    assert r.sent == 0 and r.waiting == 0
    assert sorted(x.key for x in r.failed) == sorted(b.queued)
    assert {x.context["item_title"] for x in r.failed} == {x.context["item_title"] for x in _items("p02", 10, 2)}
    assert set(_delivery_states(b.queued).values()) == {"intent"}  # for the per-item path, not failed yet
    with Session(_store()) as s:
        assert outbox.queued_keys(s, b.queued) == set()  # free to be sent another way


async def test_a_refused_bot_falls_back_to_the_next_channel(tmp_path, monkeypatch):
    from tests.receivers import closed_port

    with WebhookReceiver() as hook:
        _setup(tmp_path, monkeypatch, hook, people=1)
        deps = tmp_path / "config" / "departments.toml"
        deps.write_text(
            deps.read_text(encoding="utf-8").replace(
                f'notify = ["{hook.url("/bot")}"]',
                f'notify = ["json://127.0.0.1:{closed_port()}/dead", "{hook.url("/second")}"]',
            ),
            encoding="utf-8",
        )
        engine_mod.reset()
        items = _items("p01", 0, 3)
        res = await deliver_batch(DeliveryBatch(person_id="p01", items=items, at=T0))
        assert len(res.sent) == 3 and not res.failed and res.messages == 1
        assert [p.path for p in hook.posts] == ["/second"]
        assert all(f"doc-q{n:03d}" in hook.posts[0].json["message"] for n in range(3))
        with Session(_store()) as s:
            tries = deliveries.attempts_for(s, items[0].key)
        assert [(t.channel_index, t.status) for t in tries] == [(0, "failed"), (1, "ok")]


async def test_a_bot_that_refuses_the_batch_hands_each_item_to_the_per_item_path(tmp_path, monkeypatch, ts_env):
    """No channel took the consolidated message: each item goes its own way (notify_person: retries, rounds),
    still once per item step."""
    from activities.notify import BatchResult
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyBatchWorkflow

    with WebhookReceiver(fail_first=1) as hook:
        _setup(tmp_path, monkeypatch, hook, people=1)
        items = _items("p01", 0, 3)
        tq = f"batch-{uuid.uuid4().hex[:6]}"
        async with app_worker(ts_env.client, tq):
            res = await ts_env.client.execute_workflow(
                NotifyBatchWorkflow.run,
                DeliveryBatch(person_id="p01", items=items),
                id=f"batch-{uuid.uuid4().hex[:8]}",
                task_queue=tq,
                result_type=BatchResult,
            )
        assert sorted(res.failed) == sorted(r.key for r in items)  # the batch's own try failed
        assert len(hook.posts) == 4  # the refused batch, then each item alone
        for n in range(3):
            assert sum(1 for p in hook.posts[1:] if f"doc-q{n:03d}" in p.json["message"]) == 1
        assert set(_delivery_states([r.key for r in items]).values()) == {"sent"}
        engine_mod.reset()


async def test_a_channel_without_limits_is_sent_at_once_without_the_queue(tmp_path, monkeypatch):
    from tests.receivers import closed_port

    with WebhookReceiver() as hook:
        _setup(tmp_path, monkeypatch, hook, people=2, shipped=True)
        deps = tmp_path / "config" / "departments.toml"
        text = deps.read_text(encoding="utf-8")
        first = text.index(f'notify = ["{hook.url("/bot")}"]')
        deps.write_text(
            text[:first]
            + f'notify = ["json://127.0.0.1:{closed_port()}/dead", "{hook.url("/second")}"]'
            + text[first + len(f'notify = ["{hook.url("/bot")}"]') :],
            encoding="utf-8",
        )
        engine_mod.reset()
        a = await deliver_batch(DeliveryBatch(person_id="p01", items=_items("p01", 0, 5)))
        b = await deliver_batch(DeliveryBatch(person_id="p02", items=_items("p02", 10, 5)))
        assert (len(a.sent), a.messages, len(b.sent), b.messages) == (5, 1, 5, 1)
        assert sorted(p.path for p in hook.posts) == ["/bot", "/second"]  # p01 fell back to its second channel
        assert _sent_messages() == []  # no queue row: nothing waited
        again = await deliver_batch(DeliveryBatch(person_id="p02", items=_items("p02", 10, 5)))
        assert len(again.already_sent) == 5 and len(hook.posts) == 2


# ------------------------------------------------------------------------------ through Temporal
async def test_twenty_per_minute_bot_and_200_due_items_through_workflows(queue_env, ts_env):
    """The done-when of issue 22: a 20-per-minute bot channel and 200 due items → no more than 20 messages a
    minute, every item covered, exactly once per item step (each person's batch is a `notify_batch`
    workflow; the queue waits on workflow timers, skipped by the test server)."""
    from activities.notify import BatchResult
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyBatchWorkflow

    hook = queue_env
    tq = f"batch-{uuid.uuid4().hex[:6]}"
    batches = {f"p{i:02d}": _items(f"p{i:02d}", (i - 1) * 10, 10) for i in range(1, PEOPLE + 1)}
    async with app_worker(ts_env.client, tq):
        handles = [
            await ts_env.client.start_workflow(
                NotifyBatchWorkflow.run,
                DeliveryBatch(person_id=p, items=items),
                id=f"batch-{p}-{uuid.uuid4().hex[:6]}",
                task_queue=tq,
                result_type=BatchResult,
            )
            for p, items in batches.items()
        ]
        results = [await h.result() for h in handles]
    assert all(len(res.sent) == 10 and not res.failed and not res.queued for res in results)
    sent = _sent_messages()
    assert len(hook.posts) == len(sent) > RATE
    cover = _coverage(hook, [f"doc-q{n:03d}" for n in range(200)])
    assert set(cover.values()) == {1}
    keys = [r.key for b in batches.values() for r in b]
    assert len(keys) == 200 and set(_delivery_states(keys).values()) == {"sent"}
    with Session(_store()) as s:
        assert len(deliveries.deliveries_by_keys(s, keys)) == 200  # one delivery row per item step
    _assert_rate([m.claimed_at for m in sent if m.claimed_at])
    span = max(m.claimed_at for m in sent if m.claimed_at) - min(m.claimed_at for m in sent if m.claimed_at)
    assert span >= timedelta(seconds=60)  # more than a minute's worth: the queue really waited


async def test_hour_rule_warnings_alone_share_the_bots_limit(queue_env, ts_env):
    """Individual notices (hour-rule warnings, each its own `notify_person` workflow) count against the same
    bucket: 25 warnings to a 20-per-minute bot are held (deferred, not dropped) past the first minute."""
    from activities.notify import NotificationResult
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyPersonWorkflow

    hook = queue_env
    tq = f"single-{uuid.uuid4().hex[:6]}"
    reqs = [
        NotificationRequest(
            item_id=f"op-q{n:03d}",
            rule="opinion_response_info",
            step="t_minus_1h",
            occurrence=f"t_minus_1h@op{n}",
            person_id=f"p{n % PEOPLE + 1:02d}",
            context={"item_title": f"舆情{n}", "department": "qz-fgw", "due": "2026-03-03T00:00:00+08:00"},
        )
        for n in range(25)
    ]
    async with app_worker(ts_env.client, tq):
        handles = [
            await ts_env.client.start_workflow(
                NotifyPersonWorkflow.run,
                r,
                id=f"single-{uuid.uuid4().hex[:8]}",
                task_queue=tq,
                result_type=NotificationResult,
            )
            for r in reqs
        ]
        results = [await h.result() for h in handles]
    assert {r.status for r in results} == {"sent"}
    assert len(hook.posts) == 25
    assert {sum(1 for p in hook.posts if f"op-q{n:03d}" in p.json["message"]) for n in range(25)} == {1}
    sent = _sent_messages()
    assert len(sent) == 25
    _assert_rate([m.claimed_at for m in sent if m.claimed_at])
    assert max(m.claimed_at for m in sent if m.claimed_at) - min(
        m.claimed_at for m in sent if m.claimed_at
    ) >= timedelta(seconds=60)


# ------------------------------------------------------------------------------ the store, both databases
def test_outbox_store_on_both_databases(db_session):
    """The queue's statements on SQLite and PostgreSQL: batch claim, one message per key, the lease, counts."""
    from store import outbox

    s = db_session
    rows = [dict(key=f"k{n}", item_id=f"doc-{n}", rule="r", step="t_minus_1", person="p") for n in range(3)]
    got = deliveries.claim_many(s, rows)
    assert set(got) == {"k0", "k1", "k2"} and {d.state for d in got.values()} == {"intent"}
    assert len(deliveries.claim_many(s, rows)) == 3  # insert-or-get: no second row
    common = dict(
        bucket="b1",
        channel="json://h/x",
        kind="webhook",
        person="p",
        channel_index=0,
        title="t",
        body="b",
        content_hash="h",
        individual=False,
        not_before=T0,
    )
    m = outbox.enqueue(s, message_key="m1", keys=["k0", "k1"], **common)
    assert m is not None and outbox.queued_keys(s, ["k0", "k1", "k2"]) == {"k0", "k1"}
    assert outbox.enqueue(s, message_key="m2", keys=["k1", "k2"], **common) is None  # k1 is in m1 already
    assert outbox.queued_keys(s, ["k2"]) == set()
    assert outbox.acquire(s, "b1", "a") and not outbox.acquire(s, "b1", "z") and outbox.acquire(s, "b1", "a")
    outbox.claim(s, m, T0)
    assert outbox.counted_since(s, "b1", T0 - timedelta(seconds=60)) == 1
    assert outbox.counted_since(s, "b1", T0 - timedelta(seconds=60), content_hash="other") == 0
    deliveries.mark_sent_many(s, ["k0", "k1"], "json://h/x")
    outbox.set_state(s, m, "sent", at=T0)
    deliveries.reopen_many(s, ["k0"])  # only a failed row is reopened: a sent one never goes back
    states = {d.key: d.state for d in deliveries.deliveries_by_keys(s, ["k0", "k1", "k2"])}
    assert states == {"k0": "sent", "k1": "sent", "k2": "intent"}
    outbox.release(s, "b1", "a")
    assert outbox.acquire(s, "b1", "z")
    n = outbox.enqueue(s, message_key="m3", keys=["k2"], **common)
    assert n is not None and n.id is not None and outbox.waiting_buckets(s) == ["b1"]
    outbox.unlink(s, n.id)  # refused: its key may be queued again
    assert outbox.queued_keys(s, ["k2"]) == set()


async def test_a_worker_killed_while_the_queue_waits_loses_nothing_and_repeats_nothing(queue_env, wf_env):
    """SIGKILL the worker after the bot's first minute went out and the rest waits in the queue on the
    batches' timers; a new worker process finishes every batch: each item in exactly one message."""
    import asyncio
    import os
    import signal

    from activities.notify import BatchResult
    from tests.test_worker_kill import idle, start_worker
    from workflows.notify_steps import NotifyBatchWorkflow

    hook = queue_env
    address = wf_env.client.service_client.config.target_host
    proc_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    batches = {f"p{i:02d}": _items(f"p{i:02d}", (i - 1) * 10, 10) for i in range(1, PEOPLE + 1)}
    worker = start_worker(address, proc_env)
    try:
        handles = [
            await wf_env.client.start_workflow(
                NotifyBatchWorkflow.run,
                DeliveryBatch(person_id=p, items=items),
                id=f"kill-batch-{p}-{uuid.uuid4().hex[:6]}",
                task_queue="shixian",
                result_type=BatchResult,
            )
            for p, items in batches.items()
        ]
        for _ in range(600):  # real time: the first minute's share, then every batch asleep on its timer
            if len(hook.posts) >= RATE:
                break
            await asyncio.sleep(0.05)
        for h in handles:
            await idle(wf_env.client, h.id)
        assert len(hook.posts) == RATE
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        worker = start_worker(address, proc_env)
        results = [await h.result() for h in handles]  # the server skips the queue's waits
    finally:
        worker.kill()
        worker.wait(10)
    assert all(len(r.sent) == 10 and not r.failed for r in results)
    assert len(hook.posts) == len(_sent_messages()) > RATE
    cover = _coverage(hook, [f"doc-q{n:03d}" for n in range(200)])
    assert set(cover.values()) == {1}
    keys = [r.key for b in batches.values() for r in b]
    assert set(_delivery_states(keys).values()) == {"sent"}
    _assert_rate([m.claimed_at for m in _sent_messages() if m.claimed_at])
