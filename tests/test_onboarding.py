"""Onboarding a department (历史台账初始化) on the real stack: the /import page and the API against the
time-skipping Temporal server, the real worker, the production ingest path and a temporary store.

The department's go-live is set a few working days before the server's today (derived with the calendar),
so the history rows lie before it whatever day the tests run on."""

from __future__ import annotations

import html as H
import json
import re

import httpx
import pytest
from sqlmodel import Session, select

from domain.engine import engine

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
REGION = "guangxi"
DEPT = "qz-jyj"
HEAD = "受理编号,收到申请日期,申请方式,申请人类型,答复日期,答复结果\n"


def set_go_live(st, department: str, day) -> None:
    path = st.config / "departments.toml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(f'id = "{department}"\n', f'id = "{department}"\ngo_live = {day.isoformat()}\n', 1)
    path.write_text(text, encoding="utf-8")
    assert engine().directory.departments[department].go_live == day


def tokens():
    from store.db import get_engine, init_db
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        return {
            "liaison": create_token(s, "liaison", DEPT, person="liaison-jyj")[0],
            "other": create_token(s, "liaison", "qz-fgw", person="liaison-fgw")[0],
            "supervisor": create_token(s, "supervisor", person="supervisor-zwgk")[0],
        }


def client_for(app, token: str | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"} if token else None,
    )


async def upload(c: httpx.AsyncClient, csv_text: str) -> tuple[str, str]:
    """Preview then confirm on the /import page: (preview html, result html)."""
    files = {"file": ("历史台账.csv", csv_text.encode("utf-8-sig"), "text/csv")}
    r = await c.post("/import", files=files, data={"department": DEPT})
    assert r.status_code == 200, r.text
    payload = H.unescape(re.search(r'name="payload" value="([^"]*)"', r.text).group(1))
    done = await c.post("/import/confirm", data={"payload": payload})
    assert done.status_code == 200, done.text
    return r.text, done.text


def held_entries() -> list[dict]:
    from services.review import list_entries

    return list_entries("held", DEPT)


async def first_day(st):
    """The issue's story, scaled: a year of history uploaded by the liaison on the first day."""
    cal, today = engine().calendar, await st.today()
    go_live = cal.subtract_working_days(today, 2, REGION)
    set_go_live(st, DEPT, go_live)
    keys = [st.id(f"HIST-{i}") for i in range(6)]
    st.started |= {f"request:{k}" for k in keys}
    back = lambda n: cal.subtract_working_days(go_live, n, REGION)  # noqa: E731
    fwd = lambda d, n: cal.add_working_days(d, n, REGION)  # noqa: E731
    rows = [
        (keys[0], back(200), fwd(back(200), 10)),  # on time
        (keys[1], back(150), fwd(back(150), 30)),  # really late in its history (no extension)
        (keys[2], back(100), fwd(back(100), 19)),  # on time
        (keys[3], back(60), fwd(back(60), 5)),  # on time
        (keys[4], back(30), fwd(back(30), 20)),  # on time, the last day
        (keys[5], back(3), None),  # still open: due in the future
    ]
    csv_text = HEAD + "".join(
        f"{k},{got},网络,自然人,{rep or ''},{'予以公开' if rep else ''}\n" for k, got, rep in rows
    )
    return keys, rows, csv_text, go_live


async def test_first_day_history_is_one_batch_approved_in_one_action(st):
    from app.web.server import create_app
    from services import views as rm
    from services.inbox import messages
    from store.audit import Filter, search
    from store.db import get_engine
    from store.models import EventRecord

    tok = tokens()
    app = create_app(st.client, open_pages=False)
    keys, rows, csv_text, go_live = await first_day(st)
    today = await st.today()

    async with client_for(app, tok["liaison"]) as c:
        preview, done = await upload(c, csv_text)
    assert preview.count("纳入历史台账") >= len(rows) and "补录待审核" not in preview
    assert "暂存待督查整批审核" in preview and done.count("纳入历史台账") >= len(rows)
    # Nothing of it is an item yet: nothing held, nothing overdue, nothing scored.
    assert held_entries() == [] and all(st.item(k) is None for k in keys)
    assert rm.overdue_views(today, DEPT) == []

    async with client_for(app, tok["liaison"]) as c:
        (b,) = (await c.get("/api/onboarding")).json()["batches"]
        assert b["department"] == DEPT and b["summary"]["rows"] == 6
        detail = (await c.get(f"/api/onboarding/{b['id']}")).json()
        s = detail["summary"]
        assert (s["rows"], s["items"], s["on_time"], s["late"], s["open"], s["held"], s["refused"]) == (
            6,
            6,
            4,
            1,
            1,
            0,
            0,
        )
        late = next(r for r in detail["rows"] if r["key"] == keys[1])
        assert late["summary"] == "late" and late["due"][0]["late"] is True
        # The liaison may not decide; a second upload of the same file adds nothing.
        r = await c.post(f"/api/onboarding/{b['id']}/approve")
        assert r.status_code == 403
        again, _ = await upload(c, csv_text)
        assert "已在待审核的历史台账中" in again
    assert (await client_for(app, tok["liaison"]).get(f"/api/onboarding/{b['id']}")).json()["summary"]["rows"] == 6
    async with client_for(app, tok["other"]) as c:  # another department's liaison sees none of it
        assert (await c.get("/api/onboarding")).json()["batches"] == []
        assert (await c.get(f"/api/onboarding/{b['id']}")).status_code == 404
        assert (await c.get(f"/onboarding/{b['id']}")).status_code == 404

    async with client_for(app, tok["supervisor"]) as c:
        board = await c.get("/", params={"department": DEPT})
        assert "历史台账待审核" in board.text and f'href="/onboarding/{b["id"]}"' in board.text
        page = await c.get(f"/onboarding/{b['id']}")
        assert page.status_code == 200 and "整批批准（6 行）" in page.text and keys[1] in page.text
        # One action applies everything.
        r = await c.post(f"/onboarding/{b['id']}/approve", data={"reason": "已核对纸质台账"})
        assert r.status_code == 303, r.text
        again = await c.post(f"/api/onboarding/{b['id']}/approve")
        assert again.status_code == 409

    for k, _got, rep in rows:
        snap = st.item(k)
        assert snap is not None and snap.department == DEPT
        reply = st.clock(k, "request_reply")
        assert reply.state == ("missed" if k == keys[1] else "met" if rep else "open"), k
    assert st.clock(keys[1], "request_reply").lateness_working_days == 10  # closed late, not overdue
    assert held_entries() == [] and rm.overdue_views(today, DEPT) == []
    with Session(get_engine()) as s:
        evs = s.exec(select(EventRecord).where(EventRecord.department == DEPT)).all()
        assert len(evs) == 11
        assert {(e.recorded_role, e.recorded_by, e.registration_late) for e in evs} == {
            ("onboarding", "liaison-jyj", False)
        }
        (rec,) = search(s, Filter(action="onboarding.approve", outcome="success"))
        assert (rec.actor, rec.department, rec.object) == ("supervisor-zwgk", DEPT, f"onboarding:{b['id']}")
        assert rec.detail["rows"] == 6 and rec.detail["late"] == 1
    inbox = messages("liaison-jyj")["messages"]
    (m,) = [m for m in inbox if m["kind"] == "onboarding"]
    assert "已批准" in m["title"] and "已核对纸质台账" in m["body"] and m["link"] == f"/onboarding/{b['id']}"
    assert [m for m in messages("head-jyj")["messages"] if m["kind"] == "onboarding"]
    async with client_for(app, tok["supervisor"]) as c:
        after = await c.get("/", params={"department": DEPT})
        assert "历史台账待审核" not in after.text


async def test_a_rejected_batch_applies_nothing_and_tells_the_liaison(st):
    from app.web.server import create_app
    from services.inbox import messages
    from store.db import get_engine
    from store.models import EventRecord

    tok = tokens()
    app = create_app(st.client, open_pages=False)
    keys, rows, csv_text, _ = await first_day(st)
    async with client_for(app, tok["liaison"]) as c:
        await upload(c, csv_text)
        (b,) = (await c.get("/api/onboarding")).json()["batches"]
    async with client_for(app, tok["supervisor"]) as c:
        r = await c.post(f"/api/onboarding/{b['id']}/reject", json={"reason": "  "})
        assert r.status_code == 422 and r.json()["field"] == "reason"
        r = await c.post(f"/api/onboarding/{b['id']}/reject", json={"reason": "与纸质台账不符"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "rejected" and r.json()["decision_reason"] == "与纸质台账不符"
        assert (await c.post(f"/api/onboarding/{b['id']}/approve")).status_code == 409
        assert (await c.get("/api/onboarding")).json()["batches"] == []
        assert len((await c.get("/api/onboarding", params={"status": "all"})).json()["batches"]) == 1
    assert all(st.item(k) is None for k in keys)
    with Session(get_engine()) as s:
        assert s.exec(select(EventRecord).where(EventRecord.department == DEPT)).all() == []
    (m,) = [m for m in messages("liaison-jyj")["messages"] if m["kind"] == "onboarding"]
    assert "已驳回" in m["title"] and "与纸质台账不符" in m["body"]
    # A new upload after the rejection opens a new batch.
    async with client_for(app, tok["liaison"]) as c:
        await upload(c, csv_text)
        (b2,) = (await c.get("/api/onboarding")).json()["batches"]
    assert b2["id"] != b["id"] and b2["summary"]["rows"] == 6


async def test_preview_says_what_happens_to_each_row_and_the_result_equals_it(st):
    """A varied ledger uploaded by the liaison (history rows, a history row whose reply after go-live was
    recorded late, a repeated row, a refused row, an ordinary on-time row, a late reply of an ordinary row):
    the preview's row and event statuses and due dates are the upload's, and the approved batch's are
    the preview's."""
    from services import onboarding as ob
    from services.access import Principal
    from services.ledger_import import apply, plan, preview
    from store.db import get_engine

    cal, today = engine().calendar, await st.today()
    go_live = cal.subtract_working_days(today, 6, REGION)
    set_go_live(st, DEPT, go_live)
    k = [st.id(f"MIX-{i}") for i in range(7)]
    st.started |= {f"request:{x}" for x in k}
    back = lambda n: cal.subtract_working_days(go_live, n, REGION)  # noqa: E731
    fwd = lambda d, n: cal.add_working_days(d, n, REGION)  # noqa: E731
    lines = [
        f"{k[0]},{back(40)},网络,自然人,{fwd(back(40), 8)},予以公开",  # history, on time
        f"{k[1]},{back(50)},网络,自然人,{fwd(back(50), 25)},予以公开",  # history, late in its history
        f"{k[2]},{back(10)},网络,自然人,{go_live},予以公开",  # history, reply after go-live recorded late
        f"{k[3]},{fwd(go_live, 2)},网络,自然人,,",  # ordinary row, on time
        f"{k[3]},{fwd(go_live, 2)},网络,自然人,,",  # a repeat within the file
        f"{k[4]},{back(5)},网络,火星人,,",  # refused by the parser
        f"{k[5]},{fwd(go_live, 1)},网络,自然人,{fwd(go_live, 1)},予以公开",  # ordinary, reply late -> held
    ]
    data = (HEAD + "".join(x + "\n" for x in lines)).encode("utf-8-sig")
    p = plan(data, "混合台账.csv", DEPT)
    pre = preview(p, get_engine(), role="liaison")
    res = await apply(p, st.client, recorded_by="liaison-jyj", role="liaison")
    expected = ["onboarding", "onboarding", "onboarding", "applied", "duplicate", "rejected", "held"]
    assert [o.status for o in pre] == expected, [o.text(True) for o in pre]
    assert [o.status for o in res] == expected, [o.text() for o in res]
    seen = {"new": "applied"}
    for a, b in zip(pre, res, strict=True):
        if a.status == "onboarding":  # staged, not sent: the outcome is the preview's own
            assert a.events == b.events and a.due == b.due
            continue
        assert [seen.get(e["status"], e["status"]) for e in a.events] == [e["status"] for e in b.events], b.text()
        assert [d["due"] for d in a.due] == [d["due"] for d in b.due], b.text()
    assert [e["status"] for e in pre[2].events] == ["new", "held"]  # the post-go-live late reply
    assert "补录" in next(o for o in res if o.key == k[5]).text()

    supervisor = Principal(role="supervisor", person="supervisor-zwgk")
    (b,) = ob.list_batches(supervisor)
    batch = ob.get_batch(supervisor, b["id"])
    assert [r["key"] for r in batch["rows"]] == k[:3]
    assert [r["summary"] for r in batch["rows"]] == ["on_time", "late", "held"]
    decided = await ob.approve(st.client, supervisor, b["id"])
    assert decided["status"] == "approved"
    # After approval the items are what the preview said, row by row.
    for o in pre[:3]:
        clock = st.clock(o.key, "request_reply")
        (d,) = o.due
        assert clock.due == d["due"], o.key
        if d.get("met_on"):
            assert clock.state == ("missed" if d["late"] else "met") and clock.met_on[:10] == d["met_on"]
            assert bool(clock.lateness_working_days) == d["late"]
        else:
            assert clock.state == "open"
    # The late reply after go-live is not laundered through the batch: it waits for review as any late entry.
    held = {e["event_id"]: e for e in held_entries()}
    assert f"ledger:{DEPT}:requests:{k[2]}:replied" in held
    assert held[f"ledger:{DEPT}:requests:{k[2]}:replied"]["role"] == "liaison"
    assert f"ledger:{DEPT}:requests:{k[5]}:replied" in held


async def test_cli_lists_shows_and_approves_a_batch(st):
    """`shixian onboarding list|show|approve` (a real subprocess) on the batch a liaison's upload staged."""
    from services.ledger_import import apply, plan
    from store.audit import Filter, search
    from store.db import get_engine
    from tests.test_ledger_import import run_cli

    keys, rows, csv_text, _ = await first_day(st)
    res = await apply(
        plan(csv_text.encode("utf-8"), "历史台账.csv", DEPT), st.client, recorded_by="liaison-jyj", role="liaison"
    )
    assert {o.status for o in res} == {"onboarding"}
    listed = await run_cli(st, "onboarding", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (b,) = json.loads(listed.stdout)
    shown = await run_cli(st, "onboarding", "show", str(b["id"]))
    assert shown.returncode == 0 and "逾期办结 1" in shown.stdout and keys[1] in shown.stdout, shown.stdout
    missing = await run_cli(st, "onboarding", "reject", str(b["id"]))
    assert missing.returncode == 2  # --reason is required
    done = await run_cli(st, "onboarding", "approve", str(b["id"]), "--by", "supervisor-zwgk")
    assert done.returncode == 0 and "已批准" in done.stdout, done.stderr
    assert all(st.item(k) is not None for k in keys)
    with Session(get_engine()) as s:
        (rec,) = search(s, Filter(action="onboarding.approve"))
        assert rec.channel == "cli" and rec.detail["decided_by"] == "supervisor-zwgk"
