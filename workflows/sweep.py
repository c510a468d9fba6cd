"""The daily ladder sweep (issue 22 §2): the day-rule reminders due at the daily fire time (09:00), sent by
one scheduled workflow that fans out one `sweep_department` activity per department, instead of one timer per
item firing in the same second. Schedule: worker/sweep.py (`shixian-ladder-sweep`, created when
reminders.toml says `sweep = true`, the default).

The instant is the scheduled time (search attribute `TemporalScheduledStartTime`, so a run caught up after an
outage still sends the steps of its own 09:00, late, never another day's), else the input's, else the latest
sweep time before now. A run never sends before its instant: it sleeps until then. Notices no channel took
are retried on the per-item path (`notify_person`: rounds for an hour, then the supervisors). Two passes: the
messages first, then the inbox copies of the same steps (not time-critical; durable, as the workflow runs them).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.sweep import SweepRequest, SweepResult, sweep_department, sweep_departments
    from domain.shanghai import SHANGHAI_OFFSET
    from workflows.notify_steps import drain_queues, notify_person

SWEEP_SCHEDULE_ID = "shixian-ladder-sweep"
FAN_OUT = 8  # departments swept at once (each holds a store connection only for its reads and writes)
SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=30)


class SweepInput(BaseModel):
    instant: str | None = None  # ISO with offset; None: the scheduled time


class SweepSummary(BaseModel):
    instant: str
    departments: int = 0
    clocks: int = 0
    steps: int = 0
    notices: int = 0
    messages: int = 0
    sent: int = 0
    already_sent: int = 0
    retried: int = 0  # notices handed to the per-item path
    per_department: list[SweepResult] = Field(default_factory=list, exclude=True)


@workflow.defn(name="ladder_sweep")
class LadderSweepWorkflow:
    @workflow.run
    async def run(self, inp: SweepInput) -> SweepSummary:
        if inp.instant:
            instant = datetime.fromisoformat(inp.instant)
        else:
            scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_AT)
            instant = (scheduled or workflow.now()).replace(second=0, microsecond=0)
        instant = instant.astimezone(SHANGHAI_OFFSET)
        wait = (instant - workflow.now()).total_seconds()
        if wait > 0:
            await workflow.sleep(timedelta(seconds=wait))  # never early
        at = instant.isoformat()
        departments: list[str] = await workflow.execute_activity(
            sweep_departments, SweepRequest(instant=at), start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY
        )
        out = SweepSummary(instant=at, departments=len(departments))
        sem = asyncio.Semaphore(FAN_OUT)
        retries: list = []

        async def inbox(dept: str) -> None:
            async with sem:
                await workflow.execute_activity(
                    sweep_department,
                    SweepRequest(instant=at, department=dept, phase="inbox"),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(minutes=2),
                    retry_policy=RETRY,
                )

        async def one(dept: str) -> None:
            async with sem:
                res: SweepResult = await workflow.execute_activity(
                    sweep_department,
                    SweepRequest(instant=at, department=dept),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(minutes=2),
                    retry_policy=RETRY,
                )
            out.clocks += res.clocks
            out.steps += res.steps
            out.notices += res.notices
            out.messages += res.messages
            out.sent += res.sent
            out.already_sent += res.already_sent
            retries.extend(res.failed)

        await asyncio.gather(*(one(d) for d in departments))
        # The inbox copies of the same steps, once the messages are out (the plan is the same: the sends'
        # claims are at or after the instant, so they are planned again).
        await asyncio.gather(*(inbox(d) for d in departments))
        # Batches a rate-limited bot held (config/channels.toml) wait in the durable queue: drain it to the end.
        await drain_queues()
        out.retried = len(retries)
        await asyncio.gather(*(notify_person(r) for r in retries))
        return out
