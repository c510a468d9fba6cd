"""Bad lines in an import on the time-skipping server, through the production ingest path: each fails
alone, promptly, with its field and reason; the good lines beside it apply; nothing is half-applied
(no item row without its event row, no workflow left running for a refused line). Issue 8 §5."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from sqlmodel import Session, select
from temporalio.service import RPCError

from store.db import get_engine
from store.models import EventRecord, Item

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]


def signed(doc_id, day, **kw):
    return {
        "type": "document.signed",
        "document_id": doc_id,
        "department": "qz-fgw",
        "title": f"测试文件{doc_id}",
        "kind": "normative",
        "signed_on": day.isoformat(),
        "disclosure": "public",
        **kw,
    }


def received(req_id, day, **kw):
    return {
        "type": "request.received",
        "request_id": req_id,
        "department": "qz-fgw",
        "channel": "online",
        "received_on": day.isoformat(),
        "applicant_type": "natural_person",
        "subject": "申请公开",
        **kw,
    }


def rows(model, **where):
    with Session(get_engine()) as s:
        q = select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.exec(q).all()


async def no_workflow(st, wid: str) -> bool:
    try:
        await st.client.get_workflow_handle(wid).describe()
    except RPCError:
        return True
    return False


async def test_bad_lines_beside_a_good_one_fail_alone_and_leave_nothing_behind(st):
    today = await st.today()
    good, huge, far, ctl, slash = (st.id(x) for x in ("GOOD", "HUGE", "FAR", "CTL", "SLASH"))
    t0 = time.monotonic()
    results = await asyncio.wait_for(
        st.ingest(
            signed(huge, today, title="长" * 5_000_000),  # 5 MB: beyond Temporal's 4 MB message limit
            signed(good, today),
            received(far, dt.date(9999, 12, 30)),
            received(ctl, today, subject="申请\x07公开"),
            received(f"{slash}/../x", today),
        ),
        timeout=60,
    )
    assert time.monotonic() - t0 < 30
    assert [r.status for r in results] == ["rejected", "applied", "rejected", "rejected", "rejected"], [
        r.text() for r in results
    ]
    assert [r.field for r in results] == ["title", None, "received_on", "subject", "request_id"]
    assert "最多 500 个" in results[0].reason and "9999-12-30" in results[2].reason
    # the good line applied in full: its item, its clock and its event row
    assert st.clock(good, "policy_publication").state == "open"
    assert [e.event_id for e in rows(EventRecord, item_id=good)] == [results[1].event_id]
    # the bad ones left no item row, no event row and no workflow
    for bad in (huge, far, ctl):
        assert rows(Item, id=bad) == [] and rows(EventRecord, item_id=bad) == []
    assert await no_workflow(st, f"document:{huge}")
    assert await no_workflow(st, f"request:{far}")
    assert await no_workflow(st, f"request:{ctl}")


async def test_a_domain_error_in_an_activity_fails_that_event_promptly(st):
    """A date that passes validation but that the calendar cannot hold (simulated here by bypassing the
    validator) used to make the due-date activity retry for ever and the import wait with no answer."""
    from domain.events import parse_event

    today = await st.today()
    req = st.id("R9999")
    ev = parse_event({"event_id": f"{req}-1", **received(req, today)})
    # Only the clock's start moves (the received_on field stays today, so the workflow's check of the
    # dates a fact states lets it through to the activity).
    bad = ev.model_copy(update={"on": "9999-12-30"})
    st.started.add(f"request:{req}")
    t0 = time.monotonic()
    res = await asyncio.wait_for(st.ingestor.ingest_one(1, bad), timeout=30)
    assert time.monotonic() - t0 < 15
    assert res.status == "rejected" and "无法计算期限" in res.reason and "9999-12-30" in res.reason
    assert st.item(req) is None and rows(EventRecord, item_id=req) == []
    # the refused start ends its workflow at once (not after the orphan timeout): no empty run left
    handle = st.client.get_workflow_handle(f"request:{req}")
    deadline = time.monotonic() + 15
    while (desc := await handle.describe()).status.name == "RUNNING" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert desc.status.name == "FAILED"
    assert desc.close_time - desc.start_time < dt.timedelta(seconds=15)
    # the same id with a good date applies: the failed run does not block it
    ok = await st.ingestor.ingest_one(2, parse_event({"event_id": f"{req}-2", **received(req, today)}))
    assert ok.status == "applied", ok.text()
    assert st.clock(req, "request_reply").state == "open"


async def test_a_start_event_dated_ahead_is_refused_by_the_workflow_and_ends_its_run(st):
    """The ingest host's clock behind the server's is not the only guard: the item workflow checks a
    start event's date against its own clock, and the refused start leaves no empty run."""
    from domain.events import parse_event

    today = await st.today()
    req = st.id("RFUT")
    ahead = today + dt.timedelta(days=2)
    ev = parse_event({"event_id": f"{req}-1", **received(req, ahead)}, today=ahead)  # a host 2 days ahead
    st.started.add(f"request:{req}")
    res = await asyncio.wait_for(st.ingestor.ingest_one(1, ev), timeout=30)
    assert (res.status, res.field) == ("rejected", "received_on") and ahead.isoformat() in res.reason
    assert st.item(req) is None and rows(EventRecord, item_id=req) == []
    handle = st.client.get_workflow_handle(f"request:{req}")
    deadline = time.monotonic() + 15
    while (desc := await handle.describe()).status.name == "RUNNING" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert desc.status.name == "FAILED"


async def test_an_event_the_server_refuses_fails_alone_instead_of_ending_the_import(st):
    """Defence behind validation: should an event still exceed Temporal's message limit (simulated by
    bypassing the validator), that one line is reported rejected and the import goes on."""
    from domain.events import parse_event

    today = await st.today()
    huge, good = st.id("HUGE2"), st.id("GOOD2")
    ev = parse_event({"event_id": f"{huge}-1", **signed(huge, today)})
    bad = ev.model_copy(update={"data": {**ev.data, "title": "长" * 5_000_000}})
    st.started.add(f"document:{huge}")
    res = await asyncio.wait_for(st.ingestor.ingest_one(1, bad), timeout=60)
    assert res.status == "rejected" and res.field == "(temporal)", res.text()
    assert rows(Item, id=huge) == [] and rows(EventRecord, item_id=huge) == []
    ok = await st.ingest(signed(good, today))
    assert ok[0].status == "applied", ok[0].text()
