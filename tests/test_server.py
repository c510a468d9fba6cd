"""The embedded dev server keeps workflow state across a restart (same --db-filename)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from worker.client import connect
from worker.server import DevServer, DevServerError

pytestmark = pytest.mark.e2e


@workflow.defn(sandboxed=False)
class HelloWorkflow:
    def __init__(self) -> None:
        self.finish = False

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: self.finish)
        return f"你好，{name}"

    @workflow.signal
    def done(self) -> None:
        self.finish = True


async def _worker(client, task_queue):
    return Worker(client, task_queue=task_queue, workflows=[HelloWorkflow])


async def test_dev_server_is_durable_across_restart(tmp_data_dir, free_port):
    server = DevServer(tmp_data_dir, port=free_port, ui=False)
    tq = f"test-{uuid.uuid4().hex[:8]}"
    try:
        await server.start(timeout=60)
        assert server.startup_seconds is not None and server.startup_seconds < 60
        assert server.db_file.exists() and server.log_file.exists()
        client = await connect(server.address)
        async with await _worker(client, tq):
            completed = await client.start_workflow(HelloWorkflow.run, "甲", id="wf-completed", task_queue=tq)
            await completed.signal(HelloWorkflow.done)
            assert await completed.result() == "你好，甲"
            pending = await client.start_workflow(HelloWorkflow.run, "乙", id="wf-pending", task_queue=tq)
            # wait until the first workflow task ran (the workflow is blocked on its condition)
            for _ in range(100):
                hist = await pending.fetch_history()
                if any(e.HasField("workflow_task_completed_event_attributes") for e in hist.events):
                    break
                await asyncio.sleep(0.05)
        before = await completed.fetch_history()
        assert server.stop() is not None
        assert not server.running()

        # same database file, new process
        await server.start(timeout=60)
        client = await connect(server.address)
        after = await client.get_workflow_handle("wf-completed").fetch_history()
        assert [e.event_type for e in after.events] == [e.event_type for e in before.events]
        desc = await client.get_workflow_handle("wf-completed").describe()
        assert desc.status == WorkflowExecutionStatus.COMPLETED
        assert await client.get_workflow_handle("wf-completed").result() == "你好，甲"

        # the pending workflow survived too and finishes on a new worker
        async with await _worker(client, tq):
            handle = client.get_workflow_handle("wf-pending")
            await handle.signal(HelloWorkflow.done)
            assert await asyncio.wait_for(handle.result(), 30) == "你好，乙"
    finally:
        server.stop()


async def test_port_in_use_gives_a_clear_error(tmp_data_dir, free_port):
    a = DevServer(tmp_data_dir / "a", port=free_port, ui=False)
    b = DevServer(tmp_data_dir / "b", port=free_port, ui=False)
    try:
        await a.start(timeout=60)
        with pytest.raises(DevServerError, match="已被占用"):
            await b.start(timeout=10)
    finally:
        a.stop()
        b.stop()


@workflow.defn(sandboxed=False)
class SleeperWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(timedelta(days=30).total_seconds())
        return "醒了"


async def test_ts_env_skips_time(ts_env):
    """The session-scoped time-skipping environment from conftest works with the pydantic converter."""
    async with Worker(ts_env.client, task_queue="ts", workflows=[SleeperWorkflow]):
        result = await ts_env.client.execute_workflow(SleeperWorkflow.run, id=f"s-{uuid.uuid4()}", task_queue="ts")
        assert result == "醒了"


UP_SCRIPT = r"""
import asyncio, sys
from app.composition import up_tasks, up_wiring
from worker.supervisor import Task, up

async def fake_web(ctx):
    await asyncio.sleep(0.2)
    ctx.announce("网页/web", "http://127.0.0.1:9")
    await ctx.stop_event.wait()
    print("fake web stopped", flush=True)

# the real wiring, with a stand-in for the web server
tasks = [Task(fake_web, "web", needs_http=True) if t.name == "web" else t for t in up_tasks()]
up(up_wiring(tasks), demo=False, http=True)
"""


async def test_up_starts_and_stops_cleanly_on_sigterm(tmp_data_dir, free_port):
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(
        os.environ,
        SHIXIAN_DATA_DIR=str(tmp_data_dir),
        SHIXIAN_TEMPORAL_PORT=str(free_port),
        SHIXIAN_TEMPORAL_UI="0",
        PYTHONUNBUFFERED="1",
    )
    env.pop("TEMPORAL_ADDRESS", None)
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", UP_SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            line = await asyncio.to_thread(proc.stdout.readline)
            if not line:
                break
            lines.append(line)
            if "Shixian ready" in line:
                break
        out = "".join(lines)
        assert "时限已就绪 / Shixian ready" in out, out
        assert f"Temporal 127.0.0.1:{free_port}" in out and "网页/web http://127.0.0.1:9" in out
        assert (tmp_data_dir / "temporal.db").exists() and (tmp_data_dir / "shixian.db").exists()
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        out += rest
        assert proc.returncode == 0, out
        assert "fake web stopped" in out and "已停止 / stopped" in out
        # the embedded server is gone: its port is free again
        from worker.server import port_is_free

        assert port_is_free("127.0.0.1", free_port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_a_database_still_locked_by_a_dying_server_is_waited_for(tmp_data_dir, free_port):
    """Right after a kill -9 the old server may still hold temporal.db; the new one is started again until
    the lock is gone, instead of `shixian up` failing (seen once under load in test_faults)."""
    import sqlite3
    import threading

    server = DevServer(tmp_data_dir, port=free_port, ui=False)
    await server.start(timeout=60)  # a data directory with its database, as after any earlier run
    server.stop()
    holder = sqlite3.connect(server.db_file, check_same_thread=False, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(3.0, holder.rollback).start()  # the dying server lets go after 3 s
    try:
        await server.start(timeout=60)
        assert "database is locked" in server.log_file.read_text(errors="replace")  # it did hit the lock
        client = await connect(server.address)
        assert (await client.workflow_service.get_system_info(_system_info())) is not None
    finally:
        server.stop()
        holder.close()


def _system_info():
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
