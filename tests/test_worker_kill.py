"""A worker process killed (SIGKILL) in the middle of a reminder ladder and restarted sends no step twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from domain.engine import engine
from domain.shanghai import SHANGHAI
from services.ingest import Ingestor
from store.deliveries import list_deliveries
from tests.receivers import WebhookReceiver
from tests.workflow_harness import store_env

WORKER = r"""
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from app import composition
import workflows

async def main():
    client = await Client.connect(sys.argv[1], data_converter=pydantic_data_converter)
    with ThreadPoolExecutor(8) as pool:
        # No workflow cache, hence no sticky queue: a killed worker's sticky queue times out after 5 s on
        # a real server, but the time-skipping server counts that in skipped time, which the waiting task
        # itself holds still (and it does not implement ResetStickyTaskQueue). Resuming from history and
        # the delivery log, which is what this test is about, is the same either way.
        async with Worker(client, task_queue="shixian", workflows=composition.worker_workflows(),
                          activities=composition.worker_activities(client), activity_executor=pool,
                          workflow_runner=workflows.workflow_runner(),
                          max_cached_workflows=0):
            print("worker ready", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


def start_worker(address: str, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, address],
        env=env,
        cwd=Path(__file__).parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout.readline().strip() == "worker ready"
    return proc


def sweep_off(cfg: Path) -> None:
    reminders = cfg / "reminders.toml"
    text = reminders.read_text(encoding="utf-8")
    assert "\nsweep = true\n" in text
    reminders.write_text(text.replace("\nsweep = true\n", "\nsweep = false\n"), encoding="utf-8")


async def idle(client, wid: str) -> None:
    """Wait (real time) until the workflow waits on a timer: no activity or workflow task in flight."""
    for _ in range(200):
        raw = (await client.get_workflow_handle(wid).describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("workflow never became idle")


async def test_killed_worker_resumes_ladder_without_repeats(wf_env, tmp_path, monkeypatch):
    env = wf_env
    with WebhookReceiver() as receiver:
        # the per-item timer path (sweep = false): the item's own timers across the kill
        sweep_off(store_env(tmp_path, receiver, monkeypatch))
        address = env.client.service_client.config.target_host
        proc_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cal = engine().calendar
        assert not engine().ladders.sweep
        now = (await env.get_current_time()).astimezone(SHANGHAI)
        req = f"KILL-{uuid.uuid4().hex[:6]}"
        worker = start_worker(address, proc_env)
        try:
            results = await Ingestor(env.client).ingest(
                [
                    (
                        1,
                        {
                            "event_id": f"{req}-1",
                            "type": "request.received",
                            "request_id": req,
                            "department": "qz-jyj",
                            "channel": "in_person",
                            "received_on": now.date().isoformat(),
                            "applicant_type": "natural_person",
                            "subject": "杀进程测试",
                        },
                    )
                ]
            )
            assert results[0].status == "applied", results[0].text()
            wid = f"request:{req}"
            due = cal.add_working_days(now.date(), 20, "guangxi")

            async def skip_to(day: dt.date) -> None:
                target = dt.datetime.combine(day, dt.time(12), SHANGHAI)
                await env.sleep(target - (await env.get_current_time()).astimezone(SHANGHAI))

            def sent_steps():
                return sorted(
                    d.step for d in list_deliveries(item_id=req) if d.state == "sent" and d.rule == "request_reply"
                )

            await skip_to(cal.subtract_working_days(due, 1, "guangxi"))
            await idle(env.client, wid)
            assert sent_steps() == ["t_minus_1", "t_minus_3"]
            posts_before = len([p for p in receiver.posts if req in p.json["message"]])

            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            worker = start_worker(address, proc_env)

            await skip_to(cal.add_working_days(due, 1, "guangxi"))
            await idle(env.client, wid)
            steps = sent_steps()
            assert steps == ["due_today", "due_today", "overdue_1", "t_minus_1", "t_minus_3"]
            keys = [d.key for d in list_deliveries(item_id=req)]
            assert len(keys) == len(set(keys))
            posts = [p for p in receiver.posts if req in p.json["message"]]
            # Every notice reached its receiver exactly once, before and after the kill.
            # Before the kill: T-3, T-1 and the correction window's T-1 (day 6 of its 7); after: due day x2, +1.
            assert posts_before == 3 and len(posts) == 6
            assert sorted(p.path for p in posts).count("/hook/liaison-jyj") == 4
        finally:
            worker.kill()
            worker.wait(10)


async def test_killed_worker_mid_sweep_loses_and_repeats_nothing(wf_env, tmp_path, monkeypatch):
    """The default path: the worker dies (SIGKILL) while the daily sweep is sending, one department's message
    out and another's on the wire (never answered: the channel did not take it). The restarted worker finishes
    the same run: every item step is sent once, each person's message reaches the receiver once."""
    from sqlmodel import Session

    from store.db import get_engine
    from store.deliveries import get_delivery
    from store.inbox import messages_for
    from store.items import get_item
    from workflows.sweep import LadderSweepWorkflow, SweepInput, SweepSummary

    env = wf_env
    get_engine.cache_clear()
    with WebhookReceiver() as receiver:
        store_env(tmp_path, receiver, monkeypatch)
        assert engine().ladders.sweep  # the default
        address = env.client.service_client.config.target_host
        proc_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cal = engine().calendar
        now = (await env.get_current_time()).astimezone(SHANGHAI)
        tag = uuid.uuid4().hex[:6]
        docs = {f"KS{n}-{tag}": dept for n, dept in enumerate(["qz-fgw", "qz-fgw", "qz-jyj", "qz-jyj"])}
        worker = start_worker(address, proc_env)
        try:
            results = await Ingestor(env.client).ingest(
                [
                    (
                        n,
                        {
                            "event_id": f"{doc}-1",
                            "type": "document.signed",
                            "document_id": doc,
                            "department": dept,
                            "title": f"杀进程汇总测试{doc}",
                            "kind": "normative",
                            "signed_on": now.date().isoformat(),
                            "disclosure": "public",
                        },
                    )
                    for n, (doc, dept) in enumerate(docs.items(), start=1)
                ]
            )
            assert [r.status for r in results] == ["applied"] * len(docs), [r.text() for r in results]
            with Session(get_engine()) as s:
                clocks = [next(c for c in get_item(s, doc).clocks if c.state == "open") for doc in docs]
            assert len({(c.rule, c.due, c.region) for c in clocks}) == 1
            rule, due, region = clocks[0].rule, dt.date.fromisoformat(clocks[0].due), clocks[0].region
            instant = dt.datetime.combine(cal.subtract_working_days(due, 3, region), dt.time(9), SHANGHAI)
            await env.sleep(instant - (await env.get_current_time()).astimezone(SHANGHAI))

            receiver.hold = {"/hook/liaison-jyj"}
            handle = await env.client.start_workflow(
                LadderSweepWorkflow.run,
                SweepInput(instant=instant.isoformat()),
                id=f"sweep-kill-{tag}",
                task_queue="shixian",
                result_type=SweepSummary,
            )
            fgw = [f"{doc}:{rule}:t_minus_3@{due}:liaison-fgw" for doc, dept in docs.items() if dept == "qz-fgw"]

            def fgw_sent() -> bool:
                with Session(get_engine()) as s:
                    return all((d := get_delivery(s, k)) is not None and d.state == "sent" for k in fgw)

            for _ in range(600):  # real time: the fgw message out and logged, the jyj one on the wire
                if receiver.held and fgw_sent():
                    break
                await asyncio.sleep(0.05)
            assert receiver.held == 1, (receiver.held, [p.path for p in receiver.posts])
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            receiver.hold = set()
            receiver.release.set()
            worker = start_worker(address, proc_env)
            await handle.result()  # the same run, finished by the new worker (its activity retried)

            paths = sorted(p.path for p in receiver.posts)
            assert paths == ["/hook/liaison-fgw", "/hook/liaison-jyj"], paths  # one message each, once
            for doc, dept in docs.items():
                person = f"liaison-{dept.split('-')[1]}"
                carrying = [p for p in receiver.posts if doc in (p.json or {}).get("message", "")]
                assert [p.path for p in carrying] == [f"/hook/{person}"], doc
                with Session(get_engine()) as s:
                    row = get_delivery(s, f"{doc}:{rule}:t_minus_3@{due}:{person}")
                    assert row is not None and row.state == "sent", doc
            with Session(get_engine()) as s:
                inbox = [
                    m.key for m in messages_for(s, "liaison-jyj") if m.key.endswith(f"t_minus_3@{due}:liaison-jyj")
                ]
            assert len(inbox) == len(set(inbox)) == 2  # the inbox copies, once each
        finally:
            worker.kill()
            worker.wait(10)
            get_engine.cache_clear()
