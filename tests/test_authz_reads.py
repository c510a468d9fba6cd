"""Reads, locks and notices a node-scoped principal must not get beyond their subtree (issue 20 review).

The same real stack and three-level tree as tests/test_authz_matrix.py (its module fixture and principals are
reused: 广西 → 钦州/北海 → 灵山/浦北/合浦): the time-skipping Temporal server and the real worker, a
temporary SQLite store, real bearer tokens and password sign-in, httpx against the FastAPI app. Late entries
come from real ledger uploads by a county's liaison (services.ledger_import), reminders' failures from the
real NotifyPersonWorkflow.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

import httpx
import pytest
import pytest_asyncio

from tests.test_authz_matrix import PW, env  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _ago(n: int) -> str:
    from domain.engine import engine
    from services.demo import today_shanghai

    return engine().calendar.subtract_working_days(today_shanghai(), n, "guangxi").isoformat()


async def _sign_in(env, who: str) -> httpx.Cookies:
    """Password sign-in of a person of tests/province.py (as the matrix signs in its principals)."""
    from services.accounts import set_password

    if who in env.cookies:
        return env.cookies[who]
    set_password(who, PW)
    async with env.browser() as b:
        page = await b.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        r = await b.post("/login", data={"person": who, "password": PW, "csrf_token": token.group(1)})
        assert r.status_code == 303, r.text[:500]
        env.cookies[who] = b.cookies
    return env.cookies[who]


async def _page(env, who: str, path: str, **params) -> httpx.Response:
    async with env.browser() as b:
        b.cookies = await _sign_in(env, who)
        return await b.get(path, params=params)


async def _post_form(env, who: str, path: str, data: dict[str, str], csrf_from: str = "/scores") -> httpx.Response:
    async with env.browser() as b:
        b.cookies = await _sign_in(env, who)
        page = await b.get(csrf_from)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        return await b.post(path, data={"csrf_token": token.group(1), **data})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def uploads(env, ts_env):
    """One ledger upload per county department (灵山县教育局, 浦北县教育局) by its liaison: back-dated replies,
    held for review (补录). Returns {department: (upload id, [item ids])}."""
    from services.ledger_import import apply, plan
    from services.review import list_entries

    out = {}
    recv, replied = _ago(30), _ago(12)
    head = "受理编号,收到申请日期,申请方式,申请人类型,答复日期,答复结果\n"
    for dept in ("ls-jyj", "pb-jyj"):
        keys = [f"UP-{dept}-{i}-{env.tag}" for i in range(2)]
        ledger = (head + "".join(f"{k},{recv},网络,自然人,{replied},予以公开\n" for k in keys)).encode()
        done = await apply(plan(ledger, "台账.csv", dept), ts_env.client, recorded_by=f"li-{dept}", role="liaison")
        assert [o.status for o in done] == ["held"] * 2, [o.text() for o in done]
        held = [e for e in list_entries("held", dept) if any(k in e["item_id"] for k in keys)]
        (upload,) = {e["upload"] for e in held}
        assert upload and len(held) == 2
        out[dept] = (upload, sorted({e["item_id"] for e in held}))
    return out


# ---------------------------------------------------------------------------------- 1. the annual report


async def test_annual_report_without_filter_is_the_readers_node(env):
    """No filter: a node-scoped reader gets their node's government report, never the whole province's."""
    year = env.period
    for who, name in (("sup-ls", "灵山县"), ("ass-ls", "灵山县"), ("sup-qz", "钦州市"), ("adm-qz", "钦州市")):
        async with env.api(who) as c:
            r = await c.get("/api/annual-report", params={"year": year})
            assert r.status_code == 200, (who, r.text[:300])
            title = r.json()["title"]
            assert title.startswith(name) and "政府信息公开" in title, (who, title)
            html = await c.get("/api/annual-report", params={"year": year, "format": "html"})
            assert html.status_code == 200 and name in html.text and "广西壮族自治区" not in html.text, who
    # the province's own supervisor (the root) still reads everything; outside the subtree: 403 naming it
    async with env.api("sup-gx") as c:
        assert (await c.get("/api/annual-report", params={"year": year})).status_code == 200
    async with env.api("sup-ls") as c:
        r = await c.get("/api/annual-report", params={"year": year, "node": "qz"})
        assert r.status_code == 403 and "灵山县" in r.json()["detail"] and "钦州市" in r.json()["detail"]
        r = await c.get("/api/annual-report", params={"year": year, "government": "true", "format": "xlsx"})
        assert r.status_code == 200  # the county's government report, as a file


# ---------------------------------------------------------------------------------- 2. reads still unscoped


async def test_todo_lists_the_reviews_of_the_readers_subtree_only(env, uploads):
    ls_items, pb_items = uploads["ls-jyj"][1], uploads["pb-jyj"][1]
    county = (await _page(env, "sup-ls", "/inbox")).text
    assert all(i in county for i in ls_items) and not any(i in county for i in pb_items)
    city = (await _page(env, "sup-qz", "/inbox")).text
    assert all(i in city for i in ls_items + pb_items)
    other = (await _page(env, "adm-bh", "/inbox")).text
    assert not any(i in other for i in ls_items + pb_items) and "待办" in other


async def test_deliveries_of_other_areas_are_not_listed(env):
    from store import deliveries as store
    from store.db import session

    keys = {}
    with session() as s:
        for dept in ("ls-jyj", "pb-jyj", "hp-jyj"):
            keys[dept] = f"{env.item(dept)}:request_reply:t_minus_1:li-{dept}"
            store.claim(s, keys[dept], item_id=env.item(dept), rule="request_reply", step="t_minus_1")
        s.commit()

    async def seen(who: str, **params) -> set[str]:
        async with env.api(who) as c:
            r = await c.get("/api/deliveries", params={"limit": 200, **params})
        assert r.status_code == 200, r.text
        return {d["item_id"] for d in r.json()["deliveries"]}

    mine = {env.item(d) for d in keys}
    assert await seen("sup-ls") & mine == {env.item("ls-jyj")}
    assert await seen("adm-qz") & mine == {env.item("ls-jyj"), env.item("pb-jyj")}
    assert await seen("sup-gx") & mine == mine
    assert await seen("sup-ls", item=env.item("hp-jyj")) == set()
    async with env.api("ass-ls") as c:
        assert (await c.get("/api/deliveries")).status_code == 403


async def test_audit_trail_of_a_city_admin_is_its_subtree(env):
    """/admin/audit and its export: a city's admin reads the records of its subtree's departments only."""
    for who, dept in (("sup-gx", "hp-jyj"), ("sup-gx", "ls-jyj")):
        async with env.api(who) as c:
            r = await c.get("/api/scores", params={"period": env.period, "department": dept, "format": "csv"})
            assert r.status_code == 200  # recorded as export.scores of that department

    async def exported(who: str, **params) -> httpx.Response:
        return await _page(env, who, "/admin/audit/export", format="csv", action="export.scores", **params)

    r = await exported("adm-qz")
    assert r.status_code == 200, r.text[:300]
    codes = {row[-1] for row in list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]}
    assert "ls-jyj" in codes and "hp-jyj" not in codes and codes <= env.province.departments_under("qz")
    r = await exported("adm-gx")  # the province's admin: every record
    codes = {row[-1] for row in list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]}
    assert {"ls-jyj", "hp-jyj"} <= codes
    r = await exported("adm-qz", department="hp-jyj")
    assert r.status_code == 403 and "钦州市" in r.text
    page = await _page(env, "adm-qz", "/admin/audit", action="export.scores")
    assert page.status_code == 200 and "灵山县教育局" in page.text and "合浦县教育局" not in page.text


async def test_bulk_review_of_another_areas_upload_names_counts_only(env, uploads):
    ls_upload, ls_items = uploads["ls-jyj"]
    pb_upload, pb_items = uploads["pb-jyj"]
    async with env.api("sup-ls") as c:
        r = await c.post("/api/review/bulk", json={"upload": pb_upload, "approve": True, "reason": "核实"})
        assert r.status_code == 403, r.text
        detail = r.json()["detail"]
        assert "2 条" in detail and "灵山县" in detail
        assert not any(i in detail for i in pb_items) and "浦北县教育局" not in detail
        # picked one by one: refused without the item or its department either
        from services.review import list_entries

        eid = next(e["event_id"] for e in list_entries("held", "pb-jyj") if e["item_id"] in pb_items)
        r = await c.post("/api/review/bulk", json={"event_ids": [eid], "approve": True, "reason": "核实"})
        assert r.status_code == 200 and r.json()["failed"] == 1
        error = r.json()["results"][0]["error"]
        assert "灵山县" in error and not any(i in error for i in pb_items) and "浦北县" not in error
        # its own county's upload: decided
        r = await c.post("/api/review/bulk", json={"upload": ls_upload, "approve": True, "reason": "核实"})
        assert r.status_code == 200 and r.json()["decided"] == 2, r.text
    assert {e["status"] for e in list_entries(None, "pb-jyj") if e["item_id"] in pb_items} == {"held"}
    assert {e["status"] for e in list_entries(None, "ls-jyj") if e["item_id"] in ls_items} == {"approved"}


# ---------------------------------------------------------------------------------- 3. locks of a node


async def test_a_county_assessor_locks_its_county_and_the_city_shows_it_locked(env):
    """The scores page's 锁定 by 灵山县's assessor locks 灵山县's departments one by one; 钦州市's scores show
    them with the locked figures (已锁定) while 浦北县's are computed now."""
    rid = {d: f"lk-{env.tag}-{d}" for d in ("ls-jyj", "pb-jyj")}
    events = [
        {
            "event_id": f"{r}-r",
            "type": "request.received",
            "request_id": r,
            "department": d,
            "channel": "online",
            "received_on": _ago(70),
            "applicant_type": "natural_person",
            "applicant": {"name": "钱七", "contact": "13900000003"},
            "subject": "锁定测试申请",
        }
        for d, r in rid.items()
    ]
    async with env.api("ingest") as c:
        assert (await c.post("/api/events", json=events)).json()["applied"] == 2
        due = (await c.get(f"/api/items/{rid['ls-jyj']}")).json()["clocks"][0]["due"][:10]
    period = due[:7]  # its month is over: due ~50 working days ago
    assert dt.date.fromisoformat(due) < dt.date.fromisoformat(_ago(40))

    r = await _post_form(env, "ass-ls", "/scores/lock", {"period": period, "node": "pb"})
    assert r.status_code == 403 and "灵山县" in r.text
    r = await _post_form(env, "ass-ls", "/scores/lock", {"period": period})
    assert r.status_code == 303, r.text[:500]
    from store.db import session
    from store.locks import department_locks, locked

    with session() as s:
        assert [x.department for x in department_locks(s, period)] == ["ls-jyj", "ls-zfb"]
        assert locked(s, period) is None
    again = await _post_form(env, "ass-ls", "/scores/lock", {"period": period})
    assert again.status_code == 303  # nothing left to lock: said, nothing changed
    # after the lock both requests are answered (late): the county's figures stay as locked
    async with env.api("ingest") as c:
        for r_ in rid.values():
            reply = {"event_id": f"{r_}-a", "type": "request.replied", "request_id": r_, "on": _ago(0)}
            assert (await c.post("/api/events", json={**reply, "outcome": "granted"})).json()["applied"] == 1
    async with env.api("sup-qz") as c:
        res = (await c.get("/api/scores", params={"period": period, "node": "qz"})).json()
    by = {d["department"]: d for d in res["summary"]}
    assert by["ls-jyj"]["locked_at"] and (by["ls-jyj"]["overdue"], by["ls-jyj"]["late"]) == (1, 0)
    assert by["pb-jyj"]["locked_at"] is None and (by["pb-jyj"]["overdue"], by["pb-jyj"]["late"]) == (0, 1)
    assert res["locked_at"] is None
    assert [(a["department"], a["item_id"]) for a in res["amendments"]] == [("ls-jyj", rid["ls-jyj"])]
    # the city's roll-up: 灵山县 (both departments locked) counts the locked miss, 浦北县 the late reply
    async with env.api("sup-qz") as c:
        roll = (await c.get("/api/nodes/qz/rollup", params={"period": period})).json()
    child = {row["id"]: row["figures"] for row in roll["children"]}
    assert child["ls"]["locked_departments"] == 2 and child["pb"]["locked_departments"] == 0
    assert child["ls"]["missed"] >= 1 and child["ls"]["late"] == 0 and child["pb"]["late"] >= 1
    page = await _page(env, "sup-qz", "/scores", period=period, node="qz")
    row = page.text.split('href="/departments/ls-jyj"')[1].split("</tr>")[0]
    assert "已锁定" in row
    assert "已锁定" not in page.text.split('href="/departments/pb-jyj"')[1].split("</tr>")[0]


# ---------------------------------------------------------------------------------- 4. internal clocks


async def test_roll_up_counts_internal_clocks_apart(env):
    """逾期未办 of the roll-up excludes 内部时限 (by their `pre_` id, configured or not), shown apart."""
    from types import SimpleNamespace

    from domain.scoring import ScoreResult, parse_period
    from services.rollup import department_figures

    p = parse_period(env.period)
    empty = ScoreResult(period=p.label, period_title=p.title, start="", end="", as_of="")
    rows = [
        SimpleNamespace(department="ls-jyj", rule="request_reply"),
        SimpleNamespace(department="ls-jyj", rule="pre_ls_gone"),  # a pre-deadline no longer configured
    ]
    figs = department_figures(["ls-jyj"], dt.date.fromisoformat(_ago(0)), p, scores=empty, overdue=(rows, []))
    assert figs["ls-jyj"].overdue == 1
    assert figs["ls-jyj"].internal_overdue == 1


async def test_an_internal_clock_is_never_statutory_even_when_its_rule_is_gone():
    """Scores: a `pre_` clock whose pre-deadline was removed from jurisdictions.toml (no rule of that id any
    more) is not counted as statutory; a statutory clock beside it is."""
    from domain.rules import load_rules
    from domain.scoring import ClockRecord, load_scoring, parse_period, score_period
    from tests.workflow_harness import REPO_CONFIG

    rules = load_rules(REPO_CONFIG)
    assert "pre_gone_reply" not in rules

    def rec(item: str, rule: str) -> ClockRecord:
        return ClockRecord(
            item_id=item, item_type="request", department="d1", rule=rule, due="2026-11-10", state="open"
        )

    res = score_period(
        [rec("a", "request_reply"), rec("a", "pre_gone_reply")],
        parse_period("2026-11"),
        dt.date(2026, 12, 1),
        load_scoring(REPO_CONFIG / "scoring.toml"),
        rules=rules,
    )
    (d,) = res.summary
    assert (d.items_due, d.overdue) == (1, 1) and "pre_gone_reply" not in d.per_rule
    assert [r.rule for r in res.details] == ["request_reply"]


async def test_a_statutory_rule_may_not_take_the_internal_prefix(tmp_path):
    import shutil

    from domain.config import ConfigError
    from domain.rules import load_rules
    from tests.workflow_harness import REPO_CONFIG

    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    text = (config / "rules.toml").read_text(encoding="utf-8")
    text = text.replace("[rules.policy_publication]", "[rules.pre_reply]").replace(
        "[[rules.policy_publication.editions]]", "[[rules.pre_reply.editions]]"
    )
    (config / "rules.toml").write_text(text, "utf-8")
    with pytest.raises(ConfigError, match="pre_reply"):
        load_rules(config)


# ---------------------------------------------------------------------------------- 5. failed deliveries


async def test_a_failed_notice_is_escalated_to_the_supervisors_over_its_department(env, ts_env):
    """A county liaison whose one channel is refused: after the retry rounds the notice fails; 灵山县's,
    钦州市's and 广西's supervisors hear of it, not 浦北县's, 北海市's or 合浦县's."""
    from activities.notify import NotificationRequest, NotificationResult
    from store import deliveries as store
    from tests.receivers import closed_port
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyPersonWorkflow

    deps = env.province.config / "departments.toml"
    deps.write_text(
        deps.read_text(encoding="utf-8") + f'\n[[person]]\nid = "dead-ls"\nname = "联系不上的联络员"\n'
        f'department = "ls-jyj"\nroles = ["liaison"]\nnotify = ["json://127.0.0.1:{closed_port()}/dead"]\n',
        encoding="utf-8",
    )
    item = f"esc-{env.tag}"
    req = NotificationRequest(
        item_id=item,
        rule="request_reply",
        step="t_minus_1",
        person_id="dead-ls",
        context={"department": "ls-jyj", "item_title": "送达失败测试", "due": _ago(0)},
    )
    tq = f"esc-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        res = await ts_env.client.execute_workflow(
            NotifyPersonWorkflow.run, req, id=f"wf-{item}", task_queue=tq, result_type=NotificationResult
        )
    assert res.status == "exhausted", res
    told = {d.person for d in store.list_deliveries(item_id=item) if d.step == "delivery_failed"}
    assert told == {"sup-gx", "sup-qz", "sup-ls"}
