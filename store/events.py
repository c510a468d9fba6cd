"""The event log: rows from accepted events (insert-or-ignore), lookups and event-log queries for reports.

Write functions commit by default (``commit=True``); pass ``commit=False`` to group several
writes in one transaction. Every write is safe under concurrent callers on PostgreSQL and SQLite:
they are single INSERT ... ON CONFLICT statements (upserts / insert-or-ignore), never
read-then-write.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, func, or_, select
from sqlmodel import Session, col

from store.items import insert_for
from store.models import EventRecord, LateEntryRecord, utcnow
from store.models import table as sa_table
from store.scope import Departments, department_clause, where_departments

_DATE_FIELDS = (
    "signed_on",
    "published_on",
    "repealed_on",
    "received_on",
    "approved_on",
    "on",
    "detected_at",
    "at",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(_jsonable(obj), sort_keys=True, ensure_ascii=False, default=_jsonable))


def _item_id(ev: Mapping[str, Any]) -> str | None:
    from domain.events import EventError, item_id_of

    try:
        return item_id_of(str(ev.get("type", "")), dict(ev))
    except (EventError, KeyError, ValueError):
        return None


@functools.cache
def _insert_ignoring(dialect: str, table, unique: str):
    # built once, executed with parameters (see _upserts)
    return (
        insert_for(dialect, table).on_conflict_do_nothing(index_elements=[table.c[unique]]).returning(table.c[unique])
    )


def _insert_or_ignore(session: Session, table, values: dict[str, Any], unique: str, commit: bool) -> bool:
    """INSERT … ON CONFLICT (unique) DO NOTHING on both databases; True if this call inserted the row."""
    stmt = _insert_ignoring(session.get_bind().dialect.name, table, unique)
    try:
        created = session.execute(stmt, values).first() is not None
        if commit:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return created


def event_record_from(event: Mapping[str, Any] | BaseModel, **overrides: Any) -> EventRecord:
    """Build the stored record of an event: ``applicant`` dropped; the content hash is the one the ingest
    path and the workflows use (domain.events.content_hash)."""
    from domain.events import content_hash
    from domain.report import report_columns

    ev = _jsonable(event)
    if not isinstance(ev, dict):
        raise TypeError("event must be a mapping or a pydantic model")
    payload = _canonical({k: v for k, v in ev.items() if k != "applicant"})
    occurred = None
    for f in _DATE_FIELDS:
        if ev.get(f):
            occurred = str(ev[f])[:10]
            break
    values = dict(
        event_id=str(ev["event_id"]),
        type=str(ev.get("type", "")),
        item_id=_item_id(ev),
        department=ev.get("department"),
        payload=payload,
        content_hash=content_hash(ev),
        recorded_by=ev.get("recorded_by"),
        occurred_on=occurred,
        ingested_at=utcnow(),
    )
    values["category"], values["channel"] = report_columns(values["type"], payload)
    values.update(overrides)
    return EventRecord(**values)


def find_event(session: Session, event_id: str) -> EventRecord | None:
    return session.get(EventRecord, event_id)


def add_event(session: Session, rec: EventRecord, *, commit: bool = True) -> bool:
    """Append an event record; insert-or-ignore on ``event_id``. True if this call stored it.

    (A False return means another writer stored the same event_id first: compare
    ``find_event(...).content_hash`` to tell a duplicate from a conflict.)
    """
    if "applicant" in (rec.payload or {}):
        raise ValueError("EventRecord.payload must not contain applicant data")
    table = sa_table(EventRecord)
    values = {c.name: getattr(rec, c.name) for c in table.columns}
    if values.get("ingested_at") is None:
        values["ingested_at"] = utcnow()
    return _insert_or_ignore(session, table, values, "event_id", commit)


def events_for_item(session: Session, item_id: str) -> list[EventRecord]:
    q = (
        select(EventRecord)
        .where(col(EventRecord.item_id) == item_id)
        .order_by(col(EventRecord.occurred_on), col(EventRecord.ingested_at))
    )
    return list(session.execute(q).scalars().all())


def registration_late_events(
    session: Session, start: date, end: date, department: Departments = None, limit: int = 200
) -> tuple[list[EventRecord], int]:
    """Start events flagged 登记滞后 recorded (Asia/Shanghai) from `start` to `end` inclusive, the board's
    list: what came in late in its period, whatever the events' own dates. The `limit` longest lags, by
    department, and how many there are in all (from ix_event_record_registration_late)."""

    from domain.shanghai import SHANGHAI

    since = datetime.combine(start, datetime.min.time(), SHANGHAI)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), SHANGHAI)
    where = [
        col(EventRecord.registration_late).is_(True),
        col(EventRecord.ingested_at) >= since,
        col(EventRecord.ingested_at) < until,
    ]
    if (c := department_clause(col(EventRecord.department), department)) is not None:
        where.append(c)
    total = session.execute(select(func.count()).select_from(EventRecord).where(*where)).scalar_one()
    # the longest lags' ids from the index alone, then only those rows (not a sort of every flagged row)
    top = select(col(EventRecord.event_id)).where(*where)
    top = top.order_by(col(EventRecord.lag_working_days).desc(), col(EventRecord.event_id)).limit(limit)
    ids = list(session.execute(top).scalars())
    q = select(EventRecord).where(col(EventRecord.event_id).in_(ids))
    rows: list[EventRecord] = list(session.execute(q).scalars()) if ids else []
    return sorted(rows, key=lambda e: (e.department or "", -(e.lag_working_days or 0), e.event_id)), int(total)


def start_lags(
    session: Session, types: Iterable[str], roles: Iterable[str], start: str, end: str, department: Departments = None
):
    """(department, lag_working_days, registration_late) of the start events of `types` whose own date lies
    in [start, end],
    registered by the department itself (`roles`: liaison, head) since 0009: what the scores' median and
    maximum registration lag are computed from."""
    t = sa_table(EventRecord)
    q = select(t.c.department, t.c.lag_working_days, t.c.registration_late).where(
        t.c.type.in_(list(types)),
        t.c.occurred_on >= start,
        t.c.occurred_on <= end,
        t.c.lag_working_days.is_not(None),
        t.c.recorded_role.in_(list(roles)),
    )
    q = where_departments(q, t.c.department, department)
    return [(d, int(lag), bool(late)) for d, lag, late in session.execute(q)]


def start_lag_counts(
    session: Session, types: Iterable[str], roles: Iterable[str], start: str, end: str, department: Departments = None
) -> list[tuple[str | None, int, int, int]]:
    """start_lags counted in SQL: (department, lag_working_days, start events, of them registration_late) per
    department and lag, from ix_event_record_start_lag alone (a province's year is ~100,000 start events; the
    lags are a few distinct small numbers, so the median comes from these counts exactly)."""
    t = sa_table(EventRecord)
    late = func.sum(case((t.c.registration_late.is_(True), 1), else_=0))
    q = (
        select(t.c.department, t.c.lag_working_days, func.count(), late)
        .where(
            t.c.type.in_(list(types)),
            t.c.occurred_on >= start,
            t.c.occurred_on <= end,
            t.c.lag_working_days.is_not(None),
            t.c.recorded_role.in_(list(roles)),
        )
        .group_by(t.c.department, t.c.lag_working_days)
    )
    q = where_departments(q, t.c.department, department)
    return [(d, int(lag), int(n), int(k or 0)) for d, lag, n, k in session.execute(q)]


def load_events(
    session, until: date | None = None, *, types: tuple[str, ...] | None = None, item_ids: list[str] | None = None
) -> list[dict]:
    """Canonical event dicts from the event log (applicant data was dropped at ingest); with `until`, only
    events that happened on or before that day (a year's report never needs later ones). Plain rows, not ORM
    objects: the log of a province is hundreds of thousands of events."""
    from store.annual import code_point

    t = sa_table(EventRecord)
    q = select(t.c.payload, t.c.type, t.c.event_id, t.c.department, t.c.occurred_on)
    if until is not None:
        q = q.where(t.c.occurred_on <= until.isoformat())
    if types is not None and item_ids is not None:
        q = q.where(t.c.type.in_(types))
    if item_ids is not None:
        q = q.where(t.c.item_id.in_(item_ids))
    if types is not None and item_ids is None:
        # one query per type, by equality: for `type IN (…)` SQLite's statistics (a log of a few frequent types)
        # make it scan the whole log even for types it holds none of (0.2 s instead of < 1 ms at 600,000 events)
        rows = sorted(
            (r for type_ in dict.fromkeys(types) for r in session.execute(q.where(t.c.type == type_))),
            key=lambda r: (r[4] or "", r[2]),
        )
    elif types is None and item_ids is None:
        # ids by code point, as the sorted() below and the annual report's SQL order them, on any collation
        event_id = code_point(t.c.event_id, session.get_bind().dialect.name == "postgresql")
        rows = list(session.execute(q.order_by(t.c.occurred_on, event_id)))
    else:
        # a few rows, sorted here: with ORDER BY, SQLite (after ANALYZE) walks the whole log in date order
        # instead of using the type / item index (0.4 s instead of 1 ms at 200,000 events)
        rows = sorted(session.execute(q), key=lambda r: (r[4] or "", r[2]))
    out = []
    for payload, type_, event_id, department, _ in rows:
        ev = dict(payload or {})
        ev.pop("applicant", None)
        ev["type"] = type_
        ev["event_id"] = event_id
        if department and not ev.get("department"):
            ev["department"] = department
        out.append(ev)
    return out


def start_and_proxy_recordings(
    session: Session, item_ids: list[str], start_types: Iterable[str], proxy_roles: Iterable[str]
) -> list[tuple]:
    """(item_id, type, occurred_on, ingested_at, recorded_by, recorded_role, lag_working_days,
    registration_late) of these items' start events and of their events recorded by a proxy role."""
    t = sa_table(EventRecord)
    q = select(
        t.c.item_id,
        t.c.type,
        t.c.occurred_on,
        t.c.ingested_at,
        t.c.recorded_by,
        t.c.recorded_role,
        t.c.lag_working_days,
        t.c.registration_late,
    ).where(
        t.c.item_id.in_(item_ids), or_(t.c.type.in_(sorted(start_types)), t.c.recorded_role.in_(sorted(proxy_roles)))
    )
    return [tuple(r) for r in session.execute(q)]


def content_hashes(session: Session, event_ids: list[str]) -> dict[str, str]:
    """event_id -> content hash of those ids the read model holds (applied events and late entries)."""
    out: dict[str, str] = {}
    for i in range(0, len(event_ids), 500):
        chunk = event_ids[i : i + 500]
        for table in (EventRecord, LateEntryRecord):
            q = select(col(table.event_id), col(table.content_hash)).where(col(table.event_id).in_(chunk))
            out.update({eid: h for eid, h in session.execute(q).all()})
    return out


def filings(session: Session, types: Iterable[str], start: date, end: date, department: Departments = None) -> list:
    """i21-proposals: (item id, type, occurred_on) of the filings (review.filed, litigation.filed) dated in
    [start, end] (the 表四 reconciliation with the appeal windows)."""
    q = select(col(EventRecord.item_id), col(EventRecord.type), col(EventRecord.occurred_on)).where(
        col(EventRecord.type).in_(list(types)),
        col(EventRecord.occurred_on) >= start.isoformat(),
        col(EventRecord.occurred_on) <= end.isoformat(),
    )
    q = where_departments(q, col(EventRecord.department), department)
    return list(session.execute(q.order_by(col(EventRecord.occurred_on), col(EventRecord.item_id))).all())
