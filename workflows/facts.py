"""Facts recorded on a finished item (a repeal, a review decision, a withheld document published later).

The item's own workflow has completed, so this short workflow is the writer of the event's log row: the
ingest use case never writes the store itself. Its id is `fact:<event_id>`, so concurrent senders of
one id share one run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.store import FactRequest, record_fact
    from domain.events import future_fact
    from domain.shanghai import SHANGHAI_OFFSET


@workflow.defn(name="fact")
class FactWorkflow:
    @workflow.run
    async def run(self, req: FactRequest) -> str:
        # Dated after the day it is recorded on, by this workflow's (the Temporal server's) clock: refused.
        future = (
            future_fact(req.event, workflow.now().astimezone(SHANGHAI_OFFSET).date())
            if workflow.patched("s16-recording-clock")
            else None
        )
        if future:
            raise ApplicationError(f"[{future[0]}] {future[1]}", type="Rejected", non_retryable=True)
        return await workflow.execute_activity(
            record_fact,
            req,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
        )
