"""Catalogue duties (基层政务公开标准目录) in the store: one `catalogue_duty` row per row of a node's imported
catalogue, keyed by (node, area, seq); every create or change appends a `catalogue_duty_change` row (the file,
who, before/after), whose largest id is the catalogue's version (services.catalogue polls it to rebuild the
duty rules, as services.directory does for the directory)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow


def _ts() -> Column:
    return Column(UTCDateTime(timezone=True), nullable=False)


class CatalogueDuty(SQLModel, table=True):
    __tablename__ = "catalogue_duty"
    __table_args__ = (UniqueConstraint("node", "area", "seq", name="uq_catalogue_duty_row"),)

    id: int | None = Field(default=None, primary_key=True)
    node: str = Field(index=True)
    area: str
    seq: str
    name: str
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    unit: str | None = None  # None: a standing duty (长期公开), no clock
    length: int = 0
    recurring: bool = False
    month: int | None = None
    day: int | None = None
    note: str = ""
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CatalogueDutyChange(SQLModel, table=True):
    __tablename__ = "catalogue_duty_change"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    by: str
    duty: int = Field(index=True)
    action: str  # create / update
    source: str  # the imported file's name
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


def version(s: Session) -> int:
    """Bumped by every change (the id of the last one); 0 for a store without a catalogue."""
    return int(s.exec(select(func.max(CatalogueDutyChange.id))).one() or 0)


def duties_of_area(s: Session, node: str, area: str) -> dict[str, CatalogueDuty]:
    """The node's duties of one area, by 序号."""
    rows = s.exec(select(CatalogueDuty).where(CatalogueDuty.node == node, CatalogueDuty.area == area))
    return {d.seq: d for d in rows}


def list_duties(s: Session, nodes: set[str] | None = None) -> list[CatalogueDuty]:
    """The duties of `nodes` (None: every node), in node, area, import order."""
    q = select(CatalogueDuty).order_by(col(CatalogueDuty.node), col(CatalogueDuty.area), col(CatalogueDuty.id))
    if nodes is not None:
        q = q.where(col(CatalogueDuty.node).in_(sorted(nodes)))
    return list(s.exec(q))


def get_duty(s: Session, duty_id: int) -> CatalogueDuty | None:
    return s.get(CatalogueDuty, duty_id)


def changes_of(s: Session, duty_id: int) -> list[CatalogueDutyChange]:
    q = select(CatalogueDutyChange).where(CatalogueDutyChange.duty == duty_id).order_by(col(CatalogueDutyChange.id))
    return list(s.exec(q))


def change_history(s: Session) -> dict[int, list[CatalogueDutyChange]]:
    """Every duty's change rows, oldest first (the versions its rules are built from)."""
    out: dict[int, list[CatalogueDutyChange]] = {}
    for c in s.exec(select(CatalogueDutyChange).order_by(col(CatalogueDutyChange.id))):
        out.setdefault(c.duty, []).append(c)
    return out


def change_ids(s: Session, duties: list[int]) -> dict[int, list[int]]:
    """The ids of the change rows of `duties`, oldest first."""
    out: dict[int, list[int]] = {d: [] for d in duties}
    q = (
        select(CatalogueDutyChange.duty, CatalogueDutyChange.id)
        .where(col(CatalogueDutyChange.duty).in_(duties))
        .order_by(col(CatalogueDutyChange.id))
    )
    for duty, cid in s.exec(q):
        out[duty].append(int(cid or 0))
    return out


def save_duty(s: Session, duty: CatalogueDuty, *, by: str, source: str, before: dict[str, Any] | None) -> None:
    """Insert or update `duty` and append its change row (the caller commits)."""
    duty.updated_at = utcnow()
    s.add(duty)
    s.flush()
    assert duty.id is not None
    after = {
        "values": duty.values,
        "period": [duty.unit, duty.length, duty.recurring, duty.month, duty.day],
        "note": duty.note,  # the version's rule quotes it (services.catalogue.build_rules)
    }
    s.add(
        CatalogueDutyChange(
            by=by, duty=duty.id, action="update" if before else "create", source=source, before=before, after=after
        )
    )


def snapshot(duty: CatalogueDuty) -> dict[str, Any]:
    return {"values": dict(duty.values), "period": [duty.unit, duty.length, duty.recurring, duty.month, duty.day]}
