"""Finished items after a calendar change: their met and missed clocks recomputed (issue 17 §6).

An item's workflow ends when its clocks are met, missed or closed, so the calendar reload's signal reaches
only open items. This workflow pages through the finished ones with one activity per page
(`reproject_closed`: the writer of those items' rows, their workflows being over). Its id names the
calendar data it re-projects for, so two reloads of the same data share one run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.clocks import ReprojectRequest, ReprojectResult
    from activities.store import reproject_closed


@workflow.defn(name="reproject")
class ReprojectWorkflow:
    @workflow.run
    async def run(self, req: ReprojectRequest) -> int:
        changed, after = 0, req.after
        while True:
            page: ReprojectResult = await workflow.execute_activity(
                reproject_closed,
                req.model_copy(update={"after": after}),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
            )
            changed += page.changed
            if page.next_after is None:
                return changed
            after = page.next_after
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(req.model_copy(update={"after": after}))
