"""A held event must not corrupt what follows (issue 19): events of the same item that depend on a held
late entry (the end of a held consultation) are held with it and applied with it, in order, when it is
approved; rejected, they are re-evaluated. On the time-skipping server through the real ingest path,
store and workflow, the review service deciding."""

from __future__ import annotations

import pytest

from domain.engine import engine
from services.review import decide, decide_many, list_entries
from tests.test_review import as_role
from tests.test_workflows import received

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
REGION = "guangxi"  # qz-czj's calendar


def cal():
    return engine().calendar


def consultation(req: str, start, end) -> list[dict]:
    return [
        {"type": "request.consultation_started", "request_id": req, "on": start.isoformat(), "with": "third_party"},
        {"type": "request.consultation_ended", "request_id": req, "on": end.isoformat(), "with": "third_party"},
    ]


async def held_consultation(st, name: str):
    """A request received 30 working days ago whose consultation a liaison records now (held, with its end)."""
    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 30, REGION)
    start, end = c.add_working_days(recv, 5, REGION), c.add_working_days(recv, 12, REGION)
    req = st.id(name)
    await st.ok(received(req, "qz-czj", recv))
    r = await as_role(st, "liaison", "liaison-czj", *consultation(req, start, end))
    return req, (start, end), r


async def test_a_held_consultation_holds_its_end_and_approval_applies_both(st):
    req, (start, end), r = await held_consultation(st, "CS")
    # the same consultation recorded in time (by the operator): the due date the approval must give
    ref = st.id("CR")
    recv = cal().subtract_working_days(await st.today(), 30, REGION)
    await st.ok(received(ref, "qz-czj", recv), *consultation(ref, start, end))
    expected = st.clock(ref, "request_reply").due

    assert [x.status for x in r] == ["held", "held"], [x.text() for x in r]
    assert "依赖待审核的开始征求意见事件" in r[1].reason and r[0].event_id in r[1].reason
    entries = {e["event_id"]: e for e in list_entries("held", "qz-czj") if e["item_id"] == req}
    assert entries[r[1].event_id]["depends_on"] == r[0].event_id and entries[r[0].event_id]["depends_on"] is None
    assert st.clock(req, "request_reply").state == "open"  # the held pause changes nothing yet

    # a dependent is decided with its root, never alone
    from services.review import ReviewError

    with pytest.raises(ReviewError) as refused:
        await decide(st.client, r[1].event_id, approve=True, by="supervisor-zwgk")
    assert "一并审核" in refused.value.reason

    e = await decide(st.client, r[0].event_id, approve=True, by="supervisor-zwgk", reason="有征求意见函")
    assert e["status"] == "approved"
    after = {e["event_id"]: e for e in list_entries(None, "qz-czj") if e["item_id"] == req}
    assert after[r[1].event_id]["status"] == "approved" and after[r[1].event_id]["decided_at"]
    assert "一并批准" in after[r[1].event_id]["decision_reason"]
    reply = st.clock(req, "request_reply")
    assert reply.state == "open" and reply.due == expected  # the pause ended: due as if recorded in time
    assert st.clock(req, "third_party_opinion").state == "met"
    from tests.test_review import event_rows

    assert event_rows(req).count("request.consultation_ended") == 1


async def test_rejecting_a_held_start_refuses_its_end_with_a_reason_naming_it(st):
    req, _, r = await held_consultation(st, "CX")
    assert [x.status for x in r] == ["held", "held"]
    before = st.clock(req, "request_reply").due
    res = await decide_many(st.client, [r[0].event_id, r[1].event_id], approve=False, by="s", reason="无征求意见函")
    assert [x["ok"] for x in res] == [True, True], res
    end = res[1]["entry"]
    assert (
        end["status"] == "rejected" and r[0].event_id in end["decision_reason"] and "已驳回" in end["decision_reason"]
    )
    assert end["decided_at"]
    reply = st.clock(req, "request_reply")
    assert reply.state == "open" and reply.due == before  # as if the consultation never came


async def test_a_reply_after_a_held_extension_waits_for_it(st):
    """A liaison's later event deciding the same clock as a held one waits for it; approved, both apply in
    order (the extension first, so the reply is judged against the extended due date)."""
    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 24, REGION)
    due = c.add_working_days(recv, 20, REGION)
    req = st.id("EX")
    await st.ok(received(req, "qz-czj", recv))
    ext = {
        "type": "request.extended",
        "request_id": req,
        "on": due.isoformat(),
        "working_days": 10,
        "approved_by": "head-czj",
        "notified_on": due.isoformat(),
        "reason": "需调阅档案",
    }
    r = await as_role(st, "liaison", "liaison-czj", ext)
    assert r[0].status == "held"
    reply = {"type": "request.replied", "request_id": req, "on": today.isoformat(), "outcome": "granted"}
    r2 = await as_role(st, "liaison", "liaison-czj", reply)
    assert r2[0].status == "held" and "依赖待审核的" in r2[0].reason, r2[0].text()
    await decide(st.client, r[0].event_id, approve=True, by="supervisor-zwgk")
    clock = st.clock(req, "request_reply")
    assert clock.state == "met" and clock.due == c.add_working_days(due, 10, REGION).isoformat()
    await st.result("request", req)  # nothing held: the workflow finishes


async def test_the_cli_decides_many_and_a_lock_asks_for_confirm(st):
    import asyncio

    from domain.scoring import parse_period
    from tests.test_review import cli

    today, c = await st.today(), cal()
    replied = c.subtract_working_days(today.replace(day=1), 8, REGION)  # in a month that has ended
    recv = c.subtract_working_days(replied, 25, REGION)
    reqs = [st.id(f"CL{i}") for i in range(2)]
    eids = []
    for req in reqs:
        await st.ok(received(req, "qz-czj", recv))
        reply = {"type": "request.replied", "request_id": req, "on": replied.isoformat(), "outcome": "granted"}
        r = await as_role(st, "liaison", "liaison-czj", reply)
        assert r[0].status == "held"
        eids.append(r[0].event_id)
    period = parse_period(replied.isoformat()[:7]).label
    out = await asyncio.to_thread(cli, "scores", "lock", "--period", period, "--department", "qz-czj")
    assert out.exit_code == 1 and "补录待审核" in out.output and reqs[0] in out.output and "--confirm" in out.output
    out = await asyncio.to_thread(cli, "review", "approve", *eids)
    assert out.exit_code == 0 and "共 2 条，成功 2 条" in out.output, out.output
    assert all(st.clock(req, "request_reply").state == "missed" for req in reqs)
    out = await asyncio.to_thread(cli, "scores", "lock", "--period", period, "--department", "qz-czj")
    assert out.exit_code == 0, out.output


async def test_ledger_preview_holds_a_consultation_end_with_its_held_start_as_the_import_does(st):
    """Issue 19: a ledger row whose consultation start is a late entry: the preview says the end is held with
    it (not refused), the import does the same, and approving the start applies both (the pause ends)."""
    from services.ledger_import import apply, plan, preview
    from store.db import get_engine

    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 30, REGION)
    start, end = c.add_working_days(recv, 5, REGION), c.add_working_days(recv, 12, REGION)
    key = st.id("LC")
    st.started.add(f"request:{key}")
    head = "受理编号,收到申请日期,申请方式,申请人类型,征求意见对象,征求意见日期,意见收到日期,答复日期,答复结果\n"
    data = (head + f"{key},{recv},网络,自然人,第三方,{start},{end},,\n").encode("utf-8-sig")
    p = plan(data, "征求意见.csv", "qz-czj")
    (pre,) = preview(p, get_engine(), role="liaison")
    (res,) = await apply(p, st.client, recorded_by="liaison-czj", role="liaison")
    statuses = [e["status"] for e in pre.events]
    assert statuses == ["new", "held", "held"], pre.text(True)
    assert [e["status"] for e in res.events] == ["applied", "held", "held"], res.text()
    assert [d["due"] for d in pre.due] == [d["due"] for d in res.due]

    root = res.events[1]["event_id"]
    await decide(st.client, root, approve=True, by="supervisor-zwgk", reason="有征求意见函")
    assert st.clock(key, "third_party_opinion").state == "met"  # the end applied with its start
    statuses_after = {e["event_id"]: e["status"] for e in list_entries(None, "qz-czj") if e["item_id"] == key}
    assert set(statuses_after.values()) == {"approved"} and len(statuses_after) == 2
