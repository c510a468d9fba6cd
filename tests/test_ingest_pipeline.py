"""The bulk-import pipeline's cost levers, each checked on real parts (issue 11 §1)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

import pytest
from sqlmodel import Session
from temporalio import activity, workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows
from activities.store import SaveRequest
from activities.store import save_item as save_item_real
from store.db import get_engine
from store.models import EventRecord
from tests.workflow_harness import stack
from workflows.items import DocumentWorkflow, RequestWorkflow


async def test_workflow_runs_share_the_workflow_modules():
    """With the sandbox on (SHIXIAN_WORKFLOW_SANDBOX), a new workflow run must not re-import (compile and
    execute) the workflow modules in its sandbox: that was ~55 ms of the worker's event loop per new item,
    the largest cost of a bulk import."""
    made = []

    @dataclasses.dataclass(frozen=True)
    class Capturing(SandboxedWorkflowRunner):
        def create_instance(self, det):
            inst = super().create_instance(det)
            made.append(inst)
            return inst

    runner = Capturing(restrictions=workflows.sandboxed_runner().restrictions)
    for cls in (RequestWorkflow, RequestWorkflow, DocumentWorkflow):
        runner.prepare_workflow(workflow._Definition.must_from_class(cls))
    classes = [inst.globals_and_locals["__temporal_workflow_class"] for inst in made]
    # The very class objects of the worker's own import: nothing was executed again.
    assert classes == [RequestWorkflow, RequestWorkflow, DocumentWorkflow]
    assert all(a is b for a, b in zip(classes, [RequestWorkflow, RequestWorkflow, DocumentWorkflow], strict=True))


async def test_default_sandbox_would_reimport():
    """The check above can fail: with the SDK's default restrictions (and in the strict sandbox CI runs,
    tests/test_sandbox.py) the class is a fresh copy."""
    made = []

    @dataclasses.dataclass(frozen=True)
    class Capturing(SandboxedWorkflowRunner):
        def create_instance(self, det):
            inst = super().create_instance(det)
            made.append(inst)
            return inst

    Capturing().prepare_workflow(workflow._Definition.must_from_class(RequestWorkflow))
    assert made[0].globals_and_locals["__temporal_workflow_class"] is not RequestWorkflow


# ------------------------------------------------------------------ the Update answers before the store write
# On the time-skipping server with the production worker; `save_item` is replaced by name with a gate that
# records each write request and holds it until the test opens the gate, then runs the real write.


class SaveGate:
    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.calls: list[tuple[str, int, str | None]] = []  # (item, version, event_id) as each write starts
        self.done: list[tuple[str, int, str | None]] = []

        @activity.defn(name="save_item")
        async def save_item(req: SaveRequest) -> bool:
            key = (req.snapshot.id, req.snapshot.version, req.event.event_id if req.event else None)
            self.calls.append(key)
            await self.open.wait()
            written = await asyncio.to_thread(save_item_real, req)
            self.done.append(key)
            return written

        self.activity = save_item


@pytest.fixture
async def gated(wf_env, tmp_path, monkeypatch):
    gate = SaveGate()
    async with stack(wf_env, tmp_path, monkeypatch, mocks=[gate.activity]) as st:
        try:
            yield st, gate
        finally:
            gate.open.set()  # let held writes finish before the stack closes


def received(req_id: str, day: dt.date) -> dict:
    return {
        "type": "request.received",
        "request_id": req_id,
        "department": "qz-fgw",
        "channel": "online",
        "received_on": day.isoformat(),
        "applicant_type": "natural_person",
        "subject": "申请公开某项目批复",
    }


async def _until(cond, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.asyncio(loop_scope="session")
async def test_each_result_streams_before_the_store_write_and_the_batch_ends_after_it(gated):
    st, gate = gated
    req = st.id("R1")
    heard = []
    task = asyncio.create_task(
        st.ingestor.ingest([(1, {"event_id": f"{req}-r", **received(req, await st.today())})], on_result=heard.append)
    )
    st.started.add(f"request:{req}")
    # The line's result arrives while its store write is still held: the Update did not wait for it.
    await _until(lambda: heard)
    assert [(r.status, r.event_id) for r in heard] == [("applied", f"{req}-r")]
    assert gate.done == []  # answered with no write done (the write may not even be dispatched yet)
    await _until(lambda: gate.calls)  # the write is scheduled by the task that applied the event...
    assert gate.calls == [(req, 1, f"{req}-r")] and gate.done == []  # ...and is still held
    assert (await st.query("request", req)).version == 1  # the event is in the workflow's history
    # ...but the batch is not over until the read model holds the event.
    await asyncio.sleep(0.5)
    assert not task.done() and st.item(req) is None
    gate.open.set()
    results = await asyncio.wait_for(task, 15)
    assert [r.status for r in results] == ["applied"]
    assert st.item(req).version == 1 and st.clock(req, "request_reply").state == "open"
    with Session(get_engine()) as s:
        assert s.get(EventRecord, f"{req}-r") is not None


async def _two_events_first_write_held(st, gate, second: dict):
    """Ingest received, then (another import, while the first store write is held) `second` for one item;
    return both imports as one task once the workflow has applied both (version 2)."""
    req = second["request_id"]
    first = asyncio.create_task(st.ingest(received(req, await st.today())))
    await _until(lambda: len(gate.calls) == 1)
    task = asyncio.gather(first, st.ingest(second))
    deadline = time.monotonic() + 15
    while (snap := await st.query("request", req)).version != 2:
        assert time.monotonic() < deadline, "the second event was not applied"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    return task, snap


@pytest.mark.asyncio(loop_scope="session")
async def test_writes_of_one_item_land_in_order(gated):
    st, gate = gated
    req, today = st.id("R2"), await st.today()
    extended = {
        "type": "request.extended",
        "request_id": req,
        "on": today.isoformat(),
        "working_days": 20,
        "approved_by": "head-fgw",
        "notified_on": today.isoformat(),
        "reason": "需要协调",
    }
    task, snap = await _two_events_first_write_held(st, gate, extended)
    assert snap.state == "open"
    assert len(gate.calls) == 1  # the second write has not started while the first is held
    gate.open.set()
    results = [r for batch in await asyncio.wait_for(task, 15) for r in batch]
    assert [r.status for r in results] == ["applied", "applied"]
    assert gate.done == [(req, 1, f"{st.tag}-1"), (req, 2, f"{st.tag}-2")]
    reply = next(c for c in snap.clocks if c.rule == "request_reply")
    assert st.item(req).version == 2 and st.clock(req, "request_reply").due == reply.due


@pytest.mark.asyncio(loop_scope="session")
async def test_a_closed_item_ends_only_after_its_writes(gated):
    st, gate = gated
    req, today = st.id("R4"), await st.today()
    replied = {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"}
    task, snap = await _two_events_first_write_held(st, gate, replied)
    assert snap.state == "closed"
    desc = await st.client.get_workflow_handle(f"request:{req}").describe()
    assert desc.status.name == "RUNNING"  # the closing event is answered with its write, in the run's last task
    gate.open.set()
    results = [r for batch in await asyncio.wait_for(task, 15) for r in batch]
    assert [r.status for r in results] == ["applied", "applied"]
    assert [c[1] for c in gate.done] == [1, 2]
    item = st.item(req)
    assert (item.version, item.state) == (2, "closed")
    assert (await asyncio.wait_for(st.result("request", req), 15)).version == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_an_import_whose_store_writes_stall_says_so(gated, monkeypatch):
    import services.ingest as ingest_mod

    st, gate = gated
    monkeypatch.setattr(ingest_mod, "READ_MODEL_PATIENCE", 1.0)
    req = st.id("R3")
    st.started.add(f"request:{req}")
    with pytest.raises(ingest_mod.ReadModelBehind) as exc:
        await asyncio.wait_for(
            st.ingestor.ingest([(1, {"event_id": f"{req}-r", **received(req, await st.today())})]), 20
        )
    assert exc.value.missing == 1 and "未写入读模型" in str(exc.value)
    gate.open.set()
    await _until(lambda: st.item(req) is not None)  # the workflow's write goes through once it can


@pytest.mark.asyncio(loop_scope="session")
async def test_an_item_starts_with_only_the_rules_its_events_can_start(gated):
    import json

    from domain.engine import engine

    st, gate = gated
    gate.open.set()
    req = st.id("R5")
    await st.ok(received(req, await st.today()))
    history = await st.client.get_workflow_handle(f"request:{req}").fetch_history()
    start = history.events[0].workflow_execution_started_event_attributes
    rules = json.loads(start.input.payloads[0].data)["state"]["rules"]
    # the request's own rules, less those only some nodes' departments start (nodes: internal pre-deadlines,
    # node versions, the draft reply date that is off by default)
    expected = {r.id for r in engine().rules.values() if r.start_event.split(".")[0] == "request" and r.nodes is None}
    assert set(rules) == expected and len(expected) < len(engine().rules)
    assert st.clock(req, "request_reply").state == "open"


@pytest.mark.asyncio(loop_scope="session")
async def test_the_update_result_carries_no_snapshot(gated):
    """The item's snapshot (clock explanations, KBs) goes to the store only, not into every Update's
    result in history: the ingest reads the status and the note."""
    import json

    from temporalio.api.enums.v1 import EventType

    st, gate = gated
    gate.open.set()
    req = st.id("R6")
    (res,) = await st.ok(received(req, await st.today()))
    assert res.status == "applied"
    history = await st.client.get_workflow_handle(f"request:{req}").fetch_history()
    done = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
    (payload,) = done[0].workflow_execution_update_completed_event_attributes.outcome.success.payloads
    result = json.loads(payload.data)
    assert result["status"] == "applied" and result.get("snapshot") is None
    assert len(payload.data) < 200
    assert st.item(req).clocks  # the snapshot is in the store


# ------------------------------------------------------------------ one item's events: one Update, one write
def _updates(history) -> list[str]:
    from temporalio.api.enums.v1 import EventType

    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == accepted
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_an_items_events_go_in_one_update_and_one_store_write(gated):
    """Issue 22 §3: a batch's events of one item reach its workflow in ONE Update (update-with-start with
    the list), in order, each answered on its own; the store write is one transaction with every row. An
    event after the one that ended the item goes the finished item's way (a fact recorded on it)."""
    st, gate = gated
    gate.open.set()
    req, today = st.id("R7"), await st.today()
    results = await st.ingest(
        received(req, today),
        {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"},
        {"type": "review.filed", "request_id": req, "on": today.isoformat()},
    )
    assert [r.status for r in results] == ["applied", "applied", "applied"]
    assert "已记录用于统计" in (results[2].reason or "")  # the finished item's path
    history = await st.client.get_workflow_handle(f"request:{req}").fetch_history()
    assert _updates(history) == ["apply_many"]
    assert gate.calls == [(req, 2, f"{st.tag}-{st._n - 1}")]  # one write: the final snapshot...
    with Session(get_engine()) as s:  # ...with both rows, and the fact's own
        assert all(s.get(EventRecord, r.event_id) is not None for r in results)
    item = st.item(req)
    assert (item.version, item.state) == (2, "closed")


@pytest.mark.asyncio(loop_scope="session")
async def test_an_event_the_workflow_refuses_in_a_batch_is_answered_alone(gated):
    st, gate = gated
    gate.open.set()
    req, today = st.id("R8"), await st.today()
    results = await st.ingest(
        received(req, today),
        {"type": "request.consultation_ended", "request_id": req, "on": today.isoformat()},  # none started
        {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"},
    )
    assert [r.status for r in results] == ["applied", "rejected", "applied"]
    assert results[1].field and results[1].reason and "[" not in results[1].reason
    history = await st.client.get_workflow_handle(f"request:{req}").fetch_history()
    assert _updates(history) == ["apply_many"]
    assert len(gate.calls) == 1 and st.item(req).state == "closed"
    with Session(get_engine()) as s:
        assert s.get(EventRecord, results[1].event_id) is None
