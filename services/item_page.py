"""What the item page shows around an item: the actions valid in its state, the reminders still to come,
the notices sent and the 督办 notes. Read-only; the forms that act are in app.pages_actions.

`item` is the read model's ItemView (duck-typed here: services do not import app)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.engine import engine
from domain.shanghai import SHANGHAI_OFFSET, today

WRITERS = ("liaison", "supervisor", "admin")
URGERS = ("supervisor", "admin")


def receipt_actions(item: Any) -> list[tuple[str, str]]:
    """Receipt and lawful-delay events valid now (issue 17 §5; the workflow checks them again)."""
    reply = next((c for c in item.clocks if c.rule == "request_reply"), None)
    if reply is None:
        return []
    codes = {f.code for f in item.flags}
    if reply.state == "awaiting_contact":
        return [("恢复联络", "request.contact_restored")]
    out: list[tuple[str, str]] = []
    if "fee_pending" in codes:
        out.append(("登记缴费", "request.fee_paid"))
    elif reply.state == "open" and "fee_paused" not in codes:
        out.append(("收费通知", "request.fee_notified"))
    if reply.state == "open" and "reply_delayed" not in codes:
        out.append(("延迟答复（第三十五条）", "request.reply_delayed"))
    return out


def actions_for(item: Any) -> list[tuple[str, str]]:
    """(button label, event type) valid in the item's current state."""
    clocks = {c.rule: c for c in item.clocks}
    live = {r for r, c in clocks.items() if c.state in ("open", "paused")}
    out: list[tuple[str, str]] = []
    t = item.type
    if t == "document":
        if "policy_publication" in live:
            out.append(("登记公开", "document.published"))
        if "policy_interpretation" in live:
            out.append(("登记解读", "interpretation.published"))
        elif "policy_publication" not in live and item.state != "closed":
            out.append(("登记解读", "interpretation.published"))
        out.append(("废止", "document.repealed"))
    elif t == "request":
        reply = clocks.get("request_reply")
        fee_pending = any(f.code == "fee_pending" for f in item.flags)
        if reply and reply.state == "awaiting_contact":  # 207号 一.2: nothing runs until contact is restored
            out += receipt_actions(item) + [("撤回", "request.withdrawn")]
        elif reply and reply.state in ("open", "paused"):
            consulting = bool(
                {"third_party_opinion", "agency_opinion"} & {r for r, c in clocks.items() if c.state == "open"}
            )
            if reply.state == "open":
                notice = clocks.get("correction_notice")
                if notice and notice.state == "open" and (notice.due or "")[:10] >= today().isoformat():
                    out.append(("告知补正", "request.correction_requested"))
                out += [("征求意见", "request.consultation_started"), ("延期", "request.extended")]
            elif consulting:
                out.append(("收到意见", "request.consultation_ended"))
            elif not fee_pending:  # paused by a fee notice, not stopped for a correction
                out.append(("收到补正", "request.corrected"))
            if reply.state == "open" or consulting:
                out.append(("答复", "request.replied"))
            out += receipt_actions(item)  # after the everyday actions: these are the rare ones
            out.append(("撤回", "request.withdrawn"))
        else:
            out += [
                ("申请行政复议", "review.filed"),
                ("复议决定", "review.decided"),
                ("提起行政诉讼", "litigation.filed"),
                ("诉讼判决", "litigation.decided"),
            ]
    elif t == "opinion" and live:
        out += [
            ("发布权威信息", "opinion.info_released"),
            ("召开新闻发布会", "opinion.press_conference"),
            ("回应舆情", "opinion.responded"),
        ]
    elif t == "budget" and live:
        out.append(("登记公开", "budget.published"))
    elif t == "annual_report" and live:
        out.append(("登记公布", "annual_report.published"))
    return out


def upcoming_reminders(item: Any, deliveries: list, limit: int = 6) -> list[dict[str, Any]]:
    """The next ladder steps of the item's open clocks: step, when, to whom."""
    from activities.clocks import PlanRequest, _plan
    from activities.notify import recipients
    from domain.labels import STEPS
    from domain.shanghai import SHANGHAI

    directory = engine().directory
    now = dt.datetime.now(SHANGHAI).isoformat()
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
                    "when": s.fire_at[:16].replace("T", " "),
                    "to": "、".join(directory.people[p].name for p in people if p in directory.people)
                    or "（无人接收）",
                }
            )
    out.sort(key=lambda r: r["when"])
    return out[:limit]


def _local(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # the delivery log's timestamps come back naive (UTC) from SQLite
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI_OFFSET).strftime("%Y-%m-%d %H:%M")


def item_extras(item: Any, role: str) -> dict[str, Any]:
    """`role`: the viewer's role (which buttons and the 督办 form they get)."""
    from sqlmodel import col, select

    from domain.labels import STEPS
    from store.accounts import urges_for_item
    from store.db import session
    from store.deliveries import Delivery

    directory = engine().directory
    with session() as s:
        deliveries = list(
            s.exec(select(Delivery).where(Delivery.item_id == item.id).order_by(col(Delivery.created_at))).all()
        )
        urges = urges_for_item(s, item.id)
    sent = [
        {
            "step": STEPS.get(d.step, d.step),
            "to": directory.people[d.person].name if d.person in directory.people else d.person,
            "state": d.state,
            "when": _local(d.sent_at or d.created_at),
            "channel": d.channel_used or "",
            "error": d.error or "",
        }
        for d in deliveries
    ]
    return {
        "actions": actions_for(item) if role in WRITERS else [],
        "upcoming": upcoming_reminders(item, deliveries),
        "sent": sent,
        "urges": urges,
        "can_urge": role in URGERS,
    }
