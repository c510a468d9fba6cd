"""Probe workflows for tests/test_sandbox.py, in a module of their own: a sandbox imports it afresh per run, so
it imports nothing but the SDK and the standard library."""

from __future__ import annotations

import datetime

from temporalio import workflow


@workflow.defn(name="probe_where")
class WhereWorkflow:
    @workflow.run
    async def run(self) -> bool:
        return workflow.unsafe.in_sandbox()


# An error in the run fails the workflow (not its task, retried for ever), so that the test sees the refusal.
@workflow.defn(name="probe_wall_clock", failure_exception_types=[Exception])
class WallClockWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now().isoformat()  # what workflow code must never do: workflow.now() is its clock
