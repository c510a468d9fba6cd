"""Read-model queries shared by the worker, the CLI, the API and the pages (no Temporal involved)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from domain.engine import engine
from domain.ids import workflow_id
from domain.model import ItemSnapshot
from domain.shanghai import due_day as _due_day
from domain.shanghai import end_of_day
from domain.standing import can_be_overdue, overdue_working_days
from store.clock_rows import overdue_clock_rows
from store.db import get_engine, init_db, session
from store.items import get_item, list_items
from store.scope import Departments


def db():
    """The store for the current DATABASE_URL / data directory, migrated (once per process)."""
    return init_db(get_engine())


def status_json(snap: ItemSnapshot) -> dict[str, Any]:
    """`shixian status --json` shape (issue 3 §5)."""
    return {
        "id": snap.id,
        "type": snap.type,
        "department": snap.department,
        "title": snap.title,
        "state": snap.state,
        "clocks": [
            {
                "rule": c.rule,
                "start": c.start,
                "due": c.due,
                "state": c.state,
                "met_on": c.met_on,
                "lateness_working_days": c.lateness_working_days,
                "provisional": c.provisional,
                "paused_days": c.paused_days,
                "ladder_step": c.ladder_step,
                "explanation": c.explanation.get("summary"),
            }
            for c in snap.clocks
        ],
        "held": [  # 补录待审核: not counted until a supervisor approves
            {"event_id": e.event_id, "type": e.type, "on": e.on, "recorded_at": e.recorded_at, "reason": e.reason}
            for e in snap.held
        ],
    }


def get_status(item_id: str) -> ItemSnapshot | None:
    with session() as s:
        return get_item(s, item_id)


def overdue_rows(as_of: dt.date, department: Departments = None) -> list[dict[str, Any]]:
    """Open clocks past due at the end of `as_of`, with working days overdue (after due, up to as_of)."""
    from domain.flags import item_flags

    cal = engine().calendar
    rules = engine().rules
    with session() as s:
        found = overdue_clock_rows(s, end_of_day(as_of), department)
    rows = []
    for item in found:
        clock = item  # one flat row: item columns and clock columns
        rule = rules.get(clock.rule)
        if clock.due is None or not can_be_overdue(rule):
            continue
        due_day = _due_day(clock.due)  # hour rules: overdue only once the instant passed (already filtered)
        rows.append(
            {
                "id": item.id,
                "department": item.department,
                "rule": clock.rule,
                "due": clock.due,
                "overdue_working_days": overdue_working_days(cal, due_day, as_of, clock.region),
                "title": item.title,
                "type": item.type,
                "rule_name": rules[clock.rule].name if clock.rule in rules else clock.rule,
                "ladder_step": clock.ladder_step,
                "provisional": clock.provisional,
                "flags": item_flags(item.data),
            }
        )
    rows.sort(key=lambda r: (-r["overdue_working_days"], r["department"], r["id"]))
    return rows


def open_item_ids(departments: set[str] | None = None, rules: Collection[str] | None = None) -> list[tuple[str, str]]:
    """(workflow id, item id) of every item still open (of `departments` only, when given; with a clock of
    one of `rules` only, when given) — the workflows a calendar or rules reload must reach."""
    with session() as s:
        return [
            (workflow_id(snap.type, snap.id), snap.id)
            for snap in list_items(s, department=departments, state="open")
            if rules is None or any(c.rule in rules for c in snap.clocks)
        ]
