"""Durable import jobs (issue 22 §3): a web upload of more than a few hundred rows runs as a job in the
worker, with progress the page and the API show, also from a web process started after the upload. Real
HTTP through the app, the time-skipping Temporal server, the product's worker and a temporary store."""

from __future__ import annotations

import asyncio
import html as H
import re
import time

import httpx
import pytest
from sqlmodel import Session

from domain.engine import engine

# The API tests run again per pinned "today" (tests/pins.py); the 5,000-row upload, whose dates are built the same
# way, runs once: four runs of it were a quarter of the suite's time.
pytestmark = [pytest.mark.asyncio(loop_scope="session")]
ROWS = 5_000


def _client(app, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


async def test_a_5000_row_upload_runs_as_a_job_with_progress(st):
    from app.web.server import create_app
    from services.import_jobs import JOB_ROWS
    from store.db import get_engine, init_db
    from store.models import EventRecord
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        supervisor, _ = create_token(s, "supervisor", person="supervisor-zwgk")
        other, _ = create_token(s, "liaison", "qz-fgw", person="liaison-fgw")
    cal, today = engine().calendar, await st.today()
    tag = st.id("JOB")
    lines = ["\ufeff受理编号,收到日期,渠道,申请人类型,申请内容"]
    for i in range(ROWS):
        got = cal.subtract_working_days(today, 3 + i % 10, "guangxi")
        lines.append(f"{tag}-{i},{got.isoformat()},网络,自然人,申请公开第{i}号文件")
    files = {"file": ("台账.csv", "\n".join(lines).encode("utf-8"), "text/csv")}
    assert ROWS > JOB_ROWS

    app = create_app(st.client, open_pages=False)
    async with _client(app, supervisor) as c:
        r = await c.post("/import", files=files, data={"department": "qz-jyj"})
        assert r.status_code == 200, r.text[:500]
        payload = H.unescape(re.search(r'name="payload" value="([^"]*)"', r.text).group(1))
        r = await c.post("/import/confirm", data={"payload": payload})
        assert r.status_code == 303, r.text[:500]  # answered at once: the job runs in the worker
        job_page = r.headers["location"]
        job_id = job_page.rsplit("/", 1)[1]
        page = await c.get(job_page)
        assert page.status_code == 200 and 'id="job-progress"' in page.text
    st.started.add(f"import-job:{job_id}")
    for i in range(ROWS):
        st.started.add(f"request:{tag}-{i}")

    # A web process started after the upload (the first one is gone) follows the same job.
    app = create_app(st.client, open_pages=False)
    seen: list[tuple[str, int, int]] = []
    async with _client(app, supervisor) as c:
        deadline = time.monotonic() + 900
        while True:
            r = await c.get(f"/api/import-jobs/{job_id}")
            assert r.status_code == 200, r.text
            job = r.json()
            seen.append((job["status"], job["done"], job["total"]))
            if job["status"] in ("done", "failed"):
                break
            if job["status"] == "running" and 0 < job["done"] < job["total"]:
                running = await c.get(job_page)  # the page's bar while it runs, refreshing itself
                bar = re.search(r'<progress id="job-progress" value="(\d+)" max="(\d+)"', running.text)
                assert 'http-equiv="refresh"' in running.text and bar is not None
                assert job["done"] <= int(bar.group(1)) <= int(bar.group(2)) == ROWS
            assert time.monotonic() < deadline, seen[-3:]
            await asyncio.sleep(0.5)
        assert job["status"] == "done", job.get("error")
        assert job["total"] == ROWS and job["summary"]["applied"] == ROWS
        assert len(job["outcomes"]) == ROWS and all(o["status"] == "applied" for o in job["outcomes"])
        # progress was seen part-way, and never went backwards
        assert any(s == "running" and 0 < d < t for s, d, t in seen), seen
        dones = [d for _, d, _ in seen]
        assert dones == sorted(dones)
        done_page = await c.get(job_page)
        assert "已完成" in done_page.text and 'http-equiv="refresh"' not in done_page.text
        assert "已导入" in done_page.text and str(ROWS) in done_page.text
    # Another department's liaison does not see the job.
    async with _client(app, other) as c:
        assert (await c.get(f"/api/import-jobs/{job_id}")).status_code == 404
        assert (await c.get(job_page)).status_code == 404
    with Session(eng) as s:
        assert s.get(EventRecord, f"ledger:qz-jyj:requests:{tag}-{ROWS - 1}:received") is not None
    assert st.item(f"{tag}-0").department == "qz-jyj"


@pytest.mark.date_sensitive
async def test_an_api_batch_asked_to_respond_async_runs_as_a_job(st):
    """POST /api/events with more than JOB_ROWS events and `Prefer: respond-async`: 202 and a job whose
    per-event results match a direct call's (each recorded as the token's person)."""
    from app.web.server import create_app
    from services.import_jobs import JOB_ROWS
    from store.db import get_engine, init_db
    from store.models import EventRecord
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        liaison, _ = create_token(s, "liaison", "qz-jyj", person="liaison-jyj")
    cal, today = engine().calendar, await st.today()
    tag = st.id("APIJOB")
    n = JOB_ROWS + 20
    events = [
        {
            "event_id": f"{tag}-{i}",
            "type": "request.received",
            "request_id": f"{tag}-{i}",
            "department": "qz-fgw" if i == 0 else "qz-jyj",  # another department's: refused, as directly
            "channel": "online",
            "received_on": cal.subtract_working_days(today, 2, "guangxi").isoformat(),
            "applicant_type": "natural_person",
            "subject": "压测",
        }
        for i in range(n)
    ]
    app = create_app(st.client, open_pages=False)
    async with _client(app, liaison) as c:
        r = await c.post("/api/events", json=events, headers={"Prefer": "respond-async"})
        assert r.status_code == 202, r.text[:500]
        url = r.headers["location"]
        st.started.add(f"import-job:{r.json()['job']}")
        for i in range(n):
            st.started.add(f"request:{tag}-{i}")
        deadline = time.monotonic() + 600
        while (job := (await c.get(url)).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
    assert job["status"] == "done", job.get("error")
    assert job["summary"] == {"applied": n - 1, "held": 0, "duplicate": 0, "rejected": 1}
    first = job["results"][0]
    assert (first["index"], first["status"], first["field"]) == (1, "rejected", "department")
    with Session(eng) as s:
        assert s.get(EventRecord, f"{tag}-{n - 1}").recorded_by == "liaison-jyj"


@pytest.mark.date_sensitive
async def test_an_api_batch_above_the_threshold_is_a_job_by_default(st):
    """Without a Prefer header a batch of more than JOB_ROWS events is a job: 202, Location, Retry-After: 2,
    the non-object elements answered in the body (not sent to the job); `Prefer: respond-sync` answers in the
    request (here: the same batch again, every event a duplicate)."""
    from app.web.server import create_app
    from services.import_jobs import JOB_ROWS
    from store.db import get_engine, init_db
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        liaison, _ = create_token(s, "liaison", "qz-jyj", person="liaison-jyj")
    cal, today = engine().calendar, await st.today()
    tag = st.id("APIDEF")
    n = JOB_ROWS + 1
    events: list = [
        {
            "event_id": f"{tag}-{i}",
            "type": "request.received",
            "request_id": f"{tag}-{i}",
            "department": "qz-jyj",
            "channel": "online",
            "received_on": cal.subtract_working_days(today, 2, "guangxi").isoformat(),
            "applicant_type": "natural_person",
            "subject": "默认作业",
        }
        for i in range(n)
    ]
    events[5:5] = ["not an object"]
    events.append(7)
    app = create_app(st.client, open_pages=False)
    async with _client(app, liaison) as c:
        r = await c.post("/api/events", json=events)
        assert r.status_code == 202, r.text[:500]
        body = r.json()
        st.started.add(f"import-job:{body['job']}")
        for i in range(n):
            st.started.add(f"request:{tag}-{i}")
        assert r.headers["location"] == body["url"] == f"/api/import-jobs/{body['job']}"
        assert r.headers["retry-after"] == "2" and "preference-applied" not in r.headers
        assert body["status"] == "queued" and body["total"] == n
        assert body["rejected"] == [
            {"line": 6, "reason": "应为 JSON 对象"},
            {"line": n + 2, "reason": "应为 JSON 对象"},
        ]
        deadline = time.monotonic() + 600
        while (job := (await c.get(body["url"])).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
        assert job["status"] == "done", job.get("error")
        assert job["summary"] == {"applied": n, "held": 0, "duplicate": 0, "rejected": 0}
        again = await c.post("/api/events", json=events, headers={"Prefer": "respond-sync"})
    assert again.status_code == 200, again.text[:500]
    sync = again.json()
    assert (sync["duplicate"], sync["rejected"], sync["applied"]) == (n, 2, 0)
