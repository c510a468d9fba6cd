"""Workflow-side notification helpers: channel fallback and escalation on top of `send_notification`.

Call these from workflow code:

    results = await notify_roles(item_id, rule, "t_minus_1", department, ["liaison"], context)
    result = await notify_person(NotificationRequest(item_id=..., rule=..., step=..., person_id=..., context=...))

For one person (the activity has already put the notice in the person's 站内消息 inbox, so nothing is lost
while the external channels are retried): channel 0 is tried by the activity under `CHANNEL_RETRY` (3 attempts,
2 s, backoff 2.0: a blip); when that retry policy gives up the next channel is tried the same way. When every
channel has failed, the round is repeated after a pause (1, 2, 4, 8, 16 min …, at most 30 min) until
`RETRY_WINDOW` (1 h) has passed since the first try; a round that reaches a channel which works again delivers
(the delivery row stays `intent`, 发送中, meanwhile). Only then is the delivery marked failed (送达失败) and
the supervisors over its department get a `delivery_failed` notice (in their inbox too; it is not escalated further: if that
fails as well, the failed rows stay in the delivery log, `shixian deliveries --status failed`).

While a notice is retried its caller waits (an item's workflow reaches its next reminder up to an hour late,
which the ladder's spacing of a working day allows).
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
        BatchResult,
        DeliveryBatch,
        DrainAllRequest,
        DrainAllResult,
        DrainRequest,
        NotificationRequest,
        NotificationResult,
        RecipientsRequest,
        drain_all,
        drain_channel,
        notification_recipients,
        send_batch,
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
# How long failed external deliveries are retried before the supervisors are told. One hour: long enough
# to ride out a mail server restart or a webhook outage, short enough that a reminder's supervisor hears of
# the failure the same working day (the earliest ladder step, t_minus_3, leaves days to phone; due_today
# at 09:00 still leaves the afternoon). A round tries every channel in order; rounds are spaced by
# ROUND_PAUSE_FIRST doubling up to ROUND_PAUSE_MAX, the last one at the window's end.
NOTIFY_ROUNDS = "s19-notify-rounds"  # workflow.patched id of the retry rounds (issue 19)
RETRY_WINDOW = timedelta(hours=1)
ROUND_PAUSE_FIRST = timedelta(minutes=1)
ROUND_PAUSE_MAX = timedelta(minutes=30)


def round_pause(rounds_done: int) -> timedelta:
    """The pause after the `rounds_done`-th failed round (1, 2, 4 … minutes, capped)."""
    return min(ROUND_PAUSE_MAX, ROUND_PAUSE_FIRST * (2 ** min(rounds_done, 16)))


async def _send(req: NotificationRequest) -> NotificationResult:
    return await workflow.execute_activity(
        send_notification,
        req,
        start_to_close_timeout=SEND_TIMEOUT,
        retry_policy=CHANNEL_RETRY,
    )


async def notify_person(
    req: NotificationRequest, *, escalate: bool = True, window: timedelta = RETRY_WINDOW
) -> NotificationResult:
    """Deliver one notice to one person through their channels in order, in rounds for up to `window`;
    escalate when none works (see the module docstring)."""
    index, infra_rounds, rounds = 0, 0, 0
    deadline = workflow.now() + window
    while True:
        give_up = True
        try:
            if index > 0:
                give_up = workflow.now() >= deadline  # only asked past the last channel; see `give_up`
            result = await _send(
                req.model_copy(update={"channel_index": index, "give_up": give_up, "at": workflow.now()})
            )
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
        if result.status == "deferred" and result.not_before is not None:
            # The channel's limits hold it (config/channels.toml: rate, daily cap, quiet hours): same channel later.
            await workflow.sleep(max(result.not_before - workflow.now(), MIN_QUEUE_WAIT))
            continue
        if result.delivered:
            return result
        # Histories recorded before the retry rounds escalated at once: replay them as they were.
        if result.status == "exhausted" and not give_up and workflow.patched(NOTIFY_ROUNDS):
            pause = min(round_pause(rounds), deadline - workflow.now())
            workflow.logger.warning("notification %s: every channel failed; next round in %s", req.key, pause)
            if pause > timedelta(0):
                await workflow.sleep(pause)
            rounds, index = rounds + 1, 0
            continue
        workflow.logger.error("notification %s not delivered: %s", result.key, result.error)
        if escalate and req.step != "delivery_failed":
            await escalate_failure(req, result)
        return result


async def escalate_failure(req: NotificationRequest, failed: NotificationResult) -> list[NotificationResult]:
    """Tell the supervisors over the notice's department (Directory.people_over, as overdue notices reach
    them; a notice of no department: every supervisor) that `req` could not be delivered."""
    department = req.context.get("department")
    supervisors = await workflow.execute_activity(
        notification_recipients,
        RecipientsRequest(
            department=department if isinstance(department, str) and department else None, roles=["supervisor"]
        ),
        start_to_close_timeout=timedelta(seconds=30),
    )
    if not supervisors:
        workflow.logger.error("notification %s failed and no supervisor is configured", req.key)
    context: dict[str, Any] = {
        **req.context,
        "failed_channels": failed.tried_channels,
        "last_error": failed.error,
        "in_inbox": failed.inbox_id is not None,  # the person still has it in their 站内消息
        "retried_minutes": int(RETRY_WINDOW.total_seconds() // 60),
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


BATCH_TIMEOUT = timedelta(minutes=5)  # one person's batch: inbox rows, one claim, a few messages
BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
MIN_QUEUE_WAIT = timedelta(milliseconds=200)


async def notify_batch(batch: DeliveryBatch) -> BatchResult:
    """Deliver one person's item steps of one instant as consolidated messages (activities/notify.py
    `deliver_batch` in the `send_batch` activity), then wait on workflow timers for the rate-limited channel's
    queue until every message of the batch is sent or refused (`drain_channel` at the times the queue names).
    The inbox copies are written at once. What no channel took goes to the per-item path (`notify_person`:
    every channel in rounds for an hour, then the supervisors), as the daily sweep does."""
    req = batch.model_copy(update={"at": workflow.now()})
    result = await workflow.execute_activity(
        send_batch,
        req,
        start_to_close_timeout=BATCH_TIMEOUT,
        heartbeat_timeout=timedelta(minutes=2),
        retry_policy=BATCH_RETRY,
    )
    pending = len(result.message_ids)
    while result.bucket and pending:
        wait = (result.next_at - workflow.now()) if result.next_at else MIN_QUEUE_WAIT
        await workflow.sleep(max(wait, MIN_QUEUE_WAIT))
        drained = await workflow.execute_activity(
            drain_channel,
            DrainRequest(bucket=result.bucket, at=workflow.now(), message_ids=result.message_ids),
            start_to_close_timeout=BATCH_TIMEOUT,
            retry_policy=BATCH_RETRY,
        )
        result.sent += [k for k in drained.done_keys if k in result.queued and k not in result.sent]
        result.failed += [k for k in drained.failed_keys if k in result.queued]
        result.messages += len(set(drained.sent_ids) & set(result.message_ids))
        pending, result.next_at = drained.pending, drained.next_at
    result.queued = []
    by_key = {r.model_copy(update={"person_id": batch.person_id}).key: r for r in batch.items}
    retry = [by_key[k].model_copy(update={"person_id": batch.person_id}) for k in result.failed if k in by_key]
    for r in retry:
        await notify_person(r)
    return result


async def drain_queues() -> DrainAllResult:
    """Drain every channel queue until nothing waits (the daily sweep after its fan-out: batches whose bots
    were at their limit); what a channel refused goes to the per-item path."""
    total = DrainAllResult()
    while True:
        r = await workflow.execute_activity(
            drain_all,
            DrainAllRequest(at=workflow.now()),
            start_to_close_timeout=BATCH_TIMEOUT,
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=BATCH_RETRY,
        )
        total.sent += r.sent
        total.failed += r.failed
        for req in r.failed:
            await notify_person(req)
        if not r.waiting or r.next_at is None:
            return total
        await workflow.sleep(max(r.next_at - workflow.now(), MIN_QUEUE_WAIT))


@workflow.defn(name="notify_batch")
class NotifyBatchWorkflow:
    """One person's batch as its own workflow (tests; a caller that wants the wait done apart)."""

    @workflow.run
    async def run(self, batch: DeliveryBatch) -> BatchResult:
        return await notify_batch(batch)
