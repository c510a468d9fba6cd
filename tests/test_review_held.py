"""Held is neither late nor on time (issue 19): while a late entry (补录) waits for review, the clocks it
would decide count in a column of their own (待审核) on the board, in the scores and in the annual
report's 五; bulk review of many entries (one upload) in one call; locking asks while entries wait.
Same real stack as tests/test_api.py (its module fixture), real HTTP through the app, real SQLite."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from tests.test_api import _received, env  # noqa: F401  (fixture)
from tests.test_api_review import _passwords, _sign_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
REGION = "guangxi"  # qz-fgw's calendar


def cal():
    from domain.engine import engine

    return engine().calendar


def today() -> dt.date:
    from services.demo import today_shanghai

    return today_shanghai()


def ago(n: int, before: dt.date | None = None) -> str:
    return cal().subtract_working_days(before or today(), n, REGION).isoformat()


async def receive(env, rid: str, on: str) -> None:
    r = await env.post("liaison", "/api/events", json=[{**_received(rid, "qz-fgw"), "received_on": on}])
    assert r.json()["applied"] == 1, r.json()


async def late_reply(env, rid: str, on: str) -> str:
    eid = rid + "-reply"
    r = await env.post(
        "liaison",
        "/api/events",
        json=[{"event_id": eid, "type": "request.replied", "request_id": rid, "on": on, "outcome": "granted"}],
    )
    assert [x["status"] for x in r.json()["results"]] == ["held"], r.json()
    return eid


def blamed(report: dict) -> int:
    """Section 五's count for qz-fgw's reply clocks (late or overdue)."""
    return sum(m["count"] for m in report["missed"] if m["rule"] == "request_reply" and m["department"] == "qz-fgw")


async def figures(env, rid: str, due: str) -> dict:
    from services.views import board_view

    board = board_view(today(), "qz-fgw")
    scores = (await env.get("assessor", "/api/scores", params={"period": due[:7], "department": "qz-fgw"})).json()
    report = (await env.get("assessor", "/api/annual-report", params={"year": due[:4], "department": "qz-fgw"})).json()
    fgw = next(g for g in board["groups"] if g["id"] == "qz-fgw") if board["groups"] else {"held": 0}
    return {
        "overdue": rid in {r.id for r in board["rows"]},
        "held_row": rid in {r.id for r in board["held_rows"]},
        "board_held": fgw["held"],
        "status": [d["status"] for d in scores["details"] if d["item_id"] == rid],
        "scores_held": scores["summary"][0]["held"],
        "rate_counts": (scores["summary"][0]["on_time"], scores["summary"][0]["late"], scores["summary"][0]["overdue"]),
        "blamed": blamed(report),
    }


async def test_a_held_reply_is_neither_overdue_nor_on_time_until_decided(env):
    recv = ago(30)
    due = cal().add_working_days(dt.date.fromisoformat(recv), 20, REGION).isoformat()
    a, b = f"hd-{env.tag}-a", f"hd-{env.tag}-b"
    await receive(env, a, recv)
    await receive(env, b, recv)
    overdue = await figures(env, a, due)
    assert overdue["overdue"] and overdue["status"] == ["overdue"] and not overdue["held_row"]
    ea = await late_reply(env, a, ago(8))
    eb = await late_reply(env, b, ago(8))
    held = await figures(env, a, due)
    # 待审核: on the board in its own column, not 逾期; in the scores neither on time nor late; 五 blames neither
    assert not held["overdue"] and held["held_row"] and held["board_held"] >= 2
    assert held["status"] == ["held"] and held["scores_held"] >= 2
    o0, l0, d0 = overdue["rate_counts"]
    assert held["rate_counts"] == (o0, l0, d0 - 2)
    assert held["blamed"] == overdue["blamed"] - 2
    item = (await env.get("supervisor", f"/api/items/{a}")).json()
    assert item["review_pending"] and item["review_label"] == "待审核" and item["clocks"][0]["held"]
    listed = (await env.get("supervisor", "/api/items", params={"department": "qz-fgw", "limit": 500})).json()
    assert {i["id"]: i["review_pending"] for i in listed["items"] if i["id"] in (a, b)} == {a: True, b: True}
    pw = _passwords()
    async with env.http() as c:
        await _sign_in(c, "supervisor-zwgk", pw["supervisor-zwgk"])
        page = (await c.get(f"/items/{a}")).text
        assert 'id="review-pending"' in page and "补录审核前不计逾期" in page
        dept_page = (await c.get("/departments/qz-fgw")).text
        assert "待审核" in dept_page.split(f'/items/{a}"')[1].split("</tr>")[0]

    # approved: as the event says (a late reply); rejected: as if it never came (still overdue)
    r = await env.post("supervisor", "/api/review/bulk", json={"event_ids": [ea], "approve": True, "reason": "核实"})
    assert r.status_code == 200 and r.json()["decided"] == 1, r.text
    r = await env.post("supervisor", "/api/review/bulk", json={"event_ids": [eb], "approve": False, "reason": "无回证"})
    assert r.status_code == 200 and r.json()["results"][0]["entry"]["status"] == "rejected", r.text
    after_a, after_b = await figures(env, a, due), await figures(env, b, due)
    assert after_a["status"] == ["late"] and not after_a["overdue"] and not after_a["held_row"]
    assert after_b["status"] == ["overdue"] and after_b["overdue"]
    assert after_a["rate_counts"] == (o0, l0 + 1, d0 - 1)
    assert after_a["blamed"] == overdue["blamed"]
    page_item = (await env.get("supervisor", f"/api/items/{a}")).json()
    assert not page_item["review_pending"] and page_item["clocks"][0]["state"] == "missed"


async def test_bulk_approve_of_one_upload_decides_every_entry_in_one_call(env):
    from sqlmodel import Session

    from services.ledger_import import apply, plan
    from services.review import list_entries
    from store.audit import Filter, search
    from store.db import database_url, get_engine

    recv, replied = ago(30), ago(12)
    keys = [f"UP-{i}-{env.tag}" for i in range(6)]
    head = "受理编号,收到申请日期,申请方式,申请人类型,答复日期,答复结果\n"
    ledger = (head + "".join(f"{k},{recv},网络,自然人,{replied},予以公开\n" for k in keys)).encode()
    out = await apply(plan(ledger, "台账.csv", "qz-fgw"), env.temporal, recorded_by="liaison-fgw", role="liaison")
    assert [o.status for o in out] == ["held"] * 6, [o.text() for o in out]
    held = [e for e in list_entries("held", "qz-fgw") if any(k in e["item_id"] for k in keys)]
    uploads = {e["upload"] for e in held}
    assert len(held) == 6 and len(uploads) == 1 and None not in uploads
    (upload,) = uploads
    assert {e["event_id"] for e in list_entries("held", upload=upload)} == {e["event_id"] for e in held}

    # the board lists the upload with 全部批准 / 全部驳回
    pw = _passwords()
    async with env.http() as c:
        await _sign_in(c, "supervisor-zwgk", pw["supervisor-zwgk"])
        page = (await c.get("/", params={"upload": upload})).text
    assert "全部批准" in page and "全部驳回" in page and f'value="{upload}"' in page
    assert all(e["event_id"] in page for e in held)

    r = await env.post(
        "supervisor", "/api/review/bulk", json={"upload": upload, "approve": True, "reason": "台账逐条核实无误"}
    )
    body = r.json()
    assert r.status_code == 200 and (body["decided"], body["failed"]) == (6, 0), body
    done = {e["event_id"]: e for e in list_entries(None, upload=upload)}
    assert {e["status"] for e in done.values()} == {"approved"}
    # what the liaison's digest line is built from is stored for each decision
    assert all(e["decided_at"] and e["decision_reason"] == "台账逐条核实无误" for e in done.values())
    with Session(get_engine(database_url())) as s:
        audits = search(s, Filter(action="review.approve"), limit=500)
    assert set(done) <= {a.object for a in audits if a.outcome == "success"}
    # a second call reports each entry as decided already, one by one
    r = await env.post("supervisor", "/api/review/bulk", json={"event_ids": sorted(done), "approve": True})
    assert r.json()["failed"] == 6 and all("已审核" in x["error"] for x in r.json()["results"])
    r = await env.post("supervisor", "/api/review/bulk", json={"event_ids": sorted(done), "approve": False})
    assert r.status_code == 422  # a rejection needs its one reason
    r = await env.post("liaison", "/api/review/bulk", json={"event_ids": sorted(done), "approve": True})
    assert r.status_code == 403


async def test_the_boards_checkboxes_decide_the_selected_entries(env):
    from tests.test_accounts import csrf_of

    recv = ago(30)
    rids = [f"cb-{env.tag}-{i}" for i in range(3)]
    eids = []
    for rid in rids:
        await receive(env, rid, recv)
        eids.append(await late_reply(env, rid, ago(8)))
    pw = _passwords()
    async with env.http() as c:
        await _sign_in(c, "supervisor-zwgk", pw["supervisor-zwgk"])
        page = (await c.get("/")).text
        assert "批准所选" in page and all(f'name="event_id" value="{e}"' in page for e in eids)
        data = [("csrf_token", csrf_of(page)), ("decision", "reject"), ("reason", "无送达回证")]
        data += [("event_id", e) for e in eids[:2]]
        form = {"content-type": "application/x-www-form-urlencoded"}
        r = await c.post("/review/bulk", content=urlencode(data), headers=form)
        assert r.status_code == 303, r.text[:500]
        page = (await c.get(r.headers["location"])).text
        assert "已驳回 2 条补录" in page
    states = [(await env.get("supervisor", f"/api/items/{rid}")).json()["late_entries"][0]["status"] for rid in rids]
    assert states == ["rejected", "rejected", "held"]


async def test_locking_with_pending_reviews_names_them_and_asks(env):
    from sqlmodel import Session

    from domain.scoring import parse_period
    from services.locks import LockRefused, lock_scores
    from store.accounts import set_password
    from store.db import database_url, get_engine
    from tests.test_accounts import csrf_of

    first_of_month = today().replace(day=1)
    replied = ago(8, first_of_month)  # in a month that has ended, recorded now: held
    rid = f"lk-{env.tag}"
    await receive(env, rid, ago(25, dt.date.fromisoformat(replied)))
    await late_reply(env, rid, replied)
    period = parse_period(replied[:7])
    with pytest.raises(LockRefused) as refused:
        lock_scores(period, today(), department="qz-fgw")
    assert refused.value.code == "pending_review"
    (p,) = [x for x in refused.value.pending if x["item_id"] == rid]
    assert (p["department_name"], p["type_name"], p["occurred_on"]) == ("钦州市发展和改革委员会", "作出答复", replied)
    assert rid in str(refused.value) and "钦州市发展和改革委员会" in str(refused.value)

    # the page: a confirmation step naming them, then locked once confirmed
    with Session(get_engine(database_url())) as s:
        set_password(s, "assessor-zwgk", "Review-assessor-pw1")
    async with env.http() as c:
        await _sign_in(c, "assessor-zwgk", "Review-assessor-pw1")
        scores = (await c.get("/scores", params={"period": period.label})).text
        r = await c.post("/scores/lock", data={"csrf_token": csrf_of(scores), "period": period.label})
        assert r.status_code == 200 and "确认锁定" in r.text and rid in r.text and replied in r.text
        assert "待审核" in r.text or "审核" in r.text
        r = await c.post(
            "/scores/lock", data={"csrf_token": csrf_of(scores), "period": period.label, "confirm_pending": "1"}
        )
        assert r.status_code == 303, r.text[:500]
        page = (await c.get(r.headers["location"])).text
        assert "已锁定" in page

    # the annual report: the API refuses with the list, locks with confirm_pending
    year = today().year - 1
    replied_ly = ago(8, dt.date(year + 1, 1, 1))
    rid_ly = f"lky-{env.tag}"
    await receive(env, rid_ly, ago(25, dt.date.fromisoformat(replied_ly)))
    await late_reply(env, rid_ly, replied_ly)
    params = {"year": year}  # all departments (the demo published qz-fgw's own report already)
    r = await env.post("assessor", "/api/annual-report/lock", params=params)
    assert r.status_code == 409 and r.json()["code"] == "pending_review", r.text
    assert rid_ly in [x["item_id"] for x in r.json()["pending"]] and rid_ly in r.json()["detail"]
    r = await env.post("assessor", "/api/annual-report/lock", params={**params, "confirm_pending": True})
    assert r.status_code == 200, r.text
    r = await env.post("assessor", "/api/annual-report/lock", params=params)
    assert r.status_code == 409 and r.json()["code"] == "already_locked"  # locked: said as such, not asked again
