"""The item's checks and transitions as pure functions over `ItemState` (no Temporal, no I/O).

`check` says whether an event can be accepted (the `apply` Update's validator calls it, so a refused event
never reaches history); `transition` changes the state and returns the clocks whose due dates must be
(re)computed. Computing them (calendar data) stays in activities; sending reminders in the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.clock_specs import ExtensionSpec, PauseSpec
from domain.clocks import FEE_PAUSE_REASON
from domain.events import ENGINE_ONLY, ITEM_TYPE, RECORD_ONLY, STARTS, Event, future_fact
from domain.item_state import CONFLICT, ClockData, ItemState, Refusal, RuleMeta
from domain.labels import EVENT_TYPES, RECORDERS
from domain.review import DEPENDENT_REASON, HELD_ROLES, holds_clock, late_entry_reason, registration_lag

# After a correction's respond_by passes (or a window was imported already past), wait this long for a
# late-arriving import line first.
GRACE = timedelta(hours=1)
# Receipt and lawful-delay events (§5): handled by `receipt_transition`, not by rule data.
UNREACHABLE, RESTORED = "request.applicant_unreachable", "request.contact_restored"
FEE_NOTIFIED, FEE_PAID, DELAYED = "request.fee_notified", "request.fee_paid", "request.reply_delayed"
RECEIPT_EVENTS = (UNREACHABLE, RESTORED, FEE_NOTIFIED, FEE_PAID, DELAYED)
AWAITING = "awaiting_contact"  # a clock waiting for contact with the applicant (207号 一.2): not running
FEE = "fee"  # the kind of a fee notice's pause (a consultation's end never ends it)
CLOSE_NAMES = {
    "request.withdrawn": "申请人撤回申请",
    "document.repealed": "文件废止",
    "request.abandoned": "视为放弃申请",
    "column.closed": "栏目关闭",
}


# ---------------------------------------------------------------- small reads
def clock(st: ItemState, rule: str) -> ClockData | None:
    return next((c for c in st.clocks if c.rule == rule), None)


def window_kind(meta: RuleMeta) -> str | None:
    """The consultation kind a window rule belongs to (its `when.with`), None for other rules."""
    kinds = meta.when.get("with") or []
    return kinds[0] if len(kinds) == 1 else None


def same_kind(a: str | None, b: str | None) -> bool:
    """Pauses recorded before consultations had kinds (None) match any consultation."""
    return a is None or b is None or a == b


def after_due(on: str, c: ClockData) -> bool:
    if not c.due or not c.due_instant:
        return False  # paused or waiting for a correction: no due date to be late against
    if len(on) <= 10:
        return on > c.due[:10]
    return datetime.fromisoformat(on) > datetime.fromisoformat(c.due_instant)


def pause_reason(ev: Event) -> str:
    return {"third_party": "征求第三方意见", "agency": "征求其他机关意见"}.get(ev.data.get("with", ""), "中止计算")


def windows_opened_by(st: ItemState, event_type: str | None) -> list[ClockData]:
    return [c for c in st.clocks if (m := st.rules.get(c.rule)) and m.lapses and m.start_event == event_type]


def open_consultations(st: ItemState) -> set[str | None]:
    return {p.kind for c in st.clocks for p in c.pauses if p.end is None and p.kind != FEE}


def receipt_clocks(st: ItemState) -> list[ClockData]:
    """The clocks a request's receipt starts (reply, correction notice window)."""
    return [c for c in st.clocks if (m := st.rules.get(c.rule)) and m.start_event == "request.received"]


def reply_clock(st: ItemState) -> ClockData | None:
    """The request's reply clock: started by the receipt, an obligation (not a window, not a pre-deadline
    counted back from it)."""
    return next(
        (c for c in receipt_clocks(st) if not st.rules[c.rule].lapses and not st.rules[c.rule].counted_back_from),
        None,
    )


def with_pre_deadlines(st: ItemState, c: ClockData | None) -> list[ClockData]:
    """`c` and the live backward pre-deadlines counted back from it (they move when it moves)."""
    if c is None:
        return []
    pre = [k for k in st.clocks if (m := st.rules.get(k.rule)) and m.counted_back_from == c.rule and k.live]
    return [c, *pre]


def ended_kind(st: ItemState, ev: Event) -> str | None:
    """Which consultation a `request.consultation_ended` ends: its `with`, else the only one open."""
    if ev.type != "request.consultation_ended":
        return None
    if ev.data.get("with"):
        return ev.data["with"]
    kinds = open_consultations(st)
    if len(kinds) == 1:
        return next(iter(kinds))
    live = {window_kind(st.rules[c.rule]) for c in windows_opened_by(st, "request.consultation_started") if c.live}
    return next(iter(live)) if len(live) == 1 else None


def lapsing(st: ItemState) -> list[ClockData]:
    return [c for c in st.clocks if c.state == "open" and c.due_instant and (m := st.rules.get(c.rule)) and m.lapses]


def lapse_at(c: ClockData) -> datetime:
    """When a window closes: its due instant, but for a window imported already past, only after a
    grace period, so that a bulk import's next lines (e.g. the consultation's end) arrive first."""
    due = datetime.fromisoformat(c.due_instant or "")
    if c.computed_at:
        return max(due, datetime.fromisoformat(c.computed_at) + GRACE)
    return due


def next_wake(st: ItemState, *, skip_swept: bool = False) -> datetime | None:
    """The next instant the item's workflow must wake (`skip_swept`: the daily sweep sends those steps)."""
    moments = [
        datetime.fromisoformat(s.fire_at)
        for c in st.clocks
        if c.state == "open"
        for s in c.plan
        if not (skip_swept and s.swept)
    ]
    moments += [lapse_at(c) for c in lapsing(st)]
    if st.abandon_at and not correction_held(st):
        moments.append(datetime.fromisoformat(st.abandon_at))
    return min(moments) if moments else None


def correction_held(st: ItemState) -> bool:
    """A correction received (a restart event) waits for review: the request is not abandoned for want of
    it until a supervisor has decided (rejected, it is abandoned as of its correction deadline)."""
    restarts = {m.restart for m in st.rules.values() if m.restart}
    return any(e.type in restarts for e in st.held_events.values())


def refresh_state(st: ItemState) -> None:
    if st.state not in ("open", "new"):
        return
    if not st.clocks:
        st.state = "recorded"  # e.g. a withheld document: recorded without a clock
    elif all(not c.live for c in st.clocks if not supervisor_window(st, c)):
        # An appeal window (audience = "supervisor") is the applicant's time, not the department's duty: the
        # item is done once its own clocks are; the window stays in the store for the supervisor's list.
        st.state = "closed"


def supervisor_window(st: ItemState, c: ClockData) -> bool:
    meta = st.rules.get(c.rule)
    return meta is not None and meta.audience == "supervisor"


def close_all(st: ItemState) -> None:
    for c in st.clocks:
        if c.live:
            c.state, c.plan = "closed", []


def record_only(st: ItemState, ev: Event) -> bool:
    """An event kept as a fact with no clock: a withheld document published later."""
    return st.type == "document" and ev.type == "document.published" and st.data.get("disclosure") == "withheld"


# ---------------------------------------------------------------- identity of an event id
def known(st: ItemState, ev: Event) -> str | None:
    """ "duplicate" (or "held") for an id seen with the same content; raises on other content; None if new."""
    seen = st.applied.get(ev.event_id)
    if seen is None:
        return None
    if seen and seen != ev.content_hash:
        raise Refusal("event_id", CONFLICT)
    return "held" if ev.event_id in st.held_events else "duplicate"


# ---------------------------------------------------------------- checks (no side effects)
def check(st: ItemState, ev: Event, today: date | None = None, strict: bool = True) -> None:
    """`today`: the Shanghai date the event is recorded on, by the workflow's clock (a fact dated after it
    is refused); None skips that check (a held entry being approved was checked when it arrived).
    `strict`: also the checks of #17 §4 (extension approver and notice, consultation after the due date,
    abandonment without a correction notice); False only where a run recorded before them replays."""
    if known(st, ev):
        return
    scope = ev.recorded.scope if ev.recorded else None
    if scope and st.department != scope:  # the item's own department decides (services.access)
        raise Refusal("department", f"编号 {st.id} 是其他部门的事项：只能登记本部门的事件，未作任何改动")
    if today is not None and (future := future_fact(ev, today)):
        raise Refusal(*future)
    if ev.type in STARTS:
        if st.version:
            raise Refusal("type", f"事项 {st.id} 已存在，不能重复登记（{ev.type}）")
        return
    if not st.version:
        raise Refusal("type", f"未知事项 {ev.item_id}：须先登记起始事件")
    start_on = st.data.get("start_on")
    if start_on and ev.on < start_on[: len(ev.on)]:
        raise Refusal(ev.date_field, f"{ev.type} 的日期 {ev.on} 早于事项起算日 {start_on}")
    if st.state not in ("open", "new") and ev.type not in RECORD_ONLY and not record_only(st, ev):
        raise Refusal("type", f"事项已结束（{st.state}），不能再接受 {ev.type}")
    if st.type == "request":
        check_receipt(st, ev)
    for c in st.clocks:
        meta = st.rules.get(c.rule)
        if meta and ev.type == meta.extension_event and not meta.counted_back_from:
            check_extension(ev, c, meta)  # judged on the statutory clock; its pre-deadline follows it
            if strict and st.type == "request":  # 条例第三十三条第二款; a hotline ticket's extension states its reason
                check_extension_approval(ev, c)
    {"document": check_document, "request": check_request}.get(st.type, check_clocks)(st, ev)
    if ev.type == PROPOSAL_EXTENDED:
        check_proposal_extension(st, ev)
    check_minimum(st, ev)
    if strict and st.type == "request":
        check_request_s17(st, ev)


URGENT_REASON = "urgent_reason"


def early_close(st: ItemState, ev: Event) -> list[tuple[ClockData, RuleMeta]]:
    """The minimum windows (不少于 N 日) `ev` would close on or before their last day."""
    out = []
    for c in st.clocks:
        meta = st.rules.get(c.rule)
        if meta and meta.minimum and c.live and c.due and ev.type in meta.met_by and ev.on[:10] <= c.due[:10]:
            out.append((c, meta))
    return out


def check_minimum(st: ItemState, ev: Event) -> None:
    """A minimum window closes only after its last day; earlier only where the rule allows a shorter window
    and the event states why (重大行政决策程序暂行条例: 因情况紧急等原因需要缩短期限的…予以说明). One place:
    the API, a form, a ledger import and a held entry's approval all reach the item through `check`."""
    for c, meta in early_close(st, ev):
        due = c.due[:10] if c.due else ""
        if meta.shorter_allowed and str(ev.data.get(URGENT_REASON) or "").strip():
            continue
        text = f"征求意见期{meta.limit or '有最短期限'}，须在 {due} 之后结束（{meta.name}）"
        if meta.shorter_allowed:
            text += f"；因情况紧急等原因需要缩短的，请在 {URGENT_REASON}（缩短理由）中说明"
        raise Refusal(ev.date_field, text)


# ---------------------------------------------------------------- what the item accepts now
def candidate_events(st: ItemState) -> list[str]:
    """The event types the item's rules route (meets, closes, pauses, resumes, stops, restarts,
    extensions, windows started by a later event), its receipt events and its record-only ones."""
    out: list[str] = []
    for m in st.rules.values():
        out += [m.start_event, *m.met_by, *m.closed_by]
        out += [e for e in (m.pause, m.resume, m.stop, m.restart, m.extension_event) if e]
    if st.type == "request":
        out += RECEIPT_EVENTS
    if st.type == "proposal":
        out.append(PROPOSAL_EXTENDED)
    out += [t for t in sorted(RECORD_ONLY) if ITEM_TYPE.get(t.split(".")[0]) == st.type]
    return [t for t in dict.fromkeys(out) if t not in STARTS and t not in ENGINE_ONLY]


def probe(st: ItemState, event_type: str, today: date, **data: object) -> Event:
    """A minimal event of `event_type` dated `today`, as a form would send it by default."""
    day = today.isoformat()
    base = {"working_days": 1, "approved_by": "(probe)", "notified_on": day, "reply_by": "9999-12-31"}
    return Event.model_construct(
        event_id="(probe)",
        type=event_type,
        item_id=st.id,
        item_type=st.type,
        department=st.department,
        on=day,
        data={**base, **data},
        content_hash="",
        recorded=None,
        applicant_key=None,
    )


def probes(st: ItemState, event_type: str, today: date) -> list[Event]:
    """The probes of `event_type`: one per consultation kind where the form asks which (`with`)."""
    if event_type == "request.consultation_started":
        kinds = sorted({k for m in st.rules.values() if m.start_event == event_type and (k := window_kind(m))})
    elif event_type == "request.consultation_ended":
        kinds = sorted(k for k in open_consultations(st) if k)
    else:
        kinds = []
    return [probe(st, event_type, today, **{"with": k}) for k in kinds] or [probe(st, event_type, today)]


def accepted_events(st: ItemState, today: date, strict: bool = True) -> list[str]:
    """The event types the item accepts today: each candidate that `check` (the workflow's validator)
    lets through when dated today (for one of the consultation kinds, where the form asks which)."""
    out = []
    for t in candidate_events(st):
        for ev in probes(st, t, today):
            try:
                check(st, ev, today, strict=strict)
            except Refusal:
                continue
            out.append(t)
            break
    return out


def check_extension(ev: Event, c: ClockData, meta: RuleMeta) -> None:
    if not c.live:
        raise Refusal("type", f"{meta.name}时限已结束，不能延期")
    if c.stopped:
        raise Refusal("on", "待申请人补正期间不能延期")
    cap = meta.extension_cap(c.restarted_from or c.start)  # the edition of the original receipt
    if cap is None:
        raise Refusal("type", f"{meta.name}不允许延期")
    max_days, max_times = cap
    if len(c.extensions) >= max_times:
        raise Refusal("type", f"{meta.name}只能延期 {max_times} 次，已于 {c.extensions[0].on} 延期")
    if ev.data["working_days"] + sum(e.working_days for e in c.extensions) > max_days:
        raise Refusal("working_days", f"延期最长不得超过 {max_days} 个工作日")
    if c.due and ev.on > c.due[:10]:
        raise Refusal("on", f"延期须在答复期限届满前决定：当前期限 {c.due}，延期决定日 {ev.on}")


# ---------------------------------------------------------------- proposals: the 交办机关's longer period
PROPOSAL_EXTENDED = "proposal.extended"
PROPOSAL_START = "proposal.assigned"


def regular_proposal_clock(st: ItemState) -> ClockData | None:
    """The proposal's live regular-period clock (a rule started at assignment for complex = false)."""
    for c in st.clocks:
        meta = st.rules.get(c.rule)
        if meta and meta.start_event == PROPOSAL_START and meta.when.get("complex") == [False] and c.live:
            return c
    return None


def check_proposal_extension(st: ItemState, ev: Event) -> None:
    """国办办法 “涉及面广、处理难度大的，应在6个月内答复”; 四川 “经省政府办公厅同意…至迟不超过6个月”: the longer
    period is the 交办机关's decision — approved by someone other than its recorder, before the regular
    period runs out (like 条例第三十三条's extension, check_extension_approval)."""
    approver = str(ev.data.get("approved_by") or "").strip()
    recorder = ev.recorded.by if ev.recorded else None
    if recorder and approver == recorder:
        raise Refusal("approved_by", f"同意人 {approver} 是登记人本人：延长办理期限须经交办机关同意，不能自己批准")
    if st.data.get("proposal_extended"):
        raise Refusal("type", f"已于 {st.data['proposal_extended']['on']} 经同意延长办理期限，不能再次延长")
    c = regular_proposal_clock(st)
    if c is None:
        raise Refusal("type", "没有进行中的办理期限（已答复或已结束），不能延长")
    if c.due and ev.on[:10] > c.due[:10]:
        raise Refusal(
            ev.date_field,
            f"延长须在办理期限届满前经交办机关同意：当前期限 {c.due[:10]}，同意日期 {ev.on[:10]}（已逾期）",
        )


def extend_proposal(st: ItemState, ev: Event, out: Touched) -> Touched:
    """The regular period gives way to the longer one, counted from the same assignment day; flagged."""
    on = ev.on[:10]
    flag = {"on": on, "approved_by": ev.data.get("approved_by"), "reason": ev.data.get("reason")}
    st.data["complex"], st.data["complex_reason"], st.data["proposal_extended"] = True, flag["reason"], flag
    facts = dict(st.data)
    start = str(st.data.get("start_on") or on)[:10]
    note = f"{on} 经交办机关同意延长办理期限（同意人：{flag['approved_by']}；理由：{flag['reason']}）"
    for meta in st.rules.values():
        if meta.start_event != PROPOSAL_START:
            continue
        c = clock(st, meta.id)
        if c is not None and c.live and not meta.applies(facts):
            c.state, c.plan = "closed", []
            c.explanation = {**c.explanation, "notes": [*c.explanation.get("notes", []), f"{note}，本期限不再适用"]}
        elif c is None and meta.applies(facts) and not (meta.since and start < meta.since):
            fresh = ClockData(rule=meta.id, start=start, region=st.region, note=note)
            st.clocks.append(fresh)
            out.clocks.append(fresh)
    return out


def check_extension_approval(ev: Event, c: ClockData) -> None:
    """条例第三十三条第二款 “经政府信息公开工作机构负责人同意并告知申请人”: someone other than the recorder
    approved it (the directory role is checked by the ingest path), and the applicant was told in time."""
    approver = str(ev.data.get("approved_by") or "")
    recorder = ev.recorded.by if ev.recorded else None
    if recorder and approver == recorder:
        raise Refusal("approved_by", f"批准人 {approver} 是登记人本人：延期须经负责人同意，不能自己批准自己登记的延期")
    notified = ev.data.get("notified_on")
    if not notified:
        raise Refusal("notified_on", "延期须告知申请人（条例第三十三条第二款）：请填写“告知申请人日期”，未作任何改动")
    if notified < ev.on[:10]:
        raise Refusal("notified_on", f"告知申请人日期 {notified} 早于延期决定日期 {ev.on[:10]}")
    if c.due and notified > c.due[:10]:
        raise Refusal(
            "notified_on", f"延期须在答复期限届满前告知申请人：当前期限 {c.due[:10]}，告知日期 {notified}（已逾期）"
        )


def check_request_s17(st: ItemState, ev: Event) -> None:
    reply = clock(st, "request_reply")
    if ev.type == "request.consultation_started" and reply is not None and reply.live and after_due(ev.on, reply):
        raise Refusal(
            "on",
            f"征求意见须在答复期限届满前开始：当前期限 {(reply.due or '')[:10]}，征求意见日期 {ev.on[:10]}"
            "（期限已过，征求意见不能再中止计算）",
        )
    if ev.type == "request.replied" and ev.data.get("outcome") == "other.no_correction":
        corr = st.data.get("correction") or {}
        respond_by = corr.get("respond_by") or st.data.get("respond_by")
        if not respond_by:
            raise Refusal(
                "outcome",
                "“逾期不补正”须先登记补正告知（含补正期限）（条例第三十条）",
            )
        if ev.on[:10] <= respond_by:
            raise Refusal("outcome", f"补正期限 {respond_by} 尚未届满，不能按逾期不补正办结（答复日期 {ev.on[:10]}）")


def note_consultation(st: ItemState, ev: Event, c: ClockData) -> None:
    """Keep each consultation of a request with the due date it paused (flags and counts read it)."""
    seen = st.data.setdefault("consultations", [])
    if any(x.get("event_id") == ev.event_id for x in seen):
        return
    seen.append({"event_id": ev.event_id, "on": ev.on[:10], "with": ev.data.get("with"), "due_before": c.due})


def check_receipt(st: ItemState, ev: Event) -> None:
    """Unreachable applicant (207号 一.2), fee notice (109号), later reply date (条例第三十五条)."""
    d = st.data
    waiting = any(c.state == AWAITING for c in st.clocks)
    if waiting and ev.type not in (RESTORED, "request.withdrawn"):
        raise Refusal(
            "type",
            f"申请人尚未联系上（{d.get('unreachable', {}).get('since')} 起），期限尚未起算：请先登记“恢复联络”",
        )
    reply = reply_clock(st)
    if ev.type == UNREACHABLE:
        rec = d.get("receipt") or {}
        if not rec.get("unreachable_allowed"):
            raise Refusal(
                "type",
                f"{rec.get('channel_name', '该渠道')}的申请不适用“无法联系申请人”（国办公开办函〔2015〕207号 一.2 只适用于平信等无需签收的邮寄申请）",
            )
        if d.get("confirmed_on"):
            raise Refusal("type", f"已于 {d['confirmed_on']} 与申请人确认收到申请，不能登记无法联系")
        if len(st.applied) > 1 or d.get("unreachable"):
            raise Refusal("type", "申请已开始办理，不能再登记无法联系申请人")
        # Decided: the attempt to reach the applicant belongs to the first days (the 7-working-day notice
        # window of 第三十条); recorded later it would restart a clock that has been running.
        notice = clock(st, "correction_notice")
        if notice is not None and notice.due and ev.on[:10] > notice.due[:10]:
            raise Refusal(
                "on",
                f"“无法联系申请人”须在收到申请后 7 个工作日内（{notice.due[:10]} 前）登记，登记日期 {ev.on[:10]} 已晚："
                "期限已经起算，不能再重新起算",
            )
    if ev.type == RESTORED:
        if not waiting:
            raise Refusal("type", "申请未处于“无法联系申请人”状态，不能登记恢复联络")
        if ev.on < d["unreachable"]["since"]:
            raise Refusal("on", f"恢复联络日期 {ev.on} 早于登记无法联系的日期 {d['unreachable']['since']}")
    if ev.type in (FEE_NOTIFIED, FEE_PAID, DELAYED):
        if reply is None or not reply.live:
            raise Refusal("type", "答复时限已结束")
        if reply.stopped:
            raise Refusal("type", "待申请人补正期间不能登记此事项")
    fee_open = bool(reply and any(p.kind == FEE and p.end is None for p in reply.pauses))
    if fee_open and ev.type == "request.correction_requested":
        raise Refusal("type", f"已于 {d.get('fee', {}).get('notified_on')} 发出收费通知，尚未缴费：不能再告知补正")
    if ev.type == FEE_NOTIFIED:
        if fee_open:
            raise Refusal("type", f"已于 {d.get('fee', {}).get('notified_on')} 发出收费通知，尚未缴费")
        if reply and reply.due and ev.on > reply.due[:10]:
            raise Refusal(
                "on", f"收费通知须在答复期限内发出：当前期限 {reply.due}，通知日 {ev.on}（国办函〔2020〕109号）"
            )
    if ev.type == FEE_PAID:
        if not fee_open:
            raise Refusal("type", "未发出收费通知（或已缴费），不能登记缴费")
        if ev.on < d["fee"]["notified_on"]:
            raise Refusal("on", f"缴费日期 {ev.on} 早于收费通知日期 {d['fee']['notified_on']}")
    if ev.type == DELAYED and reply is not None:
        if reply.delayed_to:
            raise Refusal("type", f"已按条例第三十五条确定延迟答复期限（{reply.delayed_to}），不能再次延迟")
        if reply.due and ev.on > reply.due[:10]:
            raise Refusal("on", f"延迟答复须在答复期限届满前决定并告知：当前期限 {reply.due}，决定日 {ev.on}")
        if reply.due and ev.data["notified_on"] > reply.due[:10]:
            raise Refusal("notified_on", f"告知申请人的日期 {ev.data['notified_on']} 晚于当前答复期限 {reply.due}")
        if reply.due and ev.data["reply_by"] <= reply.due[:10]:
            raise Refusal("reply_by", f"延迟答复期限 {ev.data['reply_by']} 不晚于当前答复期限 {reply.due}，无需延迟")


def check_document(st: ItemState, ev: Event) -> None:
    d = st.data
    if ev.type == "document.published":
        if d.get("document.published.published_on"):
            raise Refusal("type", f"文件已于 {d['document.published.published_on']} 公开，不能重复公开")
        if ev.on < d.get("signed_on", ""):
            raise Refusal("published_on", f"公开日期 {ev.on} 早于成文日期 {d['signed_on']}")
    if ev.type == "interpretation.published" and not d.get("document.published.published_on"):
        raise Refusal("type", "文件尚未公开：请先登记 document.published")


def check_request(st: ItemState, ev: Event) -> None:
    d = st.data
    reply = clock(st, "request_reply")
    if ev.type in ("request.replied", "request.answered_on_the_spot") and d.get("outcome"):
        raise Refusal("type", f"申请已答复（{d['outcome']}），不能重复答复")
    if ev.type == "request.correction_requested":
        if reply and reply.stopped:
            raise Refusal("type", "已告知补正，等待申请人补正中")
        window = clock(st, "correction_notice")
        if window is not None and window.state == "met":
            raise Refusal("type", f"已于 {window.met_on} 一次性告知补正，不能再次要求补正（条例第三十条）")
        if window is not None and (not window.live or (window.due and ev.on > window.due)):
            raise Refusal("on", f"补正告知须在收到申请之日起7个工作日内（{window.due} 前）作出（条例第三十条）")
    if ev.type == "request.corrected" and not (reply and reply.stopped):
        raise Refusal("type", "未告知补正，不能登记补正")
    if ev.type == "request.corrected" and reply and reply.stopped_on and ev.on < reply.stopped_on:
        raise Refusal("on", f"补正日期 {ev.on} 早于告知补正日期 {reply.stopped_on}")
    if ev.type == "request.answered_on_the_spot" and ev.on[:10] != d.get("start_on", ev.on)[:10]:
        raise Refusal(
            "on",
            f"当场答复须在收到申请当日（{d.get('start_on')}）作出；{ev.on} 作出的答复"
            f"请登记为 request.replied（并计入答复期限）",
        )
    kinds = open_consultations(st)
    if ev.type == "request.consultation_started" and (None in kinds or ev.data.get("with") in kinds):
        raise Refusal(
            "type" if None in kinds else "with",
            "已处于征求意见状态" if None in kinds else f"已处于{pause_reason(ev)}状态",
        )
    consulted = any(
        st.rules.get(c.rule) and st.rules[c.rule].start_event == "request.consultation_started" for c in st.clocks
    )
    if ev.type == "request.consultation_ended" and not consulted:
        raise Refusal("type", "未处于征求意见状态，不能结束征求意见")
    if ev.type == "request.consultation_ended" and not ev.data.get("with") and len(kinds) > 1:
        raise Refusal(
            "with", "征求第三方意见与征求其他机关意见同时进行中：请用 with（third_party / agency）注明结束的是哪一项"
        )


def check_clocks(st: ItemState, ev: Event) -> None:
    metas = [m for m in st.rules.values() if ev.type in m.met_by]
    if not metas:
        return
    for m in metas:
        current = clock(st, m.id)
        if m.recurring and current is not None and current.live and ev.on[:10] < current.start[:10]:
            raise Refusal(
                ev.date_field, f"更新日期 {ev.on[:10]} 早于本期起算日 {current.start[:10]}（上一次更新或登记之日）"
            )
    clocks = [c for c in st.clocks if c.rule in {m.id for m in metas}]
    if clocks and all(not c.live for c in clocks):
        raise Refusal("type", f"{ev.type}：对应时限已履行或已结束")


def late_reason(st: ItemState, ev: Event, *, restart: bool = False) -> str | None:
    """Why `ev` must wait for review (补录), or None. The ingest path measured how late it was recorded
    (working days); here only dates are compared. `restart`: a late restart (request.corrected) is held
    too (a workflow version: runs recorded before it applied such an entry)."""
    rec = ev.recorded
    if rec is None or rec.role not in HELD_ROLES:
        return None
    touches, extension_dues = False, []
    reply = reply_clock(st) if st.type == "request" else None
    if ev.type in (FEE_NOTIFIED, DELAYED, UNREACHABLE) and reply is not None and reply.live:
        # They pause, stop or lengthen the reply clock: recorded late they could hide lateness (§5).
        if ev.type == DELAYED and reply.due and rec.on > reply.due[:10]:
            return (
                f"延迟答复于 {rec.on} 才登记，已过当前答复期限 {reply.due[:10]}（条例第三十五条：须在期限内确定并告知），"
                f"由 {rec.by or RECORDERS.get(rec.role, rec.role)} 补录，须督查审核"
            )
        touches = True
    for c in st.clocks:
        meta = st.rules.get(c.rule)
        if meta and meta.counted_back_from:
            continue  # a pre-deadline follows its statutory clock: judged by that clock's due date
        if not (
            meta
            and c.live
            and holds_clock(
                ev.type,
                met_by=meta.met_by,
                closed_by=meta.closed_by,
                pause=meta.pause,
                stop=meta.stop,
                extension_event=meta.extension_event,
                lapses=meta.lapses,
                restart=meta.restart if restart else None,
            )
        ):
            continue
        touches = True
        if ev.type == meta.extension_event and c.due:
            extension_dues.append(c.due)
    return late_entry_reason(rec, ev.on, extension_dues=extension_dues) if touches else None


# ---------------------------------------------------------------- transitions
@dataclass
class Touched:
    """What a transition leaves to compute: clocks to (re)compute, clocks closed after their due date."""

    clocks: list[ClockData] = field(default_factory=list)
    closed_late: list[ClockData] = field(default_factory=list)
    finished: list[ClockData] = field(default_factory=list)  # periods of recurring duties ended (count_periods)


def record_facts(st: ItemState, ev: Event) -> None:
    """Keep what later checks and reports need (e.g. publication date, outcome)."""
    keep = {"published_on", "outcome", "repealed_on", "url"}
    if ev.type == "column.updated":  # the column's own address stays; the update's page is kept apart
        keep = set()
        if ev.data.get("url"):
            st.data["last_update_url"] = ev.data["url"]
    for k in keep & ev.data.keys():
        st.data[f"{ev.type}.{k}" if k == "published_on" else k] = ev.data[k]


NOT_IN_FORCE = "该时限规则当时尚未施行"


def note_not_in_force(st: ItemState, meta: RuleMeta, on: str) -> None:
    """A start dated before the rule's source was in force gets no clock; the item says so (the page and
    the API show it as a flag), instead of silently having no such clock."""
    notes = [n for n in st.data.get("rules_not_in_force", []) if n.get("rule") != meta.id]
    notes.append({"rule": meta.id, "name": meta.name, "since": meta.since, "on": on, "note": NOT_IN_FORCE})
    st.data["rules_not_in_force"] = notes


def replaced_here(st: ItemState, ev: Event, facts: dict[str, Any]) -> set[str]:
    """The rules a variant stands in for on this start (rules.toml `replaces`): only where the variant itself
    applies to the facts, so a variant for some kinds leaves the national rule for the others."""
    return {m.replaces for m in st.rules.values() if m.replaces and ev.type == m.start_event and m.applies(facts)}


def transition(st: ItemState, ev: Event) -> Touched:
    """Apply an accepted event to the item's clocks (starts, meets, closes, pauses, stops, restarts,
    extends), by the rule data the item was started with."""
    out = Touched()
    if ev.type in STARTS:
        st.data.update({k: v for k, v in ev.data.items() if k not in ("event_id", "type", "recorded_by")})
        st.data["start_on"] = ev.on
        st.applicant_key = ev.applicant_key or st.applicant_key
        # Not held (that would stop the clock), but flagged 登记滞后 for the supervisor.
        if lag := registration_lag(ev.recorded, ev.event_id, ev.type, ev.on):
            st.data["registration_lag"] = lag
        st.title = ev.data.get("title") or ev.data.get("subject") or ev.data.get("name") or st.title
        st.state = "open"
    record_facts(st, ev)
    if ev.type in RECEIPT_EVENTS:
        return receipt_transition(st, ev, out)
    if ev.type == PROPOSAL_EXTENDED:
        return extend_proposal(st, ev, out)
    facts = {**st.data, **ev.data}
    ended = ended_kind(st, ev)
    replaced = replaced_here(st, ev, facts)
    for meta in st.rules.values():
        c = clock(st, meta.id)
        if meta.id in replaced:
            continue  # a variant (a province's, a node's) applies to these facts in its place
        if ev.type == meta.start_event and meta.applies(facts) and meta.since and ev.on[:10] < meta.since:
            note_not_in_force(st, meta, ev.on[:10])
            continue
        if ev.type == meta.start_event and meta.applies(facts):
            start = ev.on if meta.unit == "hours" else ev.on[:10]
            if meta.lapses and ev.data.get("delivered_on"):
                start = ev.data["delivered_on"]  # the window counts from the letter's receipt
            fresh = ClockData(rule=meta.id, start=start, region=st.region, period=1 if meta.recurring else 0)
            if ev.type == "request.received" and isinstance(ev.data.get("receipt"), dict):
                fresh.note = ev.data["receipt"].get("note")  # how the channel fixed the receipt date
            if c is None:
                st.clocks.append(fresh)
            else:
                st.clocks[st.clocks.index(c)] = fresh
            out.clocks.append(fresh)
            continue
        if c is None or not c.live:
            continue
        day = ev.on[:10]
        if ended and window_kind(meta) not in (None, ended):
            continue  # the other consultation's window: still running
        if ev.type in meta.met_by and meta.recurring:
            renew(st, meta, c, ev, out)
        elif ev.type in meta.met_by:
            # Met while suspended (waiting for a correction) or during a consultation: the time since
            # then did not run, so the suspension or pause ends on the day the duty was met.
            if c.stopped:
                c.pauses.append(PauseSpec(start=c.stopped_on or day, end=day, reason="待申请人补正"))
                c.stopped, c.stopped_on = False, None
            for p in c.pauses:
                if p.end is None:
                    p.end = day
            c.met_on = ev.on if meta.unit == "hours" else day
            if meta.minimum and c.due and day <= c.due[:10]:  # accepted by check_minimum: with its reason
                c.shortened_reason = str(ev.data.get(URGENT_REASON) or "").strip() or None
                st.data["window_shortened"] = {
                    "rule": meta.id,
                    "limit": meta.limit,
                    "closed_on": day,
                    "earliest": c.due[:10],
                    "reason": c.shortened_reason or "",
                }
            out.clocks.append(c)
        elif ev.type in meta.closed_by:
            if not meta.lapses and after_due(ev.on, c):
                # Withdrawn or repealed after the due date: late is late, up to the closing day.
                c.met_on = ev.on if meta.unit == "hours" else day
                out.closed_late.append(c)
                out.clocks.append(c)
                if meta.recurring:
                    out.finished.append(c)  # a column closed after its period lapsed: a late period
            else:
                c.state, c.plan = "closed", []
        elif ev.type == meta.pause:
            if st.type == "request" and not meta.counted_back_from:
                note_consultation(st, ev, c)
            c.pauses.append(PauseSpec(start=day, reason=pause_reason(ev), kind=ev.data.get("with")))
            out.clocks.append(c)
        elif ev.type == meta.resume:
            # A consultation answered after its window lapsed paused the clock only until that
            # window's last day, imported or live alike (the window's lapse ends the pause). Each
            # consultation ends at its own answer or its own window; another one may still run.
            window_ends = [
                w.due[:10]
                for w in windows_opened_by(st, meta.pause)
                if w.due and same_kind(ended, window_kind(st.rules[w.rule]))
            ]
            end = min([day, *window_ends])
            for p in c.pauses:
                if p.end is None and p.kind != FEE and same_kind(p.kind, ended):
                    p.end = max(end, p.start)
            out.clocks.append(c)
        elif ev.type == meta.stop:
            c.stopped, c.stopped_on, c.state, c.plan = True, day, "paused", []
            c.due = c.due_instant = None
            c.explanation = {
                **c.explanation,
                "due": None,
                "summary": f"{day} 已告知申请人补正，答复期限自收到补正申请之日起重新计算",
            }
        elif ev.type == meta.restart:
            old = c.start
            c.restarted_from, c.start = old, day
            c.pauses, c.extensions, c.stopped, c.fired = [], [], False, []
            c.stopped_on = c.last_overdue_at = None
            c.state = "open"
            out.clocks.append(c)
        elif ev.type == meta.extension_event:
            c.extensions.append(
                ExtensionSpec(
                    on=day,
                    working_days=int(ev.data["working_days"]),
                    reason=str(ev.data.get("reason", "")),
                    event_id=ev.event_id,
                )
            )
            out.clocks.append(c)
    return out


def receipt_transition(st: ItemState, ev: Event, out: Touched) -> Touched:
    day = ev.on[:10]
    d = st.data
    reply = reply_clock(st)
    if ev.type == UNREACHABLE:
        d["unreachable"] = {"since": day, "note": ev.data.get("note", "")}
        for c in receipt_clocks(st):
            if c.live:
                c.state, c.stopped, c.stopped_on, c.plan = AWAITING, True, day, []
                c.due = c.due_instant = None
                c.explanation = {
                    **c.explanation,
                    "due": None,
                    "summary": f"{day} 无法联系申请人，期限尚未起算：自恢复与申请人的联络之日起算"
                    f"（国办公开办函〔2015〕207号 一.2）",
                }
    elif ev.type == RESTORED:
        d["unreachable"] = {**d.get("unreachable", {}), "restored_on": day}
        since = d["unreachable"].get("since")
        for c in receipt_clocks(st):
            if c.state != AWAITING:
                continue
            fresh = ClockData(
                rule=c.rule,
                start=day,
                region=c.region,
                note=f"{since} 无法联系申请人，自恢复联络之日 {day} 起算期限（国办公开办函〔2015〕207号 一.2）",
            )
            st.clocks[st.clocks.index(c)] = fresh
            out.clocks.append(fresh)
    elif ev.type == FEE_NOTIFIED:
        d["fee"] = {"notified_on": day}
        for c in with_pre_deadlines(st, reply):
            c.pauses.append(PauseSpec(start=day, reason=f"{FEE_PAUSE_REASON}（{day} 发出收费通知）", kind=FEE))
            out.clocks.append(c)
    elif ev.type == FEE_PAID:
        d["fee"] = {**d.get("fee", {}), "paid_on": day}
        for c in with_pre_deadlines(st, reply):
            for p in c.pauses:
                if p.kind == FEE and p.end is None:
                    p.end = max(day, p.start)
            out.clocks.append(c)
    elif ev.type == DELAYED:
        d["reply_delayed"] = {
            "on": day,
            "reply_by": ev.data["reply_by"],
            "notified_on": ev.data["notified_on"],
            "reason": ev.data.get("reason", ""),
        }
        if reply is not None:
            d["reply_delayed"]["statutory_due"] = reply.due
            reply.delayed_to = ev.data["reply_by"]
            reply.delay_note = (
                f"{day} 依条例第三十五条确定延迟答复期限至 {ev.data['reply_by']}，{ev.data['notified_on']} 告知申请人；"
                f"理由：{ev.data.get('reason', '')}"
            )
            out.clocks.append(reply)
    return out


def note_closed_late(ev: Event, closed_late: list[ClockData]) -> None:
    for c in closed_late:
        c.explanation = {
            **c.explanation,
            "closed_late": True,
            "notes": [
                *c.explanation.get("notes", []),
                f"{ev.on[:10]} {CLOSE_NAMES.get(ev.type, ev.type)}，已过期限 {c.due}：按逾期计，"
                f"逾期 {c.lateness_working_days} 个工作日（期限届满后撤回或废止不能抵消逾期）",
            ],
        }


def pauses_ended_by_lapse(st: ItemState, window: ClockData) -> list[ClockData]:
    """A consultation window that lapses ends the pause it opened (条例第三十二条: the agency then
    decides; 第三十四条: deemed consent), so an unanswered consultation cannot stop a clock for ever.
    Only its own pause: another consultation still open keeps the clock paused. Returns the clocks to
    recompute."""
    meta = st.rules[window.rule]
    kind, day = window_kind(meta), window.due or ""
    out = []
    for other in st.clocks:
        m = st.rules.get(other.rule)
        if not (m and other.live and m.pause == meta.start_event):
            continue
        open_pauses = [p for p in other.pauses if p.end is None and p.kind != FEE and same_kind(p.kind, kind)]
        for p in open_pauses:
            p.end = day
        if open_pauses:
            out.append(other)
    return out


# The note of a window closed as lapsed (here, and in the store: activities.store.lapse_appeal_windows); a filing
# dated within the window, recorded after, removes it (store.clock_rows.close_windows).
LAPSE_NOTE = "{due} 期限届满，窗口关闭（不属逾期）"


def close_window(c: ClockData) -> None:
    c.state, c.plan = "closed", []
    note = LAPSE_NOTE.format(due=c.due)
    c.explanation = {**c.explanation, "notes": [*c.explanation.get("notes", []), note]}


def hold(st: ItemState, ev: Event, reason: str, depends_on: str | None = None) -> None:
    """Keep a late entry (补录) aside: until a supervisor approves it the clocks ignore it. `depends_on`:
    the held event it waits for (a dependent is decided with it, see `held_dependency`)."""
    from domain.review import LateEntry

    rec = ev.recorded
    assert rec is not None
    st.held_events[ev.event_id] = ev
    st.applied[ev.event_id] = ev.content_hash
    st.late.append(
        LateEntry(
            event_id=ev.event_id,
            type=ev.type,
            on=ev.on,
            recorded_at=rec.at,
            recorded_on=rec.on,
            recorded_by=rec.by,
            role=rec.role,
            reason=reason,
            content_hash=ev.content_hash,
            data={k: v for k, v in ev.data.items() if k not in ("event_id", "type")},
            upload=rec.upload,
            depends_on=depends_on,
        )
    )
    st.version += 1


# ---------------------------------------------------------------- events that depend on a held one
def routes(st: ItemState, event_type: str) -> set[str]:
    """The rules of this item whose clocks an event of `event_type` starts (a later clock, e.g. a
    consultation window), meets, closes, pauses, resumes, stops, restarts or extends."""
    out = set()
    for m in st.rules.values():
        starts = m.start_event == event_type and event_type not in STARTS
        steps = (m.pause, m.resume, m.stop, m.restart, m.extension_event)
        if starts or event_type in m.met_by or event_type in m.closed_by or event_type in steps:
            out.add(m.id)
    if event_type in RECEIPT_EVENTS and (reply := reply_clock(st)) is not None:
        out.add(reply.rule)
    return out


def simulated(st: ItemState) -> ItemState:
    """A copy of the item with its held events applied in the order they came (due dates not recomputed:
    what the checks of a dependent event need is the clocks' shape, e.g. an open consultation)."""
    sim = st.model_copy(deep=True)
    for ev in list(sim.held_events.values()):
        try:
            transition(sim, ev)
        except Exception:  # an event that would not apply simply does not shape the copy
            continue
        refresh_state(sim)
    sim.held_events = {}
    return sim


def group_root(st: ItemState, event_id: str) -> str:
    """The held event a review group is decided by: the entry itself, or the one it depends on."""
    entry = next((e for e in st.late if e.event_id == event_id), None)
    return (entry.depends_on if entry is not None else None) or event_id


def held_dependency(st: ItemState, ev: Event, today: date | None = None, strict: bool = True) -> Event | None:
    """The held event `ev` depends on, or None: a later event of the same item, by a reviewed recorder
    (liaison, head), that decides a clock a held event decides (the end of a held consultation, a reply
    after a held extension), or anyone's event the item refuses now but accepts once its held events apply. It must wait with it: applied before it, it would be
    refused at the approval or corrupt what the held event changes (a pause that never ends)."""
    if not st.held_events or ev.type in STARTS or ev.recorded is None or ev.event_id in st.applied:
        return None
    # A trusted recorder's (supervisor, operator) event that fits the item as it is applies as before: it
    # is the record the held entry is then checked against.
    mine = routes(st, ev.type) if ev.recorded.role in HELD_ROLES else set()
    for held in reversed(list(st.held_events.values())):
        if mine & routes(st, held.type):
            return held
    try:
        check(st, ev, today, strict)
        return None
    except Refusal:
        pass
    try:
        check(simulated(st), ev, today, strict)
    except Refusal:
        return None
    return list(st.held_events.values())[-1]


def event_name(event_type: str) -> str:
    return EVENT_TYPES.get(event_type, event_type)


def dependent_reason(held: Event) -> str:
    return DEPENDENT_REASON.format(what=event_name(held.type), event_id=held.event_id)


def dependents(st: ItemState, root: str) -> list[Event]:
    """The held events that wait for `root`, in the order they came."""
    ids = {e.event_id for e in st.late if e.status == "held" and e.depends_on == root}
    return [ev for eid, ev in st.held_events.items() if eid in ids]


@dataclass
class Admission:
    """What the item does with an event: "duplicate" / "held" (kept aside, see `hold`) / "apply"."""

    status: str
    reason: str = ""
    depends_on: str | None = None


def admit(
    st: ItemState, ev: Event, today: date | None = None, strict: bool = True, *, restart: bool = True
) -> Admission:
    """The workflow's decision on an incoming event, as one pure step (the import preview uses it so that
    it says what the workflow will do): raises Refusal; holds a late entry or an event depending on a
    held one (in `st`); else the caller applies it with `transition`."""
    if seen := known(st, ev):
        return Admission(seen)
    dep = held_dependency(st, ev, today, strict)
    if dep is not None:
        check(simulated(st), ev, today, strict)
        root = group_root(st, dep.event_id)
        reason = dependent_reason(st.held_events[root])
        hold(st, ev, reason, depends_on=root)
        return Admission("held", reason, root)
    check(st, ev, today, strict)
    if ev.type not in STARTS and (why := late_reason(st, ev, restart=restart)):
        hold(st, ev, why)
        return Admission("held", why)
    return Admission("apply")


# ---------------------------------------------------------------- i21-fresh: recurring duties
# How many finished periods the state keeps (each also its own clock row, `rule#n`): enough for the writes a
# continue-as-new can hand on (they are written with the next snapshot), few enough to keep state and
# snapshots bounded for an item with thousands of updates.
RECENT_PERIODS = 16


def renew(st: ItemState, meta: RuleMeta, c: ClockData, ev: Event, out: Touched) -> None:
    """A recurring duty's update: the current period ends on the update's day (met, or late when after its
    due date: its lateness counts to this day) and the next period starts from that same day. A second
    update on the period's first day changes nothing but the last update's date."""
    day = ev.on[:10]
    st.data["last_update"] = day
    if day <= c.start[:10]:
        return
    c.met_on = day
    nxt = ClockData(rule=meta.id, start=day, region=c.region, period=c.period + 1)
    st.clocks[st.clocks.index(c)] = nxt
    st.periods.append(c)
    out.clocks += [c, nxt]
    out.finished.append(c)


def trim_periods(st: ItemState, stored: dict[str, int] | None = None) -> None:
    """Keep the last RECENT_PERIODS finished periods, and any older one not yet in the store: `stored` is, per
    rule, the last period number a finished store write holds (None: all are). The workflow calls it as its
    writes finish, so the state it continues as new with holds every period its unfinished writes carry (a
    long lapse, or a batch of Updates accepted while the writes drain, can end more than RECENT_PERIODS)."""
    old = st.periods[:-RECENT_PERIODS]
    if old:
        kept = [p for p in old if stored is not None and p.period > stored.get(p.rule, 0)]
        st.periods[: len(old)] = kept


def recurring_lapsing(st: ItemState) -> list[ClockData]:
    """Open periods of recurring duties with a due date: each lapses (lapse_period) once its due day is past."""
    return [
        c
        for c in st.clocks
        if c.state == "open" and c.due and c.due_instant and (m := st.rules.get(c.rule)) and m.recurring
    ]


LAPSED_NOTE = "本期内未更新：本期按未按期更新计，下一期自本期截止日起算"


def next_period(c: ClockData) -> ClockData:
    """The period after `c` when `c` lapses: from its due date."""
    assert c.due
    return ClockData(rule=c.rule, start=c.due[:10], region=c.region, period=c.period + 1)


def lapse_period(st: ItemState, c: ClockData, nxt: ClockData | None = None) -> ClockData:
    """A recurring duty's period whose due day passed with no update ends unmet (`missed`, no met day) and
    the next period starts from that due day: a long lapse counts one missed period per elapsed period
    length, each in the scoring period of its own due date (19号 measures every monitoring window: "监测时间点
    前2周内…未更新" is one failure per window, not one for the whole lapse). Returns the next period, to be
    computed by the caller (or `nxt`, next_period(c) already computed); the lapsed one is also finished
    (count_periods)."""
    nxt = nxt or next_period(c)
    c.state, c.met_on, c.lateness_working_days, c.plan = "missed", None, None, []
    c.explanation = {**c.explanation, "lapsed": LAPSED_NOTE}
    st.clocks[st.clocks.index(c)] = nxt
    st.periods.append(c)
    return nxt


def count_periods(st: ItemState, finished: list[ClockData]) -> None:
    """Add decided periods (met or missed, computed) to the item's counts `data["periods"][rule]`: what the
    column ledger, the item page and the board read without reading every period's row."""
    for c in finished:
        if c.state not in ("met", "missed"):
            continue
        counts = st.data.setdefault("periods", {}).setdefault(
            c.rule, {"finished": 0, "on_time": 0, "late": 0, "late_working_days": 0}
        )
        counts["finished"] += 1
        counts["on_time" if c.state == "met" else "late"] += 1
        counts["late_working_days"] += c.lateness_working_days or 0
