"""Database engine: SQLite file under the data directory by default, PostgreSQL via DATABASE_URL."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session, SQLModel, create_engine


def data_dir() -> Path:
    d = Path(os.environ.get("SHIXIAN_DATA_DIR", "data")).resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Accept the common postgres:// spellings and use psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    return f"sqlite:///{data_dir() / 'shixian.db'}"


@lru_cache(maxsize=8)
def get_engine(url: str | None = None):
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # WAL: the worker and the CLI write concurrently
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def init_db(engine=None):
    import store.models  # noqa: F401  (registers tables on SQLModel.metadata)

    engine = engine or get_engine()
    SQLModel.metadata.create_all(engine)
    return engine


def session(engine=None) -> Session:
    return Session(engine or get_engine())
