"""Onboarding a department (历史台账初始化): its history reviewed once, as one batch.

A liaison's or head's ledger upload stages the rows dated before the department's go-live (上线日期) in the
department's open batch (services/ledger_import.py `apply`, store/onboarding.py) instead of sending them:
nothing of it is an item yet, so nothing looks overdue and nothing waits as 补录 one by one. A reviewer
(services.review.REVIEWERS) sees the batch's summary (rows, items, on time / late, refused rows), opens any
row, and approves or rejects the whole batch with one reason:
- approve: every staged row goes through the normal import path (services.ledger_import.apply →
  services.ingest, idempotent event ids) recorded as `onboarding` (trusted: never held, no 登记滞后), by the
  uploader; an event dated on or after go-live that was a late entry when uploaded keeps the uploader's role,
  so it is held for review as any late entry (no laundering of a late reply through the batch);
- reject: the batch is closed with the reason, nothing applied.
The department's liaisons and heads get an inbox message (站内消息) with the decision. The adapters write
the audit record (`onboarding_audit`), as for the other decisions.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from domain import labels
from domain import ledger as L
from domain.pii import mask_text
from domain.review import ONBOARDING_ROLE
from domain.shanghai import SHANGHAI
from services.access import ApiError, Principal, forbidden
from services.ledger_import import ROW_SUMMARIES, row_summary
from services.review import REVIEWERS
from store import onboarding as store
from store.db import session
from store.scope import Departments


class OnboardingError(ApiError):
    pass


def _person_name(person_id: str | None) -> str:
    """The directory's name of a person (ids are for the grey detail line, not for people to read)."""
    from domain.engine import engine

    if not person_id:
        return ""
    p = engine().directory.people.get(person_id)
    return p.name if p else person_id


def _local(t) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _row_json(r: store.OnboardingRow) -> dict[str, Any]:
    from services.ledger_import import EVENT_STATUS_LABELS, event_day

    outcome = r.outcome or {}
    events = []
    for e in outcome.get("events", []):
        events.append(
            {
                **e,
                "label": labels.EVENT_TYPES.get(e.get("type", ""), e.get("type", "")),
                "status_label": EVENT_STATUS_LABELS.get(e.get("status", ""), e.get("status", "")),
            }
        )
    dates = {e["event_id"]: event_day(e) for e in r.events if e.get("event_id")}
    for e in events:
        e["on"] = dates.get(e.get("event_id", ""))
    summary = row_summary(outcome)
    return {
        "id": r.id,
        "kind": r.kind,
        "kind_name": L.KIND_LABELS.get(r.kind, r.kind),
        "key": r.key,
        "row": r.row,
        "filename": r.filename,
        "uploaded_by": r.uploaded_by,
        "uploaded_by_name": _person_name(r.uploaded_by),
        "uploader_role": r.uploader_role,
        "uploaded_at": _local(r.uploaded_at),
        "events": events,
        "problems": outcome.get("problems", []),
        "due": outcome.get("due", []),
        "summary": summary,
        "summary_name": ROW_SUMMARIES[summary],
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    out = {"rows": len(rows), "items": len({(r["kind"], r["key"]) for r in rows})}
    for k in ROW_SUMMARIES:
        out[k] = sum(r["summary"] == k for r in rows)
    out["events"] = sum(len(r["events"]) for r in rows)
    return out


def batch_json(
    b: store.OnboardingBatch, rows: list[store.OnboardingRow] | None, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    from domain.engine import engine

    d = engine().directory
    dept = d.departments.get(b.department)
    out: dict[str, Any] = {
        "id": b.id,
        "department": b.department,
        "department_name": d.department_name(b.department),
        "go_live": dept.go_live.isoformat() if dept and dept.go_live else None,
        "status": b.status,
        "status_name": labels.ONBOARDING_STATUSES.get(b.status, b.status),
        "uploaded_by": b.uploaded_by,
        "uploaded_by_name": _person_name(b.uploaded_by),
        "created_at": _local(b.created_at),
        "updated_at": _local(b.updated_at),
        "decided_by": b.decided_by,
        "decided_by_name": _person_name(b.decided_by),
        "decided_at": _local(b.decided_at),
        "decision_reason": b.decision_reason,
        "result": b.result or {},
    }
    if rows is not None:
        views = [_row_json(r) for r in rows]
        out["rows"] = views
        out["summary"] = _summary(views)
        out["files"] = sorted({r.filename for r in rows})
    else:
        out["summary"] = {k: (counts or {}).get(k, 0) for k in ("rows", "items", *ROW_SUMMARIES)}
    return out


def _scope(who: Principal, what: str) -> str | None:
    """The department `who` may see batches of (None: all): a liaison's (or head's) own, a reviewer's any."""
    if who.write_scope is not None:
        if not who.write_scope:
            raise forbidden(f"无权{what}：联络员未登记所属部门")
        return who.write_scope
    who.require(REVIEWERS + ("liaison",), what)
    return None


def list_batches(who: Principal, *, status: str | None = "open", department: str | None = None, db=None):
    """The batches `who` may see, newest first (a liaison: their department's only)."""
    own = _scope(who, "查看历史台账")
    if own is not None and department and department != own:
        raise forbidden(f"无权查看其他部门（{department}）的历史台账：联络员只能查看本部门的")
    with session(db) as s:
        found = store.list_batches(s, department=own or department, status=status)
        counts = store.row_counts(s, [b.id for b in found if b.id is not None])
        return [batch_json(b, None, counts.get(b.id or 0, {})) for b in found]


def open_summaries(department: Departments = None, db=None) -> list[dict[str, Any]]:
    """The open batches with their summaries counted in SQL (the board's 历史台账待审核 section; reviewers)."""
    with session(db) as s:
        found = store.list_batches(s, status="open", department=department)
        counts = store.row_counts(s, [b.id for b in found if b.id is not None])
        return [batch_json(b, None, counts.get(b.id or 0, {})) for b in found]


def get_batch(who: Principal, batch_id: int, db=None) -> dict[str, Any]:
    own = _scope(who, "查看历史台账")
    with session(db) as s:
        b = store.get_batch(s, batch_id)
        if b is None or (own is not None and b.department != own):
            # another department's batch is not even said to exist
            raise OnboardingError(404, "not_found", f"没有编号为 {batch_id} 的历史台账批次")
        return batch_json(b, store.batch_rows(s, batch_id))


def onboarding_action(approve: bool) -> str:
    return "onboarding.approve" if approve else "onboarding.reject"


def onboarding_audit(b: dict[str, Any]) -> dict[str, Any]:
    """The audit record's keywords (services.audit.record) for a decision on a batch."""
    detail = {k: b["summary"].get(k, 0) for k in ("rows", "items", "on_time", "late", "open", "held", "refused")}
    detail |= {k: b[k] for k in ("decided_by", "decision_reason") if b.get(k)}
    if b.get("result"):
        detail["applied"] = b["result"].get("applied", 0)
    return {"object": f"onboarding:{b['id']}", "department": b["department"], "detail": detail}


def _claim(who: Principal, batch_id: int, status: str, reason: str | None, db) -> dict[str, Any]:
    who.require(REVIEWERS, "审核历史台账")
    with session(db) as s:
        b = store.get_batch(s, batch_id)
        if b is None:
            raise OnboardingError(404, "not_found", f"没有编号为 {batch_id} 的历史台账批次")
        if b.status != "open":
            raise OnboardingError(
                409,
                "onboarding_decided",
                f"该历史台账批次已{labels.ONBOARDING_STATUSES.get(b.status, b.status)}，不能再审核",
            )
        rows = store.batch_rows(s, batch_id)
        before = batch_json(b, rows)
        # The claim: a second reviewer deciding at the same time finds it decided.
        if store.close_batch(s, batch_id, status=status, by=who.actor, reason=reason, result={}) is None:
            raise OnboardingError(409, "onboarding_decided", "该历史台账批次刚刚已被审核")
    return before


def _tell(b: dict[str, Any], approve: bool, db) -> None:
    """The department's liaisons and heads learn the decision in their inbox (one message per decision)."""
    from domain.engine import engine
    from services.inbox import post

    d = engine().directory
    s = b["summary"]
    verdict = "已批准" if approve else "已驳回"
    title = f"历史台账{verdict}：{b['department_name']}（{s['rows']} 行，{s['items']} 个事项）"
    body = (
        f"{b['decided_by_name'] or '督查'} {verdict}本部门的历史台账（批次 {b['id']}）"
        + (f"，理由：{b['decision_reason']}" if b.get("decision_reason") else "")
        + "。"
        + (
            f"已按事件自身日期计入 {b['result'].get('applied', 0)} 行；按时办结 {s['on_time']}、逾期办结 {s['late']}、"
            f"办理中 {s['open']}。"
            if approve
            else "台账中的事件均未计入；请核对后重新上传。"
        )
    )
    people = {p.id for role in ("liaison", "head") for p in d.people_for(b["department"], role)}
    for person in sorted(people):
        post(
            person,
            key=f"onboarding:{b['id']}:{'approve' if approve else 'reject'}",
            kind="onboarding",
            title=title,
            body=body,
            link=f"/onboarding/{b['id']}",
            department=b["department"],
            db=db,
        )


def reject(who: Principal, batch_id: int, reason: str, db=None) -> dict[str, Any]:
    """Close the batch as rejected (reason required); nothing of it is applied."""
    reason = mask_text((reason or "").strip())
    if not reason:
        who.require(REVIEWERS, "审核历史台账")
        raise OnboardingError(422, "invalid_parameter", "驳回历史台账须说明理由（reason）", field="reason")
    _claim(who, batch_id, "rejected", reason, db)
    b = get_batch(who, batch_id, db)
    _tell(b, False, db)
    return b


async def approve(client, who: Principal, batch_id: int, reason: str = "", db=None) -> dict[str, Any]:
    """Apply the whole batch through the normal import path, once; returns the batch as decided. If the
    workflow service fails midway the batch is open again (approving it again finishes it: event ids are
    idempotent)."""
    from services.ledger_import import Plan, apply

    if client is None:
        raise OnboardingError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核历史台账")
    reason = mask_text((reason or "").strip())
    _claim(who, batch_id, "approved", reason or None, db)
    with session(db) as s:
        rows = store.batch_rows(s, batch_id)
        department = store.get_batch(s, batch_id).department  # type: ignore[union-attr]
    # One import per (kind, uploader): each row recorded by whoever uploaded it.
    groups: dict[tuple[str, str | None, str], list[store.OnboardingRow]] = {}
    for r in rows:
        groups.setdefault((r.kind, r.uploaded_by, r.uploader_role), []).append(r)
    counts: dict[str, int] = {}
    try:
        for (kind, by, role), rs in groups.items():
            # What the reviewer saw refused (or in conflict) stays refused: an event refused at upload (e.g. dated
            # after that day) must not come back trusted on approval day.
            refused = {
                e["event_id"]
                for r in rs
                for e in (r.outcome or {}).get("events", [])
                if e.get("status") in ("rejected", "conflict")
            }
            p = Plan(
                "",
                department,
                L.Table(kind, {}, [], [], []),
                [
                    L.Row(r.row, r.key, kept)
                    for r in rs
                    if (kept := [e for e in r.events if e["event_id"] not in refused])
                ],
            )
            # Late when uploaded (a post-go-live event the preview held): recorded as the uploader's, held again.
            held = {
                e["event_id"]: role
                for r in rs
                for e in (r.outcome or {}).get("events", [])
                if e.get("status") == "held"
            }
            roles = {e["event_id"]: ONBOARDING_ROLE for r in rs for e in r.events} | held
            outcomes = await apply(p, client, recorded_by=by, db_engine=db, role=ONBOARDING_ROLE, roles=roles)
            for o in outcomes:
                counts[o.status] = counts.get(o.status, 0) + 1
            if any(o.status == "unavailable" for o in outcomes):
                raise OnboardingError(
                    503, "temporal_unavailable", "工作流服务中途不可用：批次未完成，恢复后再次批准即可"
                )
    except BaseException:
        with session(db) as s:
            store.reopen(s, batch_id)
        raise
    with session(db) as s:
        b = store.get_batch(s, batch_id)
        assert b is not None
        b.result = {**counts, "applied": counts.get("applied", 0) + counts.get("held", 0) + counts.get("partial", 0)}
        s.add(b)
        s.commit()
    out = get_batch(who, batch_id, db)
    _tell(out, True, db)
    return out


# ------------------------------------------------------------------------------ API answers
from pydantic import BaseModel, Field  # noqa: E402


class OnboardingBatchView(BaseModel):
    """One onboarding batch (历史台账批次); `rows` only when one batch is asked for."""

    id: int
    department: str
    department_name: str
    go_live: str | None = Field(description="部门上线日期，之前的台账行为历史台账")
    status: str = Field(description="open 待审核 / approved 已批准 / rejected 已驳回")
    status_name: str
    uploaded_by: str | None
    uploaded_by_name: str = ""
    created_at: str | None
    updated_at: str | None
    decided_by: str | None
    decided_by_name: str = ""
    decided_at: str | None
    decision_reason: str | None
    result: dict[str, int] = Field(description="批准时各行的导入结果计数")
    summary: dict[str, int] = Field(description="行数、事项数、按时办结、逾期办结、办理中、含补录、含被拒绝事件")
    files: list[str] | None = None
    rows: list[dict[str, Any]] | None = None


class OnboardingList(BaseModel):
    batches: list[OnboardingBatchView]


class DecisionBody(BaseModel):
    reason: str = Field(default="", description="理由（驳回时必填）", examples=["与纸质台账不符"])
