"""HTTP API and pages against the real stack: time-skipping Temporal server, the real worker with
every workflow and activity, a temporary SQLite store, the demo scenario ingested through the
production ingest path, real tokens. httpx drives the FastAPI app in-process (ASGI)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import shutil
import uuid

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session, select
from temporalio.service import RPCError

from tests import workflow_harness
from tests.workflow_harness import app_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO_CONFIG = workflow_harness.REPO_CONFIG  # the session's config (a pinned run's copy, tests/pins.py)
DEPTS = ["qz-zfb", "qz-fgw", "qz-czj", "qz-jyj", "qz-zrzyj"]


class Env:
    def __init__(self, client, app, tokens, tag):
        self.temporal, self.app, self.tokens, self.tag = client, app, tokens, tag

    def http(self, role: str | None = None, **kw) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1", headers=headers, **kw
        )

    async def get(self, role: str | None, path: str, **kw) -> httpx.Response:
        async with self.http(role) as c:
            return await c.get(path, **kw)

    async def post(self, role: str | None, path: str, **kw) -> httpx.Response:
        async with self.http(role) as c:
            return await c.post(path, **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(ts_env, tmp_path_factory):
    from services.demo import seed
    from store.db import database_url, get_engine, init_db
    from store.tokens import create_token, ensure_table

    data = tmp_path_factory.mktemp("api-data")
    config = tmp_path_factory.mktemp("api-config") / "config"
    shutil.copytree(REPO_CONFIG, config)  # the reload test adds a calendar file
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIXIAN_DATA_DIR", str(data))
    mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
    mp.delenv("DATABASE_URL", raising=False)
    try:
        eng = get_engine(database_url())
        init_db(eng)
        ensure_table(eng)
        async with app_worker(ts_env.client):
            results = await seed(ts_env.client)
            assert [r.text() for r in results if r.status != "applied"] == []
            tokens = {}
            with Session(eng) as s:
                tokens["supervisor"], _ = create_token(s, "supervisor", person="supervisor-zwgk")
                tokens["assessor"], _ = create_token(s, "assessor", person="assessor-zwgk")
                tokens["admin"], _ = create_token(s, "admin", person="admin")
                tokens["liaison"], _ = create_token(s, "liaison", "qz-fgw", person="liaison-fgw")
                tokens["liaison-noperson"], row = create_token(s, "liaison", "qz-czj")
                noperson_id = row.id
                tokens["revoked"], dead = create_token(s, "supervisor")
                from store.tokens import revoke

                revoke(s, dead.id)
            from app.web.server import create_app

            app = create_app(ts_env.client, open_pages=False)
            e = Env(ts_env.client, app, tokens, uuid.uuid4().hex[:6])
            e.noperson_id = noperson_id
            e.config = config
            yield e
            # leave no running item workflows behind on the shared test server
            from services.queries import open_item_ids

            for wid, _ in open_item_ids():
                try:
                    await ts_env.client.get_workflow_handle(wid).terminate("test finished")
                except Exception:
                    pass
    finally:
        mp.undo()
        get_engine.cache_clear()


# ---------------------------------------------------------------------------------- auth


async def test_missing_bad_and_revoked_tokens_get_401_with_chinese_body(env):
    for headers in (
        {},
        {"Authorization": "Bearer sx_nope_nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {env.tokens['revoked']}"},
        {"Authorization": f"Bearer {env.tokens['supervisor'][:-2]}xx"},
    ):
        async with env.http() as c:
            r = await c.get("/api/items", headers=headers)
        assert r.status_code == 401, headers
        body = r.json()
        assert body["code"] == "unauthorized"
        assert "令牌" in body["detail"]
        assert r.headers["www-authenticate"] == "Bearer"


async def test_tokens_are_stored_hashed(env):
    from store.db import database_url, get_engine
    from store.tokens import ApiToken

    with Session(get_engine(database_url())) as s:
        rows = s.exec(select(ApiToken)).all()
    stored = json.dumps([r.model_dump(mode="json") for r in rows])
    for token in env.tokens.values():
        secret = token.split("_", 2)[2]
        assert secret not in stored
    assert all(len(r.hash) == 64 for r in rows)


async def test_openapi_docs(env):
    r = await env.get(None, "/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/api/events",
        "/api/items",
        "/api/items/{item_id}",
        "/api/overdue",
        "/api/scores",
        "/api/annual-report",
        "/api/calendar",
        "/api/calendar/reload",
    ):
        assert p in paths
    assert (await env.get(None, "/docs")).status_code == 200


async def test_foreign_host_header_is_refused(env):
    async with env.http("supervisor") as c:
        r = await c.get("/api/items", headers={"Host": "attacker.example"})
    assert r.status_code == 400


# ---------------------------------------------------------------------------------- items


async def test_supervisor_lists_items_of_every_department(env):
    r = await env.get("supervisor", "/api/items")
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["department"] for i in items} == set(DEPTS)
    assert all(i["department_name"].startswith("钦州市") for i in items)
    r = await env.get("supervisor", "/api/items", params={"department": "qz-czj", "type": "request"})
    assert {(i["department"], i["type"]) for i in r.json()["items"]} == {("qz-czj", "request")}


async def test_item_detail_has_explanations_changes_and_events(env):
    r = await env.get("supervisor", "/api/items/qz-zrzyj-ysq-2026-105")
    assert r.status_code == 200
    item = r.json()
    reply = next(c for c in item["clocks"] if c["rule"] == "request_reply")
    assert reply["rule_name"] == "依申请公开答复"
    ex = reply["explanation"]
    assert ex["summary"] and "延期 20 个工作日" in ex["summary"]
    assert ex["extensions"] and ex["extensions"][0]["working_days"] == 20
    assert reply["working_days_left"] > 0
    assert [e["type"] for e in item["events"]] == ["request.received", "request.extended"]
    assert item["events"][0]["recorded_by"] == "liaison-zrzyj"
    assert "applicant" not in item["events"][0]["payload"]
    assert isinstance(item["due_date_changes"], list)  # filled by calendar changes: see the reload test


async def test_unknown_item_is_404_in_chinese(env):
    r = await env.get("supervisor", "/api/items/no-such-item")
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "detail": "未找到事项：no-such-item"}


async def test_liaison_reads_only_its_own_department(env):
    r = await env.get("liaison", "/api/items")
    assert r.status_code == 200
    body = r.json()
    assert body["department"] == "qz-fgw" and body["items"]
    assert {i["department"] for i in body["items"]} == {"qz-fgw"}
    assert (await env.get("liaison", "/api/items/qz-fgw-wj-2026-017")).status_code == 200
    for path, params in (
        ("/api/items", {"department": "qz-czj"}),
        ("/api/items/qz-czj-wj-2026-009", {}),
        ("/api/overdue", {"department": "qz-jyj"}),
        ("/api/scores", {"department": "qz-czj"}),
        ("/api/annual-report", {"year": 2026, "department": "qz-czj"}),
    ):
        r = await env.get("liaison", path, params=params)
        assert r.status_code == 403, path
        assert r.json()["code"] == "forbidden"
        assert "联络员" in r.json()["detail"]
    r = await env.get("liaison", "/api/overdue")
    assert {row["department"] for row in r.json()["rows"]} <= {"qz-fgw"}


async def test_assessor_sees_scores_and_reports_but_not_items(env):
    assert (await env.get("assessor", "/api/items")).status_code == 403
    assert (await env.get("assessor", "/api/items/qz-fgw-wj-2026-017")).status_code == 403
    assert (await env.get("assessor", "/api/overdue")).status_code == 403
    assert (await env.get("assessor", "/api/scores")).status_code == 200
    assert (await env.get("assessor", "/api/annual-report", params={"year": 2026})).status_code == 200
    assert (await env.get("assessor", "/api/calendar")).status_code == 200


# ---------------------------------------------------------------------------------- overdue


@pytest.mark.date_sensitive
async def test_overdue_rows_with_working_days_and_department_names(env):
    r = await env.get("supervisor", "/api/overdue")
    assert r.status_code == 200
    rows = r.json()["rows"]
    doc = next(x for x in rows if x["id"] == "qz-czj-wj-2026-009" and x["rule"] == "policy_publication")
    assert doc["overdue_working_days"] == 10
    assert doc["department_name"] == "钦州市财政局"
    assert doc["rule_name"] == "政策文件主动公开"
    assert "ladder_step" in doc
    r = await env.get("admin", "/api/overdue", params={"department": "qz-czj", "as_of": "2020-01-01"})
    assert r.json()["rows"] == []
    r = await env.get("supervisor", "/api/overdue", params={"as_of": "明天"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_parameter" and "YYYY-MM-DD" in r.json()["detail"]


# ---------------------------------------------------------------------------------- events


def _received(rid: str, dept: str, **kw) -> dict:
    from services.demo import today_shanghai

    return {
        "event_id": rid + "-r",
        "type": "request.received",
        "request_id": rid,
        "department": dept,
        "channel": "online",
        "received_on": today_shanghai().isoformat(),
        "applicant_type": "natural_person",
        "applicant": {"name": "李四", "contact": "13900000000"},
        "subject": "API 测试申请",
        **kw,
    }


@pytest.mark.date_sensitive
async def test_post_events_reports_each_element_and_attributes_to_the_token(env):
    rid = f"api-{env.tag}-1"
    batch = [
        {**_received(rid, "qz-czj"), "recorded_by": "someone-else"},
        {
            "event_id": "demo-001",
            "type": "document.signed",
            "document_id": "qz-zfb-wj-2026-031",
            "department": "qz-zfb",
            "title": "x",
            "kind": "normative",
            "signed_on": "2026-01-01",
            "disclosure": "public",
        },
        {
            "event_id": f"{rid}-bad",
            "type": "request.replied",
            "request_id": rid,
            "on": "2026-13-01",
            "outcome": "granted",
        },
        {
            "event_id": f"{rid}-unknown",
            "type": "request.replied",
            "request_id": "nope-" + rid,
            "on": "2026-11-01",
            "outcome": "granted",
        },
        "not an object",
    ]
    r = await env.post("supervisor", "/api/events", json=batch)
    assert r.status_code == 200
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["applied", "rejected", "rejected", "rejected", "rejected"]
    assert body["applied"] == 1 and body["rejected"] == 4 and body["recorded_by"] == "supervisor-zwgk"
    assert body["results"][1]["field"] == "event_id"  # same id, other content: a conflict
    assert body["results"][2]["field"] and body["results"][2]["reason"]
    assert "未知事项" in body["results"][3]["reason"]
    # a fact dated after today (Asia/Shanghai) is refused with its field (issue 16 A7)
    from domain.shanghai import today as shanghai_today

    tomorrow = (shanghai_today() + dt.timedelta(days=1)).isoformat()
    r = await env.post("supervisor", "/api/events", json=_received(f"{rid}-fut", "qz-czj", received_on=tomorrow))
    res = r.json()["results"]
    assert [(x["status"], x["field"]) for x in res] == [("rejected", "received_on")] and tomorrow in res[0]["reason"]
    # same event again: duplicate; a single object is accepted too
    r = await env.post("supervisor", "/api/events", json={**_received(rid, "qz-czj"), "recorded_by": "someone-else"})
    assert [x["status"] for x in r.json()["results"]] == ["duplicate"]
    item = (await env.get("supervisor", f"/api/items/{rid}")).json()
    assert item["events"][0]["recorded_by"] == "supervisor-zwgk"
    assert '"applicant"' not in json.dumps(item) and "李四" not in json.dumps(item, ensure_ascii=False)
    # the applicant's personal data never reaches the store
    from store.db import database_url, get_engine
    from store.models import EventRecord

    with Session(get_engine(database_url())) as s:
        rec = s.get(EventRecord, rid + "-r")
    assert "李四" not in json.dumps(rec.payload, ensure_ascii=False)


async def test_liaison_posts_only_for_its_own_department(env):
    own, other = f"api-{env.tag}-own", f"api-{env.tag}-other"
    r = await env.post(
        "liaison",
        "/api/events",
        json=[
            _received(own, "qz-fgw"),
            _received(other, "qz-czj"),
            # an existing item of another department, addressed without a department field
            {
                "event_id": f"{own}-x",
                "type": "document.published",
                "document_id": "qz-czj-wj-2026-009",
                "published_on": "2026-11-20",
                "url": "http://example.gov.cn/x",
            },
        ],
    )
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["applied", "rejected", "rejected"]
    assert res[1]["field"] == "department" and "无权" in res[1]["reason"]
    assert res[2]["field"] == "department"
    assert (await env.get("liaison", f"/api/items/{own}")).json()["events"][0]["recorded_by"] == "liaison-fgw"
    assert (await env.get("supervisor", f"/api/items/{other}")).status_code == 404
    # a token without a person: attributed to the token itself
    r = await env.post("liaison-noperson", "/api/events", json=_received(f"api-{env.tag}-np", "qz-czj"))
    assert r.json()["recorded_by"] == f"token:{env.noperson_id}"
    assert r.json()["results"][0]["status"] == "applied"


async def test_assessor_cannot_post_events_and_bad_bodies_are_422(env):
    r = await env.post("assessor", "/api/events", json=_received(f"api-{env.tag}-as", "qz-fgw"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await env.post(None, "/api/events", json=[])
    assert r.status_code == 401
    r = await env.post("supervisor", "/api/events", json=[])
    assert r.status_code == 422
    async with env.http("supervisor") as c:
        r = await c.post("/api/events", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


# ---------------------------------------------------------------------------------- scores / report


@pytest.mark.date_sensitive
async def test_scores_json_csv_xlsx(env):
    from openpyxl import load_workbook

    from services.demo import today_shanghai

    period = f"{today_shanghai().year}"
    r = await env.get("assessor", "/api/scores", params={"period": period})
    assert r.status_code == 200
    res = r.json()
    by = {d["department"]: d for d in res["summary"]}
    assert by["qz-fgw"]["late"] >= 1 and by["qz-fgw"]["score"] < 100
    assert by["qz-czj"]["overdue"] >= 1
    r = await env.get("assessor", "/api/scores", params={"period": period, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "部门" and rows[0][-1] == "部门编号" and {row[-1] for row in rows[1:]} == set(by)
    assert "钦州市发展和改革委员会" in {row[0] for row in rows[1:]}  # the Chinese name first
    r = await env.get("supervisor", "/api/scores", params={"period": period, "format": "xlsx", "department": "qz-fgw"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[:2] == ["汇总", "明细"]
    assert wb["汇总"].cell(row=2, column=1).value == "钦州市发展和改革委员会"
    assert wb["汇总"].cell(row=2, column=wb["汇总"].max_column).value == "qz-fgw"
    assert wb["明细"].max_row >= 2
    r = await env.get("liaison", "/api/scores", params={"period": period})
    assert {d["department"] for d in r.json()["summary"]} <= {"qz-fgw"}
    r = await env.get("assessor", "/api/scores", params={"period": "2026-Q9"})
    assert r.status_code == 422 and "期间" in r.json()["detail"]


async def test_annual_report_json_xlsx_html(env):
    from openpyxl import load_workbook

    from services.demo import today_shanghai

    year = today_shanghai().year
    r = await env.get("assessor", "/api/annual-report", params={"year": year})
    assert r.status_code == 200
    rep = r.json()
    t3 = rep["table3"]
    assert t3["new"]["total"] >= 9
    for col in t3["new"]:
        assert t3["new"][col] + t3["carried_in"][col] == t3["total"][col] + t3["carried_out"][col]
    r = await env.get("assessor", "/api/annual-report", params={"year": year, "format": "xlsx"})
    assert load_workbook(io.BytesIO(r.content)).sheetnames == ["表二", "表三", "表四"]
    r = await env.get("assessor", "/api/annual-report", params={"year": year, "format": "html", "department": "qz-fgw"})
    assert r.status_code == 200 and "三、收到和处理政府信息公开申请情况" in r.text
    r = await env.get("liaison", "/api/annual-report", params={"year": year})
    assert r.json()["department"] == "qz-fgw"


async def test_published_reports_are_locked_and_an_assessor_locks_the_others(env):
    """Issue 17 §6: the demo's published reports of last year are locked at their publication; the assessor
    locks another one through the API, once; a liaison may not, nor lock a year still running."""
    from services.demo import today_shanghai

    year = today_shanghai().year - 1
    rep = (await env.get("assessor", "/api/annual-report", params={"year": year, "department": "qz-fgw"})).json()
    assert rep["lock"]["basis"] == "published" and rep["lock"]["published_on"] == f"{year + 1}-01-20"
    assert rep["amendments"] == [] and rep["sections"][-1]["heading"] == "附：更正说明"
    r = await env.post("assessor", "/api/annual-report/lock", params={"year": year, "department": "qz-fgw"})
    assert r.status_code == 409 and "已锁定" in r.json()["detail"]
    r = await env.post("liaison", "/api/annual-report/lock", params={"year": year, "department": "qz-fgw"})
    assert r.status_code == 403
    r = await env.post("assessor", "/api/annual-report/lock", params={"year": year + 1, "department": "qz-zfb"})
    assert r.status_code == 409 and "尚未结束" in r.json()["detail"]
    assert (await env.get("assessor", "/api/annual-report", params={"year": year, "department": "qz-zfb"})).json()[
        "lock"
    ] is None
    r = await env.post("assessor", "/api/annual-report/lock", params={"year": year, "department": "qz-zfb"})
    assert r.status_code == 200, r.text
    assert (r.json()["basis"], r.json()["locked_by"], r.json()["scope"]) == (
        "assessor",
        "assessor-zwgk",
        "department:qz-zfb",
    )
    rep = (await env.get("assessor", "/api/annual-report", params={"year": year, "department": "qz-zfb"})).json()
    assert rep["lock"]["basis"] == "assessor" and rep["lock"]["locked_by"] == "assessor-zwgk"
    r = await env.post("assessor", "/api/annual-report/lock", params={"year": year, "department": "qz-zfb"})
    assert r.status_code == 409


async def test_annual_report_docx_download_by_role(env):
    from services.annual_render import DOCX_MIME, docx_text
    from services.demo import today_shanghai

    year = today_shanghai().year
    r = await env.get("assessor", "/api/annual-report", params={"year": year, "government": "true", "format": "docx"})
    assert r.status_code == 200 and r.headers["content-type"] == DOCX_MIME
    assert "attachment" in r.headers["content-disposition"]
    content = docx_text(r.content)
    assert content["paragraphs"][0][1] == f"钦州市{year}年政府信息公开工作年度报告"
    gov = (await env.get("supervisor", "/api/annual-report", params={"year": year, "government": "true"})).json()
    assert gov["scope"]["kind"] == "government" and len(gov["scope"]["departments"]) == 5
    per_unit = [
        (await env.get("supervisor", "/api/annual-report", params={"year": year, "department": d})).json()
        for d in DEPTS
    ]
    assert gov["table3"]["new"]["total"] == sum(u["table3"]["new"]["total"] for u in per_unit)
    # a liaison: their own department's report only
    r = await env.get("liaison", "/api/annual-report", params={"year": year, "format": "docx"})
    assert r.status_code == 200
    assert docx_text(r.content)["paragraphs"][0][1] == f"钦州市发展和改革委员会{year}年政府信息公开工作年度报告"
    r = await env.get("liaison", "/api/annual-report", params={"year": year, "government": "true", "format": "docx"})
    assert r.status_code == 403 and "政府年度报告" in r.json()["detail"]
    r = await env.get("liaison", "/api/annual-report", params={"year": year, "department": "qz-czj", "format": "docx"})
    assert r.status_code == 403
    # the scores page offers the download; a liaison's form is fixed to their department
    async with env.http("assessor") as c:
        page = (await c.get("/scores")).text
        assert 'action="/api/annual-report"' in page and 'name="government"' in page and 'value="docx"' in page
        r = await c.get("/api/annual-report", params={"year": year, "format": "docx", "government": "true"})
        assert r.status_code == 200 and r.headers["content-type"] == DOCX_MIME
    async with env.http("liaison") as c:
        page = (await c.get("/scores")).text
        assert 'name="department" value="qz-fgw"' in page and 'name="government"' not in page


# ---------------------------------------------------------------------------------- calendar


@pytest.mark.date_sensitive
async def test_calendar_read_by_all_reload_by_admin_only(env):
    from domain.shanghai import today as shanghai_today

    r = await env.get("liaison", "/api/calendar")
    assert r.status_code == 200
    cal = r.json()
    assert "guangxi" in cal["regions"]
    assert any(d["name"] == "壮族三月三" for d in cal["regional_days"])
    assert cal["provisional_years"] and all(y > 2026 for y in cal["provisional_years"])
    # Guangxi's notices 2014–2026 are listed with their citation; no year since 2014 lacks one.
    gx = [n for n in cal["notices"] if n["region"] == "guangxi"]
    assert sorted(y for n in gx for y in n["years"]) == list(range(2014, 2027))
    assert all(n["found_at"] and n["issued_by"] for n in gx)
    [summary] = [n for n in cal["notice_summary"] if n["region"] == "guangxi"]
    # years after the last notice on file (2026) up to this year are estimates: none in 2026, [2027] in 2027
    this_year = shanghai_today().year
    assert summary["covered"] == list(range(2014, 2027)) and summary["estimated"] == list(range(2027, this_year + 1))
    for role in ("liaison", "supervisor", "assessor"):
        r = await env.post(role, "/api/calendar/reload")
        assert r.status_code == 403 and "管理员" in r.json()["detail"]
    # a new regional holiday on the next working day moves the extended request's due date by one
    from domain.engine import engine
    from services.demo import today_shanghai
    from services.queries import get_status, open_item_ids

    item_id = "qz-zrzyj-ysq-2026-105"
    before = next(c for c in get_status(item_id).clocks if c.rule == "request_reply").due
    day = engine().calendar.next_working_day(today_shanghai(), "guangxi", inclusive=False)
    # A notice covers its year: one for a year whose 三月三 is still estimated states those days too.
    estimated = "".join(
        f'"{d.isoformat()}" = "壮族三月三"\n' for d in sorted(engine().calendar.estimated_days("guangxi", day.year))
    )
    (env.config / "calendars" / "guangxi-test.toml").write_text(
        f'region = "guangxi"\nsource = "测试通知"\n\n[days_off]\n{estimated}"{day.isoformat()}" = "测试假日"\n',
        encoding="utf-8",
    )
    r = await env.post("admin", "/api/calendar/reload")
    assert r.status_code == 200
    assert r.json()["recalculating"] == len(open_item_ids()) > 0
    assert "重新计算" in r.json()["message"]
    for _ in range(100):
        changes = (await env.get("supervisor", f"/api/items/{item_id}")).json()["due_date_changes"]
        if changes:
            break
        await asyncio.sleep(0.1)
    assert [(c["rule"], c["old_due"]) for c in changes] == [("request_reply", before)]
    assert changes[0]["new_due"] > before and "管理员" in changes[0]["reason"]
    async with env.http("supervisor") as c:  # pages also take a machine's token
        page = (await c.get(f"/items/{item_id}")).text
    assert "期限变更" in page and "测试假日" in (await env.get("admin", "/api/calendar")).text


# ---------------------------------------------------------------------------------- pages


async def test_pages_need_login_and_show_chinese_board(env):
    async with env.http() as c:
        r = await c.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    async with env.http("supervisor") as c:
        r = await c.get("/")
        assert r.status_code == 200
        assert "督办看板" in r.text and "钦州市财政局" in r.text and 'class="overdue-row"' in r.text
        for path in (
            "/liaison?department=qz-zrzyj",
            "/items/qz-zrzyj-ysq-2026-105",
            "/departments/qz-fgw",
            "/scores",
            "/scores?period=2026-Q4",
            "/calendar",
            "/departments",
        ):
            r = await c.get(path)
            assert r.status_code == 200, path
        assert "<svg" in (await c.get("/scores")).text
        page = (await c.get("/calendar")).text
        assert "暂定" in page and "2014–2026 年中已录入 13 个年度的通知" in page and "guangxi-2023.toml" in page


async def test_the_board_lists_its_first_rows_and_all_on_request(env, monkeypatch):
    """A province's board has thousands of overdue clocks: the page lists the first BOARD_ROWS (the roll-up
    and ?all=1 give the rest)."""
    import app.web.pages as pages

    overdue = (await env.get("supervisor", "/api/overdue?limit=1000")).json()
    total = len(overdue["rows"])
    assert total >= 2 and overdue["next_cursor"] is None
    monkeypatch.setattr(pages, "BOARD_ROWS", 1)
    async with env.http("supervisor") as c:
        cut = (await c.get("/")).text
        full = (await c.get("/?all=1")).text
    assert cut.count('class="overdue-row"') == 1 and f"共 {total} 条逾期时限" in cut and 'id="rows-cut"' in cut
    assert full.count('class="overdue-row"') == total and 'id="rows-cut"' not in full


async def test_liaison_pages_are_confined(env):
    async with env.http("liaison") as c:
        r = await c.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/liaison"
        r = await c.get("/liaison")
        assert r.status_code == 200 and "钦州市发展和改革委员会" in r.text and "剩余工作日" in r.text
        r = await c.get("/items/qz-czj-wj-2026-009")
        assert r.status_code == 403 and "联络员" in r.text
        assert (await c.get("/departments/qz-czj")).status_code == 403


async def test_titles_are_escaped(env):
    rid = f"api-{env.tag}-xss"
    ev = {**_received(rid, "qz-jyj"), "subject": "<script>alert(1)</script>申请"}
    r = await env.post("supervisor", "/api/events", json=ev)
    assert r.json()["results"][0]["status"] == "applied"
    async with env.http("supervisor") as c:
        r = await c.get(f"/items/{rid}")
        r2 = await c.get("/liaison?department=qz-jyj")
    for page in (r.text, r2.text):
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_a_loopback_bind_does_not_open_the_pages(env):
    from app.web.server import create_app

    app = create_app(env.temporal, host="127.0.0.1")
    assert app.state.open_pages is False  # anonymous reading only with SHIXIAN_WEB_ANONYMOUS=read
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        assert (await c.get("/")).status_code == 303
        assert (await c.get("/api/items")).status_code == 401


# ---------------------------------------------------------------------------------- bad input (issue 8 §5)


@pytest.mark.parametrize(
    "path,extra",
    [
        ("/api/items", {}),
        ("/api/overdue", {}),
        ("/api/scores", {}),
        ("/api/scores", {"format": "xlsx"}),
        ("/api/annual-report", {"year": "2026"}),
        ("/api/annual-report", {"year": "2026", "format": "xlsx"}),
    ],
)
@pytest.mark.parametrize("dept", ["no-such-dept", "qz-fgw\x07", "qz\x00fgw", "../qz-fgw"])
async def test_unknown_department_is_404_with_the_json_error_body(env, path, extra, dept):
    r = await env.get("supervisor", path, params={"department": dept, **extra})
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == "unknown_department" and "未知部门" in r.json()["detail"]


async def test_out_of_range_dates_in_parameters_are_422(env):
    for path, params in [
        ("/api/overdue", {"as_of": "9999-12-31"}),
        ("/api/scores", {"as_of": "1900-01-01"}),
        ("/api/scores", {"period": "9999"}),
    ]:
        r = await env.get("supervisor", path, params=params)
        assert r.status_code == 422 and r.json()["code"] == "invalid_parameter", (path, r.text)
        assert "超出可受理范围" in r.json()["detail"]


async def test_exports_survive_control_characters_in_stored_text(env):
    """Older data (before the ingest refused them) may hold control characters: xlsx cannot, so the
    exports drop them instead of failing with a 500."""
    from openpyxl import load_workbook
    from sqlmodel import Session

    from domain.model import ClockSnapshot, ItemSnapshot
    from services.demo import today_shanghai
    from store.db import database_url, get_engine
    from store.items import save_snapshot

    today = today_shanghai()
    iid = f"legacy-{env.tag}"
    snap = ItemSnapshot(
        id=iid,
        type="request",
        department="qz-jyj",
        title="旧数据\x07标题\x00",
        version=1,
        clocks=[
            ClockSnapshot(
                rule="request_reply",
                start=today.isoformat(),
                due=today.isoformat(),
                due_instant=f"{today.isoformat()}T23:59:59+08:00",
                state="met",
                met_on=today.isoformat(),
                lateness_working_days=0,
                explanation={"summary": "说明\x1b"},
            )
        ],
    )
    with Session(get_engine(database_url())) as s:
        save_snapshot(s, snap)
    try:
        r = await env.get(
            "supervisor", "/api/scores", params={"period": str(today.year), "format": "xlsx", "department": "qz-jyj"}
        )
        assert r.status_code == 200, r.text
        detail = load_workbook(io.BytesIO(r.content))["明细"]
        titles = [row[3] for row in detail.iter_rows(min_row=2, values_only=True)]
        assert "旧数据标题" in titles
        r = await env.get(
            "supervisor", "/api/scores", params={"period": str(today.year), "format": "csv", "department": "qz-jyj"}
        )
        assert r.status_code == 200
    finally:
        from store.models import Item

        with Session(get_engine(database_url())) as s:
            repo_item = s.get(Item, iid)
            if repo_item is not None:
                s.delete(repo_item)
                s.commit()


async def test_post_events_with_a_five_megabyte_title_beside_a_good_line(env):
    from store.db import database_url, get_engine
    from store.models import EventRecord, Item

    good, huge = f"api-{env.tag}-good5", f"api-{env.tag}-huge5"
    r = await env.post(
        "supervisor",
        "/api/events",
        json=[
            {**_received(huge, "qz-czj"), "subject": "长" * 5_000_000},
            _received(good, "qz-czj"),
            {**_received(f"api-{env.tag}-ctl", "qz-czj"), "subject": "申请\x00"},
            {**_received(f"api-{env.tag}-far", "qz-czj"), "received_on": "9999-12-31"},
        ],
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    res = r.json()["results"]
    assert [(x["status"], x["field"]) for x in res] == [
        ("rejected", "subject"),
        ("applied", None),
        ("rejected", "subject"),
        ("rejected", "received_on"),
    ]
    assert "最多 2000 个" in res[0]["reason"] and len(res[0]["message"]) < 300
    with Session(get_engine(database_url())) as s:
        assert s.get(Item, huge) is None
        assert s.exec(select(EventRecord).where(EventRecord.item_id == huge)).all() == []
        assert s.get(Item, good) is not None
    with pytest.raises(RPCError):  # not found: no workflow was ever started for the refused line
        await env.temporal.get_workflow_handle(f"request:{huge}").describe()


async def test_board_and_scores_pages_also_answer_404_for_an_unknown_department(env):
    for path in ("/", "/scores", "/liaison", "/departments/no-such-dept"):
        r = await env.get("supervisor", path, params={"department": "no-such-dept"})
        assert r.status_code == 404 and "未知部门" in r.text, path
