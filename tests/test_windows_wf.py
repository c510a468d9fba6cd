"""Minimum windows (不少于 N 日) and backward pre-deadlines through the real workflows on the time-skipping
server: public consultations (consultation.opened / closed) and the request's reply draft counted back from
its reply clock. Dates are 2026 dates in the past (imported history), derived from the calendar."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from domain.engine import engine
from domain.flags import item_flags
from services.ingest import Ingestor

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAY = dt.timedelta(days=1)
REGION = "guangxi"  # qz-fgw's node (钦州) counts on Guangxi's calendar
OPENED = dt.date(2026, 3, 2)


def cal():
    return engine().calendar


def last_day(opened: dt.date, days: int) -> dt.date:
    """The 30-day minimum's last day: start day not counted, a rest day moves on (民法典第二百零一、二百零三条)."""
    return cal().next_working_day(opened + dt.timedelta(days=days), REGION)


def opened(cid: str, kind: str = "major_decision", on: dt.date = OPENED, **kw) -> dict:
    return {
        "type": "consultation.opened",
        "consultation_id": cid,
        "department": "qz-fgw",
        "opened_on": str(on),
        "kind": kind,
        "title": "钦州市某项重大行政决策草案",
        "url": "https://www.qinzhou.gov.cn/zjdc/1.html",
        **kw,
    }


def closed(cid: str, on: dt.date, **kw) -> dict:
    return {"type": "consultation.closed", "consultation_id": cid, "closed_on": str(on), **kw}


async def test_a_consultation_closed_on_day_29_of_a_30_day_window_is_refused(st):
    cid = st.id("MD29")
    await st.ok(opened(cid))
    c = st.clock(cid, "major_decision_consultation")
    due = last_day(OPENED, 30)
    assert (c.due, c.state) == (due.isoformat(), "open")
    assert c.explanation["minimum"] and c.explanation["earliest_close_after"] == due.isoformat()
    for day in (OPENED + 29 * DAY, due):  # day 29, and the minimum's last day itself
        r = await st.ingest(closed(cid, day))
        assert (r[0].status, r[0].field) == ("rejected", "closed_on"), r[0].text()
        assert f"征求意见期不少于30日，须在 {due} 之后结束" in r[0].reason
        assert "urgent_reason" in r[0].reason  # 第十五条 allows a shorter window with a stated reason
    assert st.clock(cid, "major_decision_consultation").state == "open"
    # the page and the board never call it overdue, although its last day is long past
    assert item_flags(st.item(cid).data, st.item(cid).clocks) == []


async def test_a_consultation_closed_after_day_30_is_met(st):
    cid = st.id("MD31")
    await st.ok(opened(cid))
    due = last_day(OPENED, 30)
    await st.ok(closed(cid, due + DAY))
    c = st.clock(cid, "major_decision_consultation")
    assert (c.state, c.met_on, c.lateness_working_days) == ("met", (due + DAY).isoformat(), 0)
    assert st.item(cid).state == "closed"
    assert item_flags(st.item(cid).data, st.item(cid).clocks) == []


async def test_an_urgent_close_is_accepted_with_its_reason_and_flagged(st):
    cid = st.id("MDURG")
    await st.ok(opened(cid))
    due = last_day(OPENED, 30)
    early = OPENED + 10 * DAY
    r = await st.ingest(closed(cid, early, urgent_reason="   "))  # a blank reason is no reason
    assert (r[0].status, r[0].field) == ("rejected", "closed_on")
    await st.ok(closed(cid, early, urgent_reason="防汛应急需要，提前结束征求意见"))
    c = st.clock(cid, "major_decision_consultation")
    assert (c.state, c.lateness_working_days) == ("met", 0)
    assert c.explanation["shortened"] == {
        "closed_on": early.isoformat(),
        "earliest": due.isoformat(),
        "reason": "防汛应急需要，提前结束征求意见",
    }
    flags = {f["code"]: f for f in item_flags(st.item(cid).data, st.item(cid).clocks)}
    assert flags["window_shortened"]["label"] == "缩短征求意见期"
    assert (
        "防汛应急需要" in flags["window_shortened"]["detail"] and due.isoformat() in flags["window_shortened"]["detail"]
    )


async def test_the_kind_and_business_flag_select_the_window(st):
    norm, biz, reg = st.id("NORM"), st.id("BIZ"), st.id("REG")
    await st.ok(
        opened(norm, "normative"),
        opened(biz, "normative", business_related=True),
        opened(reg, "regulation_draft"),
    )
    assert [c.rule for c in st.item(norm).clocks] == ["normative_consultation"]
    assert st.clock(norm, "normative_consultation").due == cal().add_working_days(OPENED, 7, REGION).isoformat()
    assert [c.rule for c in st.item(biz).clocks] == ["normative_consultation_business"]
    assert st.clock(biz, "normative_consultation_business").due == last_day(OPENED, 30).isoformat()
    assert [c.rule for c in st.item(reg).clocks] == ["regulation_draft_consultation"]
    # 7 working days for a normative document: closing on its 7th working day is still too early
    seventh = cal().add_working_days(OPENED, 7, REGION)
    r = await st.ingest(closed(norm, seventh))
    assert r[0].status == "rejected" and f"不少于7个工作日，须在 {seventh} 之后结束" in r[0].reason
    await st.ok(closed(norm, seventh + DAY))
    assert st.clock(norm, "normative_consultation").state == "met"


def _enable_reply_draft(st) -> None:
    """request_reply_draft ships off (nodes = []): this test's config turns it on for 钦州."""
    path = st.config / "rules.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[rules.request_reply_draft]")
    head, tail = text[:start], text[start:]
    path.write_text(head + tail.replace("nodes = []", 'nodes = ["qinzhou"]', 1), encoding="utf-8")


async def test_the_reply_draft_is_counted_back_and_moves_with_an_extension(st):
    _enable_reply_draft(st)
    ing = Ingestor(st.client)  # reads the rule table as the edited config gives it
    req = st.id("DRAFT")
    recv = dt.date(2026, 3, 2)
    res = await ing.ingest(
        [
            (
                1,
                {
                    "event_id": st.id("d1"),
                    "type": "request.received",
                    "request_id": req,
                    "department": "qz-fgw",
                    "channel": "online",
                    "received_on": str(recv),
                    "applicant_type": "natural_person",
                    "subject": "申请公开某项目批复",
                },
            )
        ]
    )
    assert res[0].status == "applied", res[0].text()
    st.started.add(f"request:{req}")
    reply = st.clock(req, "request_reply")
    draft = st.clock(req, "request_reply_draft")
    due = cal().add_working_days(recv, 20, REGION)
    assert reply.due == due.isoformat()
    assert draft.due == cal().subtract_working_days(due, 3, REGION).isoformat()
    assert draft.explanation["base"]["due"] == due.isoformat()  # both computations are shown
    assert "内部时限" in draft.explanation["rule_name"]
    on = recv + DAY
    ext = {
        "type": "request.extended",
        "request_id": req,
        "on": str(on),
        "working_days": 10,
        "reason": "需调阅档案",
        "approved_by": "head-fgw",
        "notified_on": str(on),
    }
    res = await ing.ingest([(2, {"event_id": st.id("d2"), **ext})])
    assert res[0].status == "applied", res[0].text()
    longer = cal().add_working_days(recv, 30, REGION)
    assert st.clock(req, "request_reply").due == longer.isoformat()
    assert st.clock(req, "request_reply_draft").due == cal().subtract_working_days(longer, 3, REGION).isoformat()
    # met by the same reply as the statutory clock
    reply_day = cal().subtract_working_days(longer, 1, REGION)
    res = await ing.ingest(
        [
            (
                3,
                {
                    "event_id": st.id("d3"),
                    "type": "request.replied",
                    "request_id": req,
                    "on": str(reply_day),
                    "outcome": "granted",
                },
            )
        ]
    )
    assert res[0].status == "applied", res[0].text()
    assert st.clock(req, "request_reply").state == "met"
    d = st.clock(req, "request_reply_draft")
    assert (d.state, d.lateness_working_days) == ("missed", 2)  # the draft was due 3 working days before


async def test_the_reply_draft_is_off_by_default(st):
    req = st.id("NODRAFT")
    await st.ok(
        {
            "type": "request.received",
            "request_id": req,
            "department": "qz-fgw",
            "channel": "online",
            "received_on": "2026-03-02",
            "applicant_type": "natural_person",
            "subject": "申请公开某项目批复",
        }
    )
    assert [c.rule for c in st.item(req).clocks if c.rule.startswith("request_reply")] == ["request_reply"]


def _enable_same_day_interpretation(st) -> None:
    """policy_interpretation_same_day ships off (nodes = []): this test's config turns it on for 钦州."""
    path = st.config / "rules.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[rules.policy_interpretation_same_day]")
    path.write_text(text[:start] + text[start:].replace("nodes = []", 'nodes = ["qinzhou"]', 1), encoding="utf-8")


async def test_a_node_asking_the_interpretation_with_the_file_gets_a_same_day_clock(st):
    _enable_same_day_interpretation(st)
    ing = Ingestor(st.client)
    signed_on = dt.date(2026, 3, 2)
    pub = cal().add_working_days(signed_on, 5, REGION)
    n = 0

    async def send(ev: dict) -> None:
        nonlocal n
        n += 1
        res = await ing.ingest([(n, {"event_id": st.id(f"s{n}"), **ev})])
        assert res[0].status == "applied", res[0].text()
        if ev["type"] == "document.signed":
            st.started.add(f"document:{ev['document_id']}")

    for doc, interp_on in ((st.id("SAME"), pub), (st.id("NEXT"), cal().add_working_days(pub, 1, REGION))):
        await send(
            {
                "type": "document.signed",
                "document_id": doc,
                "department": "qz-fgw",
                "title": "钦州市某行政规范性文件",
                "kind": "normative",
                "signed_on": str(signed_on),
                "disclosure": "public",
            }
        )
        await send({"type": "document.published", "document_id": doc, "published_on": str(pub), "url": "https://x/1"})
        rules = [c.rule for c in st.item(doc).clocks]
        assert "policy_interpretation_same_day" in rules and "policy_interpretation" not in rules
        assert st.clock(doc, "policy_interpretation_same_day").due == pub.isoformat()
        await send(
            {
                "type": "interpretation.published",
                "document_id": doc,
                "published_on": str(interp_on),
                "url": "https://x/2",
            }
        )
    same = st.clock(st.id("SAME"), "policy_interpretation_same_day")
    assert (same.state, same.lateness_working_days) == ("met", 0)
    nxt = st.clock(st.id("NEXT"), "policy_interpretation_same_day")
    assert (nxt.state, nxt.lateness_working_days) == ("missed", 1)  # the next working day is one day late


async def test_the_api_refuses_an_early_close_and_the_page_shows_a_shortened_one(st):
    from tests.test_clock_edges_wf import supervisor_http

    cid, urgent = st.id("API"), st.id("APIURG")
    due = last_day(OPENED, 30)
    async with await supervisor_http(st) as http:
        await st.sync_clock()
        body = [{"event_id": st.id(f"a{i}"), **opened(c)} for i, c in enumerate((cid, urgent))]
        r = await http.post("/api/events", json=body)
        assert [x["status"] for x in r.json()["results"]] == ["applied", "applied"]
        st.started.update({f"consultation:{cid}", f"consultation:{urgent}"})
        r = await http.post("/api/events", json=[{"event_id": st.id("a3"), **closed(cid, OPENED + 29 * DAY)}])
        res = r.json()["results"][0]
        assert (res["status"], res["field"]) == ("rejected", "closed_on")
        assert f"须在 {due} 之后结束" in res["reason"]
        # the forms come from the event models: the opening asks the kind, the close the reason
        form = (await http.get("/events/new", params={"type": "consultation.opened"})).text
        assert "草案类别" in form and "重大行政决策" in form and "是否与市场主体生产经营活动密切相关" in form
        form = (await http.get("/events/new", params={"type": "consultation.closed", "item": cid})).text
        assert "缩短理由" in form and "结束征求意见日期" in form
        assert "结束征求意见" in (await http.get(f"/items/{cid}")).text  # the open window offers its close
        ev = closed(urgent, OPENED + 5 * DAY, urgent_reason="上级部署时间紧急")
        r = await http.post("/api/events", json=[{"event_id": st.id("a4"), **ev}])
        assert r.json()["results"][0]["status"] == "applied"
        page = await http.get(f"/items/{urgent}")
        assert page.status_code == 200 and "缩短征求意见期" in page.text and "上级部署时间紧急" in page.text
        item = (await http.get(f"/api/items/{urgent}")).json()
        assert "window_shortened" in {f["code"] for f in item["flags"]}
        board = await http.get("/")  # the supervisor's board lists the flagged consultation
        assert board.status_code == 200 and "缩短征求意见期" in board.text and urgent in board.text
        page = (await http.get("/scores", params={"period": "2026-Q1", "department": "qz-fgw"})).text
        table = page[page.index('id="request-checks"') :]
        row = re.search(r"<tr><td>钦州市发展和改革委员会</td>(.*?)</tr>", table)
        assert row and re.findall(r'<td class="n">(\d+)</td>', row.group(1))[-1] == "1"  # 缩短征求意见期
