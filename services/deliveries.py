"""The notification delivery log as `shixian deliveries` shows it: each delivery with its channel attempts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.shanghai import SHANGHAI

if TYPE_CHECKING:
    from services.access import Principal


def _iso(value: datetime | None) -> str | None:
    """Stored UTC (SQLite returns it naive) -> ISO with +08:00."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def delivery_log(status: str | None = None, item_id: str | None = None) -> list[dict[str, Any]]:
    """Deliveries (of `status`, of `item_id`) as plain dicts, times in Beijing time, attempts included, and the
    state of the notice's 站内消息 copy (`inbox`: unread / read, None when it has none)."""
    from store import deliveries as store
    from store.db import session
    from store.inbox import read_states

    with session() as s:
        rows = store.list_deliveries(status, session=s, item_id=item_id)
        inbox = read_states(s, [d.key for d in rows])
        return [
            {
                "key": d.key,
                "item_id": d.item_id,
                "rule": d.rule,
                "step": d.step,
                "person": d.person,
                "state": d.state,
                "channel_used": d.channel_used,
                "error": d.error,
                "created_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
                "inbox": (("read" if inbox[(d.key, d.person)] else "unread") if (d.key, d.person) in inbox else None),
                "inbox_read_at": _iso(inbox.get((d.key, d.person))),
                "attempts": [
                    {
                        "channel": a.channel,
                        "channel_index": a.channel_index,
                        "attempt": a.attempt,
                        "status": a.status,
                        "error": a.error,
                        "at": _iso(a.at),
                    }
                    for a in store.attempts_for(s, d.key)
                ],
            }
            for d in rows
        ]


def delivery_page(
    who: Principal,
    session,
    *,
    status: str | None = None,
    item_id: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Any]:
    """The delivery log rows `who` may read (newest first, up to `limit`): a supervisor's or admin's node
    subtree only (services.access.read_scope: the notices of its departments' items)."""
    from services.access import ApiError, read_scope
    from store import deliveries as store

    who.require(("supervisor", "admin"), "查看送达记录")  # (read_scope would admit a liaison: not their log)
    sc = read_scope(who, what="查看送达记录", roles=("supervisor", "admin"))
    if status is not None and status not in store.STATES:
        raise ApiError(422, "invalid_parameter", f"未知状态“{status}”，可选：{'、'.join(store.STATES)}", field="status")
    return store.list_deliveries(
        status, session=session, item_id=item_id, before_id=before_id, limit=limit, departments=sc.filter
    )


async def start_notice(client, req, *, task_queue: str | None = None):
    """Deliver `req` (an activities.notify.NotificationRequest) durably: the NotifyPersonWorkflow writes the
    inbox copy, tries the person's channels in rounds for workflows.notify_steps.RETRY_WINDOW and tells the
    supervisors if none works. For callers outside a workflow that must not wait an hour (the 督办 page).
    One workflow per delivery key: starting the same notice twice returns the running (or finished) one's
    handle instead of sending again. Returns the workflow handle (`await handle.result()` to wait)."""
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from domain.settings import get_settings
    from workflows.notify_steps import NotifyPersonWorkflow

    wid = f"notice:{req.key}"
    try:
        return await client.start_workflow(
            NotifyPersonWorkflow.run,
            req,
            id=wid,
            task_queue=task_queue or get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(wid)
