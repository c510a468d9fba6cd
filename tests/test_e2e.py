"""End to end on the real dev server: `shixian up`, ingest, status, restart, state still there."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.calendar import load_calendar
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


class Up:
    def __init__(self, env):
        self.env = env
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN / "shixian"), "up", "--no-http"],
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, t0 = [], time.monotonic()
        while time.monotonic() - t0 < 90:
            line = self.proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Shixian ready" in line:
                return "".join(out)
        self.stop()
        raise AssertionError("shixian up did not become ready:\n" + "".join(out))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rest, _ = self.proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rest, _ = self.proc.communicate()
            return rest
        return ""


def cli(env, *args, stdin=None):
    return subprocess.run(
        [str(BIN / "shixian"), *args], env=env, input=stdin, text=True, capture_output=True, timeout=120
    )


@pytest.fixture(
    params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]
)
def store_url(request):
    """None = the default SQLite file in the data dir; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    from tests.conftest import _pg_url

    url = _pg_url()
    if not url:
        pytest.skip("DATABASE_URL_TEST not set (./scripts/test starts PostgreSQL)")
    import uuid

    from sqlalchemy import create_engine, text

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_up_ingest_status_restart(tmp_path, store_url):
    port = free_port()
    env = {
        **os.environ,
        "SHIXIAN_DATA_DIR": str(tmp_path / "data"),
        "SHIXIAN_TEMPORAL_PORT": str(port),
        "SHIXIAN_TEMPORAL_UI": "0",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    if store_url:
        env["DATABASE_URL"] = store_url
    up_env = {k: v for k, v in env.items() if k != "TEMPORAL_ADDRESS"}  # up starts the embedded server
    cal = load_calendar()

    from domain.shanghai import today as today_shanghai

    today = today_shanghai()  # the CLI counts in Shanghai days
    signed = cal.subtract_working_days(today, 25)
    events = [
        {
            "event_id": "e2e-1",
            "type": "document.signed",
            "document_id": "E2E-D1",
            "department": "qz-fgw",
            "title": "端到端测试文件",
            "kind": "normative",
            "signed_on": signed.isoformat(),
            "disclosure": "public",
        },
        {
            "event_id": "e2e-2",
            "type": "request.received",
            "request_id": "E2E-R1",
            "department": "qz-czj",
            "channel": "email",
            "received_on": today.isoformat(),
            "applicant_type": "legal.business",
            "applicant": {"name": "某公司", "contact": "x@example.org"},
            "subject": "端到端申请",
        },
        {
            "event_id": "e2e-3",
            "type": "request.extended",
            "request_id": "NOPE",
            "on": today.isoformat(),
            "working_days": 5,
            "approved_by": "x",
            "notified_on": today.isoformat(),
            "reason": "y",
        },
        # bad input (issue 8 §5): an impossible year and a title over Temporal's message limit fail alone
        {
            "event_id": "e2e-5",
            "type": "request.received",
            "request_id": "E2E-R9",
            "department": "qz-czj",
            "channel": "email",
            "received_on": "9999-12-31",
            "applicant_type": "legal.business",
        },
        {
            "event_id": "e2e-6",
            "type": "document.signed",
            "document_id": "E2E-D9",
            "department": "qz-fgw",
            "title": "长" * 5_000_000,
            "kind": "normative",
            "signed_on": signed.isoformat(),
            "disclosure": "public",
        },
    ]
    up = Up(up_env)
    ready = up.start()
    assert f"127.0.0.1:{port}" in ready
    try:
        r = cli(env, "events", "ingest", "-", stdin="\n".join(json.dumps(e, ensure_ascii=False) for e in events))
        assert r.returncode == 1, r.stdout + r.stderr  # one line rejected
        assert "第 1 行 e2e-1: 已应用" in r.stdout and "第 3 行 e2e-3: 拒绝" in r.stdout
        assert "第 2 行 e2e-2: 已应用" in r.stdout and "Traceback" not in r.stderr
        assert "第 4 行 e2e-5: 拒绝 rejected [received_on]" in r.stdout and "9999-12-31" in r.stdout
        assert "第 5 行 e2e-6: 拒绝 rejected [title]" in r.stdout
        # --json: stdout holds only JSON, one object per line (the client's warnings go to stderr)
        r = cli(
            env,
            "events",
            "ingest",
            "--json",
            "-",
            stdin="\n".join(json.dumps(e, ensure_ascii=False) for e in events[:2]),
        )
        assert [json.loads(line)["status"] for line in r.stdout.splitlines()] == ["duplicate", "duplicate"]
        assert cli(env, "status", "E2E-D9").returncode != 0  # nothing of the refused lines was stored
        before = json.loads(cli(env, "status", "E2E-D1", "--json").stdout)
        assert before["clocks"][0]["due"] == cal.add_working_days(signed, 20).isoformat()
        overdue = json.loads(cli(env, "overdue", "--json").stdout)
        assert {
            "id": "E2E-D1",
            "department": "qz-fgw",
            "rule": "policy_publication",
            "due": before["clocks"][0]["due"],
            "overdue_working_days": cal.working_days_between(cal.add_working_days(signed, 20), today_shanghai()),
        } in overdue  # as of today in China
    finally:
        rest = up.stop()
    assert "已停止 / stopped" in rest

    # Everything comes back after a restart, and the same workflows accept the next event.
    up.start()
    try:
        again = json.loads(cli(env, "status", "E2E-D1", "--json").stdout)
        assert again == before
        r = cli(
            env,
            "events",
            "ingest",
            "-",
            stdin=json.dumps(
                {
                    "event_id": "e2e-4",
                    "type": "document.published",
                    "document_id": "E2E-D1",
                    "published_on": today.isoformat(),
                    "url": "https://example.org/e2e",
                }
            ),
        )
        assert r.returncode == 0, r.stdout + r.stderr
        after = json.loads(cli(env, "status", "E2E-D1", "--json").stdout)
        pub = next(c for c in after["clocks"] if c["rule"] == "policy_publication")
        assert pub["state"] == "missed" and pub["lateness_working_days"] == 5
        assert any(c["rule"] == "policy_interpretation" and c["state"] == "open" for c in after["clocks"])
        r = cli(env, "events", "ingest", "-", stdin=json.dumps(events[0], ensure_ascii=False))
        assert "重复 duplicate" in r.stdout and r.returncode == 0
        assert "某公司" not in _dump(store_url, tmp_path) and "x@example.org" not in _dump(store_url, tmp_path)
    finally:
        up.stop()


def _dump(store_url, tmp_path) -> str:
    """Everything the store holds, as text (to prove applicant data never reached it)."""
    from sqlalchemy import MetaData, create_engine

    url = store_url or f"sqlite:///{tmp_path / 'data' / 'shixian.db'}"
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    meta = MetaData()
    meta.reflect(eng)
    out = []
    with eng.connect() as conn:
        for table in meta.sorted_tables:
            out += [str(tuple(row)) for row in conn.execute(table.select())]
    eng.dispose()
    assert any("E2E-R1" in line for line in out)  # the dump does see the request itself
    return "\n".join(out)
