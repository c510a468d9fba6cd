"""Faults the `shixian up` supervisor (and `shixian worker`) must notice instead of hanging.

- `DataDirLock`: one `shixian up` per data directory (a second one on other ports would share the SQLite
  files and fail later with SQLITE_BUSY). An flock on `<data>/shixian.lock`: released by the kernel when the
  holder dies, even by SIGKILL, so a crash never leaves a stale lock behind.
- `watch_process`: the embedded Temporal server exited -> raise (the supervisor stops, exits non-zero and
  systemd restarts the whole unit).
- `watch_database` / `watch_temporal`: the read model or an external Temporal frontend unreachable for
  `grace` seconds -> raise.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("shixian.guard")


def _check_seconds() -> float:
    from domain.settings import get_settings

    return get_settings().health_check_seconds


def _grace_seconds() -> float:
    from domain.settings import get_settings

    return get_settings().health_grace_seconds


class LockedError(RuntimeError):
    pass


class FaultError(RuntimeError):
    """A dependency of the running process is gone; the message is for the operator (Chinese first)."""


class DataDirLock:
    def __init__(self, data: Path) -> None:
        self.path = Path(data) / "shixian.lock"
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            except OSError:
                pass
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise LockedError(
                    f"数据目录 {self.path.parent} 已被另一个 shixian up 使用（进程 {holder or '未知'}），"
                    f"同一数据目录只能运行一个实例；请先停止它，或用 SHIXIAN_DATA_DIR 指定其他目录 / "
                    f"data directory {self.path.parent} is in use by another shixian up (pid {holder or '?'})"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


async def watch_process(proc, log_file: Path | None, stop: asyncio.Event, poll: float = 0.5) -> None:
    """Return on stop; raise FaultError when the child process `proc` (subprocess.Popen) exits."""
    while not stop.is_set():
        code = proc.poll()
        if code is not None:
            where = f"，见日志 {log_file}" if log_file else ""
            raise FaultError(
                f"内嵌 Temporal 服务器意外退出（退出码 {code}）{where}；时限停止运行，请重新启动 / "
                f"embedded Temporal server exited with code {code}"
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll)
        except TimeoutError:
            pass


def database_ok(engine=None) -> bool:
    from sqlalchemy import text

    from store.db import get_engine

    try:
        with (engine or get_engine()).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # any driver error means "not reachable now"
        log.warning("database check failed: %s", type(exc).__name__)
        return False


async def temporal_ok(client, timeout: float = 5.0) -> bool:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace),
            timeout=__import__("datetime").timedelta(seconds=timeout),
        )
        return True
    except Exception as exc:
        log.warning("temporal check failed: %s", type(exc).__name__)
        return False


async def _watch(check, what: str, stop: asyncio.Event, every: float, grace: float) -> None:
    failing_since: float | None = None
    while not stop.is_set():
        ok = await check()
        now = time.monotonic()
        if ok:
            failing_since = None
        else:
            failing_since = failing_since or now
            if now - failing_since >= grace:
                raise FaultError(what)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass


async def watch_database(stop: asyncio.Event, *, every: float | None = None, grace: float | None = None) -> None:
    from store.db import database_url

    url = database_url()
    shown = url.split("@")[-1] if "@" in url else url
    grace = _grace_seconds() if grace is None else grace
    await _watch(
        lambda: asyncio.to_thread(database_ok),
        f"数据库连接中断已超过 {grace:.0f} 秒（{shown}）；时限停止运行，"
        f"请检查数据库后重新启动 / database unreachable for {grace:.0f}s",
        stop,
        _check_seconds() if every is None else every,
        grace,
    )


async def watch_temporal(
    client, stop: asyncio.Event, *, every: float | None = None, grace: float | None = None
) -> None:
    grace = _grace_seconds() if grace is None else grace
    await _watch(
        lambda: temporal_ok(client),
        f"Temporal 服务（{client.service_client.config.target_host}）已超过 "
        f"{grace:.0f} 秒无法连接；时限停止运行，请检查后重新启动 / Temporal unreachable for {grace:.0f}s",
        stop,
        _check_seconds() if every is None else every,
        grace,
    )
