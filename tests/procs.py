"""Real `shixian` processes for fault and scale-out tests (each in its own session, free ports)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Proc:
    """A child process whose combined output is collected by a thread (readable while it runs)."""

    def __init__(self, args: list[str], env: dict, *, module: bool = True) -> None:
        cmd = [sys.executable, "-m", "app.cli", *args] if module else args
        self.proc = subprocess.Popen(
            cmd,
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for(self, text: str, timeout: float = 90) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if text in self.out:
                return
            if self.proc.poll() is not None:
                self._t.join(2)
                if text in self.out:
                    return
                raise AssertionError(f"process exited ({self.proc.returncode}) before “{text}”:\n{self.out}")
            time.sleep(0.1)
        raise AssertionError(f"no “{text}” within {timeout}s:\n{self.out}")

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._t.join(5)
        return code

    def children(self) -> list[int]:
        kids: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                kids += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
        return kids

    def kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._t.join(5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill_group()
        self._t.join(5)


def wait_port_free(port: int, timeout: float = 30) -> None:
    from worker.server import port_is_free

    t0 = time.monotonic()
    while not port_is_free("127.0.0.1", port):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"port {port} still busy after {timeout}s")
        time.sleep(0.2)
