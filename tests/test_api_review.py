"""Late entries (补录) through the API and the board: who may see and decide them, and what the
numbers show meanwhile. Same real stack as tests/test_api.py (its module fixture is reused)."""

from __future__ import annotations

import re

import pytest

from tests.test_api import _received, env  # noqa: F401  (fixture)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]


def _days_ago(n: int) -> str:
    from domain.engine import engine
    from services.demo import today_shanghai

    return engine().calendar.subtract_working_days(today_shanghai(), n, "guangxi").isoformat()


async def _held_reply(env, rid: str) -> str:
    r = await env.post(
        "liaison",
        "/api/events",
        json=[
            {**_received(rid, "qz-fgw"), "received_on": _days_ago(30)},
            {
                "event_id": rid + "-reply",
                "type": "request.replied",
                "request_id": rid,
                "on": _days_ago(8),
                "outcome": "granted",
            },
        ],
    )
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["applied", "held"], body
    assert body["held"] == 1 and "补录待审核" in body["results"][1]["message"]
    return rid + "-reply"


async def test_only_supervisors_and_admins_see_and_decide_late_entries(env):
    rid = f"rv-{env.tag}-1"
    eid = await _held_reply(env, rid)
    # held: neither overdue nor on time (待审核), the item shows it with both dates
    overdue = (await env.get("supervisor", "/api/overdue")).json()["rows"]
    assert rid not in {r["id"] for r in overdue}
    item = (await env.get("liaison", f"/api/items/{rid}")).json()
    assert item["review_pending"] and item["review_label"] == "待审核" and item["clocks"][0]["held"]
    assert [(e["status"], e["on"], e["recorded_on"]) for e in item["late_entries"]] == [
        ("held", _days_ago(8), item["late_entries"][0]["recorded_on"])
    ]
    assert item["clocks"][0]["state"] == "open" and "request.replied" not in [e["type"] for e in item["events"]]
    scores = (await env.get("assessor", "/api/scores", params={"period": item["clocks"][0]["due"][:4]})).json()
    assert [d["status"] for d in scores["details"] if d["item_id"] == rid] == ["held"]
    fgw = next(d for d in scores["summary"] if d["department"] == "qz-fgw")
    assert fgw["held"] >= 1 and fgw["per_rule"]["request_reply"]["held"] >= 1
    for role in ("liaison", "assessor"):
        r = await env.get(role, "/api/review")
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await env.post(role, f"/api/review/{eid}/approve")
        assert r.status_code == 403
    r = await env.get("supervisor", "/api/review")
    assert r.status_code == 200 and eid in [e["event_id"] for e in r.json()["entries"]]
    e = next(x for x in r.json()["entries"] if x["event_id"] == eid)
    assert (e["occurred_on"], e["role"], e["recorded_by"]) == (_days_ago(8), "liaison", "liaison-fgw")
    assert (await env.get("admin", "/api/review", params={"department": "qz-fgw"})).status_code == 200
    assert (await env.get("admin", "/api/review", params={"department": "nope"})).status_code == 404
    r = await env.post("supervisor", f"/api/review/{eid}/reject", json={"reason": "  "})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = await env.post("supervisor", "/api/review/no-such-event/approve")
    assert r.status_code == 404
    r = await env.post("admin", f"/api/review/{eid}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "admin"
    item = (await env.get("supervisor", f"/api/items/{rid}")).json()
    assert item["clocks"][0]["state"] == "missed" and item["clocks"][0]["met_on"] == _days_ago(8)
    assert not item["review_pending"] and not item["clocks"][0]["held"]
    assert rid not in {r["id"] for r in (await env.get("supervisor", "/api/overdue")).json()["rows"]}
    scores = (await env.get("assessor", "/api/scores", params={"period": item["clocks"][0]["due"][:4]})).json()
    assert [d["status"] for d in scores["details"] if d["item_id"] == rid] == ["late"]
    r = await env.post("supervisor", f"/api/review/{eid}/approve")
    assert r.status_code == 409 and "已审核" in r.json()["detail"]
    # The score export's 明细 shows the approved late entry on the row it settled, with both dates.
    import io

    from openpyxl import load_workbook

    from services.demo import today_shanghai

    due = item["clocks"][0]["due"]
    r = await env.get("assessor", "/api/scores", params={"period": due[:4], "format": "xlsx", "department": "qz-fgw"})
    ws = load_workbook(io.BytesIO(r.content))["明细"]
    header = [c.value for c in ws[1]]
    col = header.index("补录（事件日期／登记时间）")
    rows = {(row[1].value, row[4].value): row[col].value for row in ws.iter_rows(min_row=2)}
    note = rows[(rid, "依申请公开答复")]
    assert f"事件日期 {_days_ago(8)}" in note and "admin 批准" in note
    assert f"登记于 {today_shanghai().isoformat()}" in note


def _passwords():
    import uuid

    from sqlmodel import Session

    from store.accounts import set_password
    from store.db import database_url, get_engine

    # a fresh password per call: the store refuses one of the last five (domain/passwords.py)
    tag = uuid.uuid4().hex[:6]
    pw = {"supervisor-zwgk": f"Review-supervisor-{tag}", "liaison-fgw": f"Review-liaison-{tag}"}
    with Session(get_engine(database_url())) as s:
        for person, p in pw.items():
            set_password(s, person, p)
    return pw


async def _sign_in(c, person: str, password: str):
    from tests.test_accounts import csrf_of

    page = await c.get("/login")
    r = await c.post(
        "/login", data={"person": person, "password": password, "csrf_token": csrf_of(page.text), "next": "/"}
    )
    assert r.status_code == 303, r.text[:500]


async def test_board_lists_held_entries_and_rejects_with_a_reason(env):
    from tests.test_accounts import csrf_of

    pw = _passwords()
    rid = f"rv-{env.tag}-2"
    eid = await _held_reply(env, rid)
    async with env.http() as c:  # a browser session (cookie), not a bearer token
        await _sign_in(c, "liaison-fgw", pw["liaison-fgw"])
        mine = (await c.get("/liaison")).text
        assert "补录待审核" in mine and rid in mine.split('id="my-held"')[1]
        assert "待审核补录" not in (await c.get("/?department=qz-fgw")).text
        r = await c.post(f"/review/{eid}/approve", data={"csrf_token": csrf_of(mine)})
        assert r.status_code == 403  # a liaison cannot decide
    async with env.http() as c:
        await _sign_in(c, "supervisor-zwgk", pw["supervisor-zwgk"])
        page = (await c.get("/")).text
        assert "待审核补录" in page and eid in page and _days_ago(8) in page
        # without the session's form token (e.g. a cross-site post) nothing happens
        r = await c.post(f"/review/{eid}/reject", data={"reason": "x"})
        assert r.status_code == 403
        r = await c.post(f"/review/{eid}/reject", data={"reason": "无送达回证", "csrf_token": csrf_of(page)})
        assert r.status_code == 303, r.text[:500]
        page = (await c.get(r.headers["location"])).text
        held_table = page.split('id="held"')[1].split("</table>")[0]
        assert "已驳回补录：" in page and f"（{rid}）" in page and eid not in held_table
        item_page = (await c.get(f"/items/{rid}")).text
        assert "补录已驳回" in item_page and "无送达回证" in item_page
    r = await env.get("supervisor", f"/api/items/{rid}")
    assert r.json()["clocks"][0]["state"] == "open"  # still overdue after the rejection


async def test_a_liaisons_event_form_is_reviewed_too(env):
    """The event forms (/events/new) record as the signed-in person: a back-dated reply waits for review."""
    from tests.test_accounts import csrf_of

    pw = _passwords()
    rid = f"rv-{env.tag}-3"
    r = await env.post("liaison", "/api/events", json={**_received(rid, "qz-fgw"), "received_on": _days_ago(30)})
    assert r.json()["applied"] == 1
    async with env.http() as c:
        await _sign_in(c, "liaison-fgw", pw["liaison-fgw"])
        form = (await c.get("/events/new", params={"type": "request.replied", "item": rid})).text
        eid = re.search(r'name="event_id" value="([^"]+)"', form).group(1)
        r = await c.post(
            "/events/new",
            data={
                "csrf_token": csrf_of(form),
                "type": "request.replied",
                "item": rid,
                "event_id": eid,
                "request_id": rid,
                "on": _days_ago(8),
                "outcome": "granted",
            },
        )
        assert r.status_code == 303, r.text[:1500]
        page = (await c.get(r.headers["location"])).text
        assert "补录待审核" in page and "督查批准前不计入" in page
    item = (await env.get("supervisor", f"/api/items/{rid}")).json()
    assert item["clocks"][0]["state"] == "open"
    assert [e["status"] for e in item["late_entries"]] == ["held"]
