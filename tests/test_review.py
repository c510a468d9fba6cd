"""Late entries (补录, issue 8 §3) on the time-skipping server, through the real ingest path, store,
workflow and the `shixian review` CLI: a back-dated event by a liaison changes nothing until a
supervisor approves it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from domain.engine import engine
from domain.shanghai import now as shanghai_now
from services.ingest import Ingestor
from services.queries import overdue_rows
from store.models import EventRecord
from tests.test_workflows import received

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
REGION = "guangxi"  # qz-czj's calendar


def cal():
    return engine().calendar


async def as_role(st, role: str, person: str, *events: dict, skew: dt.timedelta = dt.timedelta(0)):
    """Ingest as the API does for a token of `role`, recorded at the test server's present (or with the
    ingest host's clock `skew` away from it)."""
    at = await st.now() + skew
    ing = Ingestor(st.client, recorded_by=person, role=role, now=lambda: at)
    objs = []
    for ev in events:
        st._n += 1
        objs.append((st._n, {"event_id": f"{st.tag}-{st._n}", **ev}))
    return st._track(await ing.ingest(objs))


def cli(*args: str):
    from app.cli import app

    return CliRunner().invoke(app, list(args))


def event_rows(item_id: str) -> list[str]:
    from store.db import session

    with session() as s:
        return [e.type for e in s.exec(select(EventRecord).where(EventRecord.item_id == item_id))]


async def test_backdated_extension_waits_for_review_then_moves_the_due_date(st):
    today, c = await st.today(), cal()
    req = st.id("EXT")
    recv = c.subtract_working_days(today, 21, REGION)
    await st.ok(received(req, "qz-czj", recv))
    due = c.add_working_days(recv, 20, REGION)
    assert due < today  # overdue now
    assert st.clock(req, "request_reply").due == due.isoformat()
    assert req in {r["id"] for r in overdue_rows(today)}
    # The liaison types a decision date on the due day, but records it after the due date.
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {
            "type": "request.extended",
            "request_id": req,
            "on": due.isoformat(),
            "working_days": 10,
            "approved_by": "head-czj",
            "notified_on": due.isoformat(),
            "reason": "需调阅档案",
        },
    )
    assert r[0].status == "held", r[0].text()
    assert "已过当前答复期限" in r[0].reason and "补录待审核" in r[0].text()
    eid = r[0].event_id
    # Nothing moved: due date, overdue list, event log; the item shows the held entry with both dates.
    assert st.clock(req, "request_reply").due == due.isoformat()
    assert req in {r["id"] for r in overdue_rows(today)}
    assert "request.extended" not in event_rows(req)
    snap = st.item(req)
    assert [(e.status, e.on, e.recorded_on) for e in snap.late_entries] == [
        ("held", due.isoformat(), today.isoformat())
    ]
    q = await st.query("request", req)
    assert q.clocks[0].due == due.isoformat() and q.held[0].event_id == eid
    out = await asyncio.to_thread(cli, "status", req)
    assert f"补录待审核：request.extended（{eid}）事件日期 {due.isoformat()}，登记于 {today.isoformat()}" in out.output
    # Sending it again is a duplicate, not a second entry.
    again = Ingestor(st.client, role="liaison", now=shanghai_now)  # the process clock, equal to the server's
    r2 = await again.ingest(
        [
            (
                1,
                {
                    **{
                        "event_id": eid,
                        "type": "request.extended",
                        "request_id": req,
                        "on": due.isoformat(),
                        "working_days": 10,
                        "approved_by": "head-czj",
                        "notified_on": due.isoformat(),
                        "reason": "需调阅档案",
                    }
                },
            )
        ]
    )
    assert r2[0].status == "duplicate"
    # The review queue (CLI, JSON) lists it with both dates.
    out = await asyncio.to_thread(cli, "review", "list", "--json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [(x["event_id"], x["occurred_on"], x["recorded_at"][:10], x["role"]) for x in rows] == [
        (eid, due.isoformat(), today.isoformat(), "liaison")
    ]
    # Approval applies it as of its own date: the due date moves, the item leaves the overdue list.
    out = await asyncio.to_thread(cli, "review", "approve", eid, "--by", "supervisor-zwgk")
    assert out.exit_code == 0, out.output
    assert "补录已批准" in out.output
    new_due = c.add_working_days(due, 10, REGION)
    assert st.clock(req, "request_reply").due == new_due.isoformat()
    assert req not in {r["id"] for r in overdue_rows(today)}
    assert "request.extended" in event_rows(req)
    assert json.loads((await asyncio.to_thread(cli, "review", "list", "--json")).output) == []
    entry = st.item(req).late_entries[0]
    assert (entry.status, entry.decided_by) == ("approved", "supervisor-zwgk")
    # A second decision is refused with a clear message.
    out = await asyncio.to_thread(cli, "review", "reject", eid, "--reason", "x")
    assert out.exit_code == 1 and "已审核" in out.output


async def test_backdated_reply_rejected_with_reason_stays_overdue(st):
    today, c = await st.today(), cal()
    req = st.id("REP")
    recv = c.subtract_working_days(today, 22, REGION)
    await st.ok(received(req, "qz-czj", recv))
    due = c.add_working_days(recv, 20, REGION)
    # "Replied" on the due day, recorded 2 working days later: within the limit (3), applied at once.
    ok_req = st.id("REP-OK")
    await st.ok(received(ok_req, "qz-czj", recv))
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": ok_req, "on": due.isoformat(), "outcome": "granted"},
    )
    assert r[0].status == "applied" and st.clock(ok_req, "request_reply").state == "met"
    # Recorded 4 working days after its date: held, and the clock still overdue.
    claimed = c.subtract_working_days(today, 4, REGION)
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": req, "on": claimed.isoformat(), "outcome": "granted"},
    )
    assert r[0].status == "held" and "晚 4 个工作日" in r[0].reason
    assert st.clock(req, "request_reply").state == "open"
    assert req in {x["id"] for x in overdue_rows(today)}
    out = await asyncio.to_thread(cli, "review", "reject", r[0].event_id)
    assert out.exit_code != 0  # --reason is required
    out = await asyncio.to_thread(cli, "review", "reject", r[0].event_id, "--reason", "无送达回证，不予认可")
    assert out.exit_code == 0 and "补录已驳回" in out.output, out.output
    assert st.clock(req, "request_reply").state == "open"
    assert req in {x["id"] for x in overdue_rows(today)}
    entry = st.item(req).late_entries[0]
    assert (entry.status, entry.decision_reason) == ("rejected", "无送达回证，不予认可")
    assert "request.replied" not in event_rows(req)
    # The department can still record the real reply, which then counts as late.
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"},
    )
    assert r[0].status == "applied" and st.clock(req, "request_reply").state == "missed"


async def test_a_reply_dated_after_the_servers_today_is_refused_and_the_request_stays_overdue(st):
    """issue 16 A7: a reply dated ahead must not close an overdue request as on time. The ingest host's
    clock runs 10 days ahead, so only the workflow's own check (the Temporal server's clock) refuses it."""
    today, c = await st.today(), cal()
    req = st.id("FUT")
    recv = c.subtract_working_days(today, 22, REGION)
    await st.ok(received(req, "qz-czj", recv))
    assert st.clock(req, "request_reply").state == "open"
    ahead = today + dt.timedelta(days=4)
    for role, person in (("liaison", "liaison-czj"), ("supervisor", "supervisor-zwgk")):
        r = await as_role(
            st,
            role,
            person,
            {"type": "request.replied", "request_id": req, "on": ahead.isoformat(), "outcome": "granted"},
            skew=dt.timedelta(days=10),
        )
        assert (r[0].status, r[0].field) == ("rejected", "on"), r[0].text()
        assert ahead.isoformat() in r[0].reason and today.isoformat() in r[0].reason and "将来" in r[0].reason
    # with the host's clock right, the ingest path refuses it already, naming the field
    r = await st.ingest({"type": "request.replied", "request_id": req, "on": ahead.isoformat(), "outcome": "granted"})
    assert (r[0].status, r[0].field) == ("rejected", "on")
    snap = await st.query("request", req)
    assert snap.state == "open" and not snap.late_entries
    assert st.clock(req, "request_reply").state == "open"
    assert req in {x["id"] for x in overdue_rows(today)}
    assert event_rows(req) == ["request.received"]


async def test_a_fact_on_a_finished_item_dated_ahead_is_refused_by_the_server_clock(st):
    """A review decision on a finished request goes through the fact workflow: it checks the date
    against the server's clock too (the ingest host's clock here runs 10 days ahead)."""
    today, c = await st.today(), cal()
    req = st.id("FIN")
    recv = c.subtract_working_days(today, 5, REGION)
    await st.ok(
        received(req, "qz-czj", recv),
        {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"},
    )
    await st.result("request", req)  # finished
    ahead = today + dt.timedelta(days=3)
    decided = {"type": "review.decided", "request_id": req, "result": "upheld"}
    r = await as_role(
        st, "supervisor", "supervisor-zwgk", {**decided, "on": ahead.isoformat()}, skew=dt.timedelta(days=10)
    )
    assert (r[0].status, r[0].field) == ("rejected", "on") and ahead.isoformat() in r[0].reason, r[0].text()
    assert "review.decided" not in event_rows(req)
    r = await as_role(st, "supervisor", "supervisor-zwgk", {**decided, "on": today.isoformat()})
    assert r[0].status == "applied", r[0].text()
    assert "review.decided" in event_rows(req)


async def test_a_host_clock_behind_cannot_let_a_late_entry_skip_review(st):
    """issue 16 §B: the ingest host's clock is 10 days behind the Temporal server's. A reply dated 12 days
    ago looks fresh to that host (recorded "2 days" after it) but is held: the workflow takes the
    recording instant from the server's clock. A fact dated after the server's today is still refused."""
    today, c = await st.today(), cal()
    behind = dt.timedelta(days=-10)
    req = st.id("SKEW")
    recv = c.subtract_working_days(today, 30, REGION)
    await st.ok(received(req, "qz-czj", recv))
    claimed = today - dt.timedelta(days=12)
    host_day = (await st.now() + behind).date()
    assert c.working_days_between(claimed, host_day, REGION) <= 3 < c.working_days_between(claimed, today, REGION)
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": req, "on": claimed.isoformat(), "outcome": "granted"},
        skew=behind,
    )
    assert r[0].status == "held", r[0].text()
    assert f"{today.isoformat()} 才登记" in r[0].reason  # the server's day, not the host's
    snap = await st.query("request", req)
    assert [e.recorded_on for e in snap.late_entries] == [today.isoformat()]
    assert st.clock(req, "request_reply").state == "open"
    assert req in {x["id"] for x in overdue_rows(today)}
    # dated after the server's today (and, on this host, after its own): refused with the field
    ahead = today + dt.timedelta(days=1)
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.withdrawn", "request_id": req, "on": ahead.isoformat()},
        skew=behind,
    )
    assert (r[0].status, r[0].field) == ("rejected", "on")


async def test_supervisor_operator_and_start_events_are_never_held(st):
    today, c = await st.today(), cal()
    old = c.subtract_working_days(today, 10, REGION)
    recv = c.subtract_working_days(today, 30, REGION)
    a, b, d = st.id("SUP"), st.id("OPS"), st.id("NEW")
    await st.ok(received(a, "qz-czj", recv), received(b, "qz-czj", recv))
    r = await as_role(
        st,
        "supervisor",
        "supervisor-zwgk",
        {"type": "request.replied", "request_id": a, "on": old.isoformat(), "outcome": "granted"},
    )
    assert r[0].status == "applied"
    r = await st.ingest({"type": "request.replied", "request_id": b, "on": old.isoformat(), "outcome": "granted"})
    assert r[0].status == "applied"  # the operator's import (shixian events ingest)
    # A liaison registering an old request starts a clock: not a late entry (it can only make it later).
    r = await as_role(st, "liaison", "liaison-czj", received(d, "qz-czj", recv))
    assert r[0].status == "applied"
    assert st.clock(d, "request_reply").due == c.add_working_days(recv, 20, REGION).isoformat()


async def test_approval_is_refused_when_the_item_moved_on(st):
    today, c = await st.today(), cal()
    req = st.id("MOV")
    recv = c.subtract_working_days(today, 25, REGION)
    await st.ok(received(req, "qz-czj", recv))
    claimed = c.subtract_working_days(today, 6, REGION)
    r = await as_role(
        st, "liaison", "liaison-czj", {"type": "request.withdrawn", "request_id": req, "on": claimed.isoformat()}
    )
    assert r[0].status == "held"
    await st.ok({"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"})
    out = await asyncio.to_thread(cli, "review", "approve", r[0].event_id)
    assert out.exit_code == 1 and "不能批准" in out.output, out.output
    assert st.clock(req, "request_reply").state == "missed"
    out = await asyncio.to_thread(cli, "review", "reject", r[0].event_id, "--reason", "已答复")
    assert out.exit_code == 0, out.output
    await st.result("request", req)  # the workflow finishes once nothing is held


async def test_a_broken_review_config_refuses_reviewable_entries_only(st):
    today = await st.today()
    (st.config / "review.toml").write_text("late_entry_working_days = -2\n", encoding="utf-8")
    a, b = st.id("CFG-A"), st.id("CFG-B")
    r = await as_role(st, "liaison", "liaison-czj", received(a, "qz-czj", today))
    assert (r[0].status, r[0].field) == ("rejected", "(config)") and "review.toml" in r[0].reason
    await st.ok(received(b, "qz-czj", today))  # the operator's import does not depend on it


async def test_a_liaisons_ledger_upload_is_reviewed_like_any_entry(st):
    """The /import page passes the uploader's role: a liaison's back-dated reply row waits for review;
    the same ledger uploaded by a supervisor (or imported on the server) applies at once."""
    from services.ledger_import import apply, plan

    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 30, REGION)
    replied = c.subtract_working_days(today, 12, REGION)
    keys = [st.id("LED-A"), st.id("LED-B")]
    for k in keys:
        st.started.add(f"request:{k}")

    def ledger(key: str) -> bytes:
        return (
            "受理编号,收到申请日期,申请方式,申请人类型,答复日期,答复结果\n"
            f"{key},{recv},网络,自然人,{replied},予以公开\n"
        ).encode()

    # (no time skipped here: the upload's real recording time is the test server's present)
    held = await apply(
        plan(ledger(keys[0]), "台账.csv", "qz-czj"), st.client, recorded_by="liaison-czj", role="liaison"
    )
    ok = await apply(
        plan(ledger(keys[1]), "台账.csv", "qz-czj"), st.client, recorded_by="supervisor-zwgk", role="supervisor"
    )
    assert held[0].status == "held", held[0].text()
    assert [e["status"] for e in held[0].events] == ["applied", "held"]
    assert "补录待审核" in held[0].text()
    assert st.clock(keys[0], "request_reply").state == "open"
    assert ok[0].status == "applied" and st.clock(keys[1], "request_reply").state == "met"
