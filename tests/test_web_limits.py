"""Issue #16 over real sockets: request bodies are capped per route before the server reads them (413 in
Chinese, JSON for /api, HTML for pages), and forwarded addresses are believed only from configured proxies.
The real app is served by uvicorn on 127.0.0.1 as `shixian up` configures it (app.web.server.uvicorn_config)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time

import pytest
from sqlmodel import Session
from sqlmodel import select as sql_select


@contextlib.contextmanager
def served(monkeypatch, tmp_path, **env: str):
    from app.web.server import create_app, uvicorn_config
    from store.db import database_url, get_engine, init_db

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_engine.cache_clear()
    init_db(get_engine(database_url()))
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(create_app(None, open_pages=False, host="127.0.0.1"), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        get_engine.cache_clear()


def read_response(conn: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    want = int(headers.get("content-length", "0"))
    while len(body) < want:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def answered(conn: socket.socket) -> bool:
    return bool(select.select([conn], [], [], 0)[0])


def test_an_announced_64_mb_sign_in_is_refused_before_its_body_is_sent(monkeypatch, tmp_path):
    with served(monkeypatch, tmp_path) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        size = 64 * 1024 * 1024
        conn.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {size}\r\n\r\n".encode()
            + b"person=x&password="
        )
        # nothing more is sent: the answer comes from the announced length alone
        status, headers, body = read_response(conn)
    assert status == 413
    assert headers["content-type"].startswith("text/html")
    text = body.decode()
    assert "请求内容过大" in text and "16 KB" in text
    assert "default-src 'self'" in headers["content-security-policy"]


def test_a_chunked_upload_is_cut_off_once_it_passes_the_limit(monkeypatch, tmp_path):
    """No Content-Length: the bytes are counted as they arrive; the 413 comes while the client is still
    sending (it never sends the last chunk), so the server never holds more than the limit."""
    mib = 1024 * 1024
    with (
        served(monkeypatch, tmp_path, SHIXIAN_BODY_MAX_UPLOAD_MB="2") as port,
        socket.create_connection(("127.0.0.1", port)) as conn,
    ):
        conn.sendall(
            b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b" " * (mib - 1)
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 64 * mib and not answered(conn):
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                time.sleep(0.01)  # let the server read as it goes
        status, headers, body = read_response(conn)
        # and the server hangs up instead of draining the rest of a body it will never use
        assert headers["connection"] == "close"
        conn.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            assert conn.recv(1 << 20) == b""
    assert status == 413, body
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["code"] == "body_too_large" and "2 MB" in json.loads(body)["detail"]
    assert sent < 8 * mib, sent  # answered after ~2 MiB, long before the 64 MiB the client had


def test_small_forms_and_bodies_within_the_limit_still_pass(monkeypatch, tmp_path):
    with served(monkeypatch, tmp_path) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        body = b"person=nobody&password=x&csrf_token=none"
        conn.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, _, text = read_response(conn)
    assert status == 403 and "CSRF" in text.decode()  # read and checked by the route, not refused for size


def _failed_sign_in(port: int, forwarded_for: str) -> str:
    """One wrong sign-in with a forged X-Forwarded-For; returns the address the server recorded."""
    import re

    import httpx

    from store.accounts import LoginAttempt
    from store.db import database_url, get_engine

    person = f"nobody-{forwarded_for}"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post(
            "/login",
            data={"person": person, "password": "Wrong-password-1", "csrf_token": token},
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert r.status_code == 401
    with Session(get_engine(database_url())) as s:
        return s.exec(sql_select(LoginAttempt.client).where(LoginAttempt.person == person)).one()


def test_forwarded_addresses_are_not_believed_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn's own default would trust 127.0.0.1
    with served(monkeypatch, tmp_path) as port:
        assert _failed_sign_in(port, "203.0.113.7") == "127.0.0.1"


def test_forwarded_addresses_are_believed_from_a_configured_proxy(monkeypatch, tmp_path):
    with served(monkeypatch, tmp_path, SHIXIAN_TRUSTED_PROXIES="127.0.0.1") as port:
        assert _failed_sign_in(port, "203.0.113.8") == "203.0.113.8"


@pytest.mark.parametrize("value", ["admin=x", "admin=0", "boss=2", "admin"])
def test_a_bad_idle_setting_is_a_clear_error(monkeypatch, value):
    from domain.settings import get_settings

    monkeypatch.setenv("SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE", value)
    with pytest.raises(ValueError, match=f"SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE 中“{value}”无效"):
        get_settings()


def test_limits_per_route_class(monkeypatch):
    from app.web.bodylimit import limit_for

    monkeypatch.setenv("SHIXIAN_BODY_MAX_UPLOAD_MB", "5")
    kib, mib = 1024, 1024 * 1024
    assert limit_for("/login") == (16 * kib, "16 KB")
    assert limit_for("/invite/abc") == (16 * kib, "16 KB")
    assert limit_for("/events/new") == (256 * kib, "256 KB")
    assert limit_for("/api/review/x/reject") == (256 * kib, "256 KB")
    assert limit_for("/api/events")[0] == limit_for("/import")[0] > 5 * mib  # the file plus its multipart envelope
    assert limit_for("/import/confirm") == (20 * mib, "20 MB")


@pytest.mark.browser
def test_chromium_runs_our_scripts_but_no_injected_inline_script(monkeypatch, tmp_path):
    """In a real browser on a real page: the page's own script (app/web/static/sort.js) runs, markup injected
    with an inline handler does not (the Content-Security-Policy), and the page itself causes no violation."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import _browser

    with served(monkeypatch, tmp_path) as port, sync_playwright() as p:
        from store.accounts import set_password
        from store.db import database_url, get_engine

        with Session(get_engine(database_url())) as s:
            set_password(s, "supervisor-zwgk", "Sup-password-1")
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/login")
            page.fill("#person", "supervisor-zwgk")
            page.fill("#password", "Sup-password-1")
            page.click("button[type=submit]")
            page.wait_for_url(f"http://127.0.0.1:{port}/")
            page.goto(f"http://127.0.0.1:{port}/scores", wait_until="networkidle")
            page.evaluate(
                "window.violations = [];"
                "document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective))"
            )
            assert page.evaluate("document.querySelectorAll('table.sortable th[data-key]').length") > 0
            assert page.evaluate("document.querySelector('table.sortable th[data-key]').style.cursor") == "pointer"
            page.evaluate(
                """document.body.insertAdjacentHTML('beforeend',
                '<img src="/static/none.png" onerror="window.pwned = 1">'
                + '<a id="js" href="javascript:window.pwned = 2">x</a>')"""
            )
            page.click("#js")
            page.wait_for_function("window.violations.length >= 2", timeout=10_000)
            assert page.evaluate("window.pwned") is None
            assert all(v.startswith("script-src") for v in page.evaluate("window.violations"))
        finally:
            browser.close()
