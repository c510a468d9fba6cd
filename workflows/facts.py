"""Facts recorded on a finished item (a repeal, a review decision, a withheld document published later).

The item's own workflow has completed, so this short workflow is the writer of the event's log row: the
ingest use case never writes the store itself. Its id is `fact:<event_id>`, so concurrent senders of
one id share one run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.clocks import FactRequest, record_fact


@workflow.defn(name="fact")
class FactWorkflow:
    @workflow.run
    async def run(self, req: FactRequest) -> str:
        return await workflow.execute_activity(
            record_fact,
            req,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
        )
