"""The item page's buttons (services.item_page.actions_for) for representative item states, built
through domain.transitions as the workflow builds them (issue 18 §3: the page's actions come from the
one state machine, not from a copy of it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from activities.clocks import engine
from domain import transitions as tr
from domain.events import ITEM_TYPE, Event, parse_event
from domain.flags import item_flags
from domain.item_state import ItemState, Refusal
from domain.labels import EVENT_BUTTONS
from services.ingest import rule_table
from services.item_page import actions_for
from services.item_replay import advance

TODAY = dt.date(2026, 3, 4)


def rules_for(item_type: str):
    return {
        k: m for k, m in rule_table(engine().rules).items() if ITEM_TYPE.get(m.start_event.split(".")[0]) == item_type
    }


def build(item_type: str, *objs: dict[str, Any]) -> ItemState:
    """The item's state after `objs`, each checked and applied as the workflow does (due dates computed)."""
    st: ItemState | None = None
    for ev in events(objs):
        if st is None:
            st = ItemState(
                id=ev.item_id, type=item_type, department="qz-fgw", region="guangxi", rules=rules_for(item_type)
            )
        tr.check(st, ev, TODAY)
        advance(st, ev)
        st.applied[ev.event_id] = ev.content_hash
        st.version += 1
        tr.refresh_state(st)
    assert st is not None
    return st


def events(objs) -> list[Event]:
    return [parse_event({"event_id": f"e{n}", **obj}, internal=True, today=TODAY) for n, obj in enumerate(objs)]


def view(st: ItemState, objs) -> SimpleNamespace:
    """The read model's ItemDetail as the page gets it (its snapshot and its recorded events); the page
    rebuilds the state from them (services.item_page.item_state)."""
    return SimpleNamespace(
        id=st.id,
        type=st.type,
        department=st.department,
        state=st.state,
        clocks=st.clocks,
        flags=[SimpleNamespace(**f) for f in item_flags(st.data, st.clocks)],
        events=[SimpleNamespace(payload=e.data) for e in events(objs)],  # stored: the normalised data
    )


R = {"request_id": "R-1"}
RECEIVED = {**R, "department": "qz-fgw", "type": "request.received", "channel": "online", "received_on": "2026-03-02"}
RECEIVED |= {"applicant_type": "natural_person", "subject": "申请公开"}
DOC = {"type": "document.signed", "document_id": "D-1", "department": "qz-fgw", "title": "文件"}
DOC |= {"kind": "normative", "signed_on": "2026-03-02", "disclosure": "public"}


def on(type_: str, day: str = "2026-03-03", **kw: Any) -> dict[str, Any]:
    return {**R, "type": type_, "on": day, **kw}


STATES = {
    "document_open": ("document", [DOC]),
    "document_published": (
        "document",
        [
            DOC,
            {
                "type": "document.published",
                "document_id": "D-1",
                "published_on": "2026-03-03",
                "url": "https://example.gov.cn/d1",
            },
        ],
    ),
    "request_open": ("request", [RECEIVED]),
    "request_consulting": ("request", [RECEIVED, on("request.consultation_started", **{"with": "third_party"})]),
    "request_consulting_both": (
        "request",
        [
            RECEIVED,
            on("request.consultation_started", **{"with": "third_party"}),
            on("request.consultation_started", **{"with": "agency"}),
        ],
    ),
    "request_stopped_for_correction": (
        "request",
        [RECEIVED, on("request.correction_requested", respond_by="2026-03-20")],
    ),
    "request_fee_pending": ("request", [RECEIVED, on("request.fee_notified")]),
    "request_awaiting_contact": (
        "request",
        [RECEIVED | {"channel": "post_ordinary"}, on("request.applicant_unreachable")],
    ),
    "opinion": (
        "opinion",
        [
            {
                "type": "opinion.detected",
                "case_id": "C-1",
                "department": "qz-fgw",
                "detected_at": "2026-03-03T09:00",
                "severity": "major",
            }
        ],
    ),
    "budget": (
        "budget",
        [
            {
                "type": "budget.approved",
                "item_id": "B-1",
                "department": "qz-fgw",
                "approved_on": "2026-03-02",
                "kind": "budget",
            }
        ],
    ),
    "annual_report": ("annual_report", [{"type": "annual_report.year_closed", "department": "qz-fgw", "year": 2025}]),
    "request_closed": ("request", [RECEIVED, on("request.replied", outcome="granted")]),
}


APPEALS = ["review.filed", "review.decided", "litigation.filed", "litigation.decided"]
# The buttons per state. Where the hand-written copy of the state machine (before issue 18) offered
# another set, the difference is noted: the workflow's checks decide.
EXPECTED = {
    "document_open": ["document.published", "document.repealed"],
    "document_published": ["interpretation.published", "document.repealed"],
    # + the appeals: recorded for statistics in any state (RECORD_ONLY); the copy offered them only once closed
    "request_open": [
        "request.correction_requested",
        "request.consultation_started",
        "request.extended",
        "request.replied",
        "request.fee_notified",
        "request.reply_delayed",
        "request.withdrawn",
        *APPEALS,
    ],
    # the copy: 收到意见, 答复, 撤回 only. The workflow also takes a correction notice inside its 7 working
    # days, the other kind of consultation, an extension, a fee notice and a 第三十五条 delay meanwhile.
    "request_consulting": [
        "request.correction_requested",
        "request.consultation_started",
        "request.extended",
        "request.consultation_ended",
        "request.replied",
        "request.fee_notified",
        "request.reply_delayed",
        "request.withdrawn",
        *APPEALS,
    ],
    # both kinds of consultation running: no third one; 收到意见 asks which one ended
    "request_consulting_both": [
        "request.correction_requested",
        "request.extended",
        "request.consultation_ended",
        "request.replied",
        "request.fee_notified",
        "request.reply_delayed",
        "request.withdrawn",
        *APPEALS,
    ],
    # the copy: 收到补正, 撤回 only. A reply while waiting for the correction is met as of that day (the
    # workflow ends the suspension), and a consultation may start.
    "request_stopped_for_correction": [
        "request.consultation_started",
        "request.corrected",
        "request.replied",
        "request.withdrawn",
        *APPEALS,
    ],
    # the copy: 登记缴费, 撤回 only (its reply clock reads "paused"). No correction notice (refused while
    # the fee is unpaid) nor a second fee notice.
    "request_fee_pending": [
        "request.consultation_started",
        "request.extended",
        "request.replied",
        "request.fee_paid",
        "request.reply_delayed",
        "request.withdrawn",
        *APPEALS,
    ],
    "request_awaiting_contact": ["request.contact_restored", "request.withdrawn"],
    "request_closed": APPEALS,
    "opinion": ["opinion.info_released", "opinion.press_conference", "opinion.responded"],
    "budget": ["budget.published"],
    "annual_report": ["annual_report.published"],
}


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("services.item_page.today", lambda: TODAY)


@pytest.mark.parametrize("name", list(STATES))
def test_the_page_offers_what_the_items_state_accepts(name):
    item_type, objs = STATES[name]
    st = build(item_type, *objs)
    page = actions_for(view(st, objs))  # rebuilt from the recorded events and the snapshot
    assert [t for _, t in page] == EXPECTED[name]
    assert sorted(t for _, t in page) == sorted(set(tr.accepted_events(st, TODAY)) & set(EVENT_BUTTONS))
    assert all(label == EVENT_BUTTONS[t] for label, t in page)


def test_every_button_passes_the_workflows_check():
    """Each accepted type has a probe (for one consultation kind, where the form asks) that check() takes."""

    def passes(st, ev):
        try:
            tr.check(st, ev, TODAY)
        except Refusal:
            return False
        return True

    for item_type, objs in STATES.values():
        st = build(item_type, *objs)
        for t in tr.accepted_events(st, TODAY):
            assert any(passes(st, ev) for ev in tr.probes(st, t, TODAY)), t


def test_the_stored_snapshot_decides_the_clock_states():
    """A correction-notice window that lapsed by its timer is closed only in the store: the rebuilt state
    takes it from there, so 告知补正 is no longer offered."""
    item_type, objs = STATES["request_open"]
    st = build(item_type, *objs)
    item = view(st, objs)
    item.clocks = [c.model_copy(update={"state": "closed"}) if c.rule == "correction_notice" else c for c in st.clocks]
    types = [t for _, t in actions_for(item)]
    assert "request.correction_requested" not in types and "request.replied" in types
    assert "request.correction_requested" in [t for _, t in actions_for(view(st, objs))]


def test_a_past_due_date_takes_the_extension_and_the_delay_away():
    """An extension or a 第三十五条 delay must be decided before the due date (the workflow refuses them
    after it): the copy offered them on an overdue request."""
    st = build("request", RECEIVED)
    late = dt.date(2026, 4, 1)  # the reply was due 2026-03-30
    accepted = tr.accepted_events(st, late)
    assert "request.replied" in accepted
    assert not {"request.extended", "request.reply_delayed", "request.fee_notified"} & set(accepted)


def test_no_rule_id_in_the_item_page_module():
    text = (Path(__file__).parents[1] / "services" / "item_page.py").read_text(encoding="utf-8")
    assert not [r for r in engine().rules if f'"{r}"' in text]
