"""Record workflow histories for the replay test (tests/test_replay.py).

Runs real scenarios on the time-skipping server through the production ingest path and saves each
finished workflow's history as JSON here. Re-record only when a workflow change is meant to be
incompatible (and then version it with workflow.patched() instead, for workflows already running).

    .venv/bin/python -m tests.histories.record              # every scenario
    .venv/bin/python -m tests.histories.record late-entries # only the late-entry (补录) one
    .venv/bin/python -m tests.histories.record recalculate  # a calendar recalculation (document-recalc.json)
    .venv/bin/python -m tests.histories.record consult      # only #17 §4's (s17-consult-checks)
    .venv/bin/python -m tests.histories.record late-restart # only the late correction (s17-lag-late-restart) one
    .venv/bin/python -m tests.histories.record receipt      # only issue 17 §5 (receipt, fee, 第三十五条)
    .venv/bin/python -m tests.histories.record s24          # s24-current: an appeal window handed over, a swept
                                                           # overdue step that passed (s24-swept-passed)
    .venv/bin/python -m tests.histories.record continue-as-new  # dev server: a run given writes to make, a run
                                                           # that applied the start event of its input
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.test_workflows import received, signed
from tests.workflow_harness import stack

HERE = Path(__file__).parent


async def scenarios(st) -> list[tuple[str, str]]:
    today = await st.today()
    from domain.engine import engine

    c = engine().calendar
    doc, req, req2, case = st.id("doc"), st.id("req"), st.id("abandon"), st.id("case")
    sign = c.subtract_working_days(today, 24)
    await st.ok(
        signed(doc, "qz-fgw", sign),
        {"type": "document.published", "document_id": doc, "published_on": today.isoformat(), "url": "http://u.cn"},
    )
    recv = c.subtract_working_days(today, 12)
    await st.ok(
        received(req, "qz-czj", recv),
        {
            "type": "request.correction_requested",
            "request_id": req,
            "on": c.add_working_days(recv, 1).isoformat(),
            "respond_by": c.add_working_days(recv, 6).isoformat(),
        },
        {"type": "request.corrected", "request_id": req, "on": c.add_working_days(recv, 2).isoformat()},
        {
            "type": "request.consultation_started",
            "request_id": req,
            "on": c.add_working_days(recv, 3).isoformat(),
            "with": "agency",
        },
        {"type": "request.consultation_ended", "request_id": req, "on": c.add_working_days(recv, 5).isoformat()},
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 10,
            "approved_by": "head-czj",
            "notified_on": today.isoformat(),
            "reason": "复杂",
        },
    )
    await st.ok(
        received(req2, "qz-jyj", today),
        {
            "type": "request.correction_requested",
            "request_id": req2,
            "on": today.isoformat(),
            "respond_by": (today + dt.timedelta(days=2)).isoformat(),
        },
    )
    now = await st.now()
    await st.ok(
        {
            "type": "opinion.detected",
            "case_id": case,
            "department": "qz-zfb",
            "detected_at": now.isoformat(),
            "severity": "general",
        }
    )
    await st.env.sleep(dt.timedelta(days=50))  # reminders, interpretation overdue, abandonment, lapses
    await st.ok(
        {
            "type": "interpretation.published",
            "document_id": doc,
            "published_on": (await st.today()).isoformat(),
            "url": "http://u.cn",
        },
        {"type": "request.replied", "request_id": req, "on": (await st.today()).isoformat(), "outcome": "granted"},
        {"type": "opinion.responded", "case_id": case, "at": (await st.now()).isoformat()},
    )
    return [("document", doc), ("request", req), ("request", req2), ("opinion", case), *await late_entries(st)]


async def late_entries(st) -> list[tuple[str, str]]:
    """A liaison's back-dated reply (held, rejected) and late extension (held, approved), then the reply."""
    from services.ingest import Ingestor
    from services.review import decide
    from domain.engine import engine

    today, c = await st.today(), engine().calendar
    req = st.id("late")
    recv = c.subtract_working_days(today, 21, "guangxi")
    due = c.add_working_days(recv, 20, "guangxi")
    await st.ok(received(req, "qz-czj", recv))
    at = await st.now()
    liaison = Ingestor(st.client, recorded_by="liaison-czj", role="liaison", now=lambda: at)
    held = await liaison.ingest(
        [
            (
                1,
                {
                    "event_id": f"{req}-r",
                    "type": "request.replied",
                    "request_id": req,
                    "on": c.subtract_working_days(today, 5, "guangxi").isoformat(),
                    "outcome": "granted",
                },
            ),
            (
                2,
                {
                    "event_id": f"{req}-x",
                    "type": "request.extended",
                    "request_id": req,
                    "on": due.isoformat(),
                    "working_days": 10,
                    "approved_by": "head-czj",
                    "notified_on": due.isoformat(),
                    "reason": "复杂",
                },
            ),
        ]
    )
    assert [r.status for r in held] == ["held", "held"], [r.text() for r in held]
    await decide(st.client, f"{req}-r", approve=False, by="supervisor-zwgk", reason="无送达回证")
    await decide(st.client, f"{req}-x", approve=True, by="supervisor-zwgk")
    await st.env.sleep(dt.timedelta(days=3))
    await st.ok(
        {"type": "request.replied", "request_id": req, "on": (await st.today()).isoformat(), "outcome": "granted"}
    )
    return [("request", req)]


async def consult(st) -> list[tuple[str, str]]:
    """#17 §4 on the code with `s17-consult-checks`: a request of a known applicant with two consultations,
    an extension approved by the head and told to the applicant, then the reply."""
    from domain.engine import engine

    today, c = await st.today(), engine().calendar
    req = st.id("consult")
    recv = c.subtract_working_days(today, 10, "guangxi")
    await st.ok(
        {**received(req, "qz-fgw", recv), "applicant": {"name": "王五", "id_number": "450702199001011234"}},
        {
            "type": "request.consultation_started",
            "request_id": req,
            "on": c.add_working_days(recv, 1, "guangxi").isoformat(),
            "with": "third_party",
        },
        {
            "type": "request.consultation_ended",
            "request_id": req,
            "on": c.add_working_days(recv, 3, "guangxi").isoformat(),
        },
        {
            "type": "request.consultation_started",
            "request_id": req,
            "on": c.add_working_days(recv, 4, "guangxi").isoformat(),
            "with": "agency",
        },
        {
            "type": "request.consultation_ended",
            "request_id": req,
            "on": c.add_working_days(recv, 6, "guangxi").isoformat(),
        },
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 10,
            "approved_by": "head-fgw",
            "notified_on": today.isoformat(),
            "reason": "复杂",
        },
    )
    refused = await st.ingest(
        {
            "type": "request.extended",
            "request_id": req,
            "on": today.isoformat(),
            "working_days": 5,
            "approved_by": "liaison-fgw",
            "notified_on": today.isoformat(),
            "reason": "again",
        }
    )
    assert refused[0].status == "rejected"
    await st.ok({"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"})
    return [("request", req)]


async def late_restart(st) -> list[tuple[str, str]]:
    """issue 17 §3 (s17-lag-late-restart): a liaison registers a request late (flagged 登记滞后), records its
    correction late (held past the correction deadline, no abandonment), a supervisor approves it, then the reply."""
    from services.ingest import Ingestor
    from services.review import decide
    from domain.engine import engine

    today, c = await st.today(), engine().calendar
    req = st.id("laterestart")
    recv = c.subtract_working_days(today, 6, "guangxi")
    at = await st.now()
    liaison = Ingestor(st.client, recorded_by="liaison-czj", role="liaison", now=lambda: at)
    start = await liaison.ingest([(1, {"event_id": f"{req}-s", **received(req, "qz-czj", recv)})])
    assert [r.status for r in start] == ["applied"], [r.text() for r in start]
    await st.ok({"type": "request.correction_requested", "request_id": req,
                 "on": c.add_working_days(recv, 1, "guangxi").isoformat(),
                 "respond_by": c.add_working_days(today, 2, "guangxi").isoformat()})
    held = await liaison.ingest([(2, {"event_id": f"{req}-c", "type": "request.corrected", "request_id": req,
                                      "on": c.subtract_working_days(today, 4, "guangxi").isoformat()})])
    assert [r.status for r in held] == ["held"], [r.text() for r in held]
    await st.env.sleep(dt.timedelta(days=6))  # past the correction deadline: not abandoned while held
    await decide(st.client, f"{req}-c", approve=True, by="supervisor-zwgk")
    await st.ok({"type": "request.replied", "request_id": req, "on": (await st.today()).isoformat(), "outcome": "granted"})
    return [("request", req)]


async def receipt_events(st) -> list[tuple[str, str]]:
    """Issue 17 §5: unreachable applicant, contact restored, fee notice and payment, a 第三十五条 delay, the
    reply; and a fee left unpaid (abandoned as other.fee_unpaid)."""
    from domain.engine import engine

    today, c = await st.today(), engine().calendar
    req, unpaid = st.id("receipt"), st.id("feeunpaid")
    recv = c.subtract_working_days(today, 30, "guangxi")

    def on(n: int) -> str:
        return c.add_working_days(recv, n, "guangxi").isoformat()

    def ev(type_: str, item: str, day: str, **kw):
        return {"type": type_, "request_id": item, "on": day, **kw}

    await st.ok({**received(req, "qz-czj", recv), "channel": "post_ordinary"},
                ev("request.applicant_unreachable", req, recv.isoformat(), note="未留联系电话"),
                ev("request.contact_restored", req, on(2)),
                ev("request.fee_notified", req, on(3)),
                ev("request.fee_paid", req, on(5)),
                ev("request.reply_delayed", req, on(6), reply_by=(today + dt.timedelta(days=10)).isoformat(),
                   notified_on=on(6), reason="一次申请 300 项"),
                ev("request.replied", req, today.isoformat(), outcome="granted"))
    await st.ok({**received(unpaid, "qz-czj", recv), "submitted_at": f"{recv.isoformat()}T21:00:00+08:00"},
                ev("request.fee_notified", unpaid, on(1)))
    await st.env.sleep(dt.timedelta(hours=2))  # the payment period has passed: abandoned after the grace
    return [("request", req), ("request", unpaid)]


async def s24_current(st) -> list[tuple[str, str]]:
    """Runs with the one s24-current marker: a column (a recurring freshness duty) left without an update while the
    daily sweep runs, whose first window's swept overdue step passed and counts as fired (s24-swept-passed), so
    that the window ends missed, then updated and closed; and a request replied six months and twelve days ago (a
    backfill), whose review window its last write closes and whose suit window alone goes to `appeals:<item>`; and
    one replied eight months ago, whose last write closes both windows and which starts no `appeals:<item>`."""
    from domain.engine import engine
    from domain.model import period_rule
    from domain.shanghai import SHANGHAI
    from tests.test_freshness import due_after, registered, updated
    from tests.test_proposals import months_later

    assert engine().ladders.sweep  # the default: the 09:00 steps are the sweep's
    col = st.id("swept")
    await st.ok(registered(col, await st.today(), kind="new_media"))
    due2 = due_after(due_after(await st.today()))
    await st.sleep_until(dt.datetime.combine(due2 + dt.timedelta(days=13), dt.time(12), SHANGHAI))
    await st.settle(f"column:{col}")
    first = next(x for x in st.item(col).clocks if x.rule == period_rule("new_media_freshness", 1))
    assert first.state == "missed", first
    await st.ok(updated(col, await st.today()))
    closed = (await st.today()).isoformat()
    await st.ok({"type": "column.closed", "column_id": col, "closed_on": closed, "reason": "栏目撤并"})

    # After the column's sleep: the server does not return from a sleep across an abandoned child's completion.
    today, c = await st.today(), engine().calendar

    async def replied_on(name: str, day: dt.date) -> str:
        """A request received and replied on the working day `day` or the last one before it."""
        while not c.is_workday(day, "guangxi"):
            day -= dt.timedelta(days=1)
        rid = st.id(name)
        await st.ok(
            received(rid, "qz-fgw", c.subtract_working_days(day, 5, "guangxi")),
            {"type": "request.replied", "request_id": rid, "on": day.isoformat(), "outcome": "granted"},
        )
        return rid

    # the review window (60 日) over, the suit's (六个月) not
    req = await replied_on("appeal", months_later(today, -6) + dt.timedelta(days=12))
    st.started.add(f"appeals:{req}")  # left running by the item's run: terminated with the stack
    await st.result("request", req)
    assert st.clock(req, "appeal_review").state == "closed" and st.clock(req, "appeal_litigation").state == "open"
    await st.client.get_workflow_handle(f"appeals:{req}").describe()  # started, for the suit window only
    old = await replied_on("backfill", months_later(today, -8))  # both windows over: no appeals workflow
    await st.result("request", old)
    assert {st.clock(old, r).state for r in ("appeal_review", "appeal_litigation")} == {"closed"}
    history = await st.client.get_workflow_handle(f"request:{old}").fetch_history()
    assert not [e for e in history.events if e.HasField("start_child_workflow_execution_initiated_event_attributes")]
    return [("request", req), ("request", old), ("column", col)]


async def carried_and_self_started(st) -> list[tuple[str, str, str]]:
    """(workflow id, run id, file name): a request continued as new with store writes still pending (the
    next run makes them) on a dev server suggesting continue-as-new early, and a run started without its
    Update (lost), which applies the start event of its input."""
    from temporalio.api.enums.v1 import EventType

    from domain.events import parse_event
    from workflows.items import RequestWorkflow
    from domain.item_state import ItemInput, ItemState

    day = await st.today()
    today = day.isoformat()
    req = st.id("carried")
    await st.ok(received(req, "qz-czj", day))
    wid = f"request:{req}"
    run = (await st.client.get_workflow_handle(wid).describe()).run_id
    pairs = [
        (
            {"type": "request.consultation_started", "request_id": req, "on": today, "with": "third_party"},
            {"type": "request.consultation_ended", "request_id": req, "on": today},
        )
        for _ in range(12)
    ]
    await st.ok(*[e for pair in pairs for e in pair])
    out = []
    while not out:
        last = (await st.client.get_workflow_handle(wid, run_id=run).fetch_history()).events[-1]
        assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, "nothing was carried"
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run = attrs.new_execution_run_id
        if json.loads(attrs.input.payloads[0].data)["pending"]:
            out.append((wid, run, "request-carried.json"))
    own = st.id("selfstart")
    event = parse_event({"event_id": f"{own}-r", **received(own, "qz-czj", day)})  # drops the applicant
    assert "applicant" not in event.data
    ingestor = st.ingestor
    state = ItemState(
        id=own,
        type="request",
        department="qz-czj",
        region=ingestor.directory().region_of("qz-czj"),
        rules=ingestor._rules_for("request"),
    )
    handle = await st.client.start_workflow(
        RequestWorkflow.run, ItemInput(state=state, start=event), id=f"request:{own}", task_queue="shixian"
    )
    st.started.add(handle.id)
    await st.wait_for(lambda: st.item(own), lambda snap: snap is not None and snap.version == 1)
    await st.ok({"type": "request.replied", "request_id": own, "on": today, "outcome": "granted"})
    await handle.result()
    out.append((handle.id, handle.result_run_id or "", "request-selfstart.json"))
    return out


async def record_continue_as_new() -> int:
    from tests.conftest import BIN_DIR

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN_DIR / "temporal"),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=40"],
    )
    try:
        with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
            async with stack(env, Path(tmp), mp) as st:
                for wid, run, name in await carried_and_self_started(st):
                    await st.settle(wid)
                    history = await st.client.get_workflow_handle(wid, run_id=run).fetch_history()
                    (HERE / name).write_text(
                        json.dumps(
                            {"workflow_id": wid, "history": json.loads(history.to_json())}, ensure_ascii=False, indent=1
                        ),
                        encoding="utf-8",
                    )
                    print("recorded", name, len(history.events), "events")
    finally:
        await env.shutdown()
    return 0


async def recalculation(st) -> list[tuple[str, str]]:
    """A calendar recalculation of an open document whose publication clock was missed (document-recalc.json,
    recorded before s17-calendar-reproject: it replays only with that marker's old path)."""
    from domain.engine import engine
    from services.calendar import signal_open_items

    c = engine().calendar
    today = await st.today()
    doc = st.id("recalc")
    sign = c.subtract_working_days(today, 23, "guangxi")
    published = c.add_working_days(c.add_working_days(sign, 20, "guangxi"), 1, "guangxi")
    await st.ok(
        signed(doc, "qz-fgw", sign, needs_interpretation=True),
        {"type": "document.published", "document_id": doc, "published_on": published.isoformat(), "url": "http://u.cn"},
    )
    extra = c.subtract_working_days(published, 3, "guangxi")
    days = "".join(f'"{d}" = "壮族三月三"\n' for d in sorted(c.estimated_days("guangxi", extra.year)))
    (st.config / "calendars" / "guangxi-recalc.toml").write_text(
        f'region = "guangxi"\nsource = "测试"\n[days_off]\n{days}"{extra}" = "临时调整"\n', encoding="utf-8"
    )
    await signal_open_items(st.client, "日历数据已更新（录制）")
    await st.settle(f"document:{doc}")
    await st.ok(
        {
            "type": "interpretation.published",
            "document_id": doc,
            "published_on": today.isoformat(),
            "url": "http://u.cn/jd",
        }
    )
    return [("document", doc)]


async def main() -> int:
    if "continue-as-new" in sys.argv[1:]:
        return await record_continue_as_new()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).with_name("temporal-test-server")),
        data_converter=pydantic_data_converter,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
            async with stack(env, Path(tmp), mp) as st:
                if "s24" in sys.argv[1:]:
                    items = await s24_current(st)
                elif "receipt" in sys.argv[1:]:
                    items = await receipt_events(st)
                elif "late-restart" in sys.argv[1:]:
                    items = await late_restart(st)
                elif "late-entries" in sys.argv[1:]:
                    items = await late_entries(st)
                elif "recalculate" in sys.argv[1:]:
                    items = await recalculation(st)
                elif "consult" in sys.argv[1:]:
                    items = await consult(st)
                else:
                    items = await scenarios(st)
                for kind, item in items:
                    handle = st.client.get_workflow_handle(f"{kind}:{item}")
                    await handle.result()
                    history = await handle.fetch_history()
                    name = f"{kind}-{item.rsplit('-', 1)[0]}.json"
                    (HERE / name).write_text(
                        json.dumps(
                            {"workflow_id": handle.id, "history": json.loads(history.to_json())},
                            ensure_ascii=False,
                            indent=1,
                        ),
                        encoding="utf-8",
                    )
                    print("recorded", name, len(history.events), "events")
    finally:
        await env.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
