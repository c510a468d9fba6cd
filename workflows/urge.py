"""督办 delivery: an urge reaches the department's liaisons and heads through the same notify machinery as
the reminder ladder (workflows/notify_steps.py: every channel of a person, each under CHANNEL_RETRY), and a
person none of whose channels works is tried again with backoff — 1, 2, 4 … minutes, at most MAX_DELAY
apart — for `retry_for_minutes`; past that every supervisor gets a `delivery_failed` notice.

The first round's outcome is readable at once (query `first_round`): the page that sent the urge says who
was reached while the retries go on in the background."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotificationRequest, NotificationResult
    from workflows.notify_steps import escalate_failure, notify_person

FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=30)
RETRY_FOR_MINUTES = 240  # a 督办 waits four hours for a channel to come back before the supervisors are told


class UrgeDelivery(BaseModel):
    urge_id: int
    requests: list[NotificationRequest]
    retry_for_minutes: int = RETRY_FOR_MINUTES


class UrgeDelivered(BaseModel):
    results: list[NotificationResult]
    rounds: int  # send rounds of the last person reached (1: at the first try)


@workflow.defn(name="urge_delivery")
class UrgeDeliveryWorkflow:
    def __init__(self) -> None:
        self._first: list[NotificationResult] | None = None

    @workflow.query(name="first_round")
    def first_round(self) -> list[NotificationResult] | None:
        """Each person's result of the first try (None until everyone has had one)."""
        return self._first

    @workflow.run
    async def run(self, job: UrgeDelivery) -> UrgeDelivered:
        results = [await notify_person(r, escalate=False) for r in job.requests]
        self._first = list(results)
        rounds, delay = 1, FIRST_DELAY
        deadline = workflow.now() + timedelta(minutes=job.retry_for_minutes)
        while any(not r.delivered for r in results) and workflow.now() + delay <= deadline:
            await workflow.sleep(delay)
            rounds += 1
            for i, req in enumerate(job.requests):
                if not results[i].delivered:
                    results[i] = await notify_person(req, escalate=False)
            delay = min(delay * 2, MAX_DELAY)
        for req, res in zip(job.requests, results, strict=True):
            if not res.delivered:
                await escalate_failure(req, res)
        return UrgeDelivered(results=results, rounds=rounds)
