"""Operational faults answered in Chinese instead of a hang, a 500 or a Temporal error (issue #16 §B):
a SQLite file locked by another process, a PostgreSQL server stopped and started again (our own cluster,
Debian's binaries), a full filesystem (a real tmpfs), and an upload confirmed while the worker is dead
(the dev server and a real worker process killed with SIGKILL)."""

from __future__ import annotations

import asyncio
import html as H
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[1]


def _prepare(tmp_path: Path, monkeypatch, **env: str) -> Path:
    from store.db import get_engine

    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SHIXIAN_CONFIG_DIR", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_engine.cache_clear()
    return data


def _token(role: str = "supervisor", department: str | None = None, person: str | None = "supervisor-zwgk") -> str:
    from store.db import get_engine, init_db
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        tok, _ = create_token(s, role, department, person=person)
    return tok


def _client(app, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"} if token else None,
        timeout=120,
    )


# ---------------------------------------------------------------------------------- SQLite lock
async def test_a_locked_sqlite_file_answers_503_database_busy_within_seconds(tmp_path, monkeypatch):
    from app.web.server import create_app
    from store.db import get_engine

    data = _prepare(tmp_path, monkeypatch)
    token = _token()
    app = create_app(None, open_pages=False)
    async with _client(app, token) as c:
        assert (await c.get("/api/items")).status_code == 200
    get_engine().dispose()  # our pooled connections must not share the lock-holder's view

    # Another process's connection in exclusive locking mode, mid-write: no reader or writer gets in.
    holder = sqlite3.connect(data / "shixian.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE IF NOT EXISTS _held (x)")
    try:
        async with _client(app, token) as c:
            t0 = time.monotonic()
            r = await c.get("/api/items")
            took = time.monotonic() - t0
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/json")
            assert r.json()["code"] == "database_busy" and "数据库忙" in r.json()["detail"]
            assert int(r.headers["retry-after"]) > 0
            assert took < 15, took  # a hang check only: bounded by SHIXIAN_SQLITE_BUSY_SECONDS, not 30 s a statement

            page = await c.get("/")
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
            assert "数据库忙" in page.text and "Traceback" not in page.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    async with _client(app, token) as c:
        assert (await c.get("/api/items")).status_code == 200  # the lock gone, the same process answers again
    get_engine.cache_clear()


# ---------------------------------------------------------------------------------- PostgreSQL outage
def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return dirs[-1] if dirs and (dirs[-1] / "initdb").exists() else None


class PgCluster:
    """A throwaway PostgreSQL cluster of our own, stopped and started by the test (as scripts/test does)."""

    def __init__(self, root: Path, port: int):
        self.bin, self.root, self.port = _pg_bindir(), root, port
        self.data = root / "pgdata"
        self.run: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: use the postgres system user
            self.run = ["runuser", "-u", "postgres", "--"]
            root.chmod(0o777)

    def _pg(self, *args: str) -> None:
        subprocess.run([*self.run, str(self.bin / args[0]), *args[1:]], check=True, capture_output=True, cwd="/")

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")

    def start(self) -> None:
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def pg():
    from tests.conftest import free_port

    if _pg_bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb) not installed")
    import tempfile

    # Not under pytest's tmp_path: the postgres user must reach it (pytest's root is private to its user).
    root = Path(tempfile.mkdtemp(prefix="shixian-pg-"))
    try:
        cluster = PgCluster(root, free_port())
        cluster.init()
        cluster.start()
        yield cluster
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_a_stopped_postgresql_answers_503_json_and_html_then_recovers(pg, tmp_path, monkeypatch):
    from app.web.server import create_app
    from store.db import get_engine

    _prepare(tmp_path, monkeypatch, DATABASE_URL=pg.url, SHIXIAN_DB_RETRY_SECONDS="1")
    token = _token()
    app = create_app(None, open_pages=False)
    async with _client(app, token) as c:
        assert (await c.get("/api/items")).status_code == 200
        await asyncio.to_thread(pg.stop)
        r = await c.get("/api/items")
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/json"), r.text
        assert r.json()["code"] == "database_unavailable" and "数据库暂不可用" in r.json()["detail"]
        assert int(r.headers["retry-after"]) > 0
        assert "127.0.0.1" not in r.text and "psycopg" not in r.text

        page = await c.get("/")  # a page: the same answer as HTML, not a plain-text 500
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "数据库暂不可用" in page.text and "psycopg" not in page.text

        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "failing"
        assert ready.json()["reasons"]["database"] == "数据库不可用"

        await asyncio.to_thread(pg.start)
        assert (await c.get("/api/items")).status_code == 200  # pooled connections replaced (pool_pre_ping)
    get_engine.cache_clear()


async def test_a_short_postgresql_outage_is_ridden_out_by_the_connect_retry(pg, tmp_path, monkeypatch):
    from app.web.server import create_app
    from store.db import get_engine

    _prepare(tmp_path, monkeypatch, DATABASE_URL=pg.url, SHIXIAN_DB_RETRY_SECONDS="60")
    token = _token()
    app = create_app(None, open_pages=False)
    async with _client(app, token) as c:
        assert (await c.get("/api/items")).status_code == 200
        await asyncio.to_thread(pg.stop)
        # The server comes back while the request is waiting: the connection is retried, not a 503.
        back = threading.Timer(1.0, pg.start)
        back.start()
        try:
            r = await c.get("/api/items")
        finally:
            back.join()
        assert r.status_code == 200, r.text
    get_engine.cache_clear()


# ---------------------------------------------------------------------------------- full disk
def _tmpfs(tmp_path: Path, size: str):
    """A real filesystem of `size` (tmpfs) to fill; needs root (mount)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def small_fs(tmp_path):
    yield from _tmpfs(tmp_path, "4m")


@pytest.fixture
def server_fs(tmp_path):  # room for the embedded server's database file
    yield from _tmpfs(tmp_path, "48m")


def _fill(directory: Path) -> Path:
    filler = directory / "filler.bin"
    # unbuffered: a partly written block left in a buffer would raise ENOSPC again on close
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


PASSWORD = "disk-full-password-1"


def _event(rid: str) -> dict:
    return {
        "event_id": f"{rid}-r",
        "type": "request.received",
        "request_id": rid,
        "department": "qz-jyj",
        "channel": "online",
        "received_on": "2026-10-12",
        "applicant_type": "natural_person",
        "subject": "磁盘",
    }


async def test_a_full_disk_fails_readyz_and_refuses_writes_with_507_in_chinese(small_fs, tmp_path, monkeypatch):
    from app.web.server import create_app
    from store.db import get_engine

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(small_fs))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHIXIAN_MIN_FREE_MB", "1")
    get_engine.cache_clear()
    token = _token()
    from store.accounts import set_password

    with Session(get_engine()) as s:
        set_password(s, "supervisor-zwgk", PASSWORD)
    app = create_app(None, open_pages=False)
    async with _client(app, token) as c:
        ready = await c.get("/readyz")
        assert ready.json()["checks"]["disk"] == "ok", ready.text
        filler = _fill(small_fs)
        try:
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["disk"] == "failing"
            assert "磁盘空间不足" in ready.json()["reasons"]["disk"] and str(small_fs) not in ready.text

            r = await c.post("/api/events", json=_event(f"DISK-{uuid.uuid4().hex[:6]}"))
            assert r.status_code == 507 and r.headers["content-type"].startswith("application/json"), r.text
            assert r.json()["code"] == "disk_full" and "磁盘空间不足" in r.json()["detail"]
            page = await c.post("/import", files={"file": ("a.csv", b"x", "text/csv")})
            assert page.status_code == 507 and "磁盘空间不足" in page.text
            assert page.headers["content-type"].startswith("text/html")

            # No threshold (0): the write itself meets the full disk (a sign-in writes its session);
            # SQLite's "database or disk is full" is a 507 page in Chinese too, not a 500.
            monkeypatch.setenv("SHIXIAN_MIN_FREE_MB", "0")
            assert (await c.get("/readyz")).json()["checks"]["disk"] == "ok"
            async with _client(app) as browser:
                form = await browser.get("/login")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
                r = await browser.post(
                    "/login",
                    data={"person": "supervisor-zwgk", "password": PASSWORD, "csrf_token": csrf, "next": "/"},
                )
            assert r.status_code == 507, r.text[:3000]
            assert r.headers["content-type"].startswith("text/html") and "磁盘空间不足" in r.text
        finally:
            filler.unlink()
        ready = await c.get("/readyz")
        assert ready.json()["checks"]["disk"] == "ok"
    get_engine.cache_clear()


async def test_the_embedded_server_on_a_full_disk_is_a_507_not_a_temporal_refusal(server_fs, monkeypatch):
    """The embedded dev server keeps temporal.db in the data directory; on a full disk it answers
    UNAVAILABLE "shard status unknown" to every call. The API says 磁盘空间不足 (507), not that the
    workflow service refused the event."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from app.web.server import create_app
    from store.db import get_engine
    from tests.conftest import free_port
    from tests.workflow_harness import app_worker
    from worker.server import DevServer

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(server_fs))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.setenv("SHIXIAN_MIN_FREE_MB", "0")  # no early refusal: the write meets the full disk
    get_engine.cache_clear()
    token = _token()
    server = DevServer(server_fs, port=free_port(), ui=False)
    await server.start()
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        app = create_app(client, open_pages=False)
        tag = uuid.uuid4().hex[:6]
        async with app_worker(client), _client(app, token) as c:
            r = await c.post("/api/events", json=_event(f"FULL-{tag}-1"))
            assert r.status_code == 200 and r.json()["applied"] == 1, r.text
            filler = _fill(server_fs)
            try:
                r = await c.post("/api/events", json=_event(f"FULL-{tag}-2"))
                assert r.status_code == 507 and r.json()["code"] == "disk_full", r.text
                assert "磁盘空间不足" in r.json()["detail"] and "shard" not in r.text
                cli = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "app.cli", "events", "ingest", "--json", "-"],
                    input=json.dumps(_event(f"FULL-{tag}-3")) + "\n",
                    capture_output=True,
                    text=True,
                    env={**os.environ, "TEMPORAL_ADDRESS": server.address},
                    cwd=ROOT,
                )
                assert cli.returncode == 1 and "磁盘空间不足" in cli.stderr, cli.stdout + cli.stderr
                assert "Traceback" not in cli.stderr
            finally:
                filler.unlink()
    finally:
        server.stop()
        get_engine.cache_clear()


async def test_the_embedded_server_refuses_to_start_on_a_full_disk(small_fs, monkeypatch):
    from tests.conftest import free_port
    from worker.server import DevServer, DevServerError

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(small_fs))
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    filler = _fill(small_fs)
    try:
        server = DevServer(small_fs, port=free_port(), ui=False)
        with pytest.raises(DevServerError, match="磁盘空间不足"):
            await server.start(timeout=30)
        assert not server.running()
    finally:
        filler.unlink()


# ---------------------------------------------------------------------------------- upload, worker dead
WORKER = r"""
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from app import composition
import workflows

async def main():
    client = await Client.connect(sys.argv[1], data_converter=pydantic_data_converter)
    with ThreadPoolExecutor(8) as pool:
        async with Worker(client, task_queue="shixian", workflows=composition.worker_workflows(),
                          activities=composition.worker_activities(client), activity_executor=pool,
                          workflow_runner=workflows.workflow_runner()):
            print("worker ready", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


def _start_worker(address: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, address],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "worker ready"
    return proc


async def _upload(c: httpx.AsyncClient, csv_text: str) -> str:
    r = await c.post("/import", files={"file": ("台账.csv", csv_text.encode("utf-8"), "text/csv")})
    assert r.status_code == 200, r.text
    return H.unescape(re.search(r'name="payload" value="([^"]*)"', r.text).group(1))


def _ids(section: str, page: str) -> list[str]:
    m = re.search(rf'<ul id="{section}">(.*?)</ul>', page, re.S)
    assert m, page[:3000]
    return re.findall(r"第 \d+ 行 (\S+?)[<（]", m.group(1))


async def test_upload_confirmed_while_the_worker_is_dead_says_which_rows_took_effect(
    temporal_cli_path, tmp_path, monkeypatch
):
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from app.web.server import create_app
    from domain.engine import engine
    from domain.shanghai import now as shanghai_now
    from store.db import get_engine
    from store.models import EventRecord

    _prepare(tmp_path, monkeypatch, SHIXIAN_IMPORT_STALL_SECONDS="3")
    token = _token("liaison", "qz-jyj", "liaison-jyj")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path, data_converter=pydantic_data_converter, ui=False
    )
    worker, down = None, False
    try:
        address = env.client.service_client.config.target_host
        app = create_app(env.client, open_pages=False)
        today = shanghai_now().date()  # the dev server runs on the wall clock
        got = engine().calendar.subtract_working_days(today, 3, "guangxi")
        tag = uuid.uuid4().hex[:6]
        keys = [f"DEAD-{tag}-{i}" for i in range(3)]
        head = "受理编号,收到日期,渠道,申请人类型,申请内容\n"

        def ledger(ks: list[str]) -> str:
            return head + "".join(f"{k},{got.isoformat()},网络,自然人,工作进程测试\n" for k in ks)

        worker = _start_worker(address)
        async with _client(app, token) as c:
            r = await c.post("/import/confirm", data={"payload": await _upload(c, ledger(keys[:1]))})
            assert r.status_code == 200 and "已导入" in r.text, r.text[:3000]

            # The worker dies (SIGKILL); the server still lists its pollers for a while, so the confirm is
            # sent and meets no worker: it stops after SHIXIAN_IMPORT_STALL_SECONDS without an answer.
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            payload = await _upload(c, ledger(keys))
            t0 = time.monotonic()
            r = await c.post("/import/confirm", data={"payload": payload})
            assert time.monotonic() - t0 < 60  # a hang check only
            assert r.status_code == 503 and r.headers["content-type"].startswith("text/html"), r.text[:3000]
            assert int(r.headers["retry-after"]) > 0
            assert "台账导入未完成" in r.text and "没有处理任何事件" in r.text
            assert _ids("rows-done", r.text) == keys[:1]
            assert _ids("rows-pending", r.text) == keys[1:]
            assert "重新上传同一台账" in r.text
            # The API the same way: a JSON 503 once the batch has had no answer for the stall time.
            api = await c.post("/api/events", json=_event(f"DEAD-{tag}-stalled"))
            assert api.status_code == 503 and api.json()["code"] == "no_worker", api.text
            assert "没有处理任何事件" in api.json()["detail"] and int(api.headers["retry-after"]) > 0

            # No worker has ever polled this task queue: said before anything is sent, JSON for the API.
            monkeypatch.setenv("SHIXIAN_TASK_QUEUE", f"nobody-{tag}")
            t0 = time.monotonic()
            r = await c.post("/import/confirm", data={"payload": payload})
            assert r.status_code == 503 and "没有正在运行的工作进程" in r.text and "本次未发送任何事件" in r.text
            assert _ids("rows-done", r.text) == keys[:1]
            api = await c.post("/api/events", json=_event(f"DEAD-{tag}-api"))
            assert api.status_code == 503 and api.json()["code"] == "no_worker", api.text
            assert "工作进程" in api.json()["detail"]
            monkeypatch.delenv("SHIXIAN_TASK_QUEUE")

            # A worker again: the same file once more applies the rest, each event exactly once.
            worker = _start_worker(address)
            r = await c.post("/import/confirm", data={"payload": payload})
            assert r.status_code == 200 and "已导入" in r.text, r.text[:3000]
        with Session(get_engine()) as s:
            rows = s.exec(select(EventRecord.item_id).where(EventRecord.item_id.in_(keys))).all()  # type: ignore[attr-defined]
        assert sorted(rows) == sorted(keys)

        # The server itself gone: said at once (nothing sent), the rows the read model holds listed.
        await env.shutdown()
        down = True
        more = [*keys, f"DEAD-{tag}-3"]
        async with _client(app, token) as c:
            payload = await _upload(c, ledger(more))
            r = await c.post("/import/confirm", data={"payload": payload})
            assert r.status_code == 503 and "工作流服务暂不可用" in r.text, r.text[:3000]
            assert _ids("rows-done", r.text) == keys and _ids("rows-pending", r.text) == more[3:]
            api = await c.post("/api/events", json=_event(f"DEAD-{tag}-api"))
            assert api.status_code == 503 and api.json()["code"] == "temporal_unavailable", api.text
    finally:
        if worker is not None:
            worker.kill()
            worker.wait(10)
        if not down:
            await env.shutdown()
        get_engine.cache_clear()
