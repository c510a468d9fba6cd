"""The bulk-import pipeline's cost levers, each checked on real parts (issue 11 §1)."""

from __future__ import annotations

import dataclasses

from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows
from workflows.items import DocumentWorkflow, RequestWorkflow


async def test_workflow_runs_share_the_workflow_modules():
    """A new workflow run must not re-import (compile and execute) the workflow modules in its sandbox:
    that was ~55 ms of the worker's event loop per new item, the largest cost of a bulk import."""
    made = []

    @dataclasses.dataclass(frozen=True)
    class Capturing(SandboxedWorkflowRunner):
        def create_instance(self, det):
            inst = super().create_instance(det)
            made.append(inst)
            return inst

    runner = Capturing(restrictions=workflows.workflow_runner().restrictions)
    for cls in (RequestWorkflow, RequestWorkflow, DocumentWorkflow):
        runner.prepare_workflow(workflow._Definition.must_from_class(cls))
    classes = [inst.globals_and_locals["__temporal_workflow_class"] for inst in made]
    # The very class objects of the worker's own import: nothing was executed again.
    assert classes == [RequestWorkflow, RequestWorkflow, DocumentWorkflow]
    assert all(a is b for a, b in zip(classes, [RequestWorkflow, RequestWorkflow, DocumentWorkflow], strict=True))


async def test_default_sandbox_would_reimport():
    """The check above can fail: with the SDK's default restrictions the class is a fresh copy."""
    made = []

    @dataclasses.dataclass(frozen=True)
    class Capturing(SandboxedWorkflowRunner):
        def create_instance(self, det):
            inst = super().create_instance(det)
            made.append(inst)
            return inst

    Capturing().prepare_workflow(workflow._Definition.must_from_class(RequestWorkflow))
    assert made[0].globals_and_locals["__temporal_workflow_class"] is not RequestWorkflow
