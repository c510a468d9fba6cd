"""The 待办 list: what needs the signed-in person's action (shown beside the 站内消息 inbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain import labels
from store.db import session
from store.scope import Departments

if TYPE_CHECKING:
    from services.access import Principal

# Items due within this many working days are on the 待办 list (the daily digest's window).
TODO_WINDOW_WORKING_DAYS = 5
TODO_LIMIT = 50


def todo(who: Principal, db=None) -> dict[str, Any]:
    """The 待办 list: what needs the person's action, most urgent first.

    - liaison / head: their department's open items overdue or due within TODO_WINDOW_WORKING_DAYS working
      days (working days left, negative = overdue), most urgent first;
    - supervisor / admin: late entries (补录) waiting for review, oldest first, of their node's subtree
      (services.access.read_scope).
    """
    from domain.engine import engine
    from domain.review import held_clocks
    from domain.shanghai import today
    from domain.standing import can_be_overdue, department_duty, due_label
    from services.access import ApiError, read_scope
    from services.views import department_names, working_days_left
    from store.items import late_entries, list_items

    day = today()
    rows: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    names = department_names()
    roles = set(who.roles) | {who.role}
    dept = who.department if roles & {"liaison", "head"} else None
    reviewer = bool(roles & {"supervisor", "admin"})
    reviewable: Departments = None
    if reviewer:
        try:
            reviewable = read_scope(who, what="查看待办", roles=("supervisor", "admin")).filter
        except ApiError:  # a node no longer in the tree: no reviews, the person's inbox still opens
            reviewable = frozenset()
    with session(db) as s:
        if dept:
            rules = engine().rule_names
            specs = engine().rules
            for snap in list_items(s, department=dept, state="open"):
                # held (待审核) clocks and lapsed windows are not overdue: the same filters as the digest
                held = held_clocks(((snap.id, e.type) for e in snap.held), specs)
                for c in snap.clocks:
                    if not department_duty(specs.get(c.rule)):
                        continue  # an appeal window: the supervisor's list, not the liaison's 待办
                    left = working_days_left(c, day)
                    if left is None or left > TODO_WINDOW_WORKING_DAYS:
                        continue
                    if left < 0 and ((snap.id, c.rule) in held or not can_be_overdue(specs.get(c.rule))):
                        continue
                    rows.append(
                        {
                            "item_id": snap.id,
                            "title": snap.title or snap.id,
                            "rule_name": due_label(specs.get(c.rule), rules.get(c.rule, c.rule)),
                            "due": c.due or "",  # ISO; the page writes it as an office would (`when`)
                            "working_days_left": left,
                            "link": _item_path(snap.id),
                        }
                    )
        if reviewer:
            for e in late_entries(s, status="held", department=reviewable):
                reviews.append(
                    {
                        "event_id": e.event_id,
                        "item_id": e.item_id,
                        "department_name": names.get(e.department, e.department),
                        "event_name": labels.EVENT_TYPES.get(e.type, e.type),
                        "occurred_on": e.occurred_on,
                        "link": _item_path(e.item_id),
                    }
                )
    rows.sort(key=lambda r: (r["working_days_left"], r["due"], r["item_id"]))
    return {
        "rows": rows[:TODO_LIMIT],
        "rows_total": len(rows),
        "reviews": reviews[:TODO_LIMIT],
        "reviews_total": len(reviews),
        "window": TODO_WINDOW_WORKING_DAYS,
        "department_name": names.get(dept, dept) if dept else None,
    }


def _item_path(item_id: str) -> str:
    from urllib.parse import quote

    return f"/items/{quote(item_id, safe='')}"
