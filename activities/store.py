"""Activities that write the read model: an item workflow's snapshot and event rows (`save_item`, the one
writer of item rows), facts on finished items (`record_fact`) and due-date changes (`record_due_change`).

The registered names are in workflow histories: keep them. The deadline arithmetic is in activities/clocks.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity

from activities.clocks import ReprojectRequest, ReprojectResult, reproject
from domain.clock_specs import EventWrite
from domain.engine import engine
from domain.events import Event, parse_event
from domain.model import ItemSnapshot
from domain.standing import can_be_overdue
from domain.transitions import LAPSE_NOTE
from store import clock_rows
from store import events as event_log
from store import items as store_items
from store.db import _import_table_modules, session

# The table modules are imported when the worker imports its activities, not in an activity thread's first
# call (see activities/clocks.py: cffi's module init fails inside a workflow activation's sandbox).
_import_table_modules()


class SaveRequest(EventWrite):
    """What an item workflow writes: its snapshot and, when an event was accepted, the event's log row."""

    snapshot: ItemSnapshot
    # Writes an earlier run scheduled and had not seen done when it continued as new: their rows, written
    # again with this one (insert-or-ignore; the snapshot, newest, covers theirs).
    carried: list[EventWrite] = Field(default_factory=list)


def _event_row(w: EventWrite, snap: ItemSnapshot):
    ev = w.event
    if w.system_event is not None:
        ev = parse_event(w.system_event, internal=True)
    if ev is None:
        return None
    rec = None if w.system_event is not None else ev.recorded
    extra: dict[str, Any] = {}
    if rec is not None:
        extra["recorded_role"] = rec.role
        # the registration lag, counted on the calendar of the item's clocks (a clockless item: national)
        region = next((c.region for c in snap.clocks), "national")
        own, on = dt.date.fromisoformat(ev.on[:10]), dt.date.fromisoformat(rec.on)
        try:
            extra["lag_working_days"] = engine().calendar.working_days_between(own, on, region) if on > own else 0
        except Exception:  # a day outside the calendar's range: the lag stays unknown, the row is written
            extra["lag_working_days"] = None
        lag = (snap.data or {}).get("registration_lag")
        extra["registration_late"] = isinstance(lag, dict) and lag.get("event_id") == ev.event_id
    elif w.system_event is not None:
        extra["recorded_role"] = "system"
    return event_log.event_record_from(
        ev.data,
        item_id=ev.item_id,
        department=ev.department or snap.department,
        occurred_on=ev.on[:10],
        content_hash=ev.content_hash,
        recorded_by="system" if w.system_event is not None else ev.data.get("recorded_by"),
        **({"ingested_at": store_items.parse_instant(w.recorded_at)} if w.recorded_at else {}),
        **extra,
    )


def _titled(snap: ItemSnapshot) -> ItemSnapshot:
    """An annual-report item has no title of its own: people read 钦州市财政局2025年政府信息公开工作年度报告."""
    if snap.title or snap.type != "annual_report":
        return snap
    from domain.annual_document import report_item_title

    names = {k: d.name for k, d in engine().directory.departments.items()}
    title = report_item_title(snap.id, names)
    return snap.model_copy(update={"title": title}) if title else snap


@activity.defn
def save_item(req: SaveRequest) -> bool:
    """The one writer of the read model: item snapshot + event rows in one transaction. Idempotent (a
    retried activity re-upserts the same version and finds the rows already there)."""
    rows = [row for w in (*req.carried, req) if (row := _event_row(w, req.snapshot)) is not None]
    snap = _titled(req.snapshot)
    with session() as s:
        try:
            written = store_items.save_snapshot(s, snap, commit=False)
            for rec in rows:
                event_log.add_event(s, rec, commit=False)
            s.commit()
        except Exception:
            s.rollback()
            raise
    for rec in rows:
        if rec.type == "annual_report.published":
            _lock_published_report(rec.payload, rec.ingested_at)
    return written


def _lock_published_report(payload: dict[str, Any], recorded_at: dt.datetime | None = None) -> None:
    """A report's publication freezes its tables 二/三/四 as they count now (store.locks.AnnualLock): the
    published figures stay, later changes become its 更正说明. The first publication of a report locks it;
    a failure leaves it unlocked (the assessor can lock it) rather than hold up the item."""
    from domain.annual_document import report_scope
    from domain.engine import engine
    from domain.shanghai import today
    from store.locks import annual_lock, lock_annual_report

    try:
        year = int(payload["year"])
        scope = report_scope(
            engine().directory.departments, str(payload["department"]), str(payload.get("level", "department"))
        )
        with session() as s:
            if annual_lock(s, year, scope) is not None:
                return
            lock_annual_report(
                s,
                year,
                scope,
                lapsing=[r.id for r in engine().rules.values() if not can_be_overdue(r)],
                as_of=today(),
                basis="published",
                published_on=str(payload.get("published_on") or "")[:10] or None,
                locked_at=recorded_at,
            )
    except Exception:  # a lock taken twice at once, a broken directory: logged, not retried
        activity.logger.exception("年度报告公布时未能锁定报表（%s %s）", payload.get("department"), payload.get("year"))


class FactRequest(BaseModel):
    event: Event
    department: str | None = None


@activity.defn
def record_fact(req: FactRequest) -> str:
    """A fact recorded on a finished item (no clock): its event row alone. Returns applied, duplicate
    (same id and content already stored) or conflict (the id is taken by other content)."""
    ev = req.event
    rec = event_log.event_record_from(
        ev.data,
        item_id=ev.item_id,
        department=ev.department or req.department,
        occurred_on=ev.on[:10],
        content_hash=ev.content_hash,
        recorded_by=ev.data.get("recorded_by"),
        recorded_role=ev.recorded.role if ev.recorded is not None else None,  # 代录 on the item page
    )
    with session() as s:
        if event_log.add_event(s, rec):
            # A review or suit filed after the item finished closes its appeal window (audience supervisor).
            windows = [r.id for r in engine().rules.values() if r.audience == "supervisor" and ev.type in r.closed_by]
            clock_rows.close_windows(s, ev.item_id, windows, ev.on)
            return "applied"
        known = event_log.find_event(s, ev.event_id)
        return "duplicate" if known is None or known.content_hash == ev.content_hash else "conflict"


class DueChange(BaseModel):
    item_id: str
    rule: str
    old_due: str | None
    new_due: str | None
    reason: str


@activity.defn
def record_due_change(change: DueChange) -> None:
    with session() as s:
        clock_rows.record_due_change(s, change.item_id, change.rule, change.old_due, change.new_due, change.reason)


@activity.defn
def reproject_closed(req: ReprojectRequest) -> ReprojectResult:
    """One page of finished items: each met or missed clock recomputed on the current calendar; an item
    with a change gets its new snapshot (next version) and one recorded change per clock, in one
    transaction. The item's workflow has ended, so this is the only writer of these rows."""
    out = ReprojectResult()
    with session() as s:
        ids = store_items.finished_items_with_met_clocks(s, req.after, req.limit)
        for listed in store_items.list_items(s, ids=ids) if ids else []:  # one query for the page's clocks
            if activity.in_activity():
                activity.heartbeat(out.items)
            out.items += 1
            if req.departments is not None and listed.department not in req.departments:
                continue  # its region's days did not change
            changes = []
            clocks = []
            for c in listed.clocks:
                got = reproject(c, req.reason)
                clocks.append(got[0] if got else c)
                if got:
                    changes.append((c, got[0], got[1]))
            if not changes:
                continue
            item_id = listed.id
            snap = store_items.get_item(s, item_id)  # with its late entries
            if snap is None or snap.state == "open" or snap.held:  # reopened, or its workflow still runs
                continue
            try:
                written = store_items.save_snapshot(
                    s, snap.model_copy(update={"clocks": clocks, "version": snap.version + 1}), commit=False
                )
                if written:
                    for old, new, text in changes:
                        if text is not None:
                            clock_rows.record_due_change(s, item_id, old.rule, old.due, new.due, text, commit=False)
                s.commit()
            except Exception:
                s.rollback()
                raise
            out.changed += len(changes) if written else 0
    out.next_after = ids[-1] if len(ids) == req.limit else None
    return out


# ---------------------------------------------------------------- appeal windows after the item's run
class WindowsRequest(BaseModel):
    item_id: str
    rules: list[str]


@activity.defn
def appeal_windows_open(req: WindowsRequest) -> list[str]:
    """The item's appeal windows (of `req.rules`) still open in the store: a review or suit filed on the
    finished item (record_fact) closes its window there."""
    with session() as s:
        return clock_rows.open_windows(s, req.item_id, req.rules)


@activity.defn
def lapse_appeal_windows(req: WindowsRequest) -> list[str]:
    """Close the item's windows of `req.rules` that are still open: their period has run out (不属逾期)."""
    with session() as s:
        return clock_rows.lapse_windows(s, req.item_id, req.rules, LAPSE_NOTE)
