"""Faults under a real `shixian up` (embedded Temporal dev server, real processes):

- the whole process group SIGKILLed mid-import, restarted, the same file imported again: every event
  applied exactly once and the event log equal to the workflows' state;
- a second `shixian up` on the same data directory refuses;
- the embedded Temporal server dying (or the database going away) ends `shixian up` with a Chinese message
  and a non-zero exit instead of a hang.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import sqlite3
import threading
import time
import uuid

import pytest

from domain.shanghai import SHANGHAI_OFFSET
from tests.conftest import free_port
from tests.procs import Proc, wait_port_free

pytestmark = pytest.mark.e2e


def up_env(data, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TEMPORAL_ADDRESS", "DATABASE_URL", "SHIXIAN_CONFIG_DIR")}
    env.update(
        SHIXIAN_DATA_DIR=str(data),
        SHIXIAN_TEMPORAL_PORT=str(port),
        SHIXIAN_TEMPORAL_UI="0",
        SHIXIAN_HEALTH_CHECK_SECONDS="0.5",
        SHIXIAN_HEALTH_GRACE_SECONDS="3",
        **extra,
    )
    return env


def events_file(path, n: int, tag: str) -> list[dict]:
    today = dt.datetime.now(SHANGHAI_OFFSET).date().isoformat()
    evs = []
    for i in range(n):
        rid = f"{tag}-{i:03d}"
        evs.append(
            {
                "event_id": f"{rid}-r",
                "type": "request.received",
                "request_id": rid,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": today,
                "applicant_type": "natural_person",
                "subject": "压测",
            }
        )
    for i in range(0, n, 2):
        rid = f"{tag}-{i:03d}"
        evs.append(
            {"event_id": f"{rid}-a", "type": "request.replied", "request_id": rid, "on": today, "outcome": "granted"}
        )
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in evs), encoding="utf-8")
    return evs


def stored_events(data) -> int:
    try:
        with sqlite3.connect(data / "shixian.db", timeout=5) as c:
            return c.execute("SELECT count(*) FROM event_record").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill9_whole_up_mid_import_then_reimport_applies_each_event_once(tmp_path):
    data, port = tmp_path / "data", free_port()
    env = up_env(data, port)
    events = events_file(tmp_path / "events.jsonl", 24, f"K9-{uuid.uuid4().hex[:5]}")
    up = Proc(["up", "--no-http"], env)
    ingest = None
    try:
        up.wait_for("Shixian ready")
        ingest = Proc(
            ["events", "ingest", str(tmp_path / "events.jsonl")], {**env, "TEMPORAL_ADDRESS": f"127.0.0.1:{port}"}
        )
        t0 = time.monotonic()
        while stored_events(data) < 6:
            assert time.monotonic() - t0 < 120 and ingest.proc.poll() is None, ingest.out
            time.sleep(0.05)
        up.kill_group()  # kill -9 of `shixian up` and everything in its process group
        ingest.kill_group()
        n_before = stored_events(data)
        assert 6 <= n_before < len(events), "the kill must land mid-import"
        wait_port_free(port)  # the dev server follows its parent (PDEATHSIG)

        up = Proc(["up", "--no-http"], env)
        up.wait_for("Shixian ready")
        ingest = Proc(
            ["events", "ingest", "--json", str(tmp_path / "events.jsonl")],
            {**env, "TEMPORAL_ADDRESS": f"127.0.0.1:{port}"},
        )
        assert ingest.wait(300) == 0, ingest.out
        results = [json.loads(x) for x in ingest.out.splitlines() if x.startswith("{")]
        assert len(results) == len(events)
        statuses = {r["event_id"]: r["status"] for r in results}
        assert set(statuses.values()) <= {"applied", "duplicate"}
        # Events stored before the kill come back as duplicates; the rest are applied now.
        assert sum(s == "duplicate" for s in statuses.values()) >= n_before
        assert stored_events(data) == len(events)
        asyncio.run(_event_log_equals_workflow_state(data, port, events))
    finally:
        up.stop()
        if ingest is not None:
            ingest.stop()


async def _event_log_equals_workflow_state(data, port: int, events: list[dict]) -> None:
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from workflows.items import ItemWorkflow

    client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
    with sqlite3.connect(data / "shixian.db") as c:
        log = {}
        for eid, item in c.execute("SELECT event_id, item_id FROM event_record"):
            log.setdefault(item, set()).add(eid)
        items = {r[0]: (r[1], r[2]) for r in c.execute("SELECT id, state, version FROM item")}
        clocks = {}
        for item, rule, due, state in c.execute("SELECT item_id, rule, due, state FROM clock"):
            clocks.setdefault(item, set()).add((rule, due, state))
    by_item: dict[str, set] = {}
    for e in events:
        by_item.setdefault(e["request_id"], set()).add(e["event_id"])
    assert log == by_item
    for item, eids in by_item.items():
        h = client.get_workflow_handle(f"request:{item}")
        for eid in eids:
            assert await h.query(ItemWorkflow.event_hash, eid), (item, eid)
        snap = await h.query(ItemWorkflow.snapshot)
        assert items[item] == (snap.state, snap.version), item
        assert clocks[item] == {(k.rule, k.due, k.state) for k in snap.clocks}, item


def test_second_up_on_same_data_dir_refuses_and_dead_temporal_ends_up(tmp_path):
    data = tmp_path / "data"
    first = Proc(["up", "--no-http"], up_env(data, free_port()))
    try:
        first.wait_for("Shixian ready")
        second = Proc(["up", "--no-http"], up_env(data, free_port()))
        assert second.wait(60) == 3, second.out
        assert "已被另一个 shixian up 使用" in second.out and str(first.pid) in second.out
        assert "Shixian ready" not in second.out

        # The embedded Temporal server dies: `up` says so and exits non-zero (systemd restarts it).
        (server_pid,) = first.children()
        os.kill(server_pid, 9)
        code = first.wait(60)
        assert code != 0, first.out
        assert "内嵌 Temporal 服务器意外退出" in first.out, first.out
    finally:
        first.stop()
    # The lock died with its holder: a new `up` on the same directory starts.
    third = Proc(["up", "--no-http"], up_env(data, free_port()))
    try:
        third.wait_for("Shixian ready")
    finally:
        third.stop()
    assert third.proc.returncode == 0, third.out


class TcpProxy:
    """127.0.0.1:port -> target; `cut()` closes the listener and every connection (the database "goes away")."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.alive = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.alive:
            try:
                a, _ = self.sock.accept()
            except OSError:
                return
            if not self.alive:
                a.close()
                return
            b = socket.create_connection(self.target)
            self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    @staticmethod
    def _pipe(x: socket.socket, y: socket.socket) -> None:
        try:
            while chunk := x.recv(65536):
                y.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (x, y):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): close() alone would not
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


@pytest.mark.postgres
def test_lost_postgresql_ends_up_with_a_chinese_message(tmp_path):
    from sqlalchemy.engine import make_url

    from tests.conftest import _pg_url

    url = _pg_url()
    if not url:
        pytest.skip("DATABASE_URL_TEST not set (./scripts/test starts PostgreSQL)")
    u = make_url(url)
    proxy = TcpProxy((u.host, u.port))
    env = up_env(
        tmp_path / "data",
        free_port(),
        DATABASE_URL=u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
    )
    up = Proc(["up", "--no-http"], env)
    try:
        up.wait_for("Shixian ready")
        proxy.cut()
        assert up.wait(60) != 0, up.out
        assert "数据库连接中断" in up.out, up.out
    finally:
        up.stop()
