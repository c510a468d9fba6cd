"""Notifications: the delivery activity (Apprise channels, delivery log, channel fallback).

One call of the `send_notification` activity handles one (item, rule, step, person):

1. It claims the delivery row with the unique key `{item_id}:{rule}:{step}:{person_id}` (state `intent`) and
   commits it *before* anything is sent. A key already `sent` returns `already_sent` without sending.
2. It tries the person's channel `channel_index` (an Apprise URL from departments.toml) and logs the attempt
   (item, step, person, masked channel, ok/failed, error, time) in `DeliveryAttempt`.
3. Success marks the row `sent` with the channel used. Failure raises a retryable `ApplicationError` of type
   `ChannelFailed`, so Temporal's retry policy retries that channel with backoff; when its attempts are exhausted
   the workflow side (`workflows/notify_steps.py`) asks for the next channel. Asked for a channel past the
   last one, the activity marks the row `failed` and returns `exhausted`; the workflow side then sends a
   `delivery_failed` notice to the supervisors. A person with no channel (or unknown) is a failed delivery too.
   With `channel_index=None` (direct use, no Temporal) all channels are tried in order within one call.

站内消息 (inbox, store/inbox.py): before any external channel is tried, the notice is written to the person's
inbox under the same key (insert-or-get on (key, person): a retried activity or a re-run step writes it once).
A person with no external channel is reached there: the delivery is `sent` with the channel `站内消息`. An
external channel failing never loses the inbox copy; the delivery row then says `failed` (送达失败 of that
channel) and the supervisors are told, as before. An invite is the exception to "reached": its inbox copy is
written, but a person who has no password yet cannot open it, so only a personal external channel delivers it.

Exactly once, as the receivers see it: a restarted worker re-running a step finds the row `sent` and sends
nothing. The window that remains: a channel accepted the message and the worker died (or the database was
unreachable) before `mark_sent` committed. The row is then still `intent`, the activity is retried and the
receiver gets the notice a second time. No channel protocol (SMTP, webhooks) lets us close that window; it
is as small as one database commit. A row seen in `intent` on entry is a sign of such a crash and is logged.
Two concurrent executions of the same key (which Temporal does not produce for one activity) could both send.

Texts come from `activities/notify_templates.py`, secrets in channel URLs are masked by `domain/secrets.py`,
digest contents are built by `domain/digests.py`. No applicant personal data is ever put in a notification context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify_templates import render
from domain import channels, labels
from domain.directory import Directory, Person, load_directory
from domain.engine import engine
from domain.notice_text import date_text, item_link
from domain.secrets import mask_url, scrub
from domain.shanghai import now as shanghai_now

log = logging.getLogger("shixian.notify")

LADDER_STEPS = ("t_minus_3", "t_minus_1", "due_today", "overdue_1", "overdue_repeat", "earliest_close")
DIGEST_STEPS = ("digest_liaison", "digest_supervisor", "digest_head", "digest_admin")
STEPS = LADDER_STEPS + ("due_date_changed", "delivery_failed") + DIGEST_STEPS + ("test", "urge", "invite")
# A one-time password link is a secret: whoever reads it can take the account, so never to a group channel.
PERSONAL_ONLY_STEPS = frozenset({"invite"})
INVITE_LINK_ELSEWHERE = "（链接已发送到您的个人通知渠道，或由管理员当面转交；出于安全考虑不在站内消息中保存）"
CHANNEL_FAILED = "ChannelFailed"
INBOX_CHANNEL = "站内消息"  # `channel_used` of a delivery the inbox alone made
# A person who has not set a password cannot open the inbox: these steps need an external channel.
INBOX_DOES_NOT_DELIVER = frozenset({"invite"})
# Which kind of inbox message (labels.INBOX_KINDS) each step is.
INBOX_KIND = {
    **{s: "reminder" for s in LADDER_STEPS},
    **{s: "digest" for s in DIGEST_STEPS},
    "due_date_changed": "notice",
    "delivery_failed": "delivery_failed",
    "test": "test",
    "urge": "urge",
    "invite": "invite",
}
# Pseudo item ids (delivery-log groups that are no item): their inbox message links nowhere.
_NOT_ITEMS = ("digest-", "account", "test")


# ------------------------------------------------------------------------------------------ models
class NotificationRequest(BaseModel):
    item_id: str
    rule: str
    step: str
    person_id: str
    # None: try every channel in order within this call; an index: only that channel (Temporal path).
    channel_index: int | None = None
    # Template context: item_title, department (id), due (ISO), working_days_left, overdue_working_days,
    # next_action, old_due / new_due / reason (due_date_changed), items… (digests). No personal data.
    context: dict[str, Any] = Field(default_factory=dict)
    # delivery_failed only: which notice could not be delivered (part of the key, one alert per failure).
    about_step: str | None = None
    # Which occurrence of the step this is (e.g. "t_minus_1@2026-12-03"): a step fires once per due
    # date, so a moved due date gets its own reminders. Defaults to the step itself.
    occurrence: str | None = None
    about_person: str | None = None
    # Temporal path, asked for a channel past the last one: False = a retry round of the workflow follows,
    # so the row stays `intent` (发送中) instead of `failed`; True = the workflow gives up now.
    give_up: bool = True

    @property
    def key(self) -> str:
        step = self.occurrence or self.step
        if self.about_step or self.about_person:
            step = f"{self.step}[{self.about_step or ''}/{self.about_person or ''}]"
        return f"{self.item_id}:{self.rule}:{step}:{self.person_id}"


DeliveryStatus = Literal["sent", "already_sent", "failed", "exhausted", "no_channels"]


class NotificationResult(BaseModel):
    key: str
    status: DeliveryStatus
    person_id: str
    channel: str | None = None  # masked URL of the channel used (sent) or tried last
    channel_index: int | None = None
    channel_count: int = 0
    error: str | None = None
    tried_channels: list[str] = Field(default_factory=list)  # masked, for the delivery_failed notice
    inbox_id: int | None = None  # the inbox copy (站内消息), written before any external channel

    @property
    def delivered(self) -> bool:
        return self.status in ("sent", "already_sent")


class RecipientsRequest(BaseModel):
    department: str | None = None
    roles: list[str] = Field(default_factory=list)


class ChannelResult(BaseModel):
    index: int
    channel: str  # masked
    ok: bool
    error: str | None = None


def build_context(req: NotificationRequest, person: Person | None, directory: Directory) -> dict[str, Any]:
    ctx = dict(req.context)
    dept = ctx.get("department") or (person.department if person else None)
    ctx.setdefault("item_id", req.item_id)
    ctx.setdefault("item_title", ctx.get("title") or "")
    if "department_name" not in ctx:  # asked only when missing: the sweep builds thousands at 09:00
        ctx["department_name"] = directory.department_name(dept) if dept else ""
    if "rule_name" not in ctx:
        ctx["rule_name"] = engine().rule_name(req.rule)
    ctx.setdefault("step_name", labels.STEPS.get(req.step, req.step))
    if "link" not in ctx:
        ctx["link"] = item_link(req.item_id)
    ctx.setdefault("person_name", person.name if person else req.person_id)
    if req.about_person or req.about_step:
        failed = directory.people.get(req.about_person or "")
        ctx.setdefault("failed_person_name", f"{failed.name}（{failed.id}）" if failed else (req.about_person or ""))
        ctx.setdefault(
            "failed_department_name",
            directory.department_name(failed.department) if failed and failed.department else "",
        )
        ctx.setdefault("failed_step_name", labels.STEPS.get(req.about_step or "", req.about_step or ""))
    for k in ("due", "old_due", "new_due", "date"):
        if ctx.get(k) and not ctx.get(f"{k}_text"):
            ctx[f"{k}_text"] = date_text(ctx[k])
    if (
        ctx.get("overdue_working_days") is None
        and isinstance(ctx.get("working_days_left"), int)
        and ctx["working_days_left"] < 0
    ):
        ctx["overdue_working_days"] = -ctx["working_days_left"]
    return ctx


def notice_item_type(req: NotificationRequest) -> str | None:
    """The item type a notice is about (its titles are public or not): given in the context, or the type
    whose event starts the notice's rule; None when unknown (digests, 督办: their rows say, or it is withheld)."""
    given = req.context.get("item_type")
    if isinstance(given, str):
        return given
    from domain.engine import engine
    from domain.events import ITEM_TYPE

    rule = engine().rules.get(req.rule)
    return ITEM_TYPE.get(rule.start_event.split(".")[0]) if rule else None


# ------------------------------------------------------------------------------------------ inbox
def item_path(item_id: str) -> str | None:
    """The app path of the item a notice is about (None for digests, accounts, tests)."""
    from urllib.parse import quote

    if not item_id or item_id.startswith(_NOT_ITEMS) or item_id.startswith("<"):
        return None
    return f"/items/{quote(item_id, safe='')}"


def write_inbox(
    s, req: NotificationRequest, person: Person, context: dict[str, Any], config_dir: Path | None = None
) -> int:
    """The inbox copy of the notice (once per key and person); returns its id. The inbox is the person's own
    (personal), so it sees what a personal channel sees; text is escaped as for no IM kind (pages autoescape)."""
    from store import inbox

    seen = channels.for_channel(context, kind="inbox", privacy="personal", item_type=notice_item_type(req))
    if "invite_link" in seen:  # the one-time link is stored only as a hash (store.accounts): never in a message row
        seen = {**seen, "invite_link": INVITE_LINK_ELSEWHERE}
    title, body = render(req.step, seen, config_dir)
    link = item_path(req.item_id)
    row, _ = inbox.add_message(
        s,
        key=req.key,
        person=person.id,
        kind=INBOX_KIND.get(req.step, "notice"),
        title=title,
        body=body,
        link=link,
        item_id=req.item_id if link else None,
        department=context.get("department") or person.department or None,
    )
    assert row.id is not None
    return row.id


# ------------------------------------------------------------------------------------------ sending
async def send_via(url: str, title: str, body: str) -> tuple[bool, str | None]:
    """Send one message through one Apprise URL. (ok, error text with secrets scrubbed)."""
    import apprise

    ap = apprise.Apprise()
    if not ap.add(url):
        return False, f"无法识别的通知地址：{mask_url(url)}"
    try:
        result = await ap.async_notify(body=body, title=title, body_format="text", log_level=logging.WARNING)
    except Exception as e:
        return False, scrub(_explain(f"{type(e).__name__}: {e}"), url)
    if bool(result):
        return True, None
    msgs = []
    for service in result:
        for entry in service.logs():
            if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message not in msgs:
                msgs.append(entry.message)
    err = "；".join(msgs) or f"状态 {getattr(result.status, 'name', result.status)}"
    return False, scrub(_explain(err), url)


def _explain(err: str) -> str:
    """A Chinese lead for Apprise's English error text (domain/channels.py's table; the original kept in
    parentheses for the technicians)."""
    return channels.explain_error(err)


def _attempt_no() -> int:
    return activity.info().attempt if activity.in_activity() else 1


def _heartbeat() -> None:
    if activity.in_activity():
        activity.heartbeat()


async def deliver(
    req: NotificationRequest, directory: Directory | None = None, config_dir: Path | None = None
) -> NotificationResult:
    """The body of `send_notification`; usable without Temporal (then `channel_index=None` tries all)."""
    from store import deliveries as store
    from store.db import session

    directory = directory or (load_directory(config_dir) if config_dir else engine().directory)
    key = req.key
    person = directory.people.get(req.person_id)
    with session(expire_on_commit=False) as s:
        inbox_id: int | None = None
        context: dict[str, Any] = {}
        if person is not None:
            # The inbox copy first: whatever the external channels do next, the person has the notice.
            context = build_context(req, person, directory)
            inbox_id = write_inbox(s, req, person, context, config_dir)
        row = store.claim(s, key, item_id=req.item_id, rule=req.rule, step=req.step, person=req.person_id)
        if row.state == "sent":
            return NotificationResult(
                key=key,
                status="already_sent",
                person_id=req.person_id,
                channel=row.channel_used,
                channel_count=len(person.notify) if person else 0,
                inbox_id=inbox_id,
            )
        if row.state == "failed":
            store.reopen(s, key)
        elif (
            row.state == "intent"
            and _attempt_no() == 1
            and req.channel_index in (None, 0)
            and store.attempts_for(s, key)
        ):
            log.warning("delivery %s found in state intent: earlier run may have sent it (crash window)", key)

        def attempt(i: int, url: str, ok: bool, err: str | None) -> None:
            store.add_attempt(
                s,
                key,
                item_id=req.item_id,
                step=req.step,
                person=req.person_id,
                channel=mask_url(url) if "://" in url else url,
                channel_index=i,
                attempt=_attempt_no(),
                status="ok" if ok else "failed",
                error=err,
            )

        if person is None or not person.notify:
            if person is not None and req.step not in INBOX_DOES_NOT_DELIVER:
                # No external channel: the inbox copy is the delivery (已送达 via 站内消息).
                attempt(-1, INBOX_CHANNEL, True, None)
                store.mark_sent(s, key, INBOX_CHANNEL)
                return NotificationResult(
                    key=key, status="sent", person_id=req.person_id, channel=INBOX_CHANNEL, inbox_id=inbox_id
                )
            why = (
                f"未知人员“{req.person_id}”（departments.toml 中不存在）"
                if person is None
                else f"{person.name}（{person.id}）未配置任何通知渠道"
            )
            attempt(-1, "", False, why)
            store.mark_failed(s, key, why)
            return NotificationResult(
                key=key, status="no_channels", person_id=req.person_id, error=why, inbox_id=inbox_id
            )

        urls = list(person.notify)
        masked = [mask_url(u) for u in urls]
        if req.channel_index is not None and req.channel_index >= len(urls):
            last = store.attempts_for(s, key)
            gave_up = (last[-1].error if last else None) or "所有通知渠道均发送失败"
            if req.give_up:
                store.mark_failed(s, key, gave_up)
            return NotificationResult(
                key=key,
                status="exhausted",
                person_id=req.person_id,
                channel=masked[-1],
                channel_index=len(urls) - 1,
                channel_count=len(urls),
                error=gave_up,
                tried_channels=masked,
                inbox_id=inbox_id,
            )

        item_type = notice_item_type(req)
        indexes = range(len(urls)) if req.channel_index is None else [req.channel_index]
        err: str | None = None
        for i in indexes:
            _heartbeat()
            if req.step in PERSONAL_ONLY_STEPS and person.channel_privacy(i) != "personal":
                err = "设置密码链接只发往个人渠道（如个人邮箱），不发往群组渠道"
                attempt(i, urls[i], False, err)
                continue
            # Rendered per channel: a group channel never sees a request's title (domain/channels.py).
            seen = channels.for_channel(
                context, kind=channels.kind_of(urls[i]), privacy=person.channel_privacy(i), item_type=item_type
            )
            title, body = render(req.step, seen, config_dir)
            ok, err = await send_via(urls[i], title, body)
            attempt(i, urls[i], ok, err)
            if ok:
                store.mark_sent(s, key, masked[i])
                return NotificationResult(
                    key=key,
                    status="sent",
                    person_id=req.person_id,
                    channel=masked[i],
                    channel_index=i,
                    channel_count=len(urls),
                    tried_channels=masked[: i + 1],
                    inbox_id=inbox_id,
                )
            log.warning("notice %s via channel %d (%s) failed: %s", key, i + 1, masked[i], err)
        if req.channel_index is not None:
            # Let Temporal's retry policy retry this channel; the workflow moves on when it gives up.
            raise ApplicationError(
                f"渠道{req.channel_index + 1}（{masked[req.channel_index]}）发送失败：{err}", type=CHANNEL_FAILED
            )
        store.mark_failed(s, key, err or "所有通知渠道均发送失败")
        return NotificationResult(
            key=key,
            status="failed",
            person_id=req.person_id,
            channel=masked[-1],
            channel_index=len(urls) - 1,
            channel_count=len(urls),
            error=err,
            tried_channels=masked,
            inbox_id=inbox_id,
        )


@activity.defn(name="send_notification")
async def send_notification(req: NotificationRequest) -> NotificationResult:
    """Temporal activity: one (item, step, person) on one channel; see the module docstring."""
    return await deliver(req)


@activity.defn(name="notification_recipients")
async def notification_recipients(req: RecipientsRequest) -> list[str]:
    """Person ids holding any of `roles`: liaison/head within the department, the other roles those whose node
    holds the department (all of them without a department)."""
    return recipients(engine().directory, req.department, req.roles)


def recipients(directory: Directory, department: str | None, roles: Iterable[str]) -> list[str]:
    out: list[str] = []
    for role in roles:
        people = (
            directory.people_for(department, role)
            if role in ("liaison", "head")
            else directory.people_over(department, role)
        )
        for p in people:
            if p.id not in out:
                out.append(p.id)
    return out


async def send_test(person_id: str, directory: Directory | None = None) -> list[ChannelResult]:
    """Send the `test` message to every channel of the person (not a fallback: each one), logging each."""
    from store import deliveries as store
    from store.db import session

    directory = directory or engine().directory
    person = directory.person(person_id)
    now = shanghai_now()
    key = f"test:{now:%Y%m%dT%H%M%S.%f}:{person.id}"
    results: list[ChannelResult] = []
    with session(expire_on_commit=False) as s:
        from store import inbox

        title, body = render(
            "test",
            {
                "person_name": person.name,
                "channel_index": -1,
                "channel_count": 0,
                "sent_at_text": f"{now:%Y-%m-%d %H:%M:%S}（北京时间）",
            },
        )
        inbox.add_message(s, key=key, person=person.id, kind="test", title=title, body=body)
        store.claim(s, key, item_id="test", rule="test", step="test", person=person.id)
        if not person.notify:
            err = f"{person.name}（{person.id}）未配置任何通知渠道"
            store.add_attempt(
                s, key, item_id="test", step="test", person=person.id, channel="", status="failed", error=err
            )
            store.mark_failed(s, key, err)
            return results
        for i, url in enumerate(person.notify):
            ctx = {
                "person_name": person.name,
                "channel_index": i,
                "channel_count": len(person.notify),
                "sent_at_text": f"{now:%Y-%m-%d %H:%M:%S}（北京时间）",
            }
            title, body = render("test", ctx)
            ok, failed = await send_via(url, title, body)
            store.add_attempt(
                s,
                key,
                item_id="test",
                step="test",
                person=person.id,
                channel=mask_url(url),
                channel_index=i,
                status="ok" if ok else "failed",
                error=failed,
            )
            results.append(ChannelResult(index=i, channel=mask_url(url), ok=ok, error=failed))
        if all(r.ok for r in results):
            store.mark_sent(s, key, ", ".join(r.channel for r in results))
        else:
            store.mark_failed(s, key, "；".join(f"渠道{r.index + 1}：{r.error}" for r in results if not r.ok))
    return results


# ------------------------------------------------------------------------------------------ batches
class DeliveryBatch(BaseModel):
    """Item steps due at the same instant for one person (the daily sweep's unit, issue 22 §2): one message
    per channel lists them all. Each request is one (item, rule, step occurrence) with `person_id` = the
    batch's person; its key is the same as when the item's workflow sends the step alone, so the delivery log
    holds each item step once whoever sent it."""

    person_id: str
    # None: the person's channels in order until one accepts (fallback within the call); an index: that one.
    channel_index: int | None = None
    items: list[NotificationRequest] = Field(default_factory=list)
    # "first": the inbox copies, then the send (as `deliver`); "later": send only, the caller writes the copies
    # next ("only"), durably (the daily sweep: its workflow runs the inbox pass after the sends, so the 09:00
    # messages do not wait for 13,000 inbox renders).
    inbox: Literal["first", "later", "only"] = "first"
    # The instant the items fell due (the sweep's): claims are stamped no earlier, so that a re-run of the same
    # sweep (retry, inbox pass) tells its own claims from earlier days' whatever the hosts' clocks say.
    instant: str | None = None


class BatchResult(BaseModel):
    person_id: str
    sent: list[str] = Field(default_factory=list)  # keys delivered by this call's message(s)
    already_sent: list[str] = Field(default_factory=list)  # keys the log already had sent: not sent again
    failed: list[str] = Field(default_factory=list)  # keys no channel took (rows stay intent: retried per item)
    messages: int = 0  # messages the channels accepted
    channel: str | None = None  # masked URL of the channel used
    error: str | None = None


def _urgency(ctx: dict[str, Any]) -> tuple[int, int, str]:
    """Most urgent first: the longest overdue, then the fewest working days left, then the earliest due."""
    over = ctx.get("overdue_working_days")
    if isinstance(over, int) and over > 0:
        return (0, -over, str(ctx.get("due") or ""))
    left = ctx.get("working_days_left")
    return (1, left if isinstance(left, int) else 1_000, str(ctx.get("due") or ""))


def render_batch(
    person: Person,
    contexts: list[tuple[NotificationRequest, dict[str, Any]]],
    *,
    kind: str,
    privacy: str,
    config_dir: Path | None = None,
) -> tuple[str, str]:
    """The consolidated message for one channel: one item alone is its own step's text, several the
    `ladder_batch` list, each item as that channel may see it (domain/channels.py)."""
    seen = [
        channels.for_channel(ctx, kind=kind, privacy=privacy, item_type=notice_item_type(req)) for req, ctx in contexts
    ]
    if len(seen) == 1:
        return render(contexts[0][0].step, seen[0], config_dir)
    seen.sort(key=_urgency)
    departments = {c.get("department_name") for c in seen}
    batch = {
        "person_name": person.name,
        "department_name": departments.pop() if len(departments) == 1 else "",
        "items": seen,
    }
    return render("ladder_batch", batch, config_dir)


async def deliver_batch(
    batch: DeliveryBatch, directory: Directory | None = None, config_dir: Path | None = None
) -> BatchResult:
    """Deliver the batch's item steps to its person as one message per channel, exactly once per item step
    as the delivery log sees it. Writes are batched: the inbox copies (one per item, so the inbox gets
    everything at once), the claims, the attempts and the `sent` marks each in one commit.

    Keys already `sent` are left out of the message; a failed one is reopened. The crash window is the one of
    `deliver` (a channel accepted the message, the worker died before `mark_sent_many` committed: the retried
    call sends the message again), one commit wide for the whole batch. When no channel takes it the keys stay
    `intent` and come back in `failed`: the caller hands each to the per-item path (`notify_person`: rounds,
    then the supervisors), which the log keeps from sending what a later round delivered.

    i22-channels extends this function (consolidation across departments, size limits, rate-limited queue)."""
    from store import deliveries as store
    from store import inbox
    from store.db import session

    directory = directory or (load_directory(config_dir) if config_dir else engine().directory)
    out = BatchResult(person_id=batch.person_id)
    person = directory.people.get(batch.person_id)
    reqs = [r.model_copy(update={"person_id": batch.person_id}) for r in batch.items]
    if not reqs:
        return out
    contexts = [(r, build_context(r, person, directory)) for r in reqs]
    # Sessions are held for the writes only, never across a send: a slow channel must not hold a connection.
    with session(expire_on_commit=False) as s:
        if person is not None and batch.inbox != "later":
            rows = []
            for r, ctx in contexts:
                seen = channels.for_channel(ctx, kind="inbox", privacy="personal", item_type=notice_item_type(r))
                title, body = render(r.step, seen, config_dir)
                link = item_path(r.item_id)
                rows.append(
                    dict(
                        key=r.key,
                        person=person.id,
                        kind=INBOX_KIND.get(r.step, "notice"),
                        title=title,
                        body=body,
                        link=link,
                        item_id=r.item_id if link else None,
                        department=ctx.get("department") or person.department or None,
                    )
                )
            inbox.add_messages(s, rows)
        if batch.inbox == "only":
            return out
        claimed = store.claim_many(
            s,
            [dict(key=r.key, item_id=r.item_id, rule=r.rule, step=r.step, person=batch.person_id) for r in reqs],
            not_before=datetime.fromisoformat(batch.instant) if batch.instant else None,
        )
        states = {k: d.state for k, d in claimed.items()}
        out.already_sent = [r.key for r in reqs if states[r.key] == "sent"]
        todo = [(r, ctx) for r, ctx in contexts if states[r.key] != "sent"]
        store.reopen_many(s, [r.key for r, _ in todo if states[r.key] == "failed"])
    if not todo:
        return out
    keys = [r.key for r, _ in todo]

    def record(i: int, channel: str, ok: bool, err: str | None, sent_via: str | None = None) -> None:
        with session() as s:
            store.add_attempts(
                s,
                [
                    dict(
                        key=r.key,
                        item_id=r.item_id,
                        step=r.step,
                        person=batch.person_id,
                        channel=channel,
                        channel_index=i,
                        attempt=_attempt_no(),
                        status="ok" if ok else "failed",
                        error=err,
                    )
                    for r, _ in todo
                ],
            )
            if sent_via is not None:
                store.mark_sent_many(s, keys, sent_via)

    if person is None or not person.notify:
        if person is not None:  # no external channel: the inbox copies are the delivery
            record(-1, INBOX_CHANNEL, True, None, sent_via=INBOX_CHANNEL)
            out.sent, out.channel = keys, INBOX_CHANNEL
            return out
        out.failed = keys
        out.error = f"未知人员“{batch.person_id}”（departments.toml 中不存在）"
        record(-1, "", False, out.error)
        return out
    urls = list(person.notify)
    indexes = range(len(urls)) if batch.channel_index is None else [batch.channel_index]
    for i in indexes:
        _heartbeat()
        title, body = render_batch(
            person, todo, kind=channels.kind_of(urls[i]), privacy=person.channel_privacy(i), config_dir=config_dir
        )
        ok, err = await send_via(urls[i], title, body)
        masked = mask_url(urls[i])
        record(i, masked, ok, err, sent_via=masked if ok else None)
        if ok:
            out.sent, out.messages, out.channel = keys, 1, masked
            return out
        out.error = err
        log.warning("batch of %d for %s via channel %d failed: %s", len(keys), person.id, i + 1, err)
    out.failed = keys
    return out
