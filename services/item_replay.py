"""An item's state rebuilt outside its workflow: its events run through domain.transitions with the due
dates computed as the workflow's activity computes them. The ledger preview runs a row's events on a
fresh state; the item page rebuilds a stored item (services.item_page.item_state)."""

from __future__ import annotations

from typing import Any

from domain import transitions as tr
from domain.events import DATE_FIELD, ITEM_TYPE, Event, item_id_of
from domain.item_state import ItemState


def advance(st: ItemState, ev: Event) -> bool:
    """Apply an accepted `ev` to `st` as the workflow does: a record-only fact (returns False), or a
    transition whose touched clocks get their due dates (True; raises what the computation raises)."""
    from activities.clocks import calc
    from domain.clock_specs import ClockSpec

    if tr.record_only(st, ev):
        tr.record_facts(st, ev)
        return False
    touched = tr.transition(st, ev)
    for c in {id(c): c for c in touched.clocks if not c.stopped}.values():
        res = calc(ClockSpec.model_validate(c.model_dump(include=set(ClockSpec.model_fields))))
        c.due, c.due_instant, c.provisional = res.due, res.due_instant, res.provisional
        if c.met_on is not None and res.late is not None:
            c.state = "missed" if res.late else "met"
            c.lateness_working_days = res.lateness_working_days
        else:
            c.state = "paused" if c.due is None else "open"
    return True


def stored_event(data: dict[str, Any], content_hash: str = "") -> Event:
    """The Event an accepted event's stored payload (its normalised `data`, store.models.EventRecord)
    stood for: not parsed again (the payload carries what the parse derived, e.g. a request's receipt)."""
    type_ = str(data["type"])
    on = str(data.get(DATE_FIELD.get(type_, "on"), data.get("at", "")))
    if type_ == "annual_report.year_closed":
        on = f"{int(data['year']) + 1}-01-01"
    return Event(
        event_id=str(data["event_id"]),
        type=type_,
        item_id=item_id_of(type_, data),
        item_type=ITEM_TYPE[type_.split(".")[0]],
        department=data.get("department"),
        on=on,
        data=data,
        content_hash=content_hash,
    )
