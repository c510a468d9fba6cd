"""Named queries of the daily ladder sweep (workflows/sweep.py): the open day-rule clocks of a department and
what the delivery log says has fired for them. Reads only; the sweep writes through store/deliveries.py and
store/inbox.py in batches (`claim_many`, `mark_sent_many`, `add_attempts`, `add_messages`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from store.deliveries import Delivery
from store.models import Clock, Item


@dataclass(frozen=True)
class OpenClock:
    item_id: str
    item_type: str
    title: str
    department: str
    rule: str
    due: str
    region: str
    provisional: bool
    summary: str


def sweep_departments(s: Session) -> list[str]:
    """Departments with an open item (the sweep's fan-out), in id order."""
    rows = s.exec(select(Item.department).where(Item.state == "open").distinct().order_by(Item.department)).all()
    return list(rows)


def open_day_clocks(s: Session, department: str) -> list[OpenClock]:
    """The open clocks with a due day (day rules: no time in `due`) of the department's open items."""
    stmt = (
        select(  # type: ignore[call-overload]
            Item.id,
            Item.type,
            Item.title,
            Item.department,
            Clock.rule,
            Clock.due,
            Clock.region,
            Clock.provisional,
            Clock.summary,
        )
        .join(Clock, col(Clock.item_id) == col(Item.id))
        .where(Item.department == department, Item.state == "open", Clock.state == "open")
        .where(col(Clock.due).is_not(None))
        .order_by(Item.id, Clock.rule)
    )
    out = []
    for item_id, typ, title, dept, rule, due, region, provisional, summary in s.exec(stmt).all():
        if due and "T" not in due:
            out.append(OpenClock(item_id, typ, title, dept, rule, due, region, bool(provisional), summary or ""))
    return out


def fired_occurrences(s: Session, item_ids: list[str]) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """Per (item, rule): the step occurrences (`step@due`) in the delivery log and when each was first
    claimed. Any state counts: a step fires once whatever its delivery did (as the item's `fired` list)."""
    out: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for i in range(0, len(item_ids), 500):
        chunk = item_ids[i : i + 500]
        stmt = select(  # type: ignore[call-overload]
            Delivery.key, Delivery.item_id, Delivery.rule, Delivery.person, Delivery.created_at
        ).where(col(Delivery.item_id).in_(chunk))
        for key, item_id, rule, person, created in s.exec(stmt).all():
            head, tail = f"{item_id}:{rule}:", f":{person}"
            if not (key.startswith(head) and key.endswith(tail)):
                continue
            occurrence = key[len(head) : len(key) - len(tail)]
            if "@" in occurrence and "[" not in occurrence:
                out.setdefault((item_id, rule), []).append((occurrence, created))
    return out
