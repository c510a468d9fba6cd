"""Start events and other entries that hide lateness (issue 17 §3) on the time-skipping server, through the
real ingest path, workflow, store, API, pages and the score export: a late start is flagged 登记滞后 (not
held), a late correction received is held like a reply, the 公开办's entries are marked 代录, and the
calendar-day bound decides when it is shorter."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from statistics import median

import pytest
from sqlmodel import select

from domain.flags import item_flags
from domain.notice_text import beijing_text
from domain.scoring import parse_period
from store.models import EventRecord
from tests.test_clock_edges_wf import req_ev, supervisor_http
from tests.test_review import REGION, as_role, cal, cli
from tests.test_workflows import received

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
DEPT = "qz-czj"  # guangxi calendar


def rows(item_id: str) -> dict[str, EventRecord]:
    from store.db import session

    with session() as s:
        return {e.type: e for e in s.exec(select(EventRecord).where(EventRecord.item_id == item_id))}


def past_bound(day: dt.date, recorded: dt.date) -> bool:
    """The shipped bound: more than 3 working days or more than 7 calendar days."""
    return cal().working_days_between(day, recorded, REGION) > 3 or (recorded - day).days > 7


def month(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


async def test_a_late_start_is_flagged_not_held_listed_on_the_board_and_counted(st):
    today, c = await st.today(), cal()
    ten, four = c.subtract_working_days(today, 10, REGION), c.subtract_working_days(today, 4, REGION)
    late, later, timely = st.id("LAG-A"), st.id("LAG-B"), st.id("LAG-C")
    for rid, day in ((late, ten), (later, four), (timely, today)):
        r = await as_role(st, "liaison", "liaison-czj", received(rid, DEPT, day))
        assert r[0].status == "applied", r[0].text()  # a start is never held: that would stop its clock
    # the clock runs from the request's own date
    assert st.clock(late, "request_reply").due == c.add_working_days(ten, 20, REGION).isoformat()
    lag = c.working_days_between(ten, today, REGION)
    flags = item_flags(st.item(late).data)
    assert [f["code"] for f in flags] == ["registration_late"]
    assert flags[0]["label"] == "登记滞后"
    assert f"事件日期 {ten}，{today} 才登记（晚 {lag} 个工作日" in flags[0]["detail"]
    assert not item_flags(st.item(timely).data)
    row = rows(late)["request.received"]
    assert (row.recorded_role, row.lag_working_days, row.registration_late) == ("liaison", lag, True)
    assert (rows(timely)["request.received"].lag_working_days, rows(timely)["request.received"].registration_late) == (
        0,
        False,
    )
    assert rows(later)["request.received"].registration_late is past_bound(four, today)

    async with await supervisor_http(st) as http:
        # API: the recording instant in Shanghai time (+08:00), the store's UTC instant kept as ingested_at
        item = (await http.get(f"/api/items/{late}")).json()
        ev = item["events"][0]
        assert ev["recorded_at"].endswith("+08:00") and ev["recorded_at"][:10] == today.isoformat()
        assert dt.datetime.fromisoformat(ev["recorded_at"]) == dt.datetime.fromisoformat(ev["ingested_at"])
        assert (ev["registration_late"], ev["lag_working_days"], ev["proxy"]) == (True, lag, False)
        assert [f["code"] for f in item["flags"]] == ["registration_late"]
        page = (await http.get(f"/items/{late}")).text
        assert f'<span class="badge warn">登记滞后</span> 事件日期 {ten}，{today} 才登记' in page
        assert f"登记于 {beijing_text(today)}" in page.split('class="timeline"')[1]
        # the board lists it under its department with the lag (recorded in the board's period: today)
        board = (await http.get("/", params={"department": DEPT})).text
        table = board.split('id="registration-late"')[1].split("</table>")[0]
        assert late in table and f'<td class="n">{lag}</td>' in table and timely not in table
        # scores: the department's median and maximum over the starts dated in the period
        period = month(ten)
        p = parse_period(period)
        dated = [d for d in (ten, four, today) if p.start <= d <= p.end]
        lags = [c.working_days_between(d, today, REGION) for d in dated]
        res = (await http.get("/api/scores", params={"period": period, "as_of": today.isoformat()})).json()
        mine = [r for r in res["registration"] if r["department"] == DEPT]
        assert mine == [
            {
                "department": DEPT,
                "starts": len(lags),
                "median_working_days": float(median(lags)),
                "max_working_days": max(lags),
                "late": sum(1 for d in dated if past_bound(d, today)),
            }
        ]
        page = (await http.get("/scores", params={"period": period})).text
        assert 'id="registration-lag"' in page and str(max(lags)) in page.split('id="registration-lag"')[1]
        xlsx = await http.get("/api/scores", params={"period": period, "format": "xlsx"})
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(xlsx.content))["登记滞后"]
        values = [[c.value for c in r] for r in sheet.iter_rows()]
        assert values[0][:2] == ["部门", "起始事件（件）"]
        # the department by name first, its id in the last column (issue 19: exports name departments)
        assert [v[1:-1] for v in values[1:] if v[-1] == DEPT] == [[len(lags), median(lags), max(lags), mine[0]["late"]]]
        assert [v[0] for v in values[1:] if v[-1] == DEPT] == ["钦州市财政局"]


async def test_the_calendar_day_bound_decides_when_it_is_shorter(st):
    """late_entry_working_days = 10 would let a reply recorded 8 calendar days after its date through;
    late_entry_calendar_days = 7 holds it (whichever bound comes first)."""
    today, c = await st.today(), cal()
    (st.config / "review.toml").write_text(
        "late_entry_working_days = 10\nlate_entry_calendar_days = 7\n", encoding="utf-8"
    )
    recv = c.subtract_working_days(today, 30, REGION)
    held, ok = st.id("CAL-H"), st.id("CAL-OK")
    await st.ok(received(held, DEPT, recv), received(ok, DEPT, recv))
    eight, seven = today - dt.timedelta(days=8), today - dt.timedelta(days=7)
    assert c.working_days_between(eight, today, REGION) <= 10  # the working-day bound alone would pass it
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": held, "on": str(eight), "outcome": "granted"},
    )
    assert r[0].status == "held", r[0].text()
    assert "10 个工作日或 7 个自然日" in r[0].reason and f"{eight + dt.timedelta(days=8)} 起登记即为补录" in r[0].reason
    assert st.clock(held, "request_reply").state == "open"
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": ok, "on": str(seven), "outcome": "granted"},
    )
    assert r[0].status == "applied", r[0].text()  # exactly 7 calendar days: on time
    # the same bound flags a start
    start = st.id("CAL-S")
    r = await as_role(st, "liaison", "liaison-czj", received(start, DEPT, eight))
    assert r[0].status == "applied" and [f["code"] for f in item_flags(st.item(start).data)] == ["registration_late"]


async def test_a_late_correction_received_is_held_like_a_reply(st):
    """request.corrected restarts the reply clock from its date: recorded late, a later date would give the
    department more time, so a liaison's or head's late entry waits for a supervisor."""
    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 6, REGION)
    notice = c.add_working_days(recv, 1, REGION)
    corrected = c.subtract_working_days(today, 4, REGION)
    assert notice <= corrected
    req, other = st.id("COR"), st.id("COR-SUP")
    for rid in (req, other):
        await st.ok(
            received(rid, DEPT, recv),
            req_ev("request.correction_requested", rid, notice, respond_by=str(c.add_working_days(today, 10, REGION))),
        )
        assert (st.clock(rid, "request_reply").state, st.clock(rid, "request_reply").due) == ("paused", None)
    r = await as_role(st, "liaison", "liaison-czj", req_ev("request.corrected", req, corrected))
    assert r[0].status == "held", r[0].text()
    assert "补录待审核" in r[0].text() and f"事件日期 {corrected}" in r[0].reason
    assert st.clock(req, "request_reply").state == "paused"  # nothing restarted: still waiting
    assert "request.corrected" not in rows(req)
    out = await asyncio.to_thread(cli, "review", "approve", r[0].event_id, "--by", "supervisor-zwgk")
    assert out.exit_code == 0, out.output
    clock = st.clock(req, "request_reply")
    assert (clock.state, clock.due) == ("open", c.add_working_days(corrected, 20, REGION).isoformat())
    # the 公开办 entering the same is not held, but marked 代录
    r = await as_role(st, "supervisor", "supervisor-zwgk", req_ev("request.corrected", other, corrected))
    assert r[0].status == "applied", r[0].text()
    assert rows(other)["request.corrected"].recorded_role == "supervisor"


async def test_entries_by_the_office_are_marked_proxy_on_the_item_page_and_in_the_export(st):
    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 25, REGION)
    req, own = st.id("PROXY"), st.id("OWN")
    await st.ok(received(req, DEPT, recv))  # the operator's import (shixian events ingest)
    r = await as_role(st, "liaison", "liaison-czj", received(own, DEPT, today))
    assert r[0].status == "applied"
    replied = c.subtract_working_days(today, 6, REGION)
    r = await as_role(
        st,
        "supervisor",
        "supervisor-zwgk",
        {"type": "request.replied", "request_id": req, "on": str(replied), "outcome": "granted"},
    )
    assert r[0].status == "applied", r[0].text()  # not held ...
    got = rows(req)
    assert (got["request.received"].recorded_role, got["request.replied"].recorded_role) == ("operator", "supervisor")
    async with await supervisor_http(st) as http:
        item = (await http.get(f"/api/items/{req}")).json()
        assert [(e["type"], e["proxy"], e["recorded_role"]) for e in item["events"]] == [
            ("request.received", True, "operator"),
            ("request.replied", True, "supervisor"),
        ]
        assert not any(e["proxy"] for e in (await http.get(f"/api/items/{own}")).json()["events"])
        page = (await http.get(f"/items/{req}")).text
        timeline = page.split('class="timeline"')[1]
        assert timeline.count("代录") >= 2 and "代录：督查 supervisor-zwgk 代部门登记" in timeline
        assert (
            "代录：运维导入" in timeline and f"登记于 {beijing_text(today)}" in timeline and "（北京时间）" in timeline
        )
        own_page = (await http.get(f"/items/{own}")).text
        assert "代录" not in own_page.split('class="timeline"')[1]
        # ... and the 明细 export says what the office entered, and when each start was recorded
        due = st.clock(req, "request_reply").due
        xlsx = await http.get("/api/scores", params={"period": due[:4], "format": "xlsx", "as_of": str(today)})
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(xlsx.content))["明细"]
        header = [c.value for c in next(sheet.iter_rows())]
        i_item, i_reg, i_proxy = (
            header.index("事项编号"),
            header.index("起始事件登记（北京时间）"),
            header.index("代录"),
        )
        mine = [[c.value for c in r] for r in sheet.iter_rows(min_row=2) if r[i_item].value == req]
        assert mine, "the request's clock is in the 明细"
        lag = c.working_days_between(recv, today, REGION)
        # an operator's import is not the department's registration: its lag is shown, not flagged
        assert mine[0][i_reg].startswith(f"事件日期 {recv}，登记于 {today}")
        assert mine[0][i_reg].endswith(f"（北京时间），滞后 {lag} 个工作日")
        assert not item_flags(st.item(req).data)
        assert f"作出答复 事件日期 {replied}，督查 supervisor-zwgk 于 {today}" in mine[0][i_proxy]
        assert "运维导入" in mine[0][i_proxy]


async def test_a_held_correction_keeps_the_request_from_being_abandoned_until_reviewed(st):
    """The correction deadline passes while a late correction waits for review: the request is not
    abandoned (逾期不补正) behind the supervisor's back; rejected, it is abandoned as of the deadline."""
    today, c = await st.today(), cal()
    recv = c.subtract_working_days(today, 6, REGION)
    notice = c.add_working_days(recv, 1, REGION)
    respond_by = c.add_working_days(today, 3, REGION)
    req = st.id("ABN")
    await st.ok(
        received(req, DEPT, recv), req_ev("request.correction_requested", req, notice, respond_by=str(respond_by))
    )
    r = await as_role(
        st, "liaison", "liaison-czj", req_ev("request.corrected", req, c.subtract_working_days(today, 4, REGION))
    )
    assert r[0].status == "held", r[0].text()
    zone = (await st.now()).tzinfo
    await st.env.sleep(dt.datetime.combine(respond_by + dt.timedelta(days=3), dt.time(12), zone) - await st.now())
    snap = await st.query("request", req)
    assert snap.state == "open" and [e.status for e in snap.late_entries] == ["held"]
    out = await asyncio.to_thread(cli, "review", "reject", r[0].event_id, "--reason", "补正材料未见原件")
    assert out.exit_code == 0, out.output
    final = await st.result("request", req)
    assert final.state == "abandoned" and final.data["outcome"] == "other.no_correction"
    assert rows(req)["request.abandoned"].payload["on"] == respond_by.isoformat()
