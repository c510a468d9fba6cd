"""The scoring use case over the store (CLI, API, pages and the annual report use it): clock records and
marks from the read model, scores of a period (locked numbers for a locked period), late-entry notes, and the
event log as canonical dicts. The arithmetic is in domain/scoring.py; the rules come from domain/engine.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from domain.engine import engine
from domain.scoring import (
    ClockRecord,
    Period,
    ScoreResult,
    calendar_overdue_days,
    load_scoring,
    records_from_snapshots,
    score_period,
)
from services.queries import session as open_session


def session():
    """A session on the migrated store (use as a context manager)."""
    return open_session()


def load_events(
    session, until: date | None = None, *, types: tuple[str, ...] | None = None, item_ids: list[str] | None = None
) -> list[dict]:
    """Canonical event dicts from the event log (applicant data was dropped at ingest); with `until`, only
    events that happened on or before that day (a year's report never needs later ones). Plain rows, not ORM
    objects: the log of a province is hundreds of thousands of events."""
    from sqlalchemy import select

    from store.annual import code_point
    from store.models import EventRecord, table

    t = table(EventRecord)
    q = select(t.c.payload, t.c.type, t.c.event_id, t.c.department, t.c.occurred_on)
    if until is not None:
        q = q.where(t.c.occurred_on <= until.isoformat())
    if types is not None:
        q = q.where(t.c.type.in_(types))
    if item_ids is not None:
        q = q.where(t.c.item_id.in_(item_ids))
    if types is None and item_ids is None:
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


def load_snapshots(session, department: str | None = None):
    from store.repo import list_items

    return list_items(session, department=department)


def default_overdue_days() -> Callable:
    # The calendar in use (a refused, broken notice file does not take the scores down).
    return calendar_overdue_days(engine().calendar)


def current_records(
    session,
    as_of: date,
    department: str | None = None,
    overdue_days: Callable | None = None,
    period: Period | None = None,
) -> list[ClockRecord]:
    """Clock records as of `as_of`; with `period`, only clocks due in it (what scoring a period reads)."""
    if period is None:
        snaps = load_snapshots(session, department)
        return records_from_snapshots(snaps, as_of, overdue_days or default_overdue_days(), engine().rules)
    return period_records(session, period, as_of, department, overdue_days or default_overdue_days())


def period_records(
    session, period: Period, as_of: date, department: str | None, overdue_days: Callable
) -> list[ClockRecord]:
    """records_from_snapshots for the clocks due in `period`, straight from rows (same rules: lapsing windows
    and clocks without a due date are skipped; overdue days only for overdue clocks)."""
    from domain.model import ClockSnapshot
    from domain.scoring import classify
    from store.repo import clock_rows_due_between

    lapsing = {r.id for r in engine().rules.values() if r.lapses}
    out = []
    for item_id, item_type, dept, title, rule, due, state, met_on, lateness, region, summary in clock_rows_due_between(
        session, period.start.isoformat(), period.end.isoformat(), department
    ):
        if not due or rule in lapsing:
            continue
        status = classify(state, due, met_on, as_of)
        overdue = None
        if status == "overdue":
            overdue = overdue_days(ClockSnapshot(rule=rule, start="", due=due, region=region), as_of)
            # (validated, not model_construct: that inspects the default factories on every call, ~200 µs)
        out.append(
            ClockRecord(
                item_id=item_id,
                item_type=item_type,
                department=dept,
                title=title or "",
                rule=rule,
                due=due,
                state=state,
                met_on=met_on,
                lateness_working_days=lateness,
                overdue_working_days=overdue,
                explanation={"summary": summary} if summary else {},
            )
        )  # scoring reads only the summary
    return out


def current_marks(session, department: str | None = None) -> list:
    """Withheld documents and lost reviews/litigations (scored facts that are not clocks)."""
    from sqlalchemy import select
    from sqlmodel import col

    from domain.scoring import marks_from_events, marks_from_snapshots
    from store.models import Item, table
    from store.repo import list_items

    # Only the rows that can be marks, selected in SQL (a province has 100,000s of items and events).
    withheld = select(col(Item.id)).where(
        col(Item.type) == "document", table(Item).c.data["disclosure"].as_string() == "withheld"
    )
    if department is not None:
        withheld = withheld.where(col(Item.department) == department)
    ids = list(session.execute(withheld).scalars())
    decided = load_events(session, types=("review.decided", "litigation.decided", "request.reply_delayed"))
    rids = sorted({str(e.get("request_id")) for e in decided if e.get("request_id") is not None})
    owners = load_events(session, types=("request.received",), item_ids=rids) if rids else []
    marks = marks_from_snapshots(list_items(session, ids=ids) if ids else []) + marks_from_events(owners + decided)
    return [m for m in marks if department is None or m.department == department]


def compute_scores(
    session, period: Period, as_of: date, department: str | None = None, overdue_days: Callable | None = None
) -> ScoreResult:
    """Locked numbers (+ amendments) for a locked period, else freshly computed scores."""
    from store.locks import locked_result

    records = current_records(session, as_of, department, overdue_days, period=period)
    res = locked_result(session, period, records, department)
    if res is None:
        res = score_period(
            records, period, as_of, load_scoring(), department, current_marks(session, department), rules=engine().rules
        )
    return annotate_late_entries(session, res)


def fresh_scores(session, period: Period, as_of: date, department: str | None = None) -> ScoreResult:
    """Scores computed now from the store (what a lock publishes), never the locked numbers."""
    return score_period(
        current_records(session, as_of, department, period=period),
        period,
        as_of,
        load_scoring(),
        department,
        current_marks(session, department),
        rules=engine().rules,
    )


def annotate_late_entries(session, res):
    """Mark each 明细 row that an approved late entry (补录) settled, with both of its dates, so the
    assessor sees which numbers rest on an entry recorded after the fact."""
    from domain.review import holds_clock
    from domain.shanghai import SHANGHAI
    from store.models import LateEntryRecord
    from store.repo import late_entries

    approved = late_entries(session, status="approved", department=res.department)
    if not approved or not res.details:
        return res  # the usual case: no need to walk a year's 35,000 detail rows
    ids = {d.item_id for d in res.details}
    by_item: dict[str, list[LateEntryRecord]] = {}
    for e in approved:
        if e.item_id in ids:
            by_item.setdefault(e.item_id, []).append(e)
    rules = engine().rules
    for d in res.details:
        rule = rules.get(d.rule)
        notes = []
        for e in by_item.get(d.item_id, []):
            if rule is None or not holds_clock(
                e.type,
                met_by=list(rule.met_by),
                closed_by=list(rule.closed_by),
                pause=rule.pause,
                stop=rule.stop,
                extension_event=rule.extension.event if rule.extension else None,
                lapses=rule.lapses,
            ):
                continue
            recorded = e.recorded_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            notes.append(
                f"{e.type} 事件日期 {e.occurred_on[:10]}，登记于 {recorded}（{e.recorded_by or '-'}），"
                f"{e.decided_by or '-'} 批准"
            )
        d.late_entry = "；".join(notes)
    return res
