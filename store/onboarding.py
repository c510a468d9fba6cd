"""Onboarding batches (历史台账初始化): a department's history rows staged until a supervisor decides.

A liaison's or head's ledger rows dated before the department's go-live (上线日期) are not sent to the item
workflows: they wait here as the department's one open batch, one row per ledger key (its parsed events,
without personal data: the ledger parser drops it), until the batch is approved (its events then go through
the normal ingest path) or rejected (nothing applied). Nothing here is read by the board's counts, the
scores or the report: staged rows are not items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow
from store.scope import Departments, where_departments

STATUSES = ("open", "approved", "rejected")


class OnboardingBatch(SQLModel, table=True):
    __tablename__ = "onboarding_batch"
    __table_args__ = (Index("ix_onboarding_batch_department_status", "department", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    department: str
    status: str = "open"  # one of STATUSES; one open batch per department (services/onboarding.py)
    uploaded_by: str | None = None  # the first uploader (each row keeps its own)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(timezone=True)))
    decision_reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))


class OnboardingRow(SQLModel, table=True):
    __tablename__ = "onboarding_row"
    __table_args__ = (UniqueConstraint("batch_id", "kind", "key", name="uq_onboarding_row_batch_key"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(index=True)
    kind: str  # requests / documents (domain.ledger)
    key: str  # the ledger key (受理编号 / 文件编号): the item id
    row: int  # the row number in its file
    filename: str = ""
    uploaded_by: str | None = None
    uploader_role: str = "liaison"
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    content_hash: str = ""  # of the row's events: the same row uploaded again is not added twice
    events: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    # How the row ends by its preview (services.onboarding.row_summary: on_time / late / open / held /
    # refused), counted per batch for the board without reading the outcomes.
    summary: str = "open"
    # The preview's outcome of the row (status per event, main clocks' due dates, late or on time).
    outcome: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))


def open_batch(s: Session, department: str) -> OnboardingBatch | None:
    return s.exec(
        select(OnboardingBatch)
        .where(OnboardingBatch.department == department, OnboardingBatch.status == "open")
        .order_by(col(OnboardingBatch.id))
    ).first()


def get_batch(s: Session, batch_id: int) -> OnboardingBatch | None:
    return s.get(OnboardingBatch, batch_id)


def list_batches(s: Session, *, department: Departments = None, status: str | None = None) -> list[OnboardingBatch]:
    q = where_departments(select(OnboardingBatch), OnboardingBatch.department, department)
    if status is not None:
        q = q.where(OnboardingBatch.status == status)
    return list(s.exec(q.order_by(col(OnboardingBatch.id).desc())).all())


def batch_rows(s: Session, batch_id: int) -> list[OnboardingRow]:
    return list(
        s.exec(
            select(OnboardingRow)
            .where(OnboardingRow.batch_id == batch_id)
            .order_by(col(OnboardingRow.uploaded_at), col(OnboardingRow.filename), col(OnboardingRow.row))
        ).all()
    )


def row_counts(s: Session, batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per batch: rows, items and rows per summary (on_time, late, ...), counted in SQL."""
    from sqlalchemy import func

    if not batch_ids:
        return {}
    out: dict[int, dict[str, int]] = {}
    q = (
        select(OnboardingRow.batch_id, OnboardingRow.summary, func.count())
        .where(col(OnboardingRow.batch_id).in_(batch_ids))
        .group_by(col(OnboardingRow.batch_id), col(OnboardingRow.summary))
    )
    for b, summary, n in s.exec(q).all():
        d = out.setdefault(int(b), {"rows": 0})
        d[summary] = int(n)
        d["rows"] += int(n)
    for d in out.values():  # one row per (kind, key) in a batch (the unique constraint): one item each
        d["items"] = d["rows"]
    return out


def staged_row(s: Session, department: str, kind: str, key: str) -> OnboardingRow | None:
    """The row of `key` in the department's open batch, if staged."""
    batch = open_batch(s, department)
    if batch is None:
        return None
    return s.exec(
        select(OnboardingRow).where(
            OnboardingRow.batch_id == batch.id, OnboardingRow.kind == kind, OnboardingRow.key == key
        )
    ).first()


def stage_rows(s: Session, department: str, uploaded_by: str | None, rows: list[dict[str, Any]]) -> OnboardingBatch:
    """Add rows (dicts of OnboardingRow's fields) to the department's open batch, creating it; a row whose
    key is staged already is skipped (the caller tells a repeat from a conflict). Commits."""
    batch = open_batch(s, department)
    if batch is None:
        batch = OnboardingBatch(department=department, uploaded_by=uploaded_by)
        s.add(batch)
        s.flush()
    assert batch.id is not None
    for r in rows:
        known = s.exec(
            select(OnboardingRow).where(
                OnboardingRow.batch_id == batch.id, OnboardingRow.kind == r["kind"], OnboardingRow.key == r["key"]
            )
        ).first()
        if known is None:
            s.add(OnboardingRow(batch_id=batch.id, **r))
    batch.updated_at = utcnow()
    s.add(batch)
    s.commit()
    s.refresh(batch)
    return batch


def close_batch(
    s: Session, batch_id: int, *, status: str, by: str, reason: str | None, result: dict[str, Any]
) -> OnboardingBatch | None:
    """Mark an open batch approved or rejected; None when it is not open (decided already). Commits."""
    batch = s.get(OnboardingBatch, batch_id)
    if batch is None or batch.status != "open":
        return None
    batch.status, batch.decided_by, batch.decision_reason = status, by, reason
    batch.decided_at = utcnow()
    batch.result = result
    s.add(batch)
    s.commit()
    s.refresh(batch)
    return batch


def reopen(s: Session, batch_id: int) -> None:
    """Undo a claim (the approval could not finish): the batch is open again. Commits."""
    batch = s.get(OnboardingBatch, batch_id)
    if batch is not None:
        batch.status, batch.decided_by, batch.decided_at, batch.decision_reason = "open", None, None, None
        s.add(batch)
        s.commit()
