"""DigestWorkflow: one day's digests, started every day at 09:00 Asia/Shanghai by the Temporal Schedule
`shixian-daily-digest` (worker/digests.py), or by hand / by tests with `DigestInput(for_date=...)`.

The date: `for_date`, else the schedule's scheduled time (TemporalScheduledStartTime), else the workflow
clock, each as a date in Asia/Shanghai (activities.digests.digest_date). Rest day -> "skipped", nothing
sent. Working day -> every digest goes through `notify_person` (channel fallback, 送达失败 to supervisors)
under the key `digest-{date}:digest:{step}:{person}`, so a person gets one digest per day however often
the day's run is repeated (restart, manual re-run, catch-up): repeats report `already_sent`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.digests import (
        DIGEST_RULE,
        DigestDay,
        DigestDayRequest,
        DigestInput,
        DigestPlan,
        DigestSummary,
        digest_date,
        digest_day,
        digest_item_id,
        plan_digests,
    )
    from activities.notify import NotificationRequest

from workflows.notify_steps import notify_person

DIGEST_SCHEDULE_ID = "shixian-daily-digest"
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# Calendar/config/store reads: a few quick retries; a run that still fails is visible in the Temporal UI and
# the next day's run starts afresh (the schedule never overlaps, and a run is capped by its timeout).
READ_RETRY = RetryPolicy(
    maximum_attempts=5,
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
READ_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name="daily_digest")
class DigestWorkflow:
    @workflow.run
    async def run(self, inp: DigestInput) -> DigestSummary:
        scheduled = None
        try:
            scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        except Exception:  # malformed attribute: fall back to the clock
            scheduled = None
        day, source, stale = digest_date(inp.for_date, scheduled, workflow.now())
        if stale:
            workflow.logger.warning("digest run scheduled for %s started on a later day: skipped", day)
            return DigestSummary(
                date=day, workday=False, status="stale", date_source=source, reason="补跑时已过当天，不再发送"
            )

        info: DigestDay = await workflow.execute_activity(
            digest_day,
            DigestDayRequest(date=day),
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        if not info.workday:
            return DigestSummary(date=day, workday=False, status="skipped", date_source=source, reason=info.reason)

        plan: DigestPlan = await workflow.execute_activity(
            plan_digests,
            DigestDayRequest(date=day),
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        results = await asyncio.gather(
            *(
                notify_person(
                    NotificationRequest(
                        item_id=digest_item_id(day),
                        rule=DIGEST_RULE,
                        step=m.step,
                        person_id=m.person_id,
                        context=m.context,
                    )
                )
                for m in plan.messages
            )
        )
        summary = DigestSummary(
            date=day,
            workday=True,
            status="sent" if plan.messages else "empty",
            date_source=source,
            reason=info.reason,
            resting_people=plan.resting_people,
        )
        for m, r in zip(plan.messages, results, strict=True):
            if r.status == "sent":
                summary.sent += 1
            elif r.status == "already_sent":
                summary.already_sent += 1
            else:
                summary.failed += 1
            summary.deliveries.append(f"{m.person_id}:{m.step}:{r.status}")
        return summary
