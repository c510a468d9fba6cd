"""站内消息 end to end (issue 19 §2): with the shipped departments.toml (no external channel), an item's
reminders reach the liaison's inbox through the real item workflow on the time-skipping server; the pages
(header badge, /inbox, opening a message, 全部标为已读, 待办) and the API (GET /api/inbox, POST /api/inbox/read)
over real HTTP (httpx against the app); the item page says 已送达 / 已读 per person."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import httpx
import pytest

from domain.engine import engine
from domain.shanghai import SHANGHAI
from tests.workflow_harness import REPO_CONFIG

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "Inbox-Check-2026!"


def _browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 40000)), base_url="http://127.0.0.1"
    )


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:1500]
    return m.group(1)


async def _sign_in(c: httpx.AsyncClient, person: str) -> None:
    page = await c.get("/login")
    r = await c.post("/login", data={"person": person, "password": PASSWORD, "csrf_token": _csrf(page.text)})
    assert r.status_code in (302, 303), r.text[:500]


def _badge(html: str) -> int:
    m = re.search(r'id="inbox-unread"[^>]*>(\d+)<', html)
    return int(m.group(1)) if m else 0


async def test_reminders_reach_the_inbox_without_channels_and_pages_show_them(st):
    from app.web.server import create_app
    from services.accounts import create_token, set_password
    from store.deliveries import list_deliveries

    # the shipped directory: nobody has an external channel
    shutil.copy(REPO_CONFIG / "departments.toml", st.config / "departments.toml")
    assert all(not p.notify for p in engine().directory.people.values())

    today = await st.today()
    doc = st.id("钦发改规〔2026〕9号")
    await st.ok(
        {
            "type": "document.signed",
            "document_id": doc,
            "department": "qz-fgw",
            "title": "钦州市站内消息测试办法",
            "kind": "normative",
            "signed_on": today.isoformat(),
            "disclosure": "public",
        }
    )
    due = dt.date.fromisoformat(st.clock(doc, "policy_publication").due[:10])
    wake = dt.datetime.combine(due, dt.time(12), tzinfo=SHANGHAI)
    await st.sleep_until(wake)  # the 09:00 reminders: the daily sweep's runs on the way
    await st.settle(f"document:{doc}")
    rows = await st.wait_for(
        lambda: list_deliveries(item_id=doc),
        lambda rows: (
            {(r.step, r.person) for r in rows if r.state == "sent"}
            >= {("t_minus_3", "liaison-fgw"), ("t_minus_1", "liaison-fgw"), ("due_today", "head-fgw")}
        ),
        timeout=60,
    )
    assert {r.state for r in rows} == {"sent"} and {r.channel_used for r in rows} == {"站内消息"}
    assert st.receiver.posts == []  # no external channel anywhere

    await st.sync_clock()
    for person in ("liaison-fgw", "supervisor-zwgk", "liaison-czj"):
        set_password(person, PASSWORD)
    app = create_app(st.client, host="127.0.0.1")
    async with _browser(app) as c:
        await _sign_in(c, "liaison-fgw")
        home = await c.get("/liaison")
        assert home.status_code == 200 and _badge(home.text) == 3  # t_minus_3, t_minus_1, due_today
        page = await c.get("/inbox")
        assert page.status_code == 200
        assert page.text.count('class="unread"') == 3
        assert "【今日到期】" in page.text and "【提醒】" in page.text
        # 待办: the department's item due today, in working days left
        todo = page.text[page.text.index('id="todo-items"') : page.text.index('id="messages"')]
        assert "钦州市站内消息测试办法" in todo and "今天到期" in todo
        ids = [int(x) for x in re.findall(r'href="/inbox/(\d+)"', page.text)]
        assert len(set(ids)) == 3

        item = await c.get(f"/items/{doc}")
        sent = item.text[item.text.index('id="sent"') :]
        assert sent.count("站内消息") >= 3 and "已读" not in sent and "送达失败" not in sent

        opened = await c.get(f"/inbox/{ids[0]}")
        assert opened.status_code == 200 and 'id="message-body"' in opened.text
        assert 'href="/items/' in opened.text and "查看事项" in opened.text
        assert _badge(opened.text) == 2
        go = await c.get(f"/inbox/{ids[1]}?go=1")
        assert go.status_code == 303 and go.headers["location"].startswith("/items/")
        item = await c.get(f"/items/{doc}")
        sent = item.text[item.text.index('id="sent"') :]
        assert sent.count("已读") == 2

        page = await c.get("/inbox")
        assert page.text.count('class="unread"') == 1
        # unread first
        order = [int(x) for x in re.findall(r'<a href="/inbox/(\d+)">', page.text)]
        assert order[0] == ids[2]
        done = await c.post("/inbox/read-all", data={"csrf_token": _csrf(page.text)})
        assert done.status_code == 303
        page = await c.get("/inbox")
        assert _badge(page.text) == 0 and 'class="unread"' not in page.text
        assert "已将 1 条消息标为已读" in page.text
        # someone else's message is not there for this person
        assert (await c.get("/inbox/999999")).status_code == 404

    async with _browser(app) as c:
        await _sign_in(c, "liaison-czj")
        other = await c.get(f"/inbox/{ids[0]}")
        assert other.status_code == 404  # liaison-fgw's message
        page = await c.get("/inbox")
        assert "钦州市站内消息测试办法" not in page.text  # neither the message nor the other department's item

    async with _browser(app) as c:
        await _sign_in(c, "supervisor-zwgk")
        page = await c.get("/inbox")
        assert 'id="todo-reviews"' in page.text and "没有等待审核的补录" in page.text

    # the API: the token's person's messages, unread first, paged
    secret, _ = create_token("liaison", "qz-fgw", "liaison-fgw", "inbox test", 1)
    nobody, _ = create_token("supervisor", None, None, "machine", 1)
    async with _browser(app) as c:
        h = {"Authorization": f"Bearer {secret}"}
        r = await c.get("/api/inbox", params={"limit": 2}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["unread"], len(body["messages"])) == (3, 0, 2)
        assert all(m["read"] and m["state_name"] == "已读" for m in body["messages"])
        assert body["messages"][0]["kind_name"] == "到期提醒" and body["messages"][0]["link"].startswith("/items/")
        r2 = await c.get("/api/inbox", params={"offset": 2, "limit": 2}, headers=h)
        assert len(r2.json()["messages"]) == 1
        r = await c.post("/api/inbox/read", json={"ids": [ids[0]]}, headers=h)
        assert r.status_code == 200 and r.json() == {"marked": 0, "unread": 0}
        refused = await c.get("/api/inbox", headers={"Authorization": f"Bearer {nobody}"})
        assert refused.status_code == 403 and refused.json()["code"] == "no_person"
        assert "人员" in refused.json()["detail"]
        assert (
            await c.post("/api/inbox/read", json={}, headers={"Authorization": f"Bearer {nobody}"})
        ).status_code == 403
        assert (await c.get("/api/inbox")).status_code == 401


async def test_api_marks_only_own_messages(st):
    from app.web.server import create_app
    from services import inbox
    from services.accounts import create_token

    a = inbox.post("liaison-fgw", key="k1", kind="notice", title="甲的消息")
    b = inbox.post("liaison-czj", key="k1", kind="notice", title="乙的消息")
    inbox.post("liaison-fgw", key="k2", kind="notice", title="甲的第二条")
    secret, _ = create_token("liaison", "qz-fgw", "liaison-fgw", "t", 1)
    h = {"Authorization": f"Bearer {secret}"}
    async with _browser(create_app(st.client, host="127.0.0.1")) as c:
        r = await c.post("/api/inbox/read", json={"ids": [a.id, b.id]}, headers=h)
        assert r.json() == {"marked": 1, "unread": 1}  # b is another person's: untouched
        assert inbox.unread_count("liaison-czj") == 1
        body = (await c.get("/api/inbox", headers=h)).json()
        assert [m["title"] for m in body["messages"]] == ["甲的第二条", "甲的消息"]  # unread first
        r = await c.post("/api/inbox/read", headers=h)  # no body: all
        assert r.json() == {"marked": 1, "unread": 0}
