"""Reviewing late entries (补录): the queue and the supervisor's decision.

Used by `shixian review ...`, the API (/api/review) and the board's 待审核 section. The queue is a store
query (the item workflows publish their held entries with every snapshot); a decision is the item
workflow's `review` Update; the workflow writes the snapshot (and, on approval, the event's row in the
event log, stamped with the time it was first recorded) in one transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.events import ITEM_TYPE
from domain.ids import workflow_id
from domain.item_state import ApplyResult, ReviewDecision
from domain.labels import EVENT_TYPES, LATE_ENTRY_STATUSES, RECORDERS
from domain.pii import mask_text
from domain.shanghai import SHANGHAI
from domain.shanghai import now as shanghai_now
from services.access import Principal, forbidden, home_node, node_label, read_scope, write_refusal
from store.db import session
from store.items import find_late_entry, late_entries
from store.models import LateEntryRecord
from store.scope import Departments
from workflows.items import ItemWorkflow

REVIEWERS = ("supervisor", "admin")  # who may see the queue and decide (API and board)


class ReviewError(Exception):
    def __init__(self, field: str, reason: str, status: int = 409):
        super().__init__(reason)
        self.field, self.reason, self.status = field, reason, status


def entry_json(r: LateEntryRecord) -> dict[str, Any]:
    local = lambda t: t.astimezone(SHANGHAI).isoformat() if t else None  # noqa: E731
    return {
        "event_id": r.event_id,
        "item_id": r.item_id,
        "department": r.department,
        "type": r.type,
        "occurred_on": r.occurred_on,
        "recorded_at": local(r.recorded_at),
        "recorded_by": r.recorded_by,
        "role": r.role,
        "role_name": RECORDERS.get(r.role, r.role),
        "reason": r.reason,
        "status": r.status,
        "status_name": LATE_ENTRY_STATUSES.get(r.status, r.status),
        "decided_by": r.decided_by,
        "decided_at": local(r.decided_at),
        "decision_reason": r.decision_reason,
        "payload": r.payload,
        "upload": r.upload,
        "depends_on": r.depends_on,  # decided with that entry, not on its own
        "type_name": EVENT_TYPES.get(r.type, r.type),
    }


def review_action(approve: bool) -> str:
    return "review.approve" if approve else "review.reject"


def review_audit(e: dict[str, Any]) -> dict[str, Any]:
    """What the audit record of a decision keeps (services.audit.record's keywords): the entry, not its payload."""
    detail = {"item_id": e["item_id"], "type": e["type"], "occurred_on": e["occurred_on"]}
    detail |= {k: e[k] for k in ("recorded_by", "decided_by", "decision_reason") if e.get(k)}
    return {"object": e["event_id"], "department": e["department"], "detail": detail}


def list_entries(
    status: str | None = "held", department: Departments = None, db=None, *, upload: str | None = None
) -> list[dict[str, Any]]:
    with session(db) as s:
        return [entry_json(r) for r in late_entries(s, status=status, department=department, upload=upload)]


def held_uploads(department: Departments = None, db=None) -> list[dict[str, Any]]:
    """The ledger uploads with entries waiting for review: id, department, count, first recording time."""
    out: dict[str, dict[str, Any]] = {}
    for e in list_entries("held", department, db):
        if e["upload"]:
            u = out.setdefault(
                e["upload"],
                {"upload": e["upload"], "department": e["department"], "count": 0, "recorded_at": e["recorded_at"]},
            )
            u["count"] += 1
    return list(out.values())


def upload_entry_ids(
    upload: str, department: Departments = None, db=None, *, who: Principal | None = None
) -> list[str]:
    """The held entries of one upload a reviewer decides (the dependents follow their root). `who`: only
    those of the reviewer's node subtree (services.access.read_scope); an upload with none there but some
    elsewhere is a 403 that counts them and names the node, never their ids or items."""
    if who is not None:
        department = read_scope(who, what="审核补录", roles=REVIEWERS).filter
    ids = [e["event_id"] for e in list_entries("held", department, db, upload=upload) if not e["depends_on"]]
    if who is not None and not ids and department is not None:
        outside = sum(1 for e in list_entries("held", None, db, upload=upload) if not e["depends_on"])
        if outside:
            raise forbidden(
                f"无权审核上传 {upload} 的补录：其 {outside} 条待审核补录均不属于"
                f"{node_label(home_node(who))}及其下级单位，未作任何改动"
            )
    return ids


async def decide_many(
    client: Client,
    event_ids: list[str],
    *,
    approve: bool,
    by: str,
    reason: str = "",
    db=None,
    now: dt.datetime | None = None,
    who: Principal | None = None,
) -> list[dict[str, Any]]:
    """Decide many held entries with one reason: each by its item workflow's `review` Update, one after
    another per item (an item's entries in the order they came), items side by side. Returns per entry
    {"event_id", "ok", "entry" (as stored) or "field"/"error"/"status"}: a failure stops nothing else.
    An entry held with another (a dependent) decided in the same call is reported with its root's outcome."""
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ReviewError("reason", "驳回补录须说明理由（--reason）", 422)
    ids = list(dict.fromkeys(event_ids))
    with session(db) as s:
        rows = {r.event_id: r for r in late_entries(s, status=None, ids=ids)} if ids else {}
    by_item: dict[str, list[str]] = {}
    for eid in ids:
        r = rows.get(eid)
        by_item.setdefault(r.item_id if r else f"?{eid}", []).append(eid)
    out: dict[str, dict[str, Any]] = {}

    allowed = read_scope(who, what="审核补录", roles=REVIEWERS).departments if who is not None else None
    where = node_label(home_node(who)) if who is not None and who.write_scope is None else ""

    async def one(eid: str) -> None:
        r = rows.get(eid)
        if r is not None and allowed is not None and r.department not in allowed:
            # outside the reviewer's subtree: said without its item, department or content
            out[eid] = {
                "event_id": eid,
                "ok": False,
                "field": "event_id",
                "error": f"该补录不属于{where or '本部门'}{'及其下级单位' if where else ''}，无权审核，未作任何改动",
                "status": 403,
            }
            return
        if r is not None and r.depends_on and r.depends_on in rows:
            return  # decided with its root (alone, the workflow refuses it: 随其一并审核)
        try:
            out[eid] = {
                "event_id": eid,
                "ok": True,
                "entry": await decide(client, eid, approve=approve, by=by, reason=reason, db=db, now=now, who=who),
            }
        except ReviewError as exc:
            out[eid] = {"event_id": eid, "ok": False, "field": exc.field, "error": exc.reason, "status": exc.status}

    async def item(eids: list[str]) -> None:
        for eid in eids:
            await one(eid)

    sem = asyncio.Semaphore(8)

    async def bounded(eids: list[str]) -> None:
        async with sem:
            await item(eids)

    await asyncio.gather(*(bounded(v) for v in by_item.values()))
    pending = [eid for eid in ids if eid not in out]
    if pending:  # dependents: their entries as their roots' decisions left them
        with session(db) as s:
            after = {r.event_id: r for r in late_entries(s, status=None, ids=pending)}
        for eid in pending:
            r = after[eid]
            out[eid] = {"event_id": eid, "ok": r.status != "held", "entry": entry_json(r)}
            if r.status == "held":  # its root was rejected and it is a late entry of its own
                out[eid] |= {"field": "event_id", "error": f"仍待审核：{r.reason}", "status": 409}
    return [out[eid] for eid in ids]


async def decide(
    client: Client,
    event_id: str,
    *,
    approve: bool,
    by: str,
    reason: str = "",
    db=None,
    now: dt.datetime | None = None,
    who: Principal | None = None,
) -> dict[str, Any]:
    """Approve or reject one held entry; returns the entry as stored afterwards. `who`: the reviewer, whose
    node (services.access.write_refusal) must hold the entry's department."""
    reason = mask_text((reason or "").strip())  # personal data typed into the reason (domain/pii.py)
    if not approve and not reason:
        raise ReviewError("reason", "驳回补录须说明理由（--reason）", 422)
    with session(db) as s:
        row = find_late_entry(s, event_id)
    if row is None:
        raise ReviewError("event_id", f"没有编号为 {event_id} 的补录事件", 404)
    refused = who and write_refusal(who, [row.department], verb="审核", what="补录", item_id=row.item_id)
    if refused:
        raise ReviewError("event_id", refused, 403)
    if row.status != "held":
        raise ReviewError(
            "event_id",
            f"补录 {event_id} 已审核：{LATE_ENTRY_STATUSES.get(row.status, row.status)}（{row.decided_by or '-'}）",
        )
    at = (now or shanghai_now()).astimezone(SHANGHAI).isoformat()
    wid = workflow_id(ITEM_TYPE[row.type.split(".")[0]], row.item_id)
    decision = ReviewDecision(event_id=event_id, approve=approve, by=by, at=at, reason=reason)
    try:
        res: ApplyResult = await client.get_workflow_handle(wid).execute_update(
            ItemWorkflow.review, decision, id=f"review:{event_id}:{'approve' if approve else 'reject'}"
        )
    except WorkflowUpdateFailedError as exc:
        msg = getattr(exc.cause, "message", None) or str(exc.cause or exc)
        field, _, text = msg.partition("] ") if msg.startswith("[") else ("", "", msg)
        raise ReviewError(field.lstrip("[") or "event_id", f"不能批准：{text}" if approve else text) from None
    except RPCError as exc:
        raise ReviewError("event_id", f"事项 {row.item_id} 的工作流不可用：{exc}", 503) from None
    # The workflow's store activity has written the snapshot (and, on approval, the event's row stamped
    # with the time it was first recorded) before the Update returned.
    assert res.status in ("approved", "rejected")
    with session(db) as s:
        entry = find_late_entry(s, event_id)
        assert entry is not None  # written by the workflow's activity before the Update returned
        return entry_json(entry)
