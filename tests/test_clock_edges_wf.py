"""Issue 8 §1/§2 through the real request and document workflows on the time-skipping server.

The dates are 2026 dates in the past (the issue's own examples): imported history, as a department's
back-office import would send it.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest

from domain.engine import engine
from domain.flags import consultation_summary, item_flags
from services.ingest import Ingestor

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAY = dt.timedelta(days=1)


def cal():
    return engine().calendar


def received(req_id, dept, day):
    return {
        "type": "request.received",
        "request_id": req_id,
        "department": dept,
        "channel": "online",
        "received_on": str(day),
        "applicant_type": "natural_person",
        "subject": "申请公开某项目批复",
    }


def req_ev(type_, req_id, on, **kw):
    return {"type": type_, "request_id": req_id, "on": str(on), **kw}


async def supervisor_http(st):
    """An HTTP client on the real app with a supervisor's token (the store is the test's own)."""
    import httpx
    from sqlmodel import Session

    from app.web.server import create_app
    from store.db import get_engine
    from store.tokens import create_token, ensure_table

    ensure_table(get_engine())
    with Session(get_engine()) as s:
        token, _ = create_token(s, "supervisor", person="supervisor-zwgk")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(st.client, open_pages=False)),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_second_consultation_ends_at_its_own_answer(st):
    req = st.id("R")
    await st.ok(
        received(req, "qz-fgw", "2026-03-02"),
        req_ev("request.consultation_started", req, "2026-03-05", **{"with": "third_party"}),
        req_ev("request.consultation_ended", req, "2026-03-10"),
        req_ev("request.consultation_started", req, "2026-03-16", **{"with": "agency"}),
    )
    assert st.clock(req, "request_reply").state == "paused"
    await st.ok(req_ev("request.consultation_ended", req, "2026-04-01"))
    reply = st.clock(req, "request_reply")
    # 5 wd used before and between the consultations, 15 after 04-01: 2026-04-23 on the national
    # calendar (test_clock_edges), a day later here for Guangxi's 三月三; the old code cut the agency
    # pause at the third-party window's due date (03-26).
    expected = cal().add_working_days(dt.date(2026, 4, 1), 15, "guangxi").isoformat()
    assert (reply.state, reply.due) == ("open", expected)
    assert st.clock(req, "third_party_opinion").state == "met"
    assert st.clock(req, "agency_opinion").state == "met"


async def test_consultations_of_both_kinds_at_once_pause_for_their_union(st):
    req = st.id("R")
    await st.ok(
        received(req, "qz-fgw", "2026-03-02"),
        req_ev("request.consultation_started", req, "2026-03-05", **{"with": "third_party"}),
        req_ev("request.consultation_started", req, "2026-03-09", **{"with": "agency"}),
    )
    r = await st.ingest(req_ev("request.consultation_started", req, "2026-03-10", **{"with": "agency"}))
    assert (r[0].status, r[0].field) == ("rejected", "with") and "其他机关" in r[0].reason
    r = await st.ingest(req_ev("request.consultation_ended", req, "2026-03-10"))
    assert (r[0].status, r[0].field) == ("rejected", "with")
    await st.ok(req_ev("request.consultation_ended", req, "2026-03-10", **{"with": "third_party"}))
    # The agency is still consulted: the reply clock stays paused, the agency window runs on.
    assert st.clock(req, "request_reply").state == "paused"
    assert st.clock(req, "third_party_opinion").state == "met"
    assert st.clock(req, "agency_opinion").state == "open"
    await st.ok(req_ev("request.consultation_ended", req, "2026-03-20", **{"with": "agency"}))
    reply = st.clock(req, "request_reply")
    # 03-03, 03-04 used (2 wd); paused 03-05..03-20 (the union); 18 wd after 03-20.
    assert reply.due == cal().add_working_days(dt.date(2026, 3, 20), 18, "guangxi").isoformat()
    assert reply.paused_days == 16


async def test_third_party_window_counts_from_delivery(st):
    req = st.id("R")
    await st.ok(
        received(req, "qz-fgw", "2026-03-02"),
        req_ev("request.consultation_started", req, "2026-03-05", delivered_on="2026-03-09", **{"with": "third_party"}),
    )
    window = st.clock(req, "third_party_opinion")
    window_due = cal().add_working_days(dt.date(2026, 3, 9), 15, "guangxi").isoformat()
    assert (window.start, window.due) == ("2026-03-09", window_due)
    r = await st.ingest(
        req_ev(
            "request.consultation_started", st.id("R"), "2026-03-05", delivered_on="2026-03-04", **{"with": "agency"}
        )
    )
    assert (r[0].status, r[0].field) == ("rejected", "delivered_on")


async def test_edition_by_receipt_date_through_correction(st):
    req = st.id("OLD")
    await st.ok(
        received(req, "qz-fgw", "2019-05-08"),
        req_ev("request.correction_requested", req, "2019-05-10", respond_by="2019-05-24"),
        req_ev("request.corrected", req, "2019-05-16"),
    )
    reply = st.clock(req, "request_reply")
    assert (reply.start, reply.due) == ("2019-05-16", "2019-06-06")
    r = await st.ingest(
        req_ev(
            "request.extended",
            req,
            "2019-06-03",
            working_days=20,
            approved_by="head-fgw",
            notified_on="2019-06-03",
            reason="x",
        )
    )
    assert (r[0].status, r[0].field) == ("rejected", "working_days") and "15" in r[0].reason
    await st.ok(
        req_ev(
            "request.extended",
            req,
            "2019-06-03",
            working_days=15,
            approved_by="head-fgw",
            notified_on="2019-06-03",
            reason="复杂",
        )
    )
    assert st.clock(req, "request_reply").due == "2019-06-28"


async def test_correction_period_on_a_rest_day_moves_and_a_short_one_is_flagged(st):
    req = st.id("R")
    await st.ok(received(req, "qz-jyj", "2026-03-02"))
    r = await st.ok(req_ev("request.correction_requested", req, "2026-03-04", respond_by="2026-03-07"))
    assert "补正期限过短" in (r[0].reason or "")
    snap = st.item(req)
    corr = snap.data["correction"]
    assert corr["respond_by"] == "2026-03-09" and corr["too_short"] and corr["working_days"] == 3
    # No correction by the (moved) last day: abandoned as of 03-09, not 03-07.
    await st.env.sleep(dt.timedelta(hours=2))
    final = await st.result("request", req)
    assert final.state == "abandoned" and final.data["closed_on"] == "2026-03-09"
    # A reasonable period is not flagged.
    ok = st.id("R2")
    await st.ok(
        received(ok, "qz-jyj", "2026-03-02"),
        req_ev("request.correction_requested", ok, "2026-03-04", respond_by="2026-03-13"),
    )
    assert st.item(ok).data["correction"]["too_short"] is False
    # Corrected after a short period and then left unanswered: overdue, and the flag goes with it.
    over = st.id("R3")
    await st.ok(
        received(over, "qz-jyj", "2026-03-02"),
        req_ev("request.correction_requested", over, "2026-03-04", respond_by="2026-03-06"),
        req_ev("request.corrected", over, "2026-03-05"),
    )
    # The supervisor sees the flag: item API and page, the overdue API, the board's list; not on the
    # reasonable one.
    async with await supervisor_http(st) as http:
        overdue = {r["id"]: r for r in (await http.get("/api/overdue", params={"department": "qz-jyj"})).json()["rows"]}
        assert [f["code"] for f in overdue[over]["flags"]] == ["correction_too_short"]
        item = (await http.get(f"/api/items/{req}")).json()
        assert [f["label"] for f in item["flags"]] == ["补正期限过短"] and "3 个工作日" in item["flags"][0]["detail"]
        assert (await http.get(f"/api/items/{ok}")).json()["flags"] == []
        page = (await http.get(f"/items/{req}")).text
        assert "补正期限过短" in page and "仅 3 个工作日" in page
        board = (await http.get("/", params={"department": "qz-jyj"})).text
        flagged = board.split('id="flagged"')[1].split("</table>")[0]
        assert req in flagged and ok not in flagged


async def test_on_the_spot_means_the_same_day(st):
    req = st.id("R")
    await st.ok(received(req, "qz-jyj", "2026-03-02"))
    r = await st.ingest(req_ev("request.answered_on_the_spot", req, "2026-03-03", outcome="granted"))
    assert (r[0].status, r[0].field) == ("rejected", "on") and "request.replied" in r[0].reason
    await st.ok(req_ev("request.answered_on_the_spot", req, "2026-03-02", outcome="granted"))
    assert st.clock(req, "request_reply").state == "met"


async def test_withdrawal_after_the_due_date_keeps_the_lateness(st):
    late, early = st.id("LATE"), st.id("EARLY")
    await st.ok(received(late, "qz-jyj", "2026-10-09"), received(early, "qz-jyj", "2026-10-09"))
    assert st.clock(late, "request_reply").due == "2026-11-05"
    await st.ok(req_ev("request.withdrawn", late, "2026-11-20"), req_ev("request.withdrawn", early, "2026-11-05"))
    c = st.clock(late, "request_reply")
    assert (c.state, c.met_on, c.lateness_working_days) == ("missed", "2026-11-20", 11)
    assert any("撤回" in n and "逾期 11 个工作日" in n for n in c.explanation["notes"])
    assert st.item(late).state == "withdrawn"
    assert st.clock(early, "request_reply").state == "closed"  # on the due day: neutral
    from domain.scoring import parse_period
    from services.scores import compute_scores
    from store.db import session as _session

    with _session() as s:
        res = compute_scores(s, parse_period("2026-11"), dt.date(2026, 11, 25), "qz-jyj")
    rows = {d.item_id: d for d in res.details}
    assert rows[late].status == "late" and rows[late].deduction == 6
    assert rows[early].status == "closed" and rows[early].deduction == 0
    # A review decided against the department deducts case_lost in the month of the decision.
    await st.ok(
        req_ev("review.filed", early, "2026-11-10"), req_ev("review.decided", early, "2026-11-24", result="corrected")
    )
    with _session() as s:
        res = compute_scores(s, parse_period("2026-11"), dt.date(2026, 11, 25), "qz-jyj")
        october = compute_scores(s, parse_period("2026-10"), dt.date(2026, 11, 25), "qz-jyj")
    lost = [d for d in res.details if d.status == "case_lost"]
    assert [(d.item_id, d.deduction) for d in lost] == [(early, 3)]
    # the late reply (6) and the lost case (3) are both 依申请公开: capped at its weight 6 (鲤城 2020)
    assert res.summary[0].cases_lost == 1 and res.summary[0].indicators["request"].raw_deduction == 9
    assert res.summary[0].deduction == 6
    assert all(d.status != "case_lost" for d in october.details)


async def test_repeal_after_the_due_date_keeps_the_lateness(st):
    doc = st.id("D")
    await st.ok(
        {
            "type": "document.signed",
            "document_id": doc,
            "department": "qz-fgw",
            "title": "测试文件",
            "kind": "other",
            "signed_on": "2026-09-01",
            "disclosure": "public",
        }
    )
    due = st.clock(doc, "policy_publication").due
    repealed = cal().add_working_days(dt.date.fromisoformat(due), 3, "guangxi")
    await st.ok({"type": "document.repealed", "document_id": doc, "repealed_on": repealed.isoformat()})
    c = st.clock(doc, "policy_publication")
    assert (c.state, c.lateness_working_days) == ("missed", 3)


async def test_withheld_document_published_later_is_recorded_without_a_clock(st):
    doc = st.id("W")
    await st.ok(
        {
            "type": "document.signed",
            "document_id": doc,
            "department": "qz-fgw",
            "title": "内部文件",
            "kind": "policy",
            "signed_on": "2026-09-01",
            "disclosure": "withheld",
            "withheld_reason": "withheld.internal_affairs",
        }
    )
    await st.settle(f"document:{doc}")
    r = await st.ok(
        {"type": "document.published", "document_id": doc, "published_on": "2026-10-12", "url": "http://u.cn"}
    )
    assert "不计时限" in (r[0].reason or "")
    assert st.item(doc).clocks == []
    from domain.scoring import parse_period
    from services.scores import compute_scores
    from store.db import session as _session

    with _session() as s:
        res = compute_scores(s, parse_period("2026-Q3"), dt.date(2026, 10, 20), "qz-fgw")
    assert res.summary[0].withheld == 1 and res.summary[0].deduction == 0
    # Signed and published in one import batch (the workflow may still be running): the same outcome.
    doc2 = st.id("W2")
    r = await st.ok(
        {
            "type": "document.signed",
            "document_id": doc2,
            "department": "qz-fgw",
            "title": "内部文件2",
            "kind": "policy",
            "signed_on": "2026-09-02",
            "disclosure": "withheld",
            "withheld_reason": "withheld.process_information",
        },
        {"type": "document.published", "document_id": doc2, "published_on": "2026-10-12", "url": "http://u.cn"},
    )
    assert "不计时限" in (r[1].reason or "")
    await st.settle(f"document:{doc2}")
    assert st.item(doc2).clocks == []
    async with await supervisor_http(st) as http:
        page = (await http.get("/scores", params={"period": "2026-Q3", "department": "qz-fgw"})).text
        csv_text = (
            await http.get("/api/scores", params={"period": "2026-Q3", "department": "qz-fgw", "format": "csv"})
        ).content.decode("utf-8-sig")
    details = page.split('id="score-details"')[1].split("</table>")[0]
    assert "内部文件" in details and "不予公开" in details and "内部事务信息" in details
    header, row = csv_text.splitlines()[:2]
    cols = dict(zip(header.split(","), row.split(","), strict=True))
    assert cols["不予公开（件）"] == "2" and cols["扣分"] == "0"  # both withheld documents of Q3


async def test_unanswered_concurrent_consultations_each_end_with_their_own_window(st):
    req = st.id("R")
    await st.ok(
        received(req, "qz-fgw", "2026-03-02"),
        req_ev("request.consultation_started", req, "2026-03-05", **{"with": "third_party"}),
        req_ev("request.consultation_started", req, "2026-03-12", **{"with": "agency"}),
    )
    third, agency = st.clock(req, "third_party_opinion"), st.clock(req, "agency_opinion")
    assert third.due < agency.due
    # Both windows lie in the past: they lapse after the import grace period.
    await st.env.sleep(dt.timedelta(hours=2))
    reply = await st.wait_for(lambda: st.clock(req, "request_reply"), lambda k: k.state == "open")
    # Paused from 03-05 to the agency window's last day (the third party's lapse did not end it).
    assert reply.due == cal().add_working_days(dt.date.fromisoformat(agency.due), 18, "guangxi").isoformat()
    assert st.clock(req, "third_party_opinion").state == "closed"
    assert st.clock(req, "agency_opinion").state == "closed"


async def test_documents_not_disclosed_proactively_on_the_scores_page_and_export(st):
    """Issue 17 §2/§7 through the real app: an on-request policy document (with its reason) and a normative
    document recorded as needing no interpretation are counted and listed; the page shows each indicator."""
    q, n = st.id("Q"), st.id("N")
    base = {"type": "document.signed", "department": "qz-fgw", "signed_on": "2026-09-03"}
    await st.ok(
        {**base, "document_id": q, "title": "依申请文件", "kind": "policy", "disclosure": "on_request",
         "disclosure_reason": "仅涉及特定企业"},
        {**base, "document_id": n, "title": "无解读规范性文件", "kind": "normative", "disclosure": "public",
         "needs_interpretation": False},
    )  # fmt: skip
    await st.settle(f"document:{q}")
    await st.settle(f"document:{n}")
    async with await supervisor_http(st) as http:
        page = (await http.get("/scores", params={"period": "2026-Q3", "department": "qz-fgw"})).text
        csv_text = (
            await http.get("/api/scores", params={"period": "2026-Q3", "department": "qz-fgw", "format": "csv"})
        ).content.decode("utf-8-sig")
        item_q = (await http.get(f"/items/{q}")).text
        item_n = (await http.get(f"/items/{n}")).text
    assert "未主动公开（依申请公开）" in item_q and "仅涉及特定企业" in item_q  # flagged on the item as well
    assert "规范性文件未解读" in item_n
    details = page.split('id="score-details"')[1].split("</table>")[0]
    assert "依申请文件" in details and "仅涉及特定企业" in details
    assert "无解读规范性文件" in details and "规范性文件未解读" in details
    indicators = page.split('id="indicators"')[1].split("</table>")[0]
    assert "政府信息依申请公开" in indicators and "泉州市鲤城区2020年政务公开指数绩效考评" in indicators
    header, row = csv_text.splitlines()[:2]
    cols = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cols["依申请公开（件）"], cols["规范性文件未解读（件）"], cols["扣分"]) == ("1", "1", "0")
    assert cols["政府信息主动公开得分（权重10）"] == "10"


# ---------------------------------------------------------------- issue 17 §4: extensions, consultations


def extension(req, on, **kw):
    return req_ev("request.extended", req, on, working_days=kw.pop("working_days", 10), reason="需调阅档案", **kw)


async def test_an_extension_needs_the_departments_head_the_notice_and_no_self_approval(st):
    req = st.id("EXT")
    recv = cal().subtract_working_days(await st.today(), 5, "guangxi")
    await st.ok(received(req, "qz-fgw", recv))
    due = st.clock(req, "request_reply").due
    on = recv + DAY
    r = await st.ingest(extension(req, on, approved_by="head-fgw"))  # the applicant was not told
    assert (r[0].status, r[0].field) == ("rejected", "notified_on")
    late_notice = dt.date.fromisoformat(due) + DAY
    r = await st.ingest(extension(req, on, approved_by="head-fgw", notified_on=str(late_notice)))
    if late_notice <= await st.today():  # a notice dated after today is refused as a future fact anyway
        assert (r[0].status, r[0].field) == ("rejected", "notified_on") and due in r[0].reason
    else:
        assert (r[0].status, r[0].field) == ("rejected", "notified_on")
    r = await st.ingest(extension(req, on, approved_by="head-czj", notified_on=str(on)))  # another department's
    assert (r[0].status, r[0].field) == ("rejected", "approved_by") and "不是钦州市发展和改革委员会的负责人" in r[
        0
    ].reason
    r = await st.ingest(extension(req, on, approved_by="liaison-fgw", notified_on=str(on)))  # not a head
    assert (r[0].status, r[0].field) == ("rejected", "approved_by")
    r = await st.ingest(extension(req, on, approved_by="局长", notified_on=str(on)))  # a title, not a person
    assert (r[0].status, r[0].field) == ("rejected", "approved_by") and "人员名录" in r[0].reason
    # Recorded by the head himself: self-approval, also when the body names another recorder.
    own = Ingestor(st.client, recorded_by="head-fgw", role="head")
    res = await own.ingest(
        [(1, {"event_id": st.id("self"), **extension(req, on, approved_by="head-fgw", notified_on=str(on))})]
    )
    assert (res[0].status, res[0].field) == ("rejected", "approved_by") and "登记人本人" in res[0].reason
    assert st.clock(req, "request_reply").due == due  # nothing applied
    await st.ok(extension(req, on, approved_by="head-fgw", notified_on=str(on)))
    assert st.clock(req, "request_reply").due == cal().add_working_days(recv, 30, "guangxi").isoformat()
    req2 = st.id("EXT2")
    await st.ok(received(req2, "qz-fgw", recv))
    await st.ok(extension(req2, on, approved_by="supervisor-zwgk", notified_on=str(on)))  # 公开办 may approve


async def test_a_consultation_after_the_due_date_is_refused_and_one_in_the_last_days_flagged(st):
    req = st.id("LATE")
    await st.ok(received(req, "qz-fgw", "2026-03-02"))
    due = dt.date.fromisoformat(st.clock(req, "request_reply").due)
    r = await st.ingest(req_ev("request.consultation_started", req, due + DAY, **{"with": "third_party"}))
    assert (r[0].status, r[0].field) == ("rejected", "on") and "答复期限届满前" in r[0].reason
    assert st.clock(req, "request_reply").state != "paused"
    last_but_one = cal().subtract_working_days(due, 1, "guangxi")
    await st.ok(req_ev("request.consultation_started", req, last_but_one, **{"with": "third_party"}))
    flags = {f["code"]: f["detail"] for f in item_flags(st.item(req).data, st.item(req).clocks)}
    assert "consultation_late_start" in flags and "仅剩 1 个工作日" in flags["consultation_late_start"]
    early = st.id("EARLY")
    await st.ok(received(early, "qz-fgw", "2026-03-02"))
    await st.ok(req_ev("request.consultation_started", early, "2026-03-10", **{"with": "third_party"}))
    assert item_flags(st.item(early).data, st.item(early).clocks) == []


async def test_four_back_to_back_consultations_are_counted_and_flagged(st):
    """The audit's case: received 2026-03-02, four consultations one after another moved the due date by
    months, unseen. Each is accepted (the law sets no number), but the item, the board and the scores show
    the count and the working days paused, flagged beyond [consultation] max_paused_working_days."""
    req = st.id("STACK")
    await st.ok(received(req, "qz-fgw", "2026-03-02"))
    first_due = st.clock(req, "request_reply").due
    assert first_due == cal().add_working_days(dt.date(2026, 3, 2), 20, "guangxi").isoformat()
    start, pauses = dt.date(2026, 3, 3), []
    for kind in ("third_party", "agency", "third_party", "agency"):
        end = cal().add_working_days(start, 14, "guangxi")  # answered inside the 15-day window
        await st.ok(
            req_ev("request.consultation_started", req, start, **{"with": kind}),
            req_ev("request.consultation_ended", req, end, **{"with": kind}),
        )
        pauses.append((start, end))
        start = cal().add_working_days(end, 1, "guangxi")
    paused = sum(cal().working_days_between(a - DAY, b, "guangxi") for a, b in pauses)
    assert paused > 30
    snap = st.item(req)
    reply = next(c for c in snap.clocks if c.rule == "request_reply")
    # Every pause stopped the clock in full: 20 working days to use, `paused` more stood still.
    assert reply.due == cal().add_working_days(dt.date(2026, 3, 2), 20 + paused, "guangxi").isoformat()
    assert reply.due > "2026-06-01" > first_due  # months later
    assert consultation_summary(snap.data, snap.clocks) == {"count": 4, "paused_working_days": paused}
    flags = {f["code"]: f["detail"] for f in item_flags(snap.data, snap.clocks)}
    assert f"征求意见 4 次，共中止 {paused} 个工作日" in flags["consultation_paused_long"]
    # Under the limit: one consultation alone is not flagged.
    one = st.id("ONE")
    await st.ok(
        received(one, "qz-fgw", "2026-03-02"),
        req_ev("request.consultation_started", one, "2026-03-03", **{"with": "third_party"}),
        req_ev("request.consultation_ended", one, "2026-03-10"),
    )
    assert "consultation_paused_long" not in {f["code"] for f in item_flags(st.item(one).data, st.item(one).clocks)}
    async with await supervisor_http(st) as http:
        item = (await http.get(f"/api/items/{req}")).json()
        page = (await http.get(f"/items/{req}")).text
        board = (await http.get("/", params={"department": "qz-fgw"})).text
        scores = (await http.get("/scores", params={"period": "2026", "department": "qz-fgw"})).text
    assert item["consultations"] == {"count": 4, "paused_working_days": paused}
    assert "consultation_paused_long" in {f["code"] for f in item["flags"]}
    assert "征求意见中止过长" in page and f"征求意见 4 次，答复期限共中止 {paused} 个工作日" in page
    flagged = board.split('id="flagged"')[1].split("</table>")[0]
    assert req in flagged and "征求意见中止过长" in flagged and f"4 次 / 中止 {paused} 个工作日" in flagged
    assert one not in flagged
    row = scores.split('id="request-checks"')[1].split("</table>")[0].split("<tr>")[2]
    cells = [c.split("</td>")[0] for c in row.split('<td class="n">')[1:]]
    # requests, consultations, paused days, over the limit: this test's two requests of 2026 and the rest
    # of the store's (other tests' items share it): at least these.
    assert int(cells[1]) >= 5 and int(cells[2]) >= paused and int(cells[3]) >= 1


async def test_a_long_correction_period_is_flagged_and_no_correction_needs_a_notice(st):
    req = st.id("LONG")
    await st.ok(received(req, "qz-jyj", "2026-03-02"))
    respond_by = cal().add_working_days(dt.date(2026, 3, 4), 20, "guangxi")
    await st.ok(req_ev("request.correction_requested", req, "2026-03-04", respond_by=str(respond_by)))
    flags = {f["code"]: f["detail"] for f in item_flags(st.item(req).data)}
    assert "correction_too_long" in flags and "长达 20 个工作日" in flags["correction_too_long"]
    ok = st.id("OK")
    await st.ok(
        received(ok, "qz-jyj", "2026-03-02"),
        req_ev("request.correction_requested", ok, "2026-03-04", respond_by="2026-03-18"),
    )
    assert item_flags(st.item(ok).data) == []
    # 逾期不补正 as a reply: refused without a correction notice, and before its period has passed.
    bare = st.id("BARE")
    await st.ok(received(bare, "qz-jyj", "2026-03-02"))
    r = await st.ingest(req_ev("request.replied", bare, "2026-03-20", outcome="other.no_correction"))
    assert (r[0].status, r[0].field) == ("rejected", "outcome") and "补正告知" in r[0].reason
    assert st.item(bare).state == "open"


async def test_a_request_registered_again_after_a_withdrawal_is_linked_and_flagged(st, tmp_path):
    applicant = {"name": "王五", "id_number": "450702199001011234"}
    first, again, other_dept, stranger = st.id("W1"), st.id("W2"), st.id("W3"), st.id("W4")
    await st.ok(
        {**received(first, "qz-fgw", "2026-03-02"), "applicant": applicant},
        req_ev("request.withdrawn", first, "2026-03-05"),
    )
    back = cal().add_working_days(dt.date(2026, 3, 5), 10, "guangxi")
    await st.ok(
        {**received(again, "qz-fgw", back), "applicant": {**applicant, "name": " 王五 "}},
        {**received(other_dept, "qz-czj", back), "applicant": applicant},
        {**received(stranger, "qz-fgw", back), "applicant": {"name": "赵六", "id_number": "450702199001015678"}},
    )
    flags = {f["code"]: f["detail"] for f in item_flags(st.item(again).data)}
    assert first in flags["after_withdrawal"] and "10 个工作日后" in flags["after_withdrawal"]
    assert item_flags(st.item(other_dept).data) == [] and item_flags(st.item(stranger).data) == []
    late = st.id("W5")
    await st.ok({**received(late, "qz-fgw", cal().add_working_days(back, 1, "guangxi")), "applicant": applicant})
    assert item_flags(st.item(late).data) == []  # 11 working days after: not linked
    # The identity itself is kept nowhere: not in the store (item, event rows), not in the API.
    from sqlmodel import Session, text

    from store.db import get_engine

    with Session(get_engine()) as s:
        dump = " ".join(str(row) for t in ("item", "event_record") for row in s.execute(text(f"SELECT * FROM {t}")))
        keys = [
            k
            for (k,) in s.execute(text("SELECT applicant_key FROM item WHERE id IN (:a, :b)"), {"a": first, "b": again})
        ]
    assert "王五" not in dump and "450702199001011234" not in dump
    assert keys[0] == keys[1] and len(keys[0]) == 64  # one applicant, one key (an HMAC, not the identity)
    async with await supervisor_http(st) as http:
        item = (await http.get(f"/api/items/{again}")).text
        events = (await http.get(f"/api/items/{again}", params={"history": "1"})).text
        board = (await http.get("/", params={"department": "qz-fgw"})).text
        scores = (await http.get("/scores", params={"period": "2026", "department": "qz-fgw"})).text
        api = (await http.get("/api/scores", params={"period": "2026", "department": "qz-fgw"})).json()
        xlsx = (
            await http.get("/api/scores", params={"period": "2026", "department": "qz-fgw", "format": "xlsx"})
        ).content
    assert keys[0] not in item + events + board + scores + str(api)
    # the same counts in the API and the export, not only on the page
    checks = {c["department"]: c for c in api["request_checks"]}["qz-fgw"]
    assert checks["withdrawals"] >= 1 and checks["after_withdrawal"] >= 1
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx))["申请办理核查"]
    header = [c.value for c in sheet[1]]
    fgw = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[-1] == "qz-fgw")  # id: last column
    assert fgw[header.index("撤回后重新申请（件）")] == checks["after_withdrawal"]
    row = scores.split('id="request-checks"')[1].split("</table>")[0].split("<tr>")[2]
    cells = [int(c.split("</td>")[0]) for c in row.split('<td class="n">')[1:]]
    assert cells[6] >= 1 and cells[7] >= 1  # withdrawals, registered again after one (this store: at least)
    assert "撤回后重新申请" in board.split('id="flagged"')[1].split("</table>")[0]
    # Several requests of one applicant on one day (possible 拆分): shown on the board.
    same = st.id("W6")
    await st.ok({**received(same, "qz-fgw", back), "applicant": applicant})
    async with await supervisor_http(st) as http:
        board = (await http.get("/", params={"department": "qz-fgw"})).text
    groups = board.split('id="same-day"')[1].split("</table>")[0]
    assert again in groups and same in groups and stranger not in groups and str(back) in groups
