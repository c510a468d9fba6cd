"""Scale-out on a stand-in cluster: an external `temporal server start-dev`, PostgreSQL as the read model,
two `shixian worker` processes and one `shixian web`. An import is spread over both workers; one worker
is SIGKILLed mid-import and the other finishes it; nothing is lost or duplicated."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import httpx
import pytest

from tests.conftest import _pg_url, free_port
from tests.procs import Proc
from tests.test_faults import events_file

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _count(url: str, tag: str) -> int:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return c.execute(
                text("SELECT count(*) FROM event_record WHERE event_id LIKE :p"), {"p": f"{tag}%"}
            ).scalar()
    finally:
        eng.dispose()


async def test_two_workers_one_killed_mid_import_nothing_lost_or_duplicated(tmp_path):
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from worker.server import DevServer
    from workflows.items import ItemWorkflow

    url = _pg_url()
    if not url:
        pytest.skip("DATABASE_URL_TEST not set (./scripts/test starts PostgreSQL)")
    server = DevServer(tmp_path / "temporal", port=free_port(), ui=False)
    await server.start()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SHIXIAN_CONFIG_DIR",)}
    env.update(
        TEMPORAL_ADDRESS=server.address,
        DATABASE_URL=url,
        SHIXIAN_DATA_DIR=str(tmp_path / "data"),
        SHIXIAN_TASK_QUEUE=f"cluster-{uuid.uuid4().hex[:6]}",
        SHIXIAN_HTTP=f"127.0.0.1:{http_port}",
    )
    tag = f"CL-{uuid.uuid4().hex[:5]}"
    events = events_file(tmp_path / "events.jsonl", 40, tag)
    procs: list[Proc] = []
    try:
        metrics_port = free_port()
        w1, w2 = Proc(["worker"], env), Proc(["worker"], {**env, "SHIXIAN_METRICS": f"127.0.0.1:{metrics_port}"})
        web = Proc(["web"], env)
        procs += [w1, w2, web]
        for p, text in ((w1, "worker ready"), (w2, "worker ready"), (web, "web ready")):
            p.wait_for(text)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as h:
            r = await h.get("/readyz")
            assert r.status_code == 200 and r.json()["status"] == "ready", r.text

        ingest = Proc(["events", "ingest", "--json", str(tmp_path / "events.jsonl")], env)
        procs.append(ingest)
        t0 = time.monotonic()
        while _count(url, tag) < 12:
            assert time.monotonic() - t0 < 180 and ingest.proc.poll() is None, ingest.out
            await asyncio.sleep(0.05)
        w1.kill_group()
        killed_at = _count(url, tag)
        assert killed_at < len(events), "the kill must land mid-import"
        assert await asyncio.to_thread(ingest.wait, 400) == 0, ingest.out
        results = [json.loads(x) for x in ingest.out.splitlines() if x.startswith("{")]
        assert sorted(r["event_id"] for r in results) == sorted(e["event_id"] for e in events)
        # Every event took effect once. An event whose update-with-start reached the workflow just before the
        # kill may be applied by the run from its start input and then answered "duplicate" (已处理过) to the
        # retried send: taken effect, not lost; anything else (rejected, held) fails.
        assert {r["status"] for r in results} <= {"applied", "duplicate"}, ingest.out
        assert sum(r["status"] == "duplicate" for r in results) <= 2, ingest.out
        assert _count(url, tag) == len(events)

        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        identities = set()
        for rid in sorted({e["request_id"] for e in events}):
            h = client.get_workflow_handle(f"request:{rid}")
            for e in events:
                if e["request_id"] == rid:
                    assert await h.query(ItemWorkflow.event_hash, e["event_id"])
            async for ev in h.fetch_history_events():
                if ev.HasField("workflow_task_started_event_attributes"):
                    identities.add(ev.workflow_task_started_event_attributes.identity.split("@")[0])
        # Both workers served this import (the killed one before its death, the survivor after it).
        assert {str(w1.pid), str(w2.pid)} <= identities, identities
        assert w2.proc.poll() is None and web.proc.poll() is None

        # The survivor's Prometheus endpoint: the SDK's own metrics and the product's gauges.
        async with httpx.AsyncClient() as h:
            text = (await h.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert "temporal_workflow_completed" in text or "temporal_workflow_task_execution_latency" in text, text[:2000]
        open_jyj = [ln for ln in text.splitlines() if ln.startswith('shixian_open_clocks{department="qz-jyj"}')]
        assert open_jyj and float(open_jyj[0].split()[-1]) >= 20, text[-3000:]
        assert "# TYPE shixian_late_entries_held gauge" in text
    finally:
        for p in procs:
            p.stop()
        server.stop()
