"""Issue 17 §5 through the real request workflow on the time-skipping server: the receipt date by channel,
an applicant who cannot be reached (207号 一.2), the 第三十五条 later reply date and the fee pause (109号).

The dates are 2026 dates in the past (imported history, as in test_clock_edges_wf)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.engine import engine
from tests.test_clock_edges_wf import req_ev, supervisor_http

pytestmark = pytest.mark.asyncio(loop_scope="session")
DEPT = "qz-jyj"


def wd(day: str, n: int, region: str) -> str:
    return engine().calendar.add_working_days(dt.date.fromisoformat(day), n, region).isoformat()


def received(req_id, received_on, channel="online", **kw):
    return {
        "type": "request.received",
        "request_id": req_id,
        "department": DEPT,
        "channel": channel,
        "received_on": received_on,
        "applicant_type": "natural_person",
        "subject": "申请公开某项目批复",
        **kw,
    }


async def test_online_rest_day_submission_counts_from_the_platform_record(st):
    req, typed = st.id("R"), st.id("T")
    # Submitted on the platform on Saturday 2026-03-07; the clerk typed Monday 03-09.
    await st.ok(
        received(req, "2026-03-09", submitted_at="2026-03-07T22:10:00+08:00"),
        received(typed, "2026-03-09"),
    )
    reply, plain = st.clock(req, "request_reply"), st.clock(typed, "request_reply")
    assert reply.start == "2026-03-07" and reply.due == wd("2026-03-07", 20, reply.region)
    assert plain.start == "2026-03-09" and reply.due < plain.due
    assert any("平台或邮件系统记录的提交时间" in n for n in reply.explanation["notes"])
    assert st.clock(req, "correction_notice").start == "2026-03-07"
    async with await supervisor_http(st) as http:
        item = (await http.get(f"/api/items/{req}")).json()
        assert [f["code"] for f in item["flags"]] == ["receipt_moved"]
        assert (await http.get(f"/api/items/{typed}")).json()["flags"] == []
        page = (await http.get(f"/items/{req}")).text
        assert "收到日期按渠道确定" in page and "不作为起算日" in page
        board = (await http.get("/", params={"department": DEPT})).text
        flagged = board.split('id="receipt-flagged"')[1].split("</table>")[0]
        assert req in flagged and typed not in flagged


async def test_unreachable_applicant_waits_until_contact_is_restored(st):
    req = st.id("R")
    await st.ok(received(req, "2026-03-02", channel="post_ordinary"))
    await st.ok(req_ev("request.applicant_unreachable", req, "2026-03-02", note="未留联系电话"))
    reply = st.clock(req, "request_reply")
    assert (reply.state, reply.due) == ("awaiting_contact", None)
    assert st.clock(req, "correction_notice").state == "awaiting_contact"
    assert st.item(req).state == "open"
    # Nothing runs meanwhile: a reply (or anything but contact / withdrawal) is refused.
    r = await st.ingest(req_ev("request.replied", req, "2026-03-20", outcome="granted"))
    assert (r[0].status, r[0].field) == ("rejected", "type") and "请先登记“恢复联络”" in r[0].reason
    r = await st.ingest(req_ev("request.contact_restored", req, "2026-03-01"))
    assert (r[0].status, r[0].field) == ("rejected", "on")
    async with await supervisor_http(st) as http:
        board = (await http.get("/", params={"department": DEPT})).text
        assert "待联系申请人" in board.split('id="receipt-flagged"')[1].split("</table>")[0]
    await st.ok(req_ev("request.contact_restored", req, "2026-04-13"))
    reply = st.clock(req, "request_reply")
    assert (reply.state, reply.start, reply.due) == ("open", "2026-04-13", wd("2026-04-13", 20, reply.region))
    assert any("恢复联络" in n and "207号" in n for n in reply.explanation["notes"])
    assert st.clock(req, "correction_notice").start == "2026-04-13"
    assert [f["code"] for f in _flags(st, req)] == ["contact_restored"]
    await st.ok(req_ev("request.replied", req, wd("2026-04-13", 10, reply.region), outcome="granted"))
    assert st.clock(req, "request_reply").state == "met"


async def test_unreachable_only_where_the_channel_allows_it(st):
    walk_in, confirmed = st.id("W"), st.id("C")
    await st.ok(
        received(walk_in, "2026-03-02", channel="in_person"),
        received(confirmed, "2026-03-02", channel="post_ordinary", confirmed_on="2026-03-03"),
    )
    r = await st.ingest(req_ev("request.applicant_unreachable", walk_in, "2026-03-02"))
    assert r[0].status == "rejected" and "当面提交" in r[0].reason
    r = await st.ingest(req_ev("request.applicant_unreachable", confirmed, "2026-03-03"))
    assert r[0].status == "rejected" and "已于 2026-03-03 与申请人确认" in r[0].reason
    assert st.clock(confirmed, "request_reply").start == "2026-03-03"
    # Recorded after the 7-working-day notice window, it would restart a clock that has long been running.
    late = st.id("L")
    await st.ok(received(late, "2026-03-02", channel="post_ordinary"))
    notice_due = st.clock(late, "correction_notice").due[:10]
    r = await st.ingest(
        req_ev("request.applicant_unreachable", late, wd(notice_due, 1, st.clock(late, "request_reply").region))
    )
    assert (r[0].status, r[0].field) == ("rejected", "on") and notice_due in r[0].reason
    await st.ok(req_ev("request.applicant_unreachable", late, notice_due))  # the window's last day: accepted


async def test_article_35_later_reply_date(st):
    req = st.id("R")
    await st.ok(received(req, "2026-03-02"))
    statutory = st.clock(req, "request_reply").due
    r = await st.ingest(
        req_ev(
            "request.reply_delayed",
            req,
            "2026-03-20",
            reply_by=statutory,
            notified_on="2026-03-20",
            reason="一次申请 300 项",
        )
    )
    assert (r[0].status, r[0].field) == ("rejected", "reply_by")
    await st.ok(
        req_ev(
            "request.reply_delayed",
            req,
            "2026-03-20",
            reply_by="2026-05-29",
            notified_on="2026-03-23",
            reason="一次申请 300 项",
        )
    )
    reply = st.clock(req, "request_reply")
    assert (reply.state, reply.due) == ("open", "2026-05-29")
    assert "第三十五条" in reply.explanation["summary"]
    r = await st.ingest(
        req_ev(
            "request.reply_delayed", req, "2026-03-25", reply_by="2026-06-30", notified_on="2026-03-25", reason="再延"
        )
    )
    assert r[0].status == "rejected" and "不能再次延迟" in r[0].reason
    # Decided after the statutory due date: refused.
    late = st.id("L")
    await st.ok(received(late, "2026-03-02"))
    after = (dt.date.fromisoformat(statutory) + dt.timedelta(days=1)).isoformat()
    r = await st.ingest(
        req_ev("request.reply_delayed", late, after, reply_by="2026-06-30", notified_on=after, reason="数量多")
    )
    assert (r[0].status, r[0].field) == ("rejected", "on")
    async with await supervisor_http(st) as http:  # while it is open, the supervisor sees the delay
        board = (await http.get("/", params={"department": DEPT})).text
        assert "延迟答复（第三十五条）" in board.split('id="receipt-flagged"')[1].split("</table>")[0]
    await st.ok(req_ev("request.replied", req, "2026-05-20", outcome="granted"))
    assert st.clock(req, "request_reply").state == "met"
    assert [f["code"] for f in _flags(st, req)] == ["reply_delayed"]
    # Counted per department in the scores of the period.
    from domain.scoring import parse_period
    from services.scores import compute_scores
    from store.db import session

    with session() as s:
        res = compute_scores(s, parse_period("2026"), await st.today(), DEPT)
    (dept,) = [d for d in res.summary if d.department == DEPT]
    assert dept.reply_delayed == 1
    assert any(r.status == "reply_delayed" and r.item_id == req for r in res.details)
    async with await supervisor_http(st) as http:  # answered: off the board's list of live requests
        board = (await http.get("/", params={"department": DEPT})).text
        assert req not in board.split('id="receipt-flagged"')[-1].split("</table>")[0]


async def test_an_extension_and_a_later_reply_date_on_one_request_are_flagged(st):
    """Both lawful (第三十三条, 第三十五条), the later date counts; together they are shown to the supervisor."""
    req = st.id("S")
    await st.ok(received(req, "2026-03-02"))
    region = st.clock(req, "request_reply").region
    await st.ok(
        req_ev("request.extended", req, "2026-03-10", working_days=10, reason="需调阅档案", approved_by="head-jyj",
               notified_on="2026-03-10")
    )  # fmt: skip
    assert "delay_and_extension" not in {f["code"] for f in _flags(st, req, clocks=True)}
    later = wd(st.clock(req, "request_reply").due[:10], 5, region)
    await st.ok(
        req_ev("request.reply_delayed", req, "2026-03-12", reply_by=later, notified_on="2026-03-12", reason="数量多")
    )
    assert st.clock(req, "request_reply").due[:10] == later
    flags = {f["code"]: f["detail"] for f in _flags(st, req, clocks=True)}
    assert "已延期 10 个工作日" in flags["delay_and_extension"] and later in flags["delay_and_extension"]
    async with await supervisor_http(st) as http:
        board = (await http.get("/", params={"department": DEPT})).text
        assert "延期与延迟答复叠加" in board.split('id="receipt-flagged"')[1].split("</table>")[0]


async def test_fee_notice_pauses_the_reply_clock_until_paid(st):
    req = st.id("R")
    await st.ok(received(req, "2026-03-02"))
    r = await st.ingest(req_ev("request.fee_paid", req, "2026-03-04"))
    assert r[0].status == "rejected" and "未发出收费通知" in r[0].reason
    await st.ok(req_ev("request.fee_notified", req, "2026-03-05"))
    assert st.clock(req, "request_reply").state == "paused"
    assert [f["code"] for f in _flags(st, req)] == ["fee_pending"]
    # A consultation that starts and ends meanwhile does not end the fee pause.
    await st.ok(
        req_ev("request.consultation_started", req, "2026-03-06", **{"with": "third_party"}),
        req_ev("request.consultation_ended", req, "2026-03-10"),
    )
    assert st.clock(req, "request_reply").state == "paused"
    r = await st.ingest(req_ev("request.fee_paid", req, "2026-03-04"))
    assert (r[0].status, r[0].field) == ("rejected", "on")
    await st.ok(req_ev("request.fee_paid", req, "2026-03-16"))
    reply = st.clock(req, "request_reply")
    # 03-03, 03-04 counted; 03-05..03-16 stand still; 18 working days after the payment.
    assert (reply.state, reply.due) == ("open", wd("2026-03-16", 18, reply.region))
    assert any(s["kind"] == "pause" and "109号" in s["source"] for s in reply.explanation["skipped"])
    assert [f["code"] for f in _flags(st, req)] == ["fee_paused"]


def _flags(st, item_id, clocks=False):
    from domain.flags import item_flags

    item = st.item(item_id)
    return item_flags(item.data, item.clocks if clocks else None)


async def test_backdated_fee_notice_or_delay_by_a_liaison_waits_for_review(st):
    """A fee notice (pause) or a 第三十五条 delay typed with an old date cannot quietly take an overdue request
    off the overdue list: like a late extension it waits for a supervisor (补录)."""
    from services.ingest import Ingestor
    from services.queries import overdue_rows

    req = st.id("R")
    await st.ok(received(req, "2026-03-02"))
    due = st.clock(req, "request_reply").due
    today = await st.today()
    assert req in {r["id"] for r in overdue_rows(today)}
    at = await st.now()
    ing = Ingestor(st.client, recorded_by="liaison-jyj", role="liaison", now=lambda: at)
    results = await ing.ingest(
        [
            (1, {"event_id": f"{st.tag}-fee", **req_ev("request.fee_notified", req, "2026-03-05")}),
            (
                2,
                {
                    "event_id": f"{st.tag}-delay",
                    **req_ev(
                        "request.reply_delayed",
                        req,
                        "2026-03-20",
                        reply_by="2026-12-31",
                        notified_on="2026-03-20",
                        reason="一次申请 300 项",
                    ),
                },
            ),
        ]
    )
    assert [r.status for r in results] == ["held", "held"], [r.text() for r in results]
    # held: late itself (已过当前答复期限), or with the held fee notice it follows (issue 19: held together)
    assert "已过当前答复期限" in results[1].text() or "依赖待审核的发出收费通知事件" in results[1].text()
    reply = st.clock(req, "request_reply")
    assert (reply.state, reply.due) == ("open", due)
    assert req in {r["id"] for r in overdue_rows(today)}


async def test_fee_unpaid_in_its_period_is_abandoned_as_fee_unpaid(st):
    req = st.id("R")
    await st.ok(received(req, "2026-03-02"), req_ev("request.fee_notified", req, "2026-03-05"))
    region = st.clock(req, "request_reply").region
    pay_by = wd("2026-03-05", 20, region)
    assert st.item(req).data["fee"]["pay_by"] == pay_by
    assert "缴费期限 " + pay_by in _flags(st, req)[0]["detail"]
    r = await st.ingest(req_ev("request.correction_requested", req, "2026-03-06", respond_by="2026-03-13"))
    assert r[0].status == "rejected" and "尚未缴费" in r[0].reason
    # Imported long after the period: closed after the grace period, as 逾期未缴费 (表三 other.fee_unpaid).
    await st.env.sleep(dt.timedelta(hours=2))
    final = await st.result("request", req)
    assert (final.state, final.data["outcome"], final.data["closed_on"]) == ("abandoned", "other.fee_unpaid", pay_by)
    assert next(c for c in final.clocks if c.rule == "request_reply").state == "closed"
