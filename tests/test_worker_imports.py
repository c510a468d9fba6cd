"""A fresh worker's first store writes, on many activity threads at once while workflow activations run in
the sandbox, import nothing that breaks (issue #16: a SystemError importing store.accounts on a fresh store).
Production runs the workflows unsandboxed since s25, but the sandbox is one setting away
(SHIXIAN_WORKFLOW_SANDBOX) and CI runs it (tests/test_sandbox.py, tests/test_replay.py).

The cause: while the Temporal sandbox runs a workflow activation (on a workflow thread), `sys.modules` is
its thread-local mapping for the whole process, not a dict. cffi's module init (argon2's bindings, which
store.accounts imports) stores the new module with PyDict_SetItem(sys.modules, ...) and fails with
"SystemError: bad argument to internal function". So a first import of store.accounts on an activity thread
(init_db imports every table module) fails whenever an activation runs at that moment. The activities now
import it when the worker imports them. Each check runs in a fresh interpreter (nothing imported yet)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A workflow activation in progress on another thread: what the sandbox does to sys.modules while it runs
# (temporalio.worker.workflow_sandbox._importer, the SDK's own object).
ACTIVATION = r"""
import sys, threading
from temporalio.worker.workflow_sandbox._importer import _thread_local_sys_modules

entered, done = threading.Event(), threading.Event()

def activation():
    with _thread_local_sys_modules.applied(sys, "modules", dict(sys.modules)):
        entered.set()
        done.wait()

sandbox = threading.Thread(target=activation)
sandbox.start()
entered.wait()
assert not isinstance(sys.modules, dict)
"""

FIRST_WRITES = (
    r"""
import activities  # what the worker imports at start (app.composition)
"""
    + ACTIVATION
    + r"""
from concurrent.futures import ThreadPoolExecutor
from activities.store import SaveRequest, save_item
from domain.events import parse_event
from domain.model import ItemSnapshot

def first_write(i):
    ev = parse_event({"event_id": f"imp-{i}", "type": "budget.approved", "item_id": f"YS-{i}",
                      "department": "qz-czj", "approved_on": "2026-03-02", "kind": "budget"})
    snap = ItemSnapshot(id=f"YS-{i}", type="budget", department="qz-czj", title="", version=1, clocks=[])
    return save_item(SaveRequest(snapshot=snap, event=ev))

try:
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(first_write, range(16)))
finally:
    done.set()
    sandbox.join()
assert written == [True] * 16, written
from sqlmodel import Session, select
from store.db import get_engine
from store.models import EventRecord
with Session(get_engine()) as s:
    assert len(s.exec(select(EventRecord)).all()) == 16
print("first writes ok")
"""
)

CAUSE = (
    ACTIVATION
    + r"""
try:
    import store.accounts
except SystemError as exc:
    print("SystemError:", exc)
finally:
    done.set()
    sandbox.join()
"""
)


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHIXIAN_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    env.pop("SHIXIAN_CONFIG_DIR", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_first_store_writes_on_threads_during_an_activation(tmp_path):
    # The hazard itself, in a fresh interpreter: a first import of store.accounts during an activation.
    cause = _run(CAUSE, tmp_path / "cause")
    assert cause.returncode == 0, cause.stderr
    assert "SystemError: " in cause.stdout and "bad argument to internal function" in cause.stdout, cause.stdout
    # A worker's first writes on 16 threads, on a fresh store, while an activation runs: no import on them.
    out = _run(FIRST_WRITES, tmp_path / "writes")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "first writes ok" in out.stdout
