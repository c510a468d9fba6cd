"""/docs (Swagger UI) and /redoc work on an intranet with no way out: their files come from the installed
fastapi-offline wheel, served by the app itself; no page references another host. The browser test opens
them in Debian's headless Chromium with every request that leaves 127.0.0.1 aborted."""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on uvicorn at a free port (real HTTP); yields its base URL."""
    import uvicorn

    from app.web.server import create_app
    from tests.test_oidc import _wait_port

    mp = pytest.MonkeyPatch()
    mp.setenv("SHIXIAN_DATA_DIR", str(tmp_path_factory.mktemp("docs-data")))
    mp.delenv("DATABASE_URL", raising=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(None, host="127.0.0.1"), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    try:
        _wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        mp.undo()


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_reference_no_other_host(served, path):
    r = httpx.get(served + path, trust_env=False)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []  # no host named at all: everything is this site's
    refs = _references(html)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    # the policy allows scripts from this site and the page's own inline script (by hash), nothing else
    csp = r.headers["content-security-policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "http" not in csp and "'unsafe-inline'" not in script_src
    assert ("'sha256-" in script_src) == ("<script>" in html)  # Swagger UI's one inline script, by its hash


@pytest.mark.parametrize(
    "path, kind, marker",
    [
        ("/docs-assets/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"),
        ("/docs-assets/swagger-ui.css", "text/css", ".swagger-ui"),
        ("/docs-assets/redoc.standalone.js", "javascript", "Redoc"),
    ],
)
def test_docs_assets_are_served_with_real_content(served, path, kind, marker):
    r = httpx.get(served + path, trust_env=False)
    assert r.status_code == 200 and kind in r.headers["content-type"]
    assert len(r.content) > 100_000 and marker in r.text
    for page in ("/docs", "/redoc"):  # each page's files are the ones tested here
        for ref in _references(httpx.get(served + page, trust_env=False).text):
            if ref.startswith("/docs-assets/"):
                assert httpx.get(served + ref, trust_env=False).status_code == 200, ref


@pytest.mark.browser
def test_swagger_ui_and_redoc_render_with_no_network(served):
    from playwright.sync_api import sync_playwright

    from tests.test_browser import _browser

    left: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.route("**/*", only_loopback)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(served + "/docs", wait_until="networkidle")
            page.wait_for_selector(".opblock", timeout=30_000)
            ops = page.locator(".opblock").count()
            assert ops >= 10, ops
            text = page.inner_text("#swagger-ui")
            assert "/api/events" in text and "/api/items/{item_id}" in text and "时限 Shixian API" in text
            page.goto(served + "/redoc", wait_until="networkidle")
            page.wait_for_selector("h1", timeout=30_000)
            assert "时限 Shixian API" in page.inner_text("body")
            assert page.locator("[data-section-id^='operation/'], [data-section-id*='/paths/']").count() >= 10
            assert errors == []
        finally:
            browser.close()
    assert left == []  # nothing tried to leave the machine
