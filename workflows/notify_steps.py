"""Workflow-side notification helpers: channel fallback and escalation on top of `send_notification`.

Call these from workflow code:

    results = await notify_roles(item_id, rule, "t_minus_1", department, ["liaison"], context)
    result = await notify_person(NotificationRequest(item_id=..., rule=..., step=..., person_id=..., context=...))

For one person: channel 0 is tried by the activity under `CHANNEL_RETRY` (3 attempts, 2 s, backoff 2.0); when
that retry policy gives up the next channel is tried the same way; past the last channel the activity marks the
delivery failed, and every supervisor gets a `delivery_failed` notice (which is not escalated further: if that
fails too, the failed rows stay in the delivery log, `shixian deliveries --status failed`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import (
        CHANNEL_FAILED,
        NotificationRequest,
        NotificationResult,
        RecipientsRequest,
        notification_recipients,
        send_notification,
    )

CHANNEL_RETRY = RetryPolicy(
    maximum_attempts=3,
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
SEND_TIMEOUT = timedelta(seconds=90)  # SMTP connect timeout is 15 s; webhooks are faster
INFRA_PAUSE = timedelta(minutes=1)  # database down etc.: wait and retry the same channel
MAX_INFRA_ROUNDS = 30
MAX_CHANNELS = 32


async def _send(req: NotificationRequest) -> NotificationResult:
    return await workflow.execute_activity(
        send_notification,
        req,
        start_to_close_timeout=SEND_TIMEOUT,
        retry_policy=CHANNEL_RETRY,
    )


async def notify_person(req: NotificationRequest, *, escalate: bool = True) -> NotificationResult:
    """Deliver one notice to one person through their channels in order; escalate when none works."""
    index, infra_rounds = 0, 0
    while True:
        try:
            result = await _send(req.model_copy(update={"channel_index": index}))
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError) and cause.type == CHANNEL_FAILED and index < MAX_CHANNELS:
                index += 1  # this channel's retries are exhausted: next channel
                continue
            infra_rounds += 1  # not the channel's fault (database, config): wait and retry the same channel
            if infra_rounds > MAX_INFRA_ROUNDS:
                raise
            workflow.logger.warning("notification %s: %s; retrying in %s", req.key, e, INFRA_PAUSE)
            await workflow.sleep(INFRA_PAUSE)
            continue
        if result.delivered:
            return result
        workflow.logger.error("notification %s not delivered: %s", result.key, result.error)
        if escalate and req.step != "delivery_failed":
            await escalate_failure(req, result)
        return result


async def escalate_failure(req: NotificationRequest, failed: NotificationResult) -> list[NotificationResult]:
    """Tell every supervisor that `req` could not be delivered."""
    supervisors = await workflow.execute_activity(
        notification_recipients,
        RecipientsRequest(roles=["supervisor"]),
        start_to_close_timeout=timedelta(seconds=30),
    )
    if not supervisors:
        workflow.logger.error("notification %s failed and no supervisor is configured", req.key)
    context: dict[str, Any] = {
        **req.context,
        "failed_channels": failed.tried_channels,
        "last_error": failed.error,
    }
    out = []
    for sup in supervisors:
        out.append(
            await notify_person(
                NotificationRequest(
                    item_id=req.item_id,
                    rule=req.rule,
                    step="delivery_failed",
                    person_id=sup,
                    context=context,
                    about_step=req.occurrence or req.step,
                    about_person=req.person_id,
                ),
                escalate=False,
            )
        )
    return out


async def notify_roles(
    item_id: str,
    rule: str,
    step: str,
    department: str | None,
    roles: list[str],
    context: dict[str, Any] | None = None,
    occurrence: str | None = None,
) -> list[NotificationResult]:
    """Notify everyone holding `roles` (liaison/head within `department`, other roles city-wide)."""
    people = await workflow.execute_activity(
        notification_recipients,
        RecipientsRequest(department=department, roles=roles),
        start_to_close_timeout=timedelta(seconds=30),
    )
    ctx = {"department": department, **(context or {})}
    if not people:
        # Nothing dropped silently: the missing recipient is a failed delivery the supervisors hear about.
        missing = NotificationRequest(
            item_id=item_id,
            rule=rule,
            step=step,
            occurrence=occurrence,
            person_id=f"<{'/'.join(roles)}@{department or 'city'}>",
            context=ctx,
        )
        return [await notify_person(missing)]
    return [
        await notify_person(
            NotificationRequest(item_id=item_id, rule=rule, step=step, occurrence=occurrence, person_id=p, context=ctx)
        )
        for p in people
    ]


@workflow.defn(name="notify_person")
class NotifyPersonWorkflow:
    """One notice as its own workflow (CLI-triggered sends, digests as child workflows, tests)."""

    @workflow.run
    async def run(self, req: NotificationRequest) -> NotificationResult:
        return await notify_person(req)
