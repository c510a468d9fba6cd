"""The authorization matrix of issue 20 §1 for three levels (tests/province.py: 广西 → 钦州/北海 → 灵山/浦北/合浦).

Real parts throughout: the time-skipping Temporal server and the real worker, a temporary SQLite store, one
request per department ingested through POST /api/events, real bearer tokens for the API and real password
sign-in for the pages, httpx against the FastAPI app. Each cell of the table below is one real request; "ok"
means 200 with exactly the departments the principal may see under that filter (the node scope rule,
services.access.read_scope), a number the status answered.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import uuid

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session

from tests import workflow_harness
from tests.province import write_province
from tests.workflow_harness import app_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

PW = "Matrix-pw-1234"
PRINCIPALS = ["sup-gx", "sup-qz", "sup-ls", "ass-ls", "adm-qz", "li-ls-jyj"]
# What each principal's role reaches (None: the whole tree): the node of its subtree or its one department.
REACH = {"sup-gx": "gx", "sup-qz": "qz", "sup-ls": "ls", "ass-ls": "ls", "adm-qz": "qz", "li-ls-jyj": "ls-jyj"}

# Filters (query parameters) and, per principal in PRINCIPALS order, the answer: ok = 200 with the visible
# departments' data only; 403 outside the subtree; 404 unknown node or department.
FILTERS: list[tuple[dict[str, str], list[int | str]]] = [
    ({}, ["ok", "ok", "ok", "ok", "ok", "ok"]),
    ({"department": "ls-jyj"}, ["ok", "ok", "ok", "ok", "ok", "ok"]),
    ({"department": "pb-jyj"}, ["ok", "ok", 403, 403, "ok", 403]),
    ({"department": "bh-fgw"}, ["ok", 403, 403, 403, 403, 403]),
    ({"department": "gx-fgw"}, ["ok", 403, 403, 403, 403, 403]),
    ({"node": "gx"}, ["ok", 403, 403, 403, 403, "ok"]),  # a liaison: their department lies in it
    ({"node": "qz"}, ["ok", "ok", 403, 403, "ok", "ok"]),
    ({"node": "ls"}, ["ok", "ok", "ok", "ok", "ok", "ok"]),
    ({"node": "pb"}, ["ok", "ok", 403, 403, "ok", 403]),
    ({"node": "bh"}, ["ok", 403, 403, 403, 403, 403]),
    ({"node": "nowhere"}, [404, 404, 404, 404, 404, 404]),
    ({"department": "no-such-dept"}, [404, 404, 404, 404, 404, 404]),
]
# Which principals a resource admits at all (others: 403 whatever the filter).
ADMITS = {
    "/api/items": {"sup-gx", "sup-qz", "sup-ls", "adm-qz", "li-ls-jyj"},
    "/api/overdue": {"sup-gx", "sup-qz", "sup-ls", "adm-qz", "li-ls-jyj"},
    "/api/scores": set(PRINCIPALS),
    "/api/scores?format=csv": set(PRINCIPALS),
}
# An item of each of these departments, read alone (API and page): who may open it.
ITEM_READERS = {
    "ls-jyj": {"sup-gx", "sup-qz", "sup-ls", "adm-qz", "li-ls-jyj"},
    "pb-jyj": {"sup-gx", "sup-qz", "adm-qz"},
    "hp-jyj": {"sup-gx"},
    "gx-fgw": {"sup-gx"},
}


class Env:
    def __init__(self, app, province, tokens, tag, period):
        self.app, self.province, self.tokens, self.tag, self.period = app, province, tokens, tag, period
        self.cookies: dict[str, httpx.Cookies] = {}

    def api(self, who: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("10.9.0.1", 40000)), base_url="http://127.0.0.1"
        )

    def province_name(self, who: str) -> str:
        from tests.province import NODES

        return next(name for nid, name, *_ in NODES if nid == REACH[who])

    def item(self, dept: str) -> str:
        return f"mx-{self.tag}-{dept}"

    def visible(self, who: str, f: dict[str, str]) -> set[str]:
        reach = REACH[who]
        mine = {reach} if reach not in self.province.nodes else self.province.departments_under(reach)
        if "department" in f:
            return mine & {f["department"]}
        if "node" in f:
            return mine & self.province.departments_under(f["node"])
        return mine


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(ts_env, tmp_path_factory):
    from domain import engine as engine_mod
    from services.accounts import set_password
    from store.db import database_url, get_engine, init_db
    from store.tokens import create_token, ensure_table

    data = tmp_path_factory.mktemp("matrix-data")
    config = tmp_path_factory.mktemp("matrix-config") / "config"
    shutil.copytree(workflow_harness.REPO_CONFIG, config)
    province = write_province(config)
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIXIAN_DATA_DIR", str(data))
    mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
    mp.delenv("DATABASE_URL", raising=False)
    mp.delenv("SHIXIAN_WEB_ANONYMOUS", raising=False)
    engine_mod.reset()
    get_engine.cache_clear()
    try:
        eng = get_engine(database_url())
        init_db(eng)
        ensure_table(eng)
        tokens = {}
        with Session(eng) as s:
            for who in PRINCIPALS:
                role = {"sup": "supervisor", "ass": "assessor", "adm": "admin", "li": "liaison"}[who.split("-")[0]]
                dept = "ls-jyj" if role == "liaison" else None
                tokens[who], _ = create_token(s, role, dept, person=who)
            tokens["ingest"], _ = create_token(s, "supervisor")  # a role token of no person: the whole tree
        for who in PRINCIPALS:
            set_password(who, PW)
        async with app_worker(ts_env.client):
            from app.web.server import create_app
            from services.demo import today_shanghai

            app = create_app(ts_env.client, host="127.0.0.1")
            e = Env(app, province, tokens, uuid.uuid4().hex[:6], "")
            day = today_shanghai().isoformat()
            events = [
                {
                    "event_id": f"{e.item(d)}-r",
                    "type": "request.received",
                    "request_id": e.item(d),
                    "department": d,
                    "channel": "online",
                    "received_on": day,
                    "applicant_type": "natural_person",
                    "applicant": {"name": "王五", "contact": "13900000001"},
                    "subject": "授权矩阵测试申请",
                }
                for n in province.nodes
                for d in province.departments[n]
            ]
            async with e.api("ingest") as c:
                r = await c.post("/api/events", json=events)
            assert r.status_code == 200, r.text
            assert r.json()["applied"] == len(events), r.text
            async with e.api("sup-gx") as c:
                item = (await c.get(f"/api/items/{e.item('ls-jyj')}")).json()
            due = item["clocks"][0]["due"][:10]
            e.period = due[:4]  # the year the requests fall due in: they are scored in it
            e.late = (dt.date.fromisoformat(due) + dt.timedelta(days=10)).isoformat()  # all of them overdue
            for who in PRINCIPALS:
                async with e.browser() as b:
                    page = await b.get("/login")
                    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                    assert token, page.text[:500]
                    r = await b.post("/login", data={"person": who, "password": PW, "csrf_token": token.group(1)})
                    assert r.status_code == 303, r.text[:500]
                    e.cookies[who] = b.cookies
            yield e
            from services.queries import open_item_ids

            for wid, _ in open_item_ids():
                try:
                    await ts_env.client.get_workflow_handle(wid).terminate("test finished")
                except Exception:
                    pass
    finally:
        mp.undo()
        engine_mod.reset()
        get_engine.cache_clear()


def _departments(path: str, r: httpx.Response) -> set[str]:
    if path == "/api/items":
        return {x["department"] for x in r.json()["items"]}
    if path == "/api/overdue":
        return {x["department"] for x in r.json()["rows"]}
    if path == "/api/scores":
        return {x["department"] for x in r.json()["summary"]}
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "部门编号" and rows[0][-2] == "所属地区"
    return {row[-1] for row in rows[1:]}


def _params(env: Env, path: str, f: dict[str, str]) -> dict[str, str]:
    extra = {"/api/overdue": {"as_of": env.late}, "/api/items": {"limit": "100"}}.get(path, {"period": env.period})
    return {**f, **extra}


@pytest.mark.parametrize("path", list(ADMITS))
async def test_api_reads_by_node_and_department(env, path):
    base, _, query = path.partition("?")
    failures = []
    for f, answers in FILTERS:
        for who, answer in zip(PRINCIPALS, answers, strict=True):
            expected = answer if who in ADMITS[path] or answer == 404 else 403
            params = {**_params(env, base, f), **dict([query.split("=")] if query else [])}
            async with env.api(who) as c:
                r = await c.get(base, params=params)
            cell = f"{who} {path} {f}"
            if expected == "ok":
                if r.status_code != 200:
                    failures.append(f"{cell}: {r.status_code} {r.text[:200]}")
                    continue
                seen = _departments(path, r)
                if seen != env.visible(who, f):
                    failures.append(f"{cell}: saw {sorted(seen)}, expected {sorted(env.visible(who, f))}")
            elif r.status_code != expected:
                failures.append(f"{cell}: {r.status_code}, expected {expected}: {r.text[:200]}")
            elif expected == 403:
                assert "无权" in r.json()["detail"], cell
            elif expected == 404:
                body = r.json()
                assert body["code"] in ("unknown_node", "unknown_department"), cell
                assert (f.get("node") or f.get("department")) in body["detail"], cell
    assert failures == []


async def test_an_outside_node_is_refused_naming_it(env):
    async with env.api("sup-ls") as c:
        r = await c.get("/api/items", params={"node": "pb"})
    assert r.status_code == 403
    assert "灵山县" in r.json()["detail"] and "浦北县" in r.json()["detail"]
    async with env.api("sup-qz") as c:
        r = await c.get("/api/overdue", params={"department": "hp-jyj"})
    assert r.status_code == 403 and "合浦县" in r.json()["detail"] and "钦州市" in r.json()["detail"]
    async with env.api("sup-gx") as c:
        r = await c.get("/api/items", params={"node": "nowhere"})
    assert r.status_code == 404 and "未知地区" in r.json()["detail"] and "nowhere" in r.json()["detail"]
    # the review queue and the onboarding batches take the same filters
    for path in ("/api/review", "/api/onboarding"):
        async with env.api("sup-ls") as c:
            assert (await c.get(path, params={"node": "pb"})).status_code == 403
            assert (await c.get(path, params={"department": "pb-jyj"})).status_code == 403
            assert (await c.get(path, params={"node": "ls"})).status_code == 200
        async with env.api("sup-gx") as c:
            assert (await c.get(path, params={"node": "nowhere"})).status_code == 404


async def test_one_item_by_api_and_page(env):
    failures = []
    for dept, readers in ITEM_READERS.items():
        for who in PRINCIPALS:
            expected = 200 if who in readers else 403
            async with env.api(who) as c:
                r = await c.get(f"/api/items/{env.item(dept)}")
            if r.status_code != expected:
                failures.append(f"api {who} {dept}: {r.status_code}")
            async with env.browser() as b:
                b.cookies = env.cookies[who]
                r = await b.get(f"/items/{env.item(dept)}")
            if r.status_code != expected:
                failures.append(f"page {who} {dept}: {r.status_code}")
            elif expected == 200:
                assert env.item(dept) in r.text
    assert failures == []


# The pages: the board (supervisors, admins) and the scores page (and assessors), per filter.
PAGE_FILTERS = [f for f, _ in FILTERS if "no-such-dept" not in f.values()]


@pytest.mark.parametrize("path", ["/", "/scores"])
async def test_board_and_scores_pages(env, path):
    admits = {"sup-gx", "sup-qz", "sup-ls", "adm-qz"} | ({"ass-ls"} if path == "/scores" else set())
    failures = []
    for f, answers in FILTERS:
        for who, answer in zip(PRINCIPALS, answers, strict=True):
            if who == "li-ls-jyj":
                continue  # a liaison's board is /liaison (a redirect), their scores the API's
            expected = answer if who in admits or answer == 404 else 403
            params = {**f, **({"as_of": env.late} if path == "/" else {"period": env.period})}
            async with env.browser() as b:
                b.cookies = env.cookies[who]
                r = await b.get(path, params=params)
            cell = f"{who} {path} {f}"
            if expected == "ok":
                if r.status_code != 200:
                    failures.append(f"{cell}: {r.status_code}")
                    continue
                shown = {d for d in env.province.departments_under("gx") if env.item(d) in r.text}
                if path == "/" and shown != env.visible(who, f):
                    failures.append(f"{cell}: shows {sorted(shown)}, expected {sorted(env.visible(who, f))}")
                if path == "/scores":
                    offered = set(re.findall(r'<option value="([\w-]+)"', r.text)) - set(env.province.nodes)
                    reach = env.visible(who, {})
                    if offered & env.province.departments_under("gx") != reach:
                        failures.append(f"{cell}: offers departments {sorted(offered)}, expected {sorted(reach)}")
                    linked = set(re.findall(r"/departments/([\w-]+)", r.text))
                    outside = linked - env.visible(who, f)
                    if outside:
                        failures.append(f"{cell}: links departments outside its scope {sorted(outside)}")
            elif r.status_code != expected:
                failures.append(f"{cell}: {r.status_code}, expected {expected}")
    assert failures == []


async def test_annual_report_by_node_and_department(env):
    year = env.period
    cases = [
        # (principal, params, status)
        ("sup-gx", {"department": "ls-jyj"}, 200),
        ("sup-qz", {"department": "ls-jyj"}, 200),
        ("sup-ls", {"department": "pb-jyj"}, 403),
        ("ass-ls", {"department": "ls-jyj"}, 200),
        ("ass-ls", {"node": "qz"}, 403),
        ("sup-qz", {"node": "bh"}, 403),
        ("adm-qz", {"node": "ls"}, 200),
        ("sup-ls", {"node": "ls"}, 200),
        ("li-ls-jyj", {"department": "pb-jyj"}, 403),
        ("li-ls-jyj", {}, 200),
        ("sup-gx", {"node": "nowhere"}, 404),
        # no filter: a county's reader gets the county's government report, never the province's
        ("sup-ls", {}, 200),
        ("ass-ls", {}, 200),
    ]
    failures = []
    for who, params, status in cases:
        async with env.api(who) as c:
            r = await c.get("/api/annual-report", params={"year": year, **params})
        if r.status_code != status:
            failures.append(f"{who} {params}: {r.status_code} {r.text[:200]}")
        elif status == 200 and ("node" in params or (not params and who.endswith("-ls"))):  # its government's
            assert r.json()["title"].startswith("灵山县") and "政府信息公开" in r.json()["title"], r.json()["title"]
    assert failures == []


async def test_writes_outside_the_subtree_are_refused(env):
    """An urge on another county's item by a county's supervisor: 403 naming the node, nothing stored."""
    from services.access import Principal, write_refusal

    who = Principal(role="supervisor", person="sup-ls", node="ls")
    assert write_refusal(who, ["ls-jyj"]) is None
    reason = write_refusal(who, ["pb-jyj"], verb="督办", what="事项")
    assert reason and "灵山县" in reason and "浦北县教育局" in reason
    city = Principal(role="admin", person="adm-qz", node="qz")
    assert write_refusal(city, ["pb-jyj", "ls-zfb"]) is None
    assert write_refusal(city, ["hp-jyj"])
    assert write_refusal(Principal(role="supervisor", person="sup-gx", node="gx"), ["hp-jyj"]) is None
    # a ledger upload is for one department: a county's supervisor uploads for the county's only
    from services.access import ApiError, act_for

    assert act_for(who, "ls-jyj", "导入", "台账") == "ls-jyj"
    with pytest.raises(ApiError) as refused:
        act_for(who, "pb-jyj", "导入", "台账")
    assert refused.value.status == 403 and "浦北县教育局" in refused.value.detail


async def test_events_outside_the_subtree_are_refused_over_http(env):
    """POST /api/events by node-scoped writers: inside their subtree applied, outside refused naming the node."""
    day = await _today()
    new = [
        ("sup-ls", "ls-jyj", "applied"),
        ("sup-ls", "pb-jyj", "rejected"),
        ("adm-qz", "pb-zfb", "applied"),
        ("adm-qz", "hp-jyj", "rejected"),
        ("sup-gx", "hp-zfb", "applied"),
    ]
    for who, dept, status in new:
        rid = f"mx-{env.tag}-w-{who}-{dept}"
        ev = {
            "event_id": f"{rid}-r",
            "type": "request.received",
            "request_id": rid,
            "department": dept,
            "channel": "online",
            "received_on": day,
            "applicant_type": "natural_person",
            "applicant": {"name": "赵六", "contact": "13900000002"},
            "subject": "写入范围测试",
        }
        async with env.api(who) as c:
            r = await c.post("/api/events", json=ev)
        assert r.status_code == 200, r.text
        res = r.json()["results"][0]
        assert res["status"] == status, (who, dept, res)
        if status == "rejected":
            assert res["field"] == "department" and "无权" in res["reason"]
            assert env.province_name(who) in res["reason"]
    # an existing item of another county, addressed without a department field
    async with env.api("sup-ls") as c:
        r = await c.post(
            "/api/events",
            json={
                "event_id": f"mx-{env.tag}-w-reply",
                "type": "request.replied",
                "request_id": env.item("pb-jyj"),
                "on": day,
                "outcome": "granted",
            },
        )
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and res["field"] == "department" and "浦北县教育局" in res["reason"]


async def test_locks_and_urges_outside_the_subtree_are_refused(env):
    year = env.period
    async with env.api("ass-ls") as c:
        outside = await c.post("/api/annual-report/lock", params={"year": year, "department": "pb-jyj"})
        every = await c.post("/api/annual-report/lock", params={"year": year})
        inside = await c.post("/api/annual-report/lock", params={"year": year, "department": "ls-jyj"})
    assert outside.status_code == 403 and "灵山县" in outside.json()["detail"]
    assert every.status_code == 403 and "请指定部门" in every.json()["detail"]
    # allowed by the scope: the year the requests fall due in has not ended (they fall due on or after today)
    assert inside.status_code == 409, inside.text
    assert inside.json() == {"code": "year_not_ended", "detail": f"{year}年度尚未结束，不能锁定其年度报告"}
    # 督办 from the page: a county supervisor cannot urge a neighbouring county's item
    async with env.browser() as b:
        b.cookies = env.cookies["sup-ls"]
        page = await b.get(f"/items/{env.item('ls-jyj')}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        r = await b.post(f"/items/{env.item('pb-jyj')}/urge", data={"csrf_token": token.group(1), "note": "请尽快办理"})
    assert r.status_code == 403
    async with env.api("sup-gx") as c:
        assert (await c.get("/api/items", params={"department": "pb-jyj"})).status_code == 200


async def _today() -> str:
    from services.demo import today_shanghai

    return today_shanghai().isoformat()


async def test_a_city_admin_edits_only_its_subtree(env):
    """The admin page: 钦州市's admin edits a county's liaison below it, not 合浦县's department or people."""
    async with env.browser() as b:
        b.cookies = env.cookies["adm-qz"]
        listing = await b.get("/admin/directory")
        assert listing.status_code == 200
        assert "/admin/departments/ls-jyj" in listing.text and "/admin/departments/hp-jyj" not in listing.text
        assert "/admin/people/li-pb-jyj" in listing.text and "/admin/people/sup-bh" not in listing.text
        page = await b.get("/admin/departments/hp-jyj")  # another city's form is not even shown
        assert page.status_code == 403 and "钦州市" in page.text and "属于合浦县" in page.text
        page = await b.get("/admin/departments/ls-jyj")
        assert page.status_code == 200 and "所属地区" in page.text and "上级单位" not in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = await b.post("/admin/departments/hp-jyj", data={"csrf_token": token, "name": "合浦县教育局", "node": "hp"})
        assert r.status_code == 403 and "钦州市" in r.text
        r = await b.post("/admin/departments/hp-jyj", data={"csrf_token": token, "name": "合浦县教育局", "node": "ls"})
        assert r.status_code == 403 and "钦州市" in r.text  # moving it into the subtree is no way in either
        person = await b.get("/admin/people/li-ls-jyj")
        assert 'name="node"' in person.text
        r = await b.post(
            "/admin/people/li-hp-jyj",
            data={"csrf_token": token, "name": "改名", "department": "hp-jyj", "role_liaison": "1"},
        )
        assert r.status_code == 403 and "钦州市" in r.text
        r = await b.post(
            "/admin/people/sup-bh",
            data={"csrf_token": token, "name": "改名", "node": "qz", "role_supervisor": "1"},
        )
        assert r.status_code == 403 and "北海市" in r.text  # a person of another city stays theirs
        r = await b.post(
            "/admin/people/ass-pb",
            data={"csrf_token": token, "name": "浦北县绩效考评办", "node": "pb", "role_assessor": "1"},
        )
        assert r.status_code == 303, r.text[:2000]
    from domain.engine import engine

    assert engine().directory.people["ass-pb"].node == "pb"
    assert engine().directory.people["li-hp-jyj"].name != "改名"


async def test_cli_filters_by_node(env, tmp_path):
    """`shixian overdue|scores show|export scores --node`: the operator's filters, the same rule (read_scope)."""
    import asyncio
    import json

    from typer.testing import CliRunner

    from app.cli import app as cli

    def run(*args: str):
        return asyncio.to_thread(CliRunner().invoke, cli, list(args))

    res = await run("overdue", "--node", "ls", "--as-of", env.late, "--json")
    assert res.exit_code == 0, res.output
    assert {r["department"] for r in json.loads(res.output)} == {"ls-zfb", "ls-jyj"}
    res = await run("scores", "show", "--node", "qz", "--period", env.period, "--json")
    assert res.exit_code == 0, res.output
    assert {d["department"] for d in json.loads(res.output)["summary"]} == env.province.departments_under("qz")
    out = tmp_path / "bh.csv"
    res = await run("export", "scores", "--node", "bh", "--period", env.period, "--format", "csv", "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r[-1] for r in rows[1:]} == {"bh-zfb", "bh-fgw", "hp-zfb", "hp-jyj"}
    assert {r[-2] for r in rows[1:]} == {"北海市", "合浦县"}
    res = await run("overdue", "--node", "nowhere")
    assert res.exit_code == 2 and "未知地区" in res.output and "nowhere" in res.output


async def test_overdue_notices_reach_the_supervisors_above_only(tmp_path):
    """A county's item reaches its county's, city's and province's supervisors, not a neighbouring county's."""
    import shutil

    from activities.notify import recipients
    from domain.directory import load_directory
    from tests.province import write_province
    from tests.workflow_harness import REPO_CONFIG

    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    write_province(config)
    d = load_directory(config)
    assert recipients(d, "ls-jyj", ["supervisor"]) == ["sup-gx", "sup-qz", "sup-ls"]
    assert recipients(d, "hp-jyj", ["supervisor", "liaison"]) == ["sup-gx", "sup-bh", "sup-hp", "li-hp-jyj"]
    assert len(recipients(d, None, ["supervisor"])) == 6
