"""The API answers what /openapi.json says it answers: schemathesis (`st run --checks all`) against the
real stack of tests/test_api.py (time-skipping Temporal server, worker, demo data, real tokens), served
by uvicorn on a free loopback port. Stateless phases, a bounded number of examples per operation."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest

from tests.test_api import env  # noqa: F401  (the module's stack fixture)

SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")

ST = Path(sys.executable).with_name("st")


async def serve(app):
    """uvicorn in this event loop (the Temporal client belongs to it) on a free port."""
    import uvicorn

    from app.web.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.install_signal_handlers = lambda: None
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    return server, task, sock.getsockname()[1]


async def run_schemathesis(base: str, token: str, tmp: Path, cursor: str, *extra: str) -> tuple[int, str, dict]:
    report = tmp / "report"
    # A paging cursor is opaque: no schema tells a valid one from noise, so the generator is handed a real
    # one (bad cursors' 422 is tested in tests/test_ops_api.py).
    config = tmp / "schemathesis.toml"
    config.write_text(f'[parameters]\n"query.cursor" = "{cursor}"\n')
    proc = await asyncio.create_subprocess_exec(
        str(ST),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "15",
        "--workers",
        "1",
        "--seed",
        "20261126",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-dir",
        str(report),
        "--no-color",
        "--generation-database",
        "none",
        *extra,
        cwd=tmp,  # its cache (.schemathesis/) stays out of the work tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    events: dict[str, int] = {}
    for f in report.glob("*.ndjson"):
        for line in f.read_text().splitlines():
            kind = next(iter(json.loads(line)), "")
            events[kind] = events.get(kind, 0) + 1
    return proc.returncode or 0, out.decode(errors="replace"), events


@SESSION_LOOP
async def test_every_operation_answers_its_declared_schema(env, tmp_path):
    server, task, port = await serve(env.app)
    try:
        first = await env.get("admin", "/api/items", params={"limit": 1})
        cursor = first.json()["next_cursor"]
        assert cursor
        rc, out, _ = await run_schemathesis(f"http://127.0.0.1:{port}", env.tokens["admin"], tmp_path, cursor)
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=10)
    (tmp_path / "schemathesis.txt").write_text(out)
    # failures first, each line cut short (payloads can be long); the whole output is in the file
    shown = "\n".join(line[:300] for line in out.splitlines() if line.strip())
    assert rc == 0, f"{tmp_path / 'schemathesis.txt'}\n{shown[:30000]}"
    # The run tested every operation and sent real requests (a run that tests nothing also exits 0).
    tested = re.search(r"Operations:\s+(\d+) selected / (\d+) total", out)
    assert tested and int(tested.group(1)) == int(tested.group(2)) >= 14, out[-3000:]
    cases = re.search(r"(\d+) generated", out)
    assert cases and int(cases.group(1)) >= 200, out[-3000:]


@SESSION_LOOP
async def test_unexpected_fault_is_json_error_body(tmp_path, monkeypatch):
    """A fault of the server itself answers the declared ErrorBody as JSON, not text/plain."""
    import httpx

    from app.web.server import create_app
    from services.schemas import ErrorBody

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path))
    app = create_app(None, open_pages=False, host="127.0.0.1")

    def boom():
        raise RuntimeError("secret internals")

    app.add_api_route("/api/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        r = await c.get("/api/boom")
        schema = (await c.get("/openapi.json")).json()
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    body = ErrorBody.model_validate(r.json())
    assert body.code == "internal_error" and "服务器内部错误" in body.detail
    assert "secret" not in r.text
    # every API operation declares the error body for 401, 403, 422 and 500
    for path, ops in schema["paths"].items():
        if path.startswith("/api/") and path != "/api/boom":
            for op in ops.values():
                for status in ("401", "403", "422", "500"):
                    ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (path, status)
                assert "$ref" in op["responses"]["200"]["content"]["application/json"]["schema"], path


def test_pages_do_not_import_the_api_module():
    import ast

    app_dir = Path(__file__).resolve().parents[1] / "app"
    for f in sorted(app_dir.glob("*.py")):
        if f.name in ("api.py", "web.py"):  # web.py mounts the API router
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            assert mod != "app.web.api" and "app.web.api" not in names and not (mod == "app" and "api" in names), f.name


@SESSION_LOOP
async def test_what_schemathesis_found_stays_fixed(env):
    # 405 names the allowed methods (RFC 9110), on the API and the health checks
    for path in ("/api/items", "/healthz"):
        async with env.http("admin") as c:
            r = await c.request("TRACE", path)
        assert r.status_code == 405 and r.headers["allow"] == "GET", path
        assert r.headers["content-type"] == "application/json"
    # an empty value is not "omitted": the declared pattern excludes it
    for path, param in (("/api/overdue", "as_of"), ("/api/scores", "as_of"), ("/api/scores", "period")):
        r = await env.get("admin", path, params={param: ""})
        assert r.status_code == 422 and r.json()["field"] == param, (path, param)
    # a body that is neither an event nor a list of events is refused whole, not reported as one line
    r = await env.post("admin", "/api/events", json="document.registered")
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    # the government report of a unit that makes none does not exist
    r = await env.get("admin", "/api/annual-report", params={"year": 2025, "department": "qz-fgw", "government": True})
    assert r.status_code == 404 and "不是编制政府年度报告的单位" in r.json()["detail"]


@SESSION_LOOP
async def test_liaison_event_with_a_numeric_department_is_rejected_not_a_500(env):
    items = (await env.get("supervisor", "/api/items", params={"department": "qz-czj", "limit": 1})).json()["items"]
    event = {
        "event_id": f"num-dept-{env.tag}",
        "type": "request.replied",
        "request_id": items[0]["id"],
        "department": 5,
        "on": "2026-01-05",
    }
    r = await env.post("liaison", "/api/events", json=event)
    assert r.status_code == 200, r.text
    (line,) = r.json()["results"]
    assert line["status"] == "rejected" and line["field"] == "department" and "5" in line["reason"]
