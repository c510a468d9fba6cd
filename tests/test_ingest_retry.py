"""Events the workflow service did not answer are sent again by an import that may wait (the CLI, a durable
job: SHIXIAN_IMPORT_RETRY_SECONDS), instead of being reported 未处理 the moment a starved or restarting server
drops them (issue 22: 811 of 2,500 events "not applied" under CPU starvation). A real outage mid-import
(the connection to the embedded dev server cut by a proxy on 127.0.0.1, back a few seconds later), the real
worker, the real CLI and the real ingest path. (The time-skipping test server cannot be used: it fails an
update-with-start re-sent after its first connection was cut, NullPointerException in waitForUpdateResponse.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from domain.engine import engine
from tests.netproxy import CuttableProxy

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def dev(tmp_path, monkeypatch):
    """The embedded dev server (as `shixian up` runs it) with the production worker, a fresh store."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from store.db import get_engine
    from tests.conftest import free_port
    from tests.workflow_harness import app_worker
    from worker.server import DevServer

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SHIXIAN_CONFIG_DIR", raising=False)
    get_engine.cache_clear()
    server = DevServer(data, port=free_port(), ui=False)
    await server.start()
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        async with app_worker(client):
            yield server
    finally:
        server.stop()
        get_engine.cache_clear()


def _events(tag: str, n: int) -> list[dict]:
    from domain.shanghai import today

    cal = engine().calendar
    got, replied = cal.subtract_working_days(today(), 3, "guangxi"), cal.subtract_working_days(today(), 1, "guangxi")
    out = []
    for i in range(n):
        rid = f"{tag}-{uuid.uuid4().hex[:6]}-{i}"
        out.append(
            {
                "event_id": f"{rid}-r",
                "type": "request.received",
                "request_id": rid,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": got.isoformat(),
                "applicant_type": "natural_person",
                "subject": "重发测试",
            }
        )
        out.append(
            {
                "event_id": f"{rid}-a",
                "type": "request.replied",
                "request_id": rid,
                "on": replied.isoformat(),
                "outcome": "granted",
            }
        )
    return out


def _stored(ids: list[str]) -> list[str]:
    from store.db import get_engine
    from store.models import EventRecord

    with Session(get_engine()) as s:
        return list(s.exec(select(EventRecord.event_id).where(col(EventRecord.event_id).in_(ids))).all())


async def test_cli_ingest_sends_again_what_an_outage_dropped_and_applies_each_event_once(dev, tmp_path):
    from store.db import get_engine
    from store.models import Item

    events = _events("RETRY-CLI", 40)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    target = dev.address
    # About half-way through the sends the connection dies; the proxy listens again 25 s later: longer than
    # the SDK client's own retries of one call (~10 s), so the events it gave up on are the ingest's to resend.
    async with CuttableProxy(target, cut_after=30_000, back_after=25.0) as proxy:
        env = {**os.environ, "TEMPORAL_ADDRESS": proxy.address, "PYTHONUNBUFFERED": "1"}
        env["SHIXIAN_IMPORT_RETRY_SECONDS"] = "120"
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "shixian"),
            *("events", "ingest", "--json", str(path)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 300)
        assert proxy.back.is_set(), "the outage must land mid-import"
    err_text = err.decode()
    results = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    assert proc.returncode == 0, err_text[-3000:]
    assert "秒后重新发送" in err_text, err_text[-3000:]  # it said it was waiting, not silent
    assert sorted(r["event_id"] for r in results) == sorted(e["event_id"] for e in events)  # each line once
    # An event whose send reached the workflow just before the cut may be answered "duplicate" on the resend:
    # taken effect once, not lost; nothing is reported 未处理 or refused.
    assert {r["status"] for r in results} <= {"applied", "duplicate"}, out.decode()[-3000:]
    ids = [e["event_id"] for e in events]
    assert sorted(_stored(ids)) == sorted(ids)
    with Session(get_engine()) as s:
        items = s.exec(select(Item).where(col(Item.id).in_([e["request_id"] for e in events]))).all()
    assert len(items) == 40 and all(i.data.get("outcome") == "granted" for i in items), [i.data for i in items]


RETRY = 20.0


async def test_an_outage_longer_than_the_retry_time_reports_each_unanswered_event_once(dev):
    """The service does not come back within `retry_seconds`: what was not answered is reported 未处理
    (not refused), each line exactly once, and progress counts every line once."""
    from services.ingest import UNAVAILABLE, Ingestor
    from worker.client import connect

    events = _events("RETRY-GONE", 30)
    target = dev.address
    ticks, waits = [0], []
    async with CuttableProxy(target, cut_after=20_000) as proxy:
        ing = Ingestor(await connect(proxy.address), retry_seconds=RETRY)

        def tick() -> None:
            ticks[0] += 1

        results = await ing.ingest(
            list(enumerate(events, start=1)), progress=tick, on_wait=lambda n, secs: waits.append((n, secs))
        )
    assert proxy.cut_done
    assert [r.line for r in results] == list(range(1, len(events) + 1))
    assert ticks[0] == len(events)
    gone = [r for r in results if r.status == "rejected"]
    assert gone and all(r.field == UNAVAILABLE for r in gone), [r.text() for r in results]
    assert {r.status for r in results} <= {"applied", "rejected"}, [r.text() for r in results]
    # Sent again after 1 s, 2 s, ... while the next wait still ends within the time allowed (each try takes the
    # SDK client's own ~10 s of retries first).
    secs = [w for _, w in waits]
    assert secs and secs == [2.0**k for k in range(len(secs))] and sum(secs) <= RETRY, waits
    assert all(n == len(gone) for n, _ in waits), waits
    applied = [r.event_id for r in results if r.status == "applied"]
    assert sorted(_stored([e["event_id"] for e in events])) == sorted(applied)
