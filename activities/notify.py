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

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify_templates import render
from domain import channels, labels, sms
from domain.directory import Directory, Person, load_directory
from domain.engine import Engine, engine
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
    # The workflow's now (Temporal path): the clock of the channel's limits (store/outbox.py). None: real time.
    at: datetime | None = None

    @property
    def key(self) -> str:
        step = self.occurrence or self.step
        if self.about_step or self.about_person:
            step = f"{self.step}[{self.about_step or ''}/{self.about_person or ''}]"
        return f"{self.item_id}:{self.rule}:{step}:{self.person_id}"


DeliveryStatus = Literal["sent", "already_sent", "failed", "exhausted", "no_channels", "queued", "deferred"]


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
    # deferred: the channel's limits (config/channels.toml) hold the notice until then; try the same channel again
    not_before: datetime | None = None

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


def build_context(
    req: NotificationRequest, person: Person | None, directory: Directory, eng: Engine | None = None
) -> dict[str, Any]:
    """`eng`: the engine in use, when the caller has it (a batch: `engine()` stats the config files)."""
    ctx = dict(req.context)
    dept = ctx.get("department") or (person.department if person else None)
    ctx.setdefault("item_id", req.item_id)
    ctx.setdefault("item_title", ctx.get("title") or "")
    if "department_name" not in ctx:  # asked only when missing: the sweep builds thousands at 09:00
        ctx["department_name"] = directory.department_name(dept) if dept else ""
    if "rule_name" not in ctx:
        ctx["rule_name"] = (eng or engine()).rule_name(req.rule)
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


def notice_item_type(req: NotificationRequest, eng: Engine | None = None) -> str | None:
    """The item type a notice is about (its titles are public or not): given in the context, or the type
    whose event starts the notice's rule; None when unknown (digests, 督办: their rows say, or it is withheld)."""
    given = req.context.get("item_type")
    if isinstance(given, str):
        return given
    from domain.engine import engine
    from domain.events import ITEM_TYPE

    rule = (eng or engine()).rules.get(req.rule)
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

    from activities.sms import register

    register()  # smsaliyun:// and smstencent:// (our plugins) before Apprise parses the URL
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

        def attempt(i: int, url: str, ok: bool, err: str | None, status: str | None = None) -> None:
            store.add_attempt(
                s,
                key,
                item_id=req.item_id,
                step=req.step,
                person=req.person_id,
                channel=mask_url(url) if "://" in url else url,
                channel_index=i,
                attempt=_attempt_no(),
                status=status or ("ok" if ok else "failed"),
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
            if req.step in PERSONAL_ONLY_STEPS and channels.kind_of(urls[i]) in sms.SMS_KINDS:
                # A template variable holds a few dozen characters: the link would arrive cut, i.e. not at all.
                err = "设置密码链接不经短信发送（短信模板放不下完整链接），请用个人邮箱或由管理员当面转交"
                attempt(i, urls[i], False, err)
                continue
            # Rendered per channel: a group channel never sees a request's title (domain/channels.py).
            seen = channels.for_channel(
                context, kind=channels.kind_of(urls[i]), privacy=person.channel_privacy(i), item_type=item_type
            )
            title, body = render(req.step, seen, config_dir)
            # Direct use (no Temporal to wait with) is a person's action now (an invite, a 督办 without a worker):
            # quiet hours do not hold it; a rate limit is waited out below.
            night_ok = req.channel_index is None or _hours_rule(req.rule)
            ok, err, hold = await send_counted(
                urls[i],
                title,
                body,
                person_id=req.person_id,
                channel_index=i,
                hours_rule=night_ok,
                at=req.at,
            )
            if hold is not None and req.channel_index is not None:
                # Rate limit, daily cap or quiet hours: the workflow waits and asks again (notify_steps).
                return NotificationResult(
                    key=key,
                    status="deferred",
                    person_id=req.person_id,
                    channel=masked[i],
                    channel_index=i,
                    channel_count=len(urls),
                    not_before=hold,
                    inbox_id=inbox_id,
                )
            if hold is not None:  # direct use: wait out a rate limit, not a day
                wait = (hold - _clock(req.at)()).total_seconds()
                if wait <= DIRECT_WAIT_SECONDS:
                    await asyncio.sleep(max(0.0, wait))
                    ok, err, hold = await send_counted(
                        urls[i], title, body, person_id=req.person_id, channel_index=i, hours_rule=True, at=None
                    )
                if hold is not None:
                    ok, err = False, "渠道限流或免打扰时段，暂缓发送（已写入站内消息）"
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


# ------------------------------------------------------------------------- batches and the queue (issue 22)
# `deliver_batch` is the one delivery function for a batch of one person's item steps due at one instant
# (the 09:00 sweep hands it `DeliveryBatch(person, [item steps])`; `workflows/notify_steps.py` `notify_batch`
# drives it through the `send_batch` activity):
# 1. every item's 站内消息 copy at once (the inbox knows no external limit), in one commit;
# 2. the delivery rows of all its keys claimed in one statement (a key already sent is left out: exactly once
#    per item step, whoever sends it: the keys are those of the item's own path);
# 3. the ladder steps consolidated into messages for the channel (domain/channel_policy.py: most urgent
#    first, split at the channel's size), hour-rule warnings and 督办 as single messages;
# 4. the messages queued durably (store/outbox.py) and the channel's bucket drained at once as far as its
#    limits allow. What the limits hold stays queued (`queued`, `next_at`): whoever holds the batch drains
#    it later (`drain_channel`, or `drain_all` for every bucket). What a channel refuses goes to the next
#    channel (channel_index None), re-rendered for it; what no channel took comes back in `failed` with its
#    rows still `intent`, for the per-item path (`notify_person`: rounds for an hour, then the supervisors).
# The delivery rows of a message's keys become `sent` right after the channel accepted it (the same crash
# window as one notice: see the module docstring; a message found `sending` whose keys are all sent is not
# sent again).
LEASE_WAIT_SECONDS = 2.0  # another drainer holds the bucket: look again after this
DIRECT_WAIT_SECONDS = 65.0  # without Temporal (deliver() called directly) a rate limit is waited out in-process
BATCH_FOOTER = "（本通知由时限系统自动发送，请勿直接回复。）"


class DeliveryBatch(BaseModel):
    """Item steps due at the same instant for one person (the daily sweep's unit, issue 22 §2). Each request
    is one (item, rule, step occurrence); its key is the one the item's workflow would use alone."""

    person_id: str
    # None: the person's channels in order until one accepts; an index: that one only.
    channel_index: int | None = None
    items: list[NotificationRequest] = Field(default_factory=list)
    # The queue's clock (the workflow's now, so a time-skipping server and a replay see the same times);
    # None: real time.
    at: datetime | None = None
    # "first": the inbox copies, then the send; "later": send only, the caller writes the copies next ("only"),
    # durably (the daily sweep: its workflow runs the inbox pass after the sends, so the 09:00 messages do not
    # wait for 13,000 inbox renders).
    inbox: Literal["first", "later", "only"] = "first"
    # The instant the items fell due (the sweep's): claims are stamped no earlier, so that a re-run of the same
    # sweep (retry, inbox pass) tells its own claims from earlier days' whatever the hosts' clocks say.
    instant: str | None = None


class BatchResult(BaseModel):
    person_id: str
    sent: list[str] = Field(default_factory=list)  # keys delivered by this call's message(s)
    already_sent: list[str] = Field(default_factory=list)  # keys the log already had sent: not sent again
    failed: list[str] = Field(default_factory=list)  # keys no channel took (rows stay intent: retried per item)
    queued: list[str] = Field(default_factory=list)  # keys waiting in the queue for the channel's limits
    messages: int = 0  # messages the channels accepted
    channel: str | None = None  # masked URL of the channel used last
    error: str | None = None
    bucket: str | None = None  # the bucket the queued keys wait in
    message_ids: list[int] = Field(default_factory=list)  # the queued messages
    next_at: datetime | None = None  # when the bucket may send again (None: nothing waits)
    inbox_ids: dict[str, int] = Field(default_factory=dict)  # key -> its 站内消息 copy


class DrainRequest(BaseModel):
    bucket: str
    at: datetime | None = None
    # The caller's messages: only these are sent (each owner sends and hands over its own); none: all waiting.
    message_ids: list[int] = Field(default_factory=list)


class DrainResult(BaseModel):
    bucket: str
    sent: int = 0
    sent_keys: list[str] = Field(default_factory=list)
    sent_ids: list[int] = Field(default_factory=list)
    done_keys: list[str] = Field(default_factory=list)  # keys of the request's messages sent (by anyone)
    pending: int = 0  # of the request's message_ids
    next_at: datetime | None = None
    failed_keys: list[str] = Field(default_factory=list)  # refused by the channel: rows intent, per-item path
    failed_requests: list[NotificationRequest] = Field(default_factory=list)  # their notices, as enqueued
    error: str | None = None


class DrainAllRequest(BaseModel):
    at: datetime | None = None


class DrainAllResult(BaseModel):
    sent: int = 0
    failed: list[NotificationRequest] = Field(default_factory=list)  # for the per-item path
    waiting: int = 0  # messages still queued
    next_at: datetime | None = None


def _clock(at: datetime | None):
    """now(): `at` advanced by the real time elapsed since the call began (real time without `at`)."""
    import time as _time
    from datetime import UTC, timedelta

    start = _time.monotonic()
    base = at.astimezone(UTC) if at is not None else None

    def now() -> datetime:
        if base is None:
            return datetime.now(UTC)
        return base + timedelta(seconds=_time.monotonic() - start)

    return now


def _hours_rule(rule: str, eng: Engine | None = None) -> bool:
    found = (eng or engine()).rules.get(rule)
    return bool(found and found.unit == "hours")


def _entry(req: NotificationRequest, seen: dict[str, Any]):
    from domain.channel_policy import Entry

    wdl = seen.get("working_days_left")
    owd = seen.get("overdue_working_days")
    return Entry(
        key=req.key,
        item_id=req.item_id,
        title=str(seen.get("item_title") or ""),
        rule_name=str(seen.get("rule_name") or req.rule),
        step_name=str(seen.get("step_name") or req.step),
        due_text=str(seen.get("due_text") or seen.get("due") or ""),
        link=str(seen.get("link") or ""),
        working_days_left=wdl if isinstance(wdl, int) else None,
        overdue_working_days=owd if isinstance(owd, int) else None,
    )


def _message_key(bucket: str, keys: Iterable[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join([bucket, *sorted(keys)]).encode()).hexdigest()[:64]


def compose(
    person: Person,
    reqs: list[NotificationRequest],
    contexts: dict[str, dict[str, Any]],
    *,
    index: int,
    max_bytes: int,
    config_dir: Path | None = None,
    eng: Engine | None = None,
) -> list[tuple[str, str, list[str], bool]]:
    """The messages of `reqs` for the person's channel `index`: (title, body, keys, individual). Each item as
    that channel may see it (domain/channels.py); one ladder item alone is its step's own text."""
    from domain.channel_policy import consolidate, individual

    eng = eng or engine()
    hours = {r.rule: _hours_rule(r.rule, eng) for r in reqs}

    url = person.notify[index]
    kind, privacy = channels.kind_of(url), person.channel_privacy(index)
    seen = {
        r.key: channels.for_channel(contexts[r.key], kind=kind, privacy=privacy, item_type=notice_item_type(r, eng))
        for r in reqs
    }
    merged = [r for r in reqs if not individual(r.step, hours_rule=hours[r.rule])]
    alone = [r for r in reqs if r not in merged]
    if len(merged) == 1:
        alone, merged = merged + alone, []
    out: list[tuple[str, str, list[str], bool]] = []
    if merged:
        for m in consolidate(
            [_entry(r, seen[r.key]) for r in merged], person_name=person.name, max_bytes=max_bytes, footer=BATCH_FOOTER
        ):
            out.append((m.title, m.body, list(m.keys), False))
    for r in alone:
        title, body = render(r.step, seen[r.key], config_dir)
        out.append((title, body, [r.key], individual(r.step, hours_rule=hours[r.rule])))
    return out


async def deliver_batch(
    batch: DeliveryBatch, directory: Directory | None = None, config_dir: Path | None = None
) -> BatchResult:
    """Deliver the batch's item steps to its person, consolidated, within the channel's limits (see above)."""
    from domain.channel_policy import bucket_of, content_hash
    from store import deliveries as store
    from store import inbox, outbox
    from store.db import session

    now = _clock(batch.at)
    eng = engine()  # once: each call stats the config files
    directory = directory or (load_directory(config_dir) if config_dir else eng.directory)
    if config_dir is None:  # resolved once, not per rendered text
        from domain.config import config_dir as current_config_dir

        config_dir = current_config_dir()
    person = directory.people.get(batch.person_id)
    reqs = [r.model_copy(update={"person_id": batch.person_id, "channel_index": None}) for r in batch.items]
    out = BatchResult(person_id=batch.person_id)
    if not reqs:
        return out
    with session(expire_on_commit=False) as s:
        contexts = {r.key: build_context(r, person, directory, eng) for r in reqs}
        if person is not None and batch.inbox != "later":
            rows = []
            for r in reqs:
                ctx = contexts[r.key]
                seen = channels.for_channel(ctx, kind="inbox", privacy="personal", item_type=notice_item_type(r, eng))
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
            out.inbox_ids = inbox.message_ids(s, person.id, [r.key for r in reqs])
        if batch.inbox == "only":
            return out
        claimed = store.claim_many(
            s,
            [dict(key=r.key, item_id=r.item_id, rule=r.rule, step=r.step, person=batch.person_id) for r in reqs],
            not_before=datetime.fromisoformat(batch.instant) if batch.instant else None,
        )
        out.already_sent = [r.key for r in reqs if claimed[r.key].state == "sent"]
        todo = [r for r in reqs if claimed[r.key].state != "sent"]
        store.reopen_many(s, [r.key for r in todo if claimed[r.key].state == "failed"])
        if not todo:
            return out
        if person is None or not person.notify:
            keys = [r.key for r in todo]
            if person is not None:  # no external channel: the inbox copies are the delivery
                store.add_attempts(s, _attempt_rows(todo, batch.person_id, -1, INBOX_CHANNEL, True, None))
                store.mark_sent_many(s, keys, INBOX_CHANNEL)
                out.sent, out.channel = keys, INBOX_CHANNEL
                return out
            out.failed = keys
            out.error = f"未知人员“{batch.person_id}”（departments.toml 中不存在）"
            store.add_attempts(s, _attempt_rows(todo, batch.person_id, -1, "", False, out.error))
            return out
        # Keys an earlier run of this batch already queued (a retried activity): their messages are this
        # batch's, drained below with the rest.
        earlier = outbox.queued_keys(s, [r.key for r in todo])
        todo = [r for r in todo if r.key not in earlier]
        earlier_ids = sorted(_messages_of(s, sorted(earlier))) if earlier else []
    urls = list(person.notify)
    indexes = list(range(len(urls))) if batch.channel_index is None else [batch.channel_index]
    policies = eng.channels
    for pos, i in enumerate(indexes):
        _heartbeat()
        url = urls[i]
        policy = policies.for_url(url)
        bucket, masked = bucket_of(url), mask_url(url)
        ids: list[int] = list(earlier_ids) if pos == 0 else []
        if todo and not policy.limited and not ids:
            # A channel without limits needs no queue: each message sent now, its keys marked sent after it.
            by_key = {r.key: r for r in todo}
            refused: list[NotificationRequest] = []
            for title, body, mkeys, _single in compose(
                person, todo, contexts, index=i, max_bytes=policy.max_bytes, config_dir=config_dir, eng=eng
            ):
                _heartbeat()
                ok, err = await send_via(url, title, body)
                mine = [by_key[k] for k in mkeys]
                with session(expire_on_commit=False) as s:
                    if ok:
                        store.mark_sent_many(s, mkeys, masked)
                    store.add_attempts(s, _attempt_rows(mine, batch.person_id, i, masked, ok, err))
                out.channel = masked
                if ok:
                    out.sent += mkeys
                    out.messages += 1
                else:
                    refused += mine
                    out.error = err
            todo = refused
            if not todo:
                break
            if pos + 1 < len(indexes):
                log.warning("batch of %d for %s via channel %d failed: %s", len(todo), person.id, i + 1, out.error)
            continue
        if todo:
            by_req = {r.key: r for r in todo}
            with session(expire_on_commit=False) as s:
                at = now()
                for title, body, mkeys, single in compose(
                    person, todo, contexts, index=i, max_bytes=policy.max_bytes, config_dir=config_dir, eng=eng
                ):
                    row = outbox.enqueue(
                        s,
                        message_key=_message_key(bucket, mkeys),
                        bucket=bucket,
                        channel=masked,
                        kind=policy.kind,
                        person=batch.person_id,
                        channel_index=i,
                        title=title,
                        body=body,
                        content_hash=content_hash(title, body),
                        keys=mkeys,
                        individual=single,
                        not_before=at,
                        requests={k: by_req[k].model_dump(mode="json", exclude={"at"}) for k in mkeys},
                    )
                    if row is not None and row.id is not None:
                        ids.append(row.id)
        if not ids:
            break
        drained = await drain(DrainRequest(bucket=bucket, at=now(), message_ids=ids), directory)
        out.channel = masked
        out.messages += len(set(drained.sent_ids) & set(ids))
        own = set(r.key for r in todo) | earlier
        out.sent += [k for k in drained.sent_keys if k in own]
        with session(expire_on_commit=False) as s:
            waiting = outbox.pending(s, ids)
            queued = [k for m in waiting for k in outbox.keys_of(s, m.id or 0)]
        if queued:
            out.queued += queued
            out.bucket, out.message_ids, out.next_at = bucket, [m.id for m in waiting if m.id], drained.next_at
        todo = [r for r in todo if r.key in set(drained.failed_keys)]
        earlier = set()
        if drained.error:
            out.error = drained.error
        if not todo:
            break
        if pos + 1 < len(indexes):
            log.warning("batch of %d for %s via channel %d failed: %s", len(todo), person.id, i + 1, drained.error)
    out.failed = [r.key for r in todo]
    return out


def _attempt_rows(
    reqs: list[NotificationRequest], person: str, index: int, channel: str, ok: bool, err: str | None
) -> list[dict[str, Any]]:
    return [
        dict(
            key=r.key,
            item_id=r.item_id,
            step=r.step,
            person=person,
            channel=channel,
            channel_index=index,
            attempt=_attempt_no(),
            status="ok" if ok else "failed",
            error=err,
        )
        for r in reqs
    ]


def _messages_of(s, keys: list[str]) -> set[int]:
    from sqlmodel import col, select

    from store.outbox import OutboxKey

    return set(s.exec(select(OutboxKey.message_id).where(col(OutboxKey.key).in_(keys))))


async def drain(req: DrainRequest, directory: Directory | None = None) -> DrainResult:
    """Send what the bucket's limits allow now (one drainer per bucket: the lease); say when to come back.

    Limits (config/channels.toml, the message's kind): at most `rate_per_minute` messages tried in any 60 s,
    counted from when each try finished (a receiver counts arrivals, which come before that), `daily_cap` per
    Shanghai day, `identical_per_day` per content and day (deferred to the next day), quiet hours for every
    message that is not an hour-rule warning or 督办. A message the channel refuses is `failed` at once and
    its keys are returned (`failed_keys`, rows still intent) for the next channel or the per-item path: the
    queue does not retry it itself, so nothing is retried twice over."""
    import uuid
    from datetime import timedelta

    from store import deliveries as store
    from store import outbox
    from store.db import session

    now = _clock(req.at)
    directory = directory or engine().directory
    policies = engine().channels
    holder = uuid.uuid4().hex
    out = DrainResult(bucket=req.bucket)
    wake: list[datetime] = []
    with session(expire_on_commit=False) as s:
        if not outbox.acquire(s, req.bucket, holder):
            out.pending = len(outbox.pending(s, req.message_ids))
            out.next_at = now() + timedelta(seconds=LEASE_WAIT_SECONDS) if out.pending else None
            return out
        try:
            for m in outbox.interrupted(s, req.bucket):
                keys = outbox.keys_of(s, m.id or 0)
                if keys and all(d.state == "sent" for d in store.deliveries_by_keys(s, keys)):
                    outbox.set_state(s, m, "sent", at=m.claimed_at)  # sent and logged; only its own mark was lost
                    continue
                log.warning("queued message %s found sending: an earlier drainer may have sent it (crash window)", m.id)
                outbox.set_state(s, m, "queued")
            for m in outbox.waiting(s, req.bucket, limit=1000, ids=req.message_ids):
                _heartbeat()
                outbox.acquire(s, req.bucket, holder)  # renew
                t = now()
                if m.not_before > t:
                    wake.append(m.not_before)
                    continue
                policy = policies.kinds.get(m.kind, policies.default)
                held = _hold(s, req.bucket, policy, t, individual=m.individual, content=m.content_hash)
                if held is not None:
                    why, until = held
                    wake.append(until)
                    if why in ("rate", "daily"):  # the whole bucket waits
                        break
                    if why == "identical":
                        outbox.set_state(s, m, "queued", not_before=until)
                    continue
                person = directory.people.get(m.person)
                url = person.notify[m.channel_index] if person and m.channel_index < len(person.notify) else None
                keys = outbox.keys_of(s, m.id or 0)
                rows = {d.key: d for d in store.deliveries_by_keys(s, keys)}
                outbox.claim(s, m, t)
                err: str | None
                if url is None:
                    ok, err = False, f"人员“{m.person}”的第{m.channel_index + 1}个通知渠道已不存在"
                else:
                    ok, err = await send_via(url, m.title, m.body)
                done = now()
                masked = mask_url(url) if url else m.channel
                if ok:
                    store.mark_sent_many(s, keys, masked)  # first: a crash after it does not send again
                m.claimed_at = done  # the limits count from when the try finished
                outbox.set_state(s, m, "sent" if ok else "failed", at=done, error=err)
                store.add_attempts(
                    s,
                    [
                        dict(
                            key=k,
                            item_id=rows[k].item_id if k in rows else "",
                            step=rows[k].step if k in rows else "",
                            person=m.person,
                            channel=masked,
                            channel_index=m.channel_index,
                            attempt=_attempt_no(),
                            status="ok" if ok else "failed",
                            error=err,
                        )
                        for k in keys
                    ],
                )
                if ok:
                    out.sent += 1
                    out.sent_keys += keys
                    out.sent_ids.append(m.id or 0)
                    continue
                log.warning("queued message %s via %s failed: %s", m.id, masked, err)
                out.failed_requests += [NotificationRequest.model_validate(r) for r in outbox.requests_of(s, m.id or 0)]
                outbox.unlink(s, m.id or 0)  # its keys may be queued again (next channel, per-item path)
                out.failed_keys += keys
                out.error = err
            else:
                rest = outbox.waiting(s, req.bucket, limit=1, ids=req.message_ids)
                if rest and not wake:
                    wake.append(rest[0].not_before)
        finally:
            outbox.release(s, req.bucket, holder)
        out.pending = len(outbox.pending(s, req.message_ids))
        out.done_keys = [
            k for m in outbox.messages(s, req.message_ids) if m.state == "sent" for k in outbox.keys_of(s, m.id or 0)
        ]
    out.next_at = min(wake) if wake else None
    return out


async def drain_every_bucket(at: datetime | None = None, directory: Directory | None = None) -> DrainAllResult:
    """`drain` for every bucket with queued messages (a sweep that queued many people's batches, a worker
    after a restart); the refused items' notices (as enqueued) for the per-item path."""
    from store import outbox
    from store.db import session

    now = _clock(at)
    out = DrainAllResult()
    with session() as s:
        buckets = outbox.waiting_buckets(s)
    wake: list[datetime] = []
    for bucket in buckets:
        r = await drain(DrainRequest(bucket=bucket, at=now()), directory)
        out.sent += r.sent
        out.failed += r.failed_requests
        if r.next_at:
            wake.append(r.next_at)
    with session() as s:
        out.waiting = outbox.waiting_count(s)
    out.next_at = min(wake) if wake and out.waiting else None
    return out


def _hold(s, bucket: str, policy, t: datetime, *, individual: bool, content: str) -> tuple[str, datetime] | None:
    """Why a message may not go on `bucket` at `t` and until when: ("quiet" | "rate" | "daily" | "identical",
    until), or None. Quiet hours hold every message but an hour-rule warning (`individual`)."""
    from datetime import timedelta

    from domain.channel_policy import quiet_until
    from domain.shanghai import SHANGHAI
    from store import outbox

    local = t.astimezone(SHANGHAI)
    quiet_end = None if individual else quiet_until(policy, local)
    if quiet_end is not None:
        return "quiet", quiet_end
    if policy.rate_per_minute:
        times = outbox.claimed_times(s, bucket, t - timedelta(seconds=60))
        if len(times) >= policy.rate_per_minute:
            return "rate", times[len(times) - policy.rate_per_minute] + timedelta(seconds=60, milliseconds=50)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = day + timedelta(days=1)
    if policy.daily_cap and outbox.counted_since(s, bucket, day) >= policy.daily_cap:
        return "daily", tomorrow
    if policy.identical_per_day and (
        outbox.counted_since(s, bucket, day, content_hash=content) >= policy.identical_per_day
    ):
        return "identical", tomorrow
    return None


async def send_counted(
    url: str,
    title: str,
    body: str,
    *,
    person_id: str,
    channel_index: int,
    hours_rule: bool,
    at: datetime | None = None,
) -> tuple[bool, str | None, datetime | None]:
    """One notice on its own through `url`, within the channel's limits (shared with the queue: the same
    bucket, the same counts). (ok, error, None) once tried; (False, None, until) when the channel's limits
    hold it (rate, daily cap, identical content, quiet hours unless `hours_rule`): try again at `until`."""
    import uuid
    from datetime import timedelta

    from domain.channel_policy import bucket_of, content_hash
    from store import outbox
    from store.db import session

    policy = engine().channels.for_url(url)
    if not policy.limited:
        ok, err = await send_via(url, title, body)
        return ok, err, None
    now = _clock(at)
    bucket, holder, digest = bucket_of(url), uuid.uuid4().hex, content_hash(title, body)
    with session(expire_on_commit=False) as s:
        if not outbox.acquire(s, bucket, holder):
            return False, None, now() + timedelta(seconds=LEASE_WAIT_SECONDS)
        try:
            t = now()
            held = _hold(s, bucket, policy, t, individual=hours_rule, content=digest)
            if held is not None:
                return False, None, held[1]
            row = outbox.OutboxMessage(
                message_key=f"single:{holder}",
                bucket=bucket,
                channel=mask_url(url),
                kind=policy.kind,
                person=person_id,
                channel_index=channel_index,
                title=title,
                body=body,
                content_hash=digest,
                individual=True,
                state="sending",
                attempts=1,
                not_before=t,
                claimed_at=t,
            )
            s.add(row)
            s.commit()
            ok, err = await send_via(url, title, body)
            row.claimed_at = now()  # counted from when the try finished, as the queue's
            outbox.set_state(s, row, "sent" if ok else "failed", at=row.claimed_at, error=err)
            return ok, err, None
        finally:
            outbox.release(s, bucket, holder)


@activity.defn(name="send_batch")
async def send_batch(batch: DeliveryBatch) -> BatchResult:
    """Temporal activity: one person's item steps of one instant (see `deliver_batch`)."""
    return await deliver_batch(batch)


@activity.defn(name="drain_channel")
async def drain_channel(req: DrainRequest) -> DrainResult:
    """Temporal activity: send what a channel bucket's limits allow now (see `drain`)."""
    return await drain(req)


@activity.defn(name="drain_all")
async def drain_all(req: DrainAllRequest) -> DrainAllResult:
    """Temporal activity: `drain` every bucket with queued messages (see `drain_every_bucket`)."""
    return await drain_every_bucket(req.at)
