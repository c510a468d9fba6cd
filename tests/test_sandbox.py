"""Production runs the workflows unsandboxed (`workflows.workflow_runner()`, SHIXIAN_WORKFLOW_SANDBOX off); CI
keeps the sandbox's determinism checks: a real item workflow runs here in the strict sandbox
(`workflows.sandboxed_runner(strict=True)`), which refuses a wall-clock read in workflow code, and
tests/test_replay.py replays the recorded histories in it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows
from store.db import get_engine
from tests.sandbox_probe import WallClockWorkflow, WhereWorkflow
from tests.workflow_harness import stack
from worker.main import build_worker
from workflows.items import DocumentWorkflow, RequestWorkflow


@pytest.mark.asyncio(loop_scope="session")
async def test_the_worker_runs_unsandboxed_unless_the_operator_turns_the_sandbox_on(wf_env, monkeypatch):
    async def where() -> bool:
        queue = f"probe-{uuid.uuid4().hex[:8]}"
        async with build_worker(wf_env.client, task_queue=queue, workflows=[WhereWorkflow], activities=[]):
            return await wf_env.client.execute_workflow(
                WhereWorkflow.run, id=f"probe-where-{uuid.uuid4()}", task_queue=queue
            )

    monkeypatch.delenv("SHIXIAN_WORKFLOW_SANDBOX", raising=False)
    assert isinstance(workflows.workflow_runner(), UnsandboxedWorkflowRunner)
    assert await where() is False
    monkeypatch.setenv("SHIXIAN_WORKFLOW_SANDBOX", "1")
    runner = workflows.workflow_runner()
    assert isinstance(runner, SandboxedWorkflowRunner)
    assert set(workflows.PASSTHROUGH) <= runner.restrictions.passthrough_modules  # one shared import
    assert await where() is True
    monkeypatch.setenv("SHIXIAN_WORKFLOW_SANDBOX", "0")
    assert await where() is False


async def _wall_clock(client, runner: WorkflowRunner) -> str:
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[WallClockWorkflow], workflow_runner=runner):
        return await client.execute_workflow(
            WallClockWorkflow.run, id=f"probe-clock-{uuid.uuid4()}", task_queue=queue, result_type=str
        )


@pytest.mark.asyncio(loop_scope="session")
async def test_a_wall_clock_read_in_workflow_code_fails_only_in_the_strict_sandbox(wf_env):
    with pytest.raises(WorkflowFailureError) as exc:
        await _wall_clock(wf_env.client, workflows.sandboxed_runner(strict=True))
    assert "datetime.datetime.now" in str(exc.value.cause)
    # Unsandboxed it goes unnoticed; and so in the sandbox once its module is passed through, as the project's
    # are in the sandbox an operator turns on: hence the strict one in CI.
    assert dt.datetime.fromisoformat(await _wall_clock(wf_env.client, UnsandboxedWorkflowRunner()))
    passed = workflows.sandboxed_runner().restrictions.with_passthrough_modules("tests.sandbox_probe")
    assert dt.datetime.fromisoformat(await _wall_clock(wf_env.client, SandboxedWorkflowRunner(restrictions=passed)))


@pytest.mark.asyncio(loop_scope="session")
async def test_item_workflows_run_in_the_strict_sandbox(wf_env, tmp_path, monkeypatch):
    """Requests and a document through the production ingest path, with timers, an Update to a sleeping run
    and the daily sweep, every workflow in the strict sandbox: workflow code that reads the wall clock,
    draws a random number or opens a file fails here even though production would not notice."""
    made: list[type] = []

    @dataclasses.dataclass(frozen=True)
    class Recording(SandboxedWorkflowRunner):
        def create_instance(self, det):
            inst = super().create_instance(det)
            made.append(inst.globals_and_locals["__temporal_workflow_class"])
            return inst

    get_engine.cache_clear()
    runner = Recording(restrictions=workflows.sandboxed_runner(strict=True).restrictions)
    async with stack(wf_env, tmp_path, monkeypatch, runner=runner) as st:
        today = await st.today()
        req, closed, doc = st.id("SB-R"), st.id("SB-C"), st.id("SB-D")

        def received(rid: str) -> dict:
            return {
                "type": "request.received",
                "request_id": rid,
                "department": "qz-fgw",
                "channel": "online",
                "received_on": today.isoformat(),
                "applicant_type": "natural_person",
                "subject": "申请公开某项目批复",
            }

        await st.ok(
            received(req),
            received(closed),
            {"type": "request.replied", "request_id": closed, "on": today.isoformat(), "outcome": "granted"},
            {
                "type": "document.signed",
                "document_id": doc,
                "department": "qz-fgw",
                "title": "沙箱测试文件",
                "kind": "normative",
                "signed_on": today.isoformat(),
                "disclosure": "public",
            },
        )
        await st.sleep(dt.timedelta(days=2))  # timers and the daily sweep, in the sandbox too
        published = (await st.today()).isoformat()
        await st.ok(
            {
                "type": "document.published",
                "document_id": doc,
                "published_on": published,
                "url": f"https://www.qinzhou.gov.cn/zc/{doc}",
                "channel": "website",
            }
        )
        assert st.item(req).state == "open" and st.clock(req, "request_reply").state == "open"
        assert st.item(closed).state == "closed"
        assert st.clock(doc, "policy_publication").state == "met"
        assert (await st.query("document", doc)).version == 2
    get_engine.cache_clear()
    names = {cls.__name__ for cls in made}
    assert {"RequestWorkflow", "DocumentWorkflow"} <= names, names
    # Each run's class is a fresh import of its module: the restricted datetime, random, os reached its code.
    assert not any(cls is RequestWorkflow or cls is DocumentWorkflow for cls in made)
