"""Free space where this machine keeps data: the SQLite store and the embedded Temporal server's database file.

A full disk surfaces late and in the wrong words (a Temporal RPC error, "database or disk is full"), so /readyz
and the web's writes check the free space first, against SHIXIAN_MIN_FREE_MB."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from domain.settings import get_settings

FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFull(RuntimeError):
    """A write refused for lack of space (Chinese message for the user; no path in it)."""


def watched_dirs() -> list[Path]:
    """The directories whose filesystem holds local data: the data directory when the store is SQLite or the
    Temporal server is the embedded one (its temporal.db lives there), and a SQLite file's own directory.
    A deployment on PostgreSQL and an external Temporal keeps no data here: nothing to watch."""
    s = get_settings()
    dirs: list[Path] = []
    url = s.database_url or ""
    if not url or not s.temporal_address:
        dirs.append(s.data_dir)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        dirs.append(Path(url[len("sqlite:///") :]).parent)
    return [d for i, d in enumerate(dirs) if d not in dirs[:i]]


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on `path`'s filesystem (None: the path does not exist yet)."""
    p = Path(path).resolve()
    while not p.exists():
        if p.parent == p:
            return None
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


EXHAUSTED_MB = 1.0  # below this a database cannot grow: its write errors are taken for a full disk


def low_space(floor_mb: float = 0.0) -> str | None:
    """A Chinese reason when a watched directory has less than SHIXIAN_MIN_FREE_MB (at least `floor_mb`)
    free, else None."""
    need = max(get_settings().min_free_mb, floor_mb) * 1024 * 1024
    for d in watched_dirs():
        free = free_bytes(d)
        if free is not None and free < need:
            return (
                f"磁盘空间不足：数据目录所在磁盘剩余 {free / 1024 / 1024:.1f} MB，"
                f"低于下限 {need / 1024 / 1024:.0f} MB（SHIXIAN_MIN_FREE_MB）"
            )
    return None


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an exception (or one it wraps) says the disk is full: ENOSPC/EDQUOT, SQLite's SQLITE_FULL,
    PostgreSQL's disk_full (53100), or the Temporal server passing its database's error on."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if getattr(exc, "sqlstate", None) == "53100":
            return True
        text = str(exc).lower()
        if "database or disk is full" in text or "no space left on device" in text or "sqlite_full" in text:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False
