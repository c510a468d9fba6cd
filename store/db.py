"""Database engine: SQLite file under the data directory by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, create_engine

from domain.settings import get_settings


def data_dir() -> Path:
    d = get_settings().data_dir.resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def database_url() -> str:
    url = get_settings().database_url
    if url:
        # Accept the common postgres:// spellings and use psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    return f"sqlite:///{data_dir() / 'shixian.db'}"


def create_db_engine(url: str, **kwargs):
    """A new engine for ``url`` (uncached); SQLite gets WAL and foreign keys."""
    if url.startswith("sqlite"):
        # A held lock is waited for SHIXIAN_SQLITE_BUSY_SECONDS, then "database is locked": the web answers
        # 503 数据库忙 within seconds instead of hanging (it was 30 s per statement, ~54 s for a page).
        busy = get_settings().sqlite_busy_seconds
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # WAL: the worker and the CLI write concurrently
            cur = conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: commits survive a process crash (what the delivery log's exactly-once needs);
            # only a power cut may lose the last transactions. Saves an fsync per commit.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Reads map the file instead of copying each page through SQLite's 2 MB cache: reports at a province's
            # size visit tens of thousands of scattered rows (the annual report's row reads: ~35 % less CPU). The
            # pages are the OS page cache, shared by every process; 1 GiB is address space, not memory.
            cur.execute("PRAGMA mmap_size=1073741824")
            cur.close()
            from store.audit import purging  # the audit trail's delete trigger asks it (store/audit.py)

            conn.create_function("shixian_audit_purge", 0, purging)
    else:
        # A server that stopped answering (not refusing) must not hold a request for minutes either.
        kwargs["connect_args"] = {"connect_timeout": 5, **kwargs.get("connect_args", {})}
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        _retry_connects(engine)
    return engine


def _retry_connects(engine) -> None:
    """Opening a connection is retried for SHIXIAN_DB_RETRY_SECONDS: a database restarting (a few seconds)
    is ridden out; nothing has been sent yet, so a retry cannot repeat a write. Longer: the error stands
    (the web answers 503 数据库暂不可用). Once a retry has run out, later connects try once until one
    succeeds: during a long outage every request fails fast instead of each waiting (and, in an async
    route, holding the event loop) for the whole retry."""
    import time

    down = [False]

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        deadline = time.monotonic() + (0.0 if down[0] else get_settings().db_retry_seconds)
        delay = 0.1
        while True:
            try:
                conn = dialect.connect(*cargs, **cparams)
                down[0] = False
                return conn
            except dialect.loaded_dbapi.OperationalError:
                if time.monotonic() + delay > deadline:
                    down[0] = True
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


def get_engine(url: str | None = None):
    """The engine for `url` (default: the current DATABASE_URL / data dir), one per URL per process."""
    return _engine_for(url or database_url())


@lru_cache(maxsize=16)
def _engine_for(url: str):
    return create_db_engine(url)


get_engine.cache_clear = _engine_for.cache_clear  # type: ignore[attr-defined]


def _import_table_modules() -> None:
    """Import every module that defines tables so that they are on SQLModel.metadata."""
    import importlib

    import store.models  # noqa: F401

    for name in (
        "store.deliveries",
        "store.outbox",
        "store.locks",
        "store.tokens",
        "store.accounts",
        "store.audit",
        "store.inbox",
        "store.directory",
        "store.onboarding",
        "store.catalogue",
        "store.import_jobs",
    ):  # optional modules owned by other parts
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema that create_all produced before migrations existed
# The engines themselves, weakly: an id() is reused once a disposed engine is collected, and a new engine at
# the old address would then skip its migration ("no such table" on a fresh store).
_migrated: weakref.WeakSet[Any] = weakref.WeakSet()
_migrate_lock = threading.Lock()


def alembic_config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def init_db(engine=None):
    """Bring the schema to the newest migration (idempotent; once per engine per process)."""
    engine = engine or get_engine()
    if engine in _migrated:
        return engine
    with _migrate_lock:  # the worker's activity threads may all arrive first at once (alembic is not thread-safe)
        if engine not in _migrated:
            _import_table_modules()
            _migrate(engine)
    return engine


def _migrate(engine) -> None:
    from alembic import command
    from sqlalchemy import inspect

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Replicas (`shixian worker` x N, `shixian web`) start together: one migrates, the others wait
            # (transaction-scoped lock, released at commit) and then find the schema at head.
            from sqlalchemy import text

            conn.execute(text("SELECT pg_advisory_xact_lock(7321440011)"))
        cfg = alembic_config(conn)
        insp = inspect(conn)
        if insp.has_table("item") and not insp.has_table("alembic_version"):
            command.stamp(cfg, BASELINE)  # a data directory from before migrations: same tables as 0001
        command.upgrade(cfg, "head")
    _migrated.add(engine)


def session(engine=None, *, expire_on_commit: bool = True) -> Session:
    """The one way to open a store session: on `engine` (default: the configured store), migrated first (once
    per engine per process). Use as a context manager; `expire_on_commit=False` keeps rows readable after a
    commit (the delivery log hands them back)."""
    return Session(init_db(engine or get_engine()), expire_on_commit=expire_on_commit)


def database_problem(exc: BaseException) -> str | None:
    """Why one exception (not its causes) says the database cannot serve now: "database_busy" or
    "database_unavailable"; None for anything else. The web adapter answers these with 503 + Retry-After."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    text = str(exc).lower()
    # SQLite: another process holds the write (or, in exclusive locking mode, any) lock past busy_timeout;
    # PostgreSQL: lock_timeout (55P03).
    if "database is locked" in text or "database table is locked" in text or getattr(exc, "sqlstate", "") == "55P03":
        return "database_busy"
    # OperationalError: the database refused or lost the connection, timed out (whether or not SQLAlchemy
    # recognised it as a disconnect); any other driver error only when the connection was invalidated.
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and getattr(exc, "connection_invalidated", False)
    ):
        return "database_unavailable"
    if type(exc).__module__.startswith(("psycopg", "sqlite3")) and type(exc).__name__ == "OperationalError":
        return "database_unavailable"
    return None
