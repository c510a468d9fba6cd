"""What the daily digests read besides the open items: the late entries (补录) decided in a window, and when
each person's previous digest went out (the 审核结果 section lists the decisions after it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from store.deliveries import Delivery
from store.models import Item, LateEntryRecord


def decided_late_entries(s: Session, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """Late entries approved or rejected at `since` or later (before `until`), oldest decision first, with
    their item's type and title (no payload: it may hold an applicant's data)."""
    q = (
        sa_select(
            col(LateEntryRecord.item_id),
            col(LateEntryRecord.department),
            col(LateEntryRecord.type),
            col(LateEntryRecord.occurred_on),
            col(LateEntryRecord.status),
            col(LateEntryRecord.decision_reason),
            col(LateEntryRecord.decided_at),
            col(Item.type),
            col(Item.title),
        )
        .join(Item, col(Item.id) == col(LateEntryRecord.item_id), isouter=True)
        .where(col(LateEntryRecord.status).in_(("approved", "rejected")), col(LateEntryRecord.decided_at) >= since)
        .order_by(col(LateEntryRecord.decided_at), col(LateEntryRecord.event_id))
    )
    if until is not None:
        q = q.where(col(LateEntryRecord.decided_at) < until)
    keys = ("item_id", "department", "type", "occurred_on", "status", "decision_reason", "decided_at")
    return [{**dict(zip(keys, r[:7], strict=True)), "item_type": r[7], "title": r[8] or ""} for r in s.execute(q)]


def previous_digests(s: Session, before_item_id: str) -> dict[str, datetime]:
    """Person -> when their last digest before the day `before_item_id` (digest-YYYY-MM-DD) was delivered."""
    q = (
        select(Delivery.person, func.max(col(Delivery.created_at)))
        .where(
            Delivery.rule == "digest",
            Delivery.state == "sent",
            col(Delivery.item_id) < before_item_id,
            col(Delivery.item_id).startswith("digest-"),
        )
        .group_by(Delivery.person)
    )
    return {p: t for p, t in s.exec(q) if t is not None}
