"""Operability of the web process on the real stack (time-skipping server, real worker, demo city):
/healthz and /readyz, paged lists, a bad calendar notice refused while the running calendar stays,
and JSON (never text/plain) answers when Temporal is gone."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.test_api import Env, env  # noqa: F401  (the module-scoped stack fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_healthz_and_readyz_are_open_and_say_nothing_internal(env):
    r = await env.get(None, "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await env.get(None, "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "checks": {"temporal": "ok", "database": "ok", "config": "ok", "disk": "ok"},
        "reasons": {},
    }

    from app.web.server import create_app

    no_temporal = create_app(None, open_pages=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=no_temporal), base_url="http://127.0.0.1") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "not_ready",
        "checks": {"temporal": "failing", "database": "ok", "config": "ok", "disk": "ok"},
        "reasons": {"temporal": "工作流服务不可用"},
    }
    assert "127.0.0.1" not in r.text and "sqlite" not in r.text.lower()


async def _all_pages(env, path: str, key: str, limit: int, **params) -> list[dict]:
    out, cursor, pages = [], None, 0
    while True:
        q = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await env.get("supervisor", path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body[key]) <= limit
        out += body[key]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return out
        assert pages < 1000


async def test_items_overdue_and_deliveries_page_with_limit_and_cursor(env):
    full = (await env.get("supervisor", "/api/items", params={"limit": 1000})).json()
    assert full["next_cursor"] is None and len(full["items"]) > 7
    paged = await _all_pages(env, "/api/items", "items", 3)
    assert [i["id"] for i in paged] == [i["id"] for i in full["items"]]

    day = {"as_of": "2027-06-30"}
    full_o = (await env.get("supervisor", "/api/overdue", params={**day, "limit": 1000})).json()["rows"]
    assert len(full_o) > 2
    assert await _all_pages(env, "/api/overdue", "rows", 2, **day) == full_o

    from sqlmodel import Session

    from store.db import database_url, get_engine
    from store.deliveries import Delivery

    tag = uuid.uuid4().hex[:6]
    with Session(get_engine(database_url())) as s:
        for i in range(5):
            s.add(
                Delivery(key=f"page-{tag}-{i}", item_id=f"page-{tag}", rule="r", step=f"s{i}", person="p", state="sent")
            )
        s.commit()
    got = await _all_pages(env, "/api/deliveries", "deliveries", 2, item=f"page-{tag}")
    assert [d["step"] for d in got] == ["s4", "s3", "s2", "s1", "s0"]  # newest first, each once

    r = await env.get("supervisor", "/api/items", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_parameter"
    assert (await env.get("supervisor", "/api/items", params={"limit": 0})).status_code == 422
    assert (await env.get("liaison", "/api/deliveries")).status_code == 403


async def test_bad_calendar_file_is_refused_while_the_running_calendar_stays(env):
    from domain.engine import engine

    before = engine().calendar.fingerprint()
    bad = env.config / "calendars" / "zz-broken.toml"
    bad.write_text('region = "guangxi"\nsource = "测试"\n[days_off]\n"2026-13-40" = "坏日期"\n', encoding="utf-8")
    try:
        r = await env.post("admin", "/api/calendar/reload")
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "config_error" and "zz-broken.toml" in r.json()["detail"]
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "calendar", "reload"],
            capture_output=True,
            text=True,
            env={**os.environ, "TEMPORAL_ADDRESS": env.temporal.service_client.config.target_host},
        )
        assert cli.returncode != 0 and "zz-broken.toml" in cli.stderr  # the API says what the CLI says

        r = await env.get("supervisor", "/api/calendar")
        assert r.status_code == 200 and "zz-broken.toml" in r.json()["config_problem"]
        assert r.json()["fingerprint"] == before  # the running calendar stays
        page = await env.get("supervisor", "/calendar")
        assert page.status_code == 200 and 'id="config-problem"' in page.text and "zz-broken.toml" in page.text
        for path in ("/", "/scores", "/api/scores", "/api/items", "/api/overdue"):
            assert (await env.get("supervisor", path)).status_code == 200, path

        # A new process (the CLI import) refuses the bad file and imports with the rest of the calendar.
        rid = f"CAL-{uuid.uuid4().hex[:6]}"
        line = json.dumps(
            {
                "event_id": f"{rid}-r",
                "type": "request.received",
                "request_id": rid,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": "2026-10-12",
                "applicant_type": "natural_person",
                "subject": "日历坏文件",
            },
            ensure_ascii=False,
        )
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "events", "ingest", "--json", "-"],
            input=line + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "TEMPORAL_ADDRESS": env.temporal.service_client.config.target_host},
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert json.loads(cli.stdout.splitlines()[-1])["status"] == "applied"
        assert "Traceback" not in cli.stderr
    finally:
        bad.unlink()
    r = await env.get("supervisor", "/api/calendar")
    assert r.json()["config_problem"] is None


async def test_post_events_without_temporal_answers_json_503(env):
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from app.web.server import create_app
    from tests.conftest import free_port

    dead = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True, data_converter=pydantic_data_converter)
    app = create_app(dead, open_pages=False)
    rid = f"DEAD-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {env.tokens['supervisor']}"},
    ) as c:
        r = await c.post(
            "/api/events",
            json={
                "event_id": f"{rid}-r",
                "type": "request.received",
                "request_id": rid,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": "2026-10-12",
                "applicant_type": "natural_person",
                "subject": "无服务",
            },
        )
    assert r.headers["content-type"].startswith("application/json"), r.text
    assert r.status_code == 503 and r.json()["code"] == "temporal_unavailable"
    assert "工作流服务暂不可用" in r.json()["detail"]


async def test_ingest_counts_events_and_logs_json_lines_without_applicant_data(env, caplog):
    import logging

    from worker.logs import JsonFormatter
    from worker.metrics import render

    def applied() -> float:
        for line in render().decode().splitlines():
            if line.startswith('shixian_events_total{result="applied"}'):
                return float(line.split()[-1])
        raise AssertionError(render().decode())

    before = applied()
    rid = f"LOG-{uuid.uuid4().hex[:6]}"
    with caplog.at_level(logging.INFO, logger="shixian.ingest"):
        r = await env.post(
            "supervisor",
            "/api/events",
            json=[
                {
                    "event_id": f"{rid}-r",
                    "type": "request.received",
                    "request_id": rid,
                    "department": "qz-jyj",
                    "channel": "online",
                    "received_on": "2026-10-12",
                    "applicant_type": "natural_person",
                    "subject": "日志",
                    "applicant": {"name": "张三丰", "contact": "13800000000"},
                },
                {
                    "event_id": f"{rid}-x",
                    "type": "request.replied",
                    "request_id": rid,
                    "on": "2026-10-13",
                    "outcome": "no-such-outcome",
                },
            ],
        )
    assert r.status_code == 200 and r.json()["applied"] == 1 and r.json()["rejected"] == 1
    assert applied() == before + 1
    text = render().decode()
    assert 'shixian_open_clocks{department="qz-jyj"}' in text and "shixian_overdue_clocks{" in text

    import datetime as dt

    from sqlmodel import Session

    from store.db import database_url, get_engine
    from store.models import LateEntryRecord

    def held(dept: str) -> float:
        rows = [
            ln
            for ln in render().decode().splitlines()
            if ln.startswith(f'shixian_late_entries_held{{department="{dept}"}}')
        ]
        return float(rows[0].split()[-1]) if rows else 0.0

    before_held = held("qz-czj")
    with Session(get_engine(database_url())) as s:
        for i, status in enumerate(("held", "held", "approved")):
            s.add(
                LateEntryRecord(
                    event_id=f"{rid}-late{i}",
                    item_id=rid,
                    department="qz-czj",
                    type="request.replied",
                    occurred_on="2026-10-01",
                    recorded_at=dt.datetime.now(dt.UTC),
                    role="liaison",
                    status=status,
                )
            )
        s.commit()
    assert held("qz-czj") == before_held + 2
    lines = [json.loads(JsonFormatter().format(rec)) for rec in caplog.records if rec.name == "shixian.ingest"]
    by_event = {x["event_id"]: x for x in lines}
    assert by_event[f"{rid}-r"]["item_id"] == rid and by_event[f"{rid}-r"]["status"] == "applied"
    assert by_event[f"{rid}-x"]["status"] == "rejected" and by_event[f"{rid}-x"]["field"] == "outcome"
    text = "\n".join(JsonFormatter().format(rec) for rec in caplog.records)
    assert "张三丰" not in text and "13800000000" not in text


def test_an_import_whose_read_model_lags_is_a_json_503_saying_the_events_are_applied(tmp_path, monkeypatch):
    """ReadModelBehind (the store writes of applied events did not land in time) is neither a 500 nor
    "Temporal unavailable": the caller learns the events took effect and the read model will catch up."""
    from starlette.testclient import TestClient

    from app.web.server import create_app
    from services.ingest import ReadModelBehind

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path))
    app = create_app(None, open_pages=True)

    @app.get("/api/_lagging")
    def lagging():
        raise ReadModelBehind(3)

    r = TestClient(app, raise_server_exceptions=False).get("/api/_lagging", headers={"accept": "application/json"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == "read_model_behind" and "3 个已应用的事件" in r.json()["detail"]
