"""Sign-in with the organisation's identity provider against a real OpenID Connect provider (the npm package
oidc-provider, tests/oidc/provider.js, run by node on 127.0.0.1), and where each role lands after signing in.

The web app is served by uvicorn on a free port (real HTTP, a temporary SQLite store and config copy);
httpx walks the whole authorization-code flow as a browser would: our /login button, the provider's sign-in
and consent forms, the callback, the landing page."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests import workflow_harness
from tests.conftest import free_port
from tests.procs import Proc

ROOT = Path(__file__).resolve().parents[1]
OP_DIR = ROOT / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "shixian-test", "test-client-secret-1"
# accounts at the provider: their claims (preferred_username is the claim the app maps)
ACCOUNTS = {
    "u1001": {"preferred_username": "zhangwei", "name": "张伟"},  # liaison-fgw carries oidc = "zhangwei"
    "u1002": {"preferred_username": "supervisor-zwgk", "name": "李娜"},  # matched by person id
    "u1003": {"preferred_username": "assessor-zwgk", "name": "王芳"},
    "u1004": {"preferred_username": "liaison-czj", "name": "刘洋"},  # disabled below
    "u9999": {"preferred_username": "stranger", "name": "陌生人"},  # no person of the directory
    "u1005": {"preferred_username": "liaison-fgw", "name": "冒名"},  # liaison-fgw is mapped to zhangwei instead
}
PASSWORDS = {
    "assessor-zwgk": "assess-password-1",
    "supervisor-zwgk": "sup-password-1",
    "liaison-fgw": "fgw-password-1",
    "head-fgw": "head-password-1",
    "admin": "root-password-1",
}


def _wait_port(port: int, timeout: float = 30) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(app base URL, provider issuer): the provider in node, the app in uvicorn, both on 127.0.0.1."""
    import uvicorn

    from app.web.server import create_app
    from services.accounts import disable, set_password
    from store.db import database_url, get_engine, init_db

    if shutil.which("node") is None or not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("node or tests/oidc/node_modules missing (./scripts/test installs them: npm ci in tests/oidc)")
    data = tmp_path_factory.mktemp("oidc-data")
    config = tmp_path_factory.mktemp("oidc-config") / "config"
    shutil.copytree(workflow_harness.REPO_CONFIG, config)
    deps = config / "departments.toml"
    text = deps.read_text(encoding="utf-8")
    anchor = 'id = "liaison-fgw"\n'
    assert anchor in text
    deps.write_text(text.replace(anchor, anchor + 'oidc = "zhangwei"\n', 1), encoding="utf-8")

    app_port, op_port = free_port(), free_port()
    app_base, issuer = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{op_port}"
    mp = pytest.MonkeyPatch()
    for k in ("DATABASE_URL", "SHIXIAN_WEB_ANONYMOUS", "SHIXIAN_OIDC_CLAIM", "SHIXIAN_OIDC_NAME"):
        mp.delenv(k, raising=False)
    env = {
        "SHIXIAN_DATA_DIR": str(data),
        "SHIXIAN_CONFIG_DIR": str(config),
        "SHIXIAN_PUBLIC_URL": app_base,
        "SHIXIAN_OIDC_ISSUER": issuer,
        "SHIXIAN_OIDC_CLIENT_ID": CLIENT_ID,
        "SHIXIAN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SHIXIAN_OIDC_MATCH_ID": "1",  # the test provider's usernames are fixed; see the test without it below
    }
    for k, v in env.items():
        mp.setenv(k, v)
    op = Proc(
        [str(shutil.which("node")), str(OP_DIR / "provider.js")],
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "OIDC_PORT": str(op_port),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URI": app_base + "/login/oidc/callback",
            "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        },
        module=False,
    )
    server = None
    try:
        get_engine.cache_clear()
        init_db(get_engine(database_url()))
        for person, pw in PASSWORDS.items():
            set_password(person, pw)
        disable("liaison-czj")
        op.wait_for("oidc-provider listening on", timeout=60)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(None, host="127.0.0.1"),
                host="127.0.0.1",
                port=app_port,
                log_level="warning",
                lifespan="off",
            )
        )
        threading.Thread(target=server.run, daemon=True).start()
        _wait_port(app_port)
        yield app_base, issuer
    finally:
        if server is not None:
            server.should_exit = True
        op.stop()
        mp.undo()
        get_engine.cache_clear()


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and its hidden fields."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html[:3000]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return action.group(1).replace("&amp;", "&"), hidden


def oidc_sign_in(base: str, account: str) -> tuple[httpx.Client, httpx.Response]:
    """A browser's walk: the button on /login, the provider's sign-in and consent forms, back to the app."""
    c = httpx.Client(base_url=base, follow_redirects=True, timeout=30, trust_env=False)
    login = c.get("/login")
    assert login.status_code == 200
    button = re.search(r'<a class="btn" id="oidc-login" href="([^"]+)">([^<]+)</a>', login.text)
    assert button and button.group(2) == "使用统一身份认证登录", login.text
    page = c.get(button.group(1).replace("&amp;", "&"))
    assert page.url.host == "127.0.0.1" and page.url.port != httpx.URL(base).port  # at the provider now
    action, fields = _form(page.text)
    assert fields.get("prompt") == "login", page.text[:2000]
    page = c.post(str(page.url.join(action)), data={**fields, "login": account, "password": "any"})
    if str(page.url).startswith(str(page.url.join("/interaction/"))) and 'value="consent"' in page.text:
        action, fields = _form(page.text)
        page = c.post(str(page.url.join(action)), data=fields)
    return c, page


def test_login_page_offers_the_identity_provider(site):
    base, _ = site
    r = httpx.get(base + "/login", trust_env=False)
    assert "使用统一身份认证登录" in r.text and 'href="/login/oidc?next=/"' in r.text.replace("%2F", "/")
    assert 'name="password"' in r.text  # passwords stay


def test_a_mapped_person_signs_in_through_the_provider(site):
    base, _ = site
    c, page = oidc_sign_in(base, "u1001")
    with closing(c):
        assert page.status_code == 200, page.text[:2000]
        assert page.url == httpx.URL(base + "/liaison")  # a liaison lands on their department's items
        body = page.text
        assert "发改委联络员，您已通过统一身份认证登录" in body  # the directory's name of the person
        assert "钦州市发展和改革委员会" in body  # names, not ids, where people read
        assert 'action="/logout"' in body
        sid = c.cookies.get("shixian_session")
        assert sid
        # the same server-side session as a password sign-in: the API reads with the cookie
        r = c.get("/api/overdue")
        assert r.status_code == 200
        # the flow cookie is gone: replaying the callback is refused
        assert "shixian_oidc" not in c.cookies
    assert _audit_has("auth.sign_in", "success", "liaison-fgw")["detail"] == {"via": "统一身份认证"}


def test_the_claim_may_be_the_person_id_and_each_role_lands_on_its_work(site):
    base, _ = site
    c, page = oidc_sign_in(base, "u1002")
    with closing(c):
        assert page.status_code == 200 and page.url == httpx.URL(base + "/"), page.text[:2000]
        assert "督办看板" in page.text and "李娜" not in page.text  # the directory names people, not the provider
    c, page = oidc_sign_in(base, "u1003")
    with closing(c):
        assert page.status_code == 200 and page.url == httpx.URL(base + "/scores"), page.text[:2000]


def test_an_unmapped_account_gets_a_chinese_error_and_an_audit_entry(site):
    base, _ = site
    c, page = oidc_sign_in(base, "u9999")
    with closing(c):
        assert page.status_code == 403
        assert str(page.url).startswith(base + "/login/oidc/callback")
        assert "统一身份认证登录失败" in page.text
        assert "统一身份认证账号“stranger”未对应本系统的任何人员" in page.text
        assert "shixian_session" not in c.cookies
        assert c.get("/", follow_redirects=False).headers["location"].startswith("/login")
    rec = _audit_has("auth.sign_in", "failure", None)
    assert rec["detail"]["via"] == "统一身份认证" and "“stranger”未对应本系统的任何人员" in rec["detail"]["reason"]


def test_a_person_with_an_oidc_field_is_not_found_by_id(site):
    base, _ = site
    c, page = oidc_sign_in(base, "u1005")
    with closing(c):
        assert page.status_code == 403 and "“liaison-fgw”未对应本系统的任何人员" in page.text
        assert "shixian_session" not in c.cookies


def test_a_disabled_person_is_refused(site):
    base, _ = site
    c, page = oidc_sign_in(base, "u1004")
    with closing(c):
        assert page.status_code == 403 and "账号已停用" in page.text and "shixian_session" not in c.cookies
    assert "账号已停用" in _audit_has("auth.sign_in", "failure", "liaison-czj")["detail"]["reason"]


def test_a_claim_the_provider_does_not_give_is_named(site, monkeypatch):
    base, _ = site
    monkeypatch.setenv("SHIXIAN_OIDC_CLAIM", "employee_number")
    c, page = oidc_sign_in(base, "u1001")
    with closing(c):
        assert page.status_code == 400 and "身份认证服务未提供“employee_number”" in page.text
        assert "shixian_session" not in c.cookies


def test_a_callback_with_a_foreign_state_or_a_provider_error_is_refused(site):
    base, issuer = site
    with httpx.Client(base_url=base, trust_env=False) as c:
        # no flow started in this browser: an attacker's callback link (login CSRF)
        r = c.get("/login/oidc/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 400 and "不是从本浏览器发起的" in r.text
        # a flow started here, answered with another state
        start = c.get("/login/oidc")
        assert start.status_code == 303 and start.headers["location"].startswith(issuer + "/auth?")
        assert "code_challenge_method=S256" in start.headers["location"]
        assert "nonce=" in start.headers["location"]
        r = c.get("/login/oidc/callback", params={"code": "x", "state": "not-the-one"})
        assert r.status_code == 400 and "state 不符" in r.text
        c.get("/login/oidc")  # a failed callback ends the flow: a new one
        r = c.get("/login/oidc/callback", params={"code": "x", "state": "状态"})
        assert r.status_code == 400 and "state 不符" in r.text
        # the provider says the person declined, with the right state
        start = c.get("/login/oidc")
        state = httpx.URL(start.headers["location"]).params["state"]
        r = c.get("/login/oidc/callback", params={"error": "access_denied", "state": state})
        assert r.status_code == 400 and "取消了登录" in r.text and "access_denied" in r.text
        # a forged code with the right state: the provider refuses it at the token endpoint
        start = c.get("/login/oidc")
        state = httpx.URL(start.headers["location"]).params["state"]
        r = c.get("/login/oidc/callback", params={"code": "forged-code", "state": state})
        assert r.status_code == 400 and "换取身份令牌失败" in r.text and "invalid_grant" in r.text
    reasons = " ".join(r["detail"].get("reason", "") for r in _audit_rows("auth.sign_in", "failure"))
    assert "state 不符" in reasons and "取消了登录" in reasons and "invalid_grant" in reasons


def test_no_button_and_a_chinese_page_when_not_configured(site, monkeypatch):
    base, _ = site
    monkeypatch.delenv("SHIXIAN_OIDC_ISSUER")
    monkeypatch.delenv("SHIXIAN_OIDC_CLIENT_ID")
    r = httpx.get(base + "/login", trust_env=False)
    assert r.status_code == 200 and "统一身份认证" not in r.text
    r = httpx.get(base + "/login/oidc", trust_env=False)
    assert r.status_code == 400 and "未配置统一身份认证" in r.text


@pytest.mark.browser
def test_the_flow_in_headless_chromium(site):
    """The same walk in a real browser (cookie rules, redirects, the provider's own pages)."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import _browser

    base, _ = site
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            page.goto(base + "/login", wait_until="networkidle")
            page.click("#oidc-login")
            page.wait_for_selector("input[name=login]")
            page.fill("input[name=login]", "u1002")
            page.fill("input[name=password]", "any")
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            if page.locator("input[name=prompt][value=consent]").count():
                page.click("button[type=submit]")
            page.wait_for_url(base + "/", timeout=30_000)
            assert "政务公开办督办员，您已通过统一身份认证登录" in page.inner_text("body")
            assert page.title().startswith("督办看板")
        finally:
            browser.close()


# ---------------------------------------------------------------------------------- landing pages


def _password_sign_in(base: str, person: str) -> httpx.Response:
    with httpx.Client(base_url=base, follow_redirects=True, timeout=30, trust_env=False) as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return c.post("/login", data={"person": person, "password": PASSWORDS[person], "csrf_token": csrf, "next": "/"})


@pytest.mark.parametrize(
    "person, path, marker",
    [
        ("assessor-zwgk", "/scores", "考评"),
        ("supervisor-zwgk", "/", "督办看板"),
        ("liaison-fgw", "/liaison", "钦州市发展和改革委员会"),
        ("head-fgw", "/departments/qz-fgw", "钦州市发展和改革委员会"),
        ("admin", "/admin", "人员名录"),  # the admin page (app/web/admin_pages.py)
    ],
)
def test_each_role_lands_where_its_work_is(site, person, path, marker):
    base, _ = site
    r = _password_sign_in(base, person)
    assert r.status_code == 200, r.text[:2000]
    assert r.url == httpx.URL(base + path)
    assert marker in r.text


def test_landing_path_prefers_an_admin_page_when_the_app_has_one():
    from services.access import Principal, landing_path

    admin = Principal(role="admin", person="admin", roles=("admin",))
    assert landing_path(admin, {"/", "/admin"}) == "/admin"
    assert landing_path(admin, {"/"}) == "/"
    head = Principal(role="liaison", department="qz-fgw", person="head-fgw", roles=("head",))
    assert landing_path(head) == "/departments/qz-fgw"
    assert landing_path(Principal(role="liaison", department="qz-fgw", roles=("liaison", "head"))) == "/liaison"
    assert landing_path(Principal(role="assessor")) == "/scores"
    assert landing_path(Principal(role="supervisor")) == "/"


# ---------------------------------------------------------------------------------- audit


def _audit_rows(action: str, outcome: str) -> list[dict]:
    """The audit records of `action` with `outcome`, newest first, as stored (detail as a dict)."""
    from services.audit import Filter
    from store import audit as store_audit
    from store.db import session

    with session() as s:
        rows = store_audit.search(s, Filter(action=action, outcome=outcome), before_id=None, limit=500)
        return [{"actor": r.actor, "outcome": r.outcome, "detail": dict(r.detail or {})} for r in rows]


def _audit_has(action: str, outcome: str, actor: str | None) -> dict:
    rows = [r for r in _audit_rows(action, outcome) if actor is None or r["actor"] == actor]
    assert rows, f"no audit record {action} {outcome} {actor}"
    return rows[0]


def test_settings_refuse_half_a_provider(monkeypatch):
    from domain.settings import SettingsError, get_settings

    monkeypatch.setenv("SHIXIAN_OIDC_ISSUER", "https://sso.example.gov.cn")
    monkeypatch.delenv("SHIXIAN_OIDC_CLIENT_ID", raising=False)
    with pytest.raises(SettingsError, match="须同时设置"):
        get_settings()
    monkeypatch.setenv("SHIXIAN_OIDC_CLIENT_ID", "shixian")
    assert get_settings().oidc_enabled
    monkeypatch.setenv("SHIXIAN_OIDC_ISSUER", "sso.example.gov.cn")
    with pytest.raises(SettingsError, match="SHIXIAN_OIDC_ISSUER"):
        get_settings()


def test_without_match_id_a_claim_equal_to_a_person_id_signs_nobody_in(monkeypatch):
    """preferred_username can be chosen at the provider: by default only a person's `oidc` field maps it."""
    from services.oidc import person_for_claim

    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(workflow_harness.REPO_CONFIG))
    monkeypatch.delenv("SHIXIAN_OIDC_MATCH_ID", raising=False)
    assert person_for_claim("admin") is None
    monkeypatch.setenv("SHIXIAN_OIDC_MATCH_ID", "1")
    found = person_for_claim("admin")
    assert found is not None and found.id == "admin"
