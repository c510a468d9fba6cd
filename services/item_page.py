"""What the item page shows around an item: the actions valid in its state, the reminders still to come,
the notices sent and the 督办 notes. Read-only; the forms that act are in app.web.pages_actions.

`item` is the read model's ItemView (duck-typed here: services do not import app)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain import transitions as tr
from domain.channels import split_error
from domain.engine import engine
from domain.item_state import ItemState, Refusal
from domain.labels import EVENT_BUTTONS
from domain.notice_text import beijing_text
from domain.shanghai import today

WRITERS = ("liaison", "supervisor", "admin")
URGERS = ("supervisor", "admin")


def item_state(item: Any) -> ItemState:
    """The item's state as its workflow holds it: its recorded events replayed through domain.transitions
    (services.item_replay), then the stored snapshot's item and clock states laid over it (a window that
    lapsed by its timer, an abandonment, a due date the calendar moved are only in the store)."""
    from domain.engine import engine
    from services.ingest import internal_rule_nodes, item_rules, rule_table
    from services.item_replay import advance, stored_event

    eng = engine()
    node = eng.directory.node_of(item.department)
    region = engine().directory.region_of(item.department)
    chain = eng.calendar.chain(region)
    rules = item_rules(rule_table(eng.rules), item.type, node, internal_rule_nodes(eng.rules), chain)
    st = ItemState(id=item.id, type=item.type, department=item.department, region=region, rules=rules)
    for e in getattr(item, "events", []):
        try:
            ev = stored_event(e.payload)
            advance(st, ev)
        except (Refusal, KeyError, ValueError):
            continue  # the snapshot below still says where the item stands
        st.applied[ev.event_id] = ev.content_hash
        st.version += 1
        tr.refresh_state(st)
    st.state = item.state
    stored = {c.rule: c for c in item.clocks}
    for c in st.clocks:
        if snap := stored.get(c.rule):
            c.state, c.due, c.due_instant = snap.state, snap.due, snap.due_instant
    return st


def actions_for(item: Any, st: ItemState | None = None) -> list[tuple[str, str]]:
    """(button label, event type) for what the item's state accepts today (domain.transitions, the checks
    its workflow runs: a button never offers what the workflow would refuse), in the labels' order."""
    accepted = set(tr.accepted_events(st or item_state(item), today()))
    return [(name, t) for t, name in EVENT_BUTTONS.items() if t in accepted]


def upcoming_reminders(item: Any, deliveries: list, limit: int = 6) -> list[dict[str, Any]]:
    """The next ladder steps of the item's open clocks: step, when, to whom."""
    from activities.clocks import PlanRequest, _plan
    from activities.notify import recipients
    from domain.labels import STEPS
    from domain.shanghai import now as shanghai_now

    directory = engine().directory
    now = shanghai_now().isoformat()
    out = []
    for c in item.clocks:
        if c.state != "open" or not c.due:
            continue
        fired = sorted({d.key.split(":")[-2] for d in deliveries if d.rule == c.rule and d.state == "sent"})
        try:
            steps = _plan(PlanRequest(rule=c.rule, due=c.due, region=c.region or "national", now=now, fired=fired))
        except Exception:  # a rule without a ladder has nothing to show
            continue
        for s in steps:
            people = recipients(directory, item.department, s.to)
            out.append(
                {
                    "rule_name": c.rule_name,
                    "step": STEPS.get(s.step, s.step),
                    "when": beijing_text(s.fire_at),
                    "to": "、".join(directory.people[p].name for p in people if p in directory.people)
                    or "（无人接收）",
                }
            )
    out.sort(key=lambda r: r["when"])
    return out[:limit]


def _local(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # the delivery log's timestamps come back naive (UTC) from SQLite
        moment = moment.replace(tzinfo=dt.UTC)
    return beijing_text(moment)


def delivery_rows(deliveries: list, inbox: dict) -> list[dict[str, Any]]:
    """Per notice and person: the external channel's state (已送达 with the channel / 送达失败 with the error /
    发送中) and the 站内消息 copy's (`inbox`: 已送达, or 已读 with the time; None when there is none).
    `inbox` is store.inbox.read_state_for_item: (key, person) -> read_at."""
    from activities.notify import INBOX_CHANNEL
    from domain.labels import INBOX_STATES, STEPS

    directory = engine().directory
    out = []
    for d in deliveries:
        only_inbox = d.channel_used == INBOX_CHANNEL
        has_copy = (d.key, d.person) in inbox
        read_at = inbox.get((d.key, d.person))
        out.append(
            {
                "step": STEPS.get(d.step, d.step),
                "to": directory.people[d.person].name if d.person in directory.people else d.person,
                # the external channel's part; an inbox-only delivery has none
                "state": None if only_inbox else d.state,
                "when": _local(d.sent_at or d.created_at),
                "channel": "" if only_inbox else (d.channel_used or ""),
                "error": split_error(d.error)[0],
                "error_detail": split_error(d.error)[1],  # Apprise's original text: the grey detail
                "inbox": (INBOX_STATES["read"] if read_at else INBOX_STATES["unread"]) if has_copy else None,
                "inbox_read": bool(read_at),
                "read_when": _local(read_at) if read_at else "",
            }
        )
    return out


def item_extras(item: Any, role: str) -> dict[str, Any]:
    """`role`: the viewer's role (which buttons and the 督办 form they get)."""
    from services.urge import REPLIERS, item_urges
    from store.db import session
    from store.deliveries import deliveries_for_item
    from store.inbox import read_state_for_item

    with session() as s:
        deliveries = deliveries_for_item(s, item.id)
        inbox = read_state_for_item(s, item.id)
    sent = delivery_rows(deliveries, inbox)
    return {
        "actions": actions_for(item) if role in WRITERS else [],
        "upcoming": upcoming_reminders(item, deliveries),
        "sent": sent,
        "urges": item_urges(item.id),
        "can_urge": role in URGERS,
        "may_reply": role in REPLIERS,  # the department's own liaison or head (the page is already scoped)
    }
