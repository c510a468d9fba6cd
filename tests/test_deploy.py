"""deploy/: every command a systemd unit or the compose file runs exists in this CLI, and the env names
they set are the ones the code reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _commands() -> set[tuple[str, ...]]:
    cmds = set()
    for unit in (DEPLOY / "systemd").glob("*"):
        for m in re.finditer(r"^ExecStart=\S*/shixian (.+)$", unit.read_text(), re.M):
            cmds.add(tuple(m.group(1).split()))
    for m in re.finditer(r"command: \[(.+)\]", (DEPLOY / "compose" / "compose.yaml").read_text()):
        cmds.add(tuple(x.strip().strip('"') for x in m.group(1).split(",")))
    return cmds


def test_deploy_commands_exist():
    cmds = _commands()
    assert {("worker",), ("web",), ("schedules",), ("worker", "--watch-calendar")} <= cmds
    for cmd in cmds:
        args = [a for a in cmd if not a.startswith("--")]
        r = subprocess.run([sys.executable, "-m", "app.cli", *args, "--help"], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, (cmd, r.stdout + r.stderr)
        for opt in (a for a in cmd if a.startswith("--")):
            assert opt in r.stdout, (cmd, opt)


@pytest.mark.parametrize(
    "name",
    [
        "TEMPORAL_ADDRESS",
        "DATABASE_URL",
        "SHIXIAN_METRICS",
        "SHIXIAN_HTTP",
        "SHIXIAN_LOG_FORMAT",
        "SHIXIAN_TASK_QUEUE",
        "SHIXIAN_CONFIG_DIR",
    ],
)
def test_documented_environment_is_read_by_the_code(name):
    code = "".join(p.read_text() for d in ("worker", "app", "store", "domain") for p in (ROOT / d).rglob("*.py"))
    assert f'"{name}"' in code
    assert name in (ROOT / "README.md").read_text()


def test_worker_refuses_without_temporal_address(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    assert r.returncode == 2 and "TEMPORAL_ADDRESS" in r.stdout
