"""An item whose start event's Update is lost heals without hand work (issue #16 §3).

Update-with-start creates the item's run and hands the start event to it as an Update the server holds in
memory until the run's first workflow task takes it. With the worker dead, the importer killed while it
waits, and then the embedded server killed (kill -9 of `shixian up` takes all three), the run exists but
its Update is gone: it used to wait empty for its start event until somebody imported the file again. The
run's start input carries the event too, so the first task applies it: the store holds the item and its
event, and the next import of the same line is a duplicate."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import sys
import time
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.shanghai import SHANGHAI
from tests.conftest import free_port
from tests.procs import Proc, wait_port_free
from tests.receivers import WebhookReceiver
from tests.test_worker_kill import WORKER
from tests.workflow_harness import config_copy
from worker.server import DevServer

pytestmark = pytest.mark.e2e

IMPORTER = r"""
import asyncio, json, sys
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from services.ingest import Ingestor

async def main():
    client = await Client.connect(sys.argv[1], data_converter=pydantic_data_converter)
    print("importing", flush=True)
    results = await Ingestor(client).ingest([(1, json.loads(sys.argv[2]))])
    print("imported", [r.text() for r in results], flush=True)

asyncio.run(main())
"""


def stored(data, event_id: str) -> tuple | None:
    try:
        with sqlite3.connect(data / "shixian.db", timeout=5) as c:
            return c.execute(
                "SELECT e.type, i.version, i.state FROM event_record e JOIN item i ON i.id = e.item_id "
                "WHERE e.event_id = ?",
                (event_id,),
            ).fetchone()
    except sqlite3.OperationalError:  # no store yet
        return None


async def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


async def test_start_lost_with_worker_importer_and_server_heals_itself(tmp_path):
    with WebhookReceiver() as receiver:
        cfg = config_copy(tmp_path / "config", receiver)
        data = tmp_path / "data"
        data.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
        env.update(SHIXIAN_CONFIG_DIR=str(cfg), SHIXIAN_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
        port = free_port()
        server = DevServer(tmp_path / "temporal", port=port, ui=False)
        await server.start()
        procs: list[Proc] = []
        try:
            today = dt.datetime.now(SHANGHAI).date()
            rid = f"LOST-{uuid.uuid4().hex[:6]}"
            start = {
                "event_id": f"{rid}-r",
                "type": "request.received",
                "request_id": rid,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": today.isoformat(),
                "applicant_type": "natural_person",
                "subject": "起始事件丢失",
            }
            wid = f"request:{rid}"

            # The worker dies (before the import: the run's first task is never completed).
            worker = Proc([sys.executable, "-c", WORKER, server.address], env, module=False)
            procs.append(worker)
            worker.wait_for("worker ready")
            worker.kill_group()

            # The importer sends the start event (update-with-start) and is killed while it waits.
            importer = Proc([sys.executable, "-c", IMPORTER, server.address, json.dumps(start)], env, module=False)
            procs.append(importer)
            importer.wait_for("importing")
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)

            async def run_exists():
                try:
                    return (await client.get_workflow_handle(wid).describe()).status
                except Exception:
                    return None

            assert await until(run_exists, 60, "the run exists") == WorkflowExecutionStatus.RUNNING
            importer.kill_group()
            assert "imported" not in importer.out

            # The server dies too (its Update registry is memory only) and comes back on its database.
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
            server.proc = None
            wait_port_free(port)
            await server.start()
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)

            # A worker again: the run applies the start event it was started with, nobody imports anything.
            worker = Proc([sys.executable, "-c", WORKER, server.address], env, module=False)
            procs.append(worker)
            worker.wait_for("worker ready")

            async def in_store():
                return stored(data, start["event_id"])

            assert await until(in_store, 60, f"the start event in the store; worker:\n{worker.out}") == (
                "request.received",
                1,
                "open",
            )
            from workflows.items import ItemWorkflow

            handle = client.get_workflow_handle(wid)
            snap = await handle.query(ItemWorkflow.snapshot)
            assert snap.version == 1 and "request_reply" in [c.rule for c in snap.clocks if c.state == "open"]
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

            # The file imported again later: the line is a duplicate, nothing applied twice.
            again = Proc([sys.executable, "-c", IMPORTER, server.address, json.dumps(start)], env, module=False)
            procs.append(again)
            assert again.wait(60) == 0, again.out
            assert "重复 duplicate" in again.out, again.out
            assert (await handle.query(ItemWorkflow.snapshot)).version == 1
        finally:
            for p in procs:
                p.kill_group()
            server.stop()
