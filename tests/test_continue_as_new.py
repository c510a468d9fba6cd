"""Items driven across several continue-as-new boundaries keep their event log equal to the workflow.

The dev server (real time) suggests continue-as-new after a few dozen history events here
(`limit.historyCount.suggestContinueAsNew`, dynamic config; the time-skipping server has no such setting).
Each item then continues as new every few events while the importer keeps sending the next one: Updates
arrive during the drain before continue-as-new, and store writes are still pending when the run ends.
For every event the store's event_record row must be the one the workflow accepted (its `event_hash`
query), no row the workflow does not know, and the item row at the workflow's version."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import pytest_asyncio
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

import services.ingest
import workflows
from services.ingest import ReadModelBehind
from store.db import get_engine
from store.models import EventRecord
from tests.workflow_harness import NotificationRecorder, stack
from workflows.items import ItemWorkflow

SUGGEST_AFTER = 40  # history events; an Update with its store write is about ten
PAIRS = 12  # consultations per item: 1 + 2 * PAIRS events, several runs each


@pytest_asyncio.fixture(loop_scope="session")
async def can_env(temporal_cli_path):
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path,
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER}"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def _runs(client, wid: str, first_run: str) -> tuple[int, int]:
    """How many runs the item had, following continue-as-new from its first run, and how many store writes
    those runs handed on to the next (not yet done when the run continued as new). Every run's history
    replays on today's code (the drain and the hand-over are deterministic)."""
    runs, carried, run = 1, 0, first_run
    replayer = Replayer(
        workflows=workflows.WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflows.workflow_runner(),
    )
    while True:
        history = await client.get_workflow_handle(wid, run_id=run).fetch_history()
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, (run, replayed.replay_failure)
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs, carried
        attrs = last.workflow_execution_continued_as_new_event_attributes
        carried += len(json.loads(attrs.input.payloads[0].data)["pending"])
        run = attrs.new_execution_run_id
        runs += 1


@pytest.mark.e2e
async def test_event_log_equals_the_workflow_across_continue_as_new(can_env, tmp_path, monkeypatch):
    # A lost write shows as a difference below, not as two minutes of waiting in the ingest.
    monkeypatch.setattr(services.ingest, "READ_MODEL_PATIENCE", 20.0)
    async with stack(can_env, tmp_path, monkeypatch, mocks=[NotificationRecorder().activity]) as st:
        today = await st.today()
        items = [st.id(f"CAN-{n}") for n in range(3)]
        events: list[dict] = []
        for req in items:
            events.append(
                {
                    "type": "request.received",
                    "request_id": req,
                    "department": "qz-jyj",
                    "channel": "online",
                    "received_on": today.isoformat(),
                    "applicant_type": "natural_person",
                    "subject": "多次续跑",
                }
            )
        started = await st.ingest(*events)
        assert [r.status for r in started] == ["applied"] * len(items), [r.text() for r in started]
        first_runs = {}
        for req in items:
            desc = await st.client.get_workflow_handle(f"request:{req}").describe()
            first_runs[req] = desc.run_id
        sent: dict[str, list[dict]] = {req: [] for req in items}
        for k in range(PAIRS):
            for req in items:
                sent[req].append(ev(f"{req}-s{k}", "request.consultation_started", req, today, with_="third_party"))
                sent[req].append(ev(f"{req}-e{k}", "request.consultation_ended", req, today))
        behind = ""
        try:
            # one event per item per call: an item's events in one call would go in one Update (apply_many), and
            # this test needs many Updates per item so that its runs continue as new with writes pending
            results = []
            for k in range(2 * PAIRS):
                results += await st.ingest(*[sent[req][k] for req in items])
            bad = [r.text() for r in results if r.status != "applied"]
            assert not bad, bad
        except ReadModelBehind as exc:  # the writes the workflows accepted did not all reach the store
            behind = str(exc)
        for req in items:
            await st.settle(f"request:{req}", timeout=30)

        with Session(get_engine()) as s:
            rows = s.exec(select(EventRecord).where(col(EventRecord.item_id).in_(items))).all()
        stored = {r.event_id: (r.item_id, r.content_hash) for r in rows}
        problems = []
        handed_on = 0
        for i, req in enumerate(items):
            handle = st.client.get_workflow_handle(f"request:{req}")
            ids = [started[i].event_id] + [e["event_id"] for e in sent[req]]
            for eid in ids:
                accepted = await handle.query(ItemWorkflow.event_hash, eid)
                row = stored.get(eid or "")
                if accepted is None or row != (req, accepted):
                    problems.append((eid, accepted, row))
            extra = {eid for eid, (item, _) in stored.items() if item == req} - set(ids)
            problems += [(eid, "row the workflow never accepted") for eid in extra]
            snap = await handle.query(ItemWorkflow.snapshot)
            item = st.item(req)
            if item is None or item.version != snap.version:
                problems.append((req, "version", snap.version, item and item.version))
            runs, carried = await _runs(st.client, f"request:{req}", first_runs[req])
            assert runs >= 3
            handed_on += carried
        assert not problems, (behind, len(problems), problems[:10])
        assert not behind
        assert handed_on > 0  # the path under test: writes still pending when a run continued as new


def ev(event_id: str, type_: str, req_id: str, on: dt.date, with_: str | None = None) -> dict:
    out = {"event_id": event_id, "type": type_, "request_id": req_id, "on": on.isoformat()}
    if with_:
        out["with"] = with_
    return out
