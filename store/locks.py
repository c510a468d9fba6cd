"""Locked score periods: the published numbers of a period, kept reproducible.

A lock stores the ScoreResult as published (JSON) and the fingerprint (item_id, rule, state,
met_on) of every clock it counted. Later exports of the period print the locked numbers and list
as amendments the clocks whose fingerprint changed since, appeared later, or left the period.

The table is created by the migrations (store/migrations); store.db imports this module for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from domain.model import rule_of
from domain.scoring import Amendment, ClockRecord, Period, ScoreResult, fingerprints, parse_period
from store.models import UTCDateTime, utcnow
from store.scope import Departments, where_departments

ALL_DEPARTMENTS = ""  # department scope of a lock covering every department


class ScoreLock(SQLModel, table=True):
    __tablename__ = "score_lock"
    __table_args__ = (UniqueConstraint("period", "department", name="uq_score_lock_period_dept"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True)  # Period.label: 2026, 2026-Q3, 2026-11
    department: str = ALL_DEPARTMENTS  # "" = all departments
    locked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    locked_by: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fingerprints: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    def result(self) -> ScoreResult:
        """The published numbers, with the lock's time and author filled in."""
        res = ScoreResult.model_validate(self.summary)
        res.locked_at = self.locked_at.isoformat()
        res.locked_by = self.locked_by
        return res


class PeriodLockedError(ValueError):
    pass


def _label(period: Period | str) -> str:
    return period.label if isinstance(period, Period) else parse_period(period).label


def locked(session: Session, period: Period | str, department: str | None = None) -> ScoreLock | None:
    q = select(ScoreLock).where(
        ScoreLock.period == _label(period), ScoreLock.department == (department or ALL_DEPARTMENTS)
    )
    return session.exec(q).first()


def lock_period(
    session: Session,
    period: Period | str,
    summary: ScoreResult,
    locked_by: str | None = None,
) -> ScoreLock:
    """Freeze `summary` (scope: summary.department, or all) as the published numbers of `period`."""
    label = _label(period)
    if summary.period != label:
        raise ValueError(f"得分结果属于期间 {summary.period}，不是 {label}")
    dept = summary.department or ALL_DEPARTMENTS
    if locked(session, label, summary.department) is not None:
        scope = summary.department or "全部部门"
        raise PeriodLockedError(f"期间 {label}（{scope}）已锁定，不能重复锁定")
    frozen = summary.model_copy(update={"amendments": [], "locked_at": None, "locked_by": None})
    row = ScoreLock(
        period=label,
        department=dept,
        locked_by=locked_by,
        summary=frozen.model_dump(mode="json"),
        fingerprints=[list(fp) for fp in fingerprints(summary.details)],
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def department_locks(session: Session, period: Period | str, departments: Departments = None) -> list[ScoreLock]:
    """The per-department locks of `period` (not the all-departments one) of `departments` (store.scope)."""
    q = select(ScoreLock).where(ScoreLock.period == _label(period), ScoreLock.department != ALL_DEPARTMENTS)
    q = where_departments(q, ScoreLock.department, departments)
    return list(session.exec(q.order_by(col(ScoreLock.department))).all())


def find_lock(session: Session, period: Period | str, department: str | None = None) -> ScoreLock | None:
    """The lock of `department` for `period`, else (department given) the all-departments lock."""
    lock = locked(session, period, department)
    if lock is None and department is not None:
        lock = locked(session, period, None)
    return lock


def amendments(
    session: Session,
    period: Period | str,
    current_records: Iterable[ClockRecord],
    department: str | None = None,
) -> list[Amendment]:
    """Clocks of a locked period changed after the lock, added later, or gone (due date moved out).

    With `department`, compares against that department's lock, else the all-departments lock
    restricted to the department. Empty when the period is not locked.
    """
    period = period if isinstance(period, Period) else parse_period(period)
    lock = find_lock(session, period, department)
    if lock is None:
        return []
    # keyed by row: a recurring duty's periods (rule#n) due in one period are rows of their own
    locked_rows = {(d["item_id"], d.get("row") or d["rule"]): d for d in lock.summary.get("details", [])}
    locked_fp: dict[tuple[str, str], tuple[str, str | None]] = {}
    for fp in lock.fingerprints:
        key = (fp[0], fp[1])
        if department is not None and locked_rows.get(key, {}).get("department") != department:
            continue
        locked_fp[key] = (fp[2], fp[3])
    current: dict[tuple[str, str], ClockRecord] = {}
    for r in current_records:
        if not period.contains(r.due_day):
            continue
        if department is not None and r.department != department:
            continue
        if lock.department and r.department != lock.department:
            continue
        current[(r.item_id, r.key)] = r
    out: list[Amendment] = []
    for key, r in current.items():
        if key not in locked_fp:
            out.append(
                Amendment(
                    department=r.department,
                    item_id=r.item_id,
                    rule=r.rule,
                    row=r.row,
                    title=r.title,
                    change="new",
                    change_label="锁定后新增",
                    current_state=r.state,
                    current_met_on=r.met_on,
                )
            )
        elif locked_fp[key] != (r.state, r.met_on):
            st, met = locked_fp[key]
            out.append(
                Amendment(
                    department=r.department,
                    item_id=r.item_id,
                    rule=r.rule,
                    row=r.row,
                    title=r.title,
                    change="changed",
                    change_label="锁定后状态变化",
                    locked_state=st,
                    locked_met_on=met,
                    current_state=r.state,
                    current_met_on=r.met_on,
                )
            )
    for key, (st, met) in locked_fp.items():
        if key not in current:
            d = locked_rows.get(key, {})
            out.append(
                Amendment(
                    department=d.get("department", ""),
                    item_id=key[0],
                    rule=rule_of(key[1]),
                    row=key[1] if rule_of(key[1]) != key[1] else "",
                    title=d.get("title", ""),
                    change="removed",
                    change_label="锁定后移出本期间",
                    locked_state=st,
                    locked_met_on=met,
                )
            )
    out.sort(key=lambda a: (a.department, a.item_id, a.row or a.rule))
    return out


def locked_result(
    session: Session,
    period: Period | str,
    current_records: Iterable[ClockRecord],
    department: str | None = None,
) -> ScoreResult | None:
    """The locked numbers of `period` with the amendments since the lock; None if not locked.

    A department asked of an all-departments lock gets that department's rows of it.
    """
    lock = find_lock(session, period, department)
    if lock is None:
        return None
    res = lock.result()
    if department is not None and lock.department != department:
        res.summary = [d for d in res.summary if d.department == department]
        res.details = [d for d in res.details if d.department == department]
        res.department = department
    res.amendments = amendments(session, period, current_records, department)
    return res


# ---------------------------------------------------------------------------------- annual reports


class AnnualLock(SQLModel, table=True):
    """A year's annual report as published: its counted tables 二/三/四, frozen when the report's
    `annual_report.published` is recorded (basis "published") or when an assessor locks it ("assessor").
    Later changes of the records are listed against it (domain.report.table_amendments), never written into it,
    and the next year's 上年结转 keeps to its 结转下年度."""

    __tablename__ = "annual_lock"
    __table_args__ = (UniqueConstraint("year", "scope", name="uq_annual_lock_year_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    scope: str  # annual_scope_key: department:<id>, government:<compiling unit>, all
    locked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    locked_by: str | None = None
    basis: str  # published | assessor
    published_on: str | None = None  # the report's publication day (basis published)
    tables: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    def as_lock(self) -> dict[str, Any]:
        """What domain.annual_document.compose_document takes as `lock`."""
        return {
            "tables": self.tables,
            "locked_at": self.locked_at.isoformat(),
            "locked_by": self.locked_by,
            "basis": self.basis,
            "published_on": self.published_on,
        }


def annual_scope_key(scope: Any) -> str:
    """The lock key of a domain.annual_document.ReportScope."""
    return "all" if scope.kind == "all" else f"{scope.kind}:{scope.department}"


def annual_lock(session: Session, year: int, scope: Any) -> AnnualLock | None:
    key = scope if isinstance(scope, str) else annual_scope_key(scope)
    return session.exec(select(AnnualLock).where(AnnualLock.year == year, AnnualLock.scope == key)).first()


def annual_tables(session: Session, year: int, scope: Any, lapsing: Iterable[str], as_of: Any) -> dict[str, Any]:
    """Tables 二/三/四 of `year` for `scope` as the records give them now (table 二 without entered blocks),
    上年结转 kept to last year's locked 结转下年度 (what the report shows)."""
    from domain.annual_document import keep_carry_in
    from domain.annual_rows import tables
    from store.annual import year_rows

    t = tables(year_rows(session, year, scope.departments, lapsing, as_of), None)
    prev = annual_lock(session, year - 1, scope)
    keep_carry_in(t, prev.tables["table3"]["carried_out"] if prev is not None else None, year)
    return {k: t[k] for k in ("table2", "table3", "table4")}


# the event types tables 二/三/四 count from
_TABLE_EVENTS = ("request.", "document.", "review.", "litigation.")


def recorded_since_lock(session: Session, lock: AnnualLock, scope: Any, limit: int = 200) -> list[dict[str, Any]]:
    """The events a locked report's tables count from that are dated on or before its year's end and were
    recorded after the lock (approved late entries, corrections): what its 更正说明 is about. Ids, types and
    dates only (no payload)."""
    from sqlalchemy import or_
    from sqlalchemy import select as core_select

    from domain.shanghai import SHANGHAI
    from store.models import EventRecord, table

    ev = table(EventRecord).c
    q = core_select(ev.event_id, ev.type, ev.item_id, ev.occurred_on, ev.ingested_at).where(
        ev.ingested_at > lock.locked_at,
        ev.occurred_on <= f"{lock.year}-12-31",
        or_(*[ev.type.startswith(p) for p in _TABLE_EVENTS]),
    )
    if scope.departments is not None:
        q = q.where(ev.department.in_(sorted(scope.departments)))
    q = q.order_by(ev.ingested_at, ev.event_id).limit(limit)
    return [
        {
            "event_id": eid,
            "type": type_,
            "item_id": item_id,
            "occurred_on": on,
            "recorded_at": at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        }
        for eid, type_, item_id, on, at in session.execute(q)
    ]


def lock_annual_report(
    session: Session,
    year: int,
    scope: Any,
    *,
    lapsing: Iterable[str],
    as_of: Any,
    basis: str,
    locked_by: str | None = None,
    published_on: str | None = None,
    locked_at: datetime | None = None,
) -> AnnualLock:
    """Freeze the report of `year` for `scope` as it counts now; PeriodLockedError when it is locked already.
    `locked_at`: the publication's recording instant when its recording locks it, else the process clock
    (domain.shanghai, as every recording instant is): "recorded after the lock" compares like with like."""
    if annual_lock(session, year, scope) is not None:
        raise PeriodLockedError(f"{year}年度报告（{scope.issuer}）已锁定，不能重复锁定")
    from domain.shanghai import now as shanghai_now

    row = AnnualLock(
        year=year,
        locked_at=locked_at or shanghai_now().astimezone(UTC),
        scope=annual_scope_key(scope),
        locked_by=locked_by,
        basis=basis,
        published_on=published_on,
        tables=annual_tables(session, year, scope, lapsing, as_of),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row
