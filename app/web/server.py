"""FastAPI application (API + pages) and its `shixian up` task.

    create_app(client)  — the ASGI app; `client` is the Temporal client used by POST routes
    serve_web(ctx)      — uvicorn on $SHIXIAN_HTTP (default 127.0.0.1:8000) inside `shixian up`

Host header check: only the configured host, 127.0.0.1, localhost and names listed in
SHIXIAN_WEB_HOSTS (comma-separated) are answered (defeats DNS rebinding against a loopback server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.web.bodylimit import BodyLimitMiddleware, BodyTooLarge
from domain.settings import get_settings
from services.access import ApiError

log = logging.getLogger("shixian.web")
HERE = Path(__file__).parent


def http_bind() -> tuple[str, int]:
    text = get_settings().http.strip()
    if text.startswith("http://"):
        text = text[len("http://") :]
    host, _, port = text.rpartition(":")
    if not host:
        host, port = "127.0.0.1", text
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise ValueError(f"SHIXIAN_HTTP=“{text}” 无效：应为 主机:端口，如 127.0.0.1:8000") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_pages_default(host: str | None = None) -> bool:
    """Anonymous read-only pages only when asked for explicitly, whatever address is bound: a reverse
    proxy on 127.0.0.1 would otherwise publish every department's items."""
    return get_settings().web_anonymous == "read"


# Scripts only from our own files (app/web/static): an injected <script> or on* attribute never runs. Inline
# style attributes stay allowed (bar widths, legend colours); they cannot run code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # nothing to other sites; same-origin posts keep their Origin
}


_MESSAGES = {
    401: ("unauthorized", "未登录或令牌无效"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "未找到该地址"),
    405: ("method_not_allowed", "不支持该请求方法"),
    400: ("bad_request", "请求有误"),
}


DOCS_ASSETS = "/docs-assets"  # Swagger UI and ReDoc files of the fastapi-offline wheel: no CDN, works offline


def docs_assets_dir() -> Path:
    """The installed package's swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _hashed_policy(page, *, workers: bool = False):
    """The page's inline scripts allowed by hash only; every other file from this site."""
    import base64
    import hashlib
    import re

    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in re.findall(r"<script>(.*?)</script>", html, re.S)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        + ("worker-src 'self' blob:; " if workers else "")
        + "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )
    return page


def _docs_page(app: FastAPI):
    """Swagger UI from the installed files, its one inline script named by hash in the policy."""
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        # no badge from the public validator service: the page must not reach outside the intranet
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _hashed_policy(page)


def _redoc_page(app: FastAPI):
    """ReDoc from the installed file, without Google Fonts."""
    from fastapi.openapi.docs import get_redoc_html

    page = get_redoc_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        with_google_fonts=False,
    )
    return _hashed_policy(page, workers=True)


def create_app(client=None, *, open_pages: bool | None = None, host: str | None = None) -> FastAPI:
    from app.web.api import router as api_router
    from app.web.pages import render_error
    from app.web.pages import router as pages_router
    from services.catalogue import register as serve_catalogue_rules
    from services.directory import register as serve_directory_from_store

    serve_directory_from_store()  # as app.composition.register_sources (which imports this module)
    serve_catalogue_rules()
    bind_host = host or http_bind()[0]
    app = FastAPI(
        docs_url=None,  # served below with its own script policy
        redoc_url=None,
        title="时限 Shixian API",
        version="0.1.0",
        description="政务公开法定时限与合规引擎：事件登记、事项与期限说明、逾期督办、考评得分、年度报告。"
        "除 /docs 外所有 /api 接口需要令牌：`Authorization: Bearer sx_...`（`shixian token create` 生成）。",
    )
    app.state.client = client
    app.state.open_pages = open_pages_default(bind_host) if open_pages is None else open_pages
    allowed = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver", bind_host}
    allowed |= {h.strip() for h in get_settings().web_hosts.split(",") if h.strip()}
    if bind_host in ("0.0.0.0", "::"):
        allowed = {"*"}
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=sorted(allowed))
    app.add_middleware(BodyLimitMiddleware)  # outside the host check: an oversized body is never read

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            # A write on a nearly full disk would fail half-way in the wrong words (a Temporal error):
            # refuse it first, in Chinese, before anything is sent.
            from store.disk import low_space

            reason = await asyncio.to_thread(low_space)
            if reason is not None:
                log.error("write refused: %s", reason)
                detail = f"{reason}；本次写入未执行，请联系管理员清理服务器磁盘后重试"
                response = (
                    JSONResponse({"code": "disk_full", "detail": detail}, status_code=507)
                    if wants_json(request)
                    else _error_page(request, 507, detail)
                )
                for k, v in SECURITY_HEADERS.items():
                    response.headers.setdefault(k, v)
                return response
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api") or request.url.path in ("/openapi.json", "/healthz", "/readyz")

    def _error_page(request: Request, status: int, detail: str, headers: dict | None = None):
        try:
            page = render_error(request, status, detail)
        except Exception:  # the page's own look-ups (who is signed in) need the database that just failed
            request.state.principal = None
            page = render_error(request, status, detail)
        page.headers.update(headers or {})
        return page

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if exc.status == 403:
            _refusal_audited(request, exc)
        from app.web.errors import retry_headers

        retry = retry_headers(exc.status, exc.body())
        if wants_json(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else retry
            return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
        if exc.status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return _error_page(request, exc.status, exc.detail, retry)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [
            {"field": ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body", "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "请求参数有误：" + "；".join(f"{e['field']} {e['reason']}" for e in errors)
        if wants_json(request):
            return JSONResponse({"code": "invalid_request", "detail": detail, "errors": errors}, status_code=422)
        return render_error(request, 422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code, text = _MESSAGES.get(exc.status_code, ("error", "请求失败"))
        if isinstance(exc, BodyTooLarge):
            code, text = "body_too_large", exc.detail
        if wants_json(request):
            # keep the exception's headers: a 405 must say which methods are allowed (Allow)
            return JSONResponse({"code": code, "detail": text}, status_code=exc.status_code, headers=exc.headers)
        page = render_error(request, exc.status_code, text)
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Never a text/plain 500: a lost Temporal or database is a JSON 503 the caller can retry.
        from app.web.errors import retry_headers, unexpected_error

        status, body = unexpected_error(exc)
        headers = retry_headers(status, body)
        if wants_json(request):
            return JSONResponse(body, status_code=status, headers=headers)
        return _error_page(request, status, body["detail"], headers)

    from app.web.api_ops import router as ops_router
    from app.web.health import router as health_router

    app.include_router(health_router)
    app.add_api_route("/docs", lambda: _docs_page(app), include_in_schema=False)
    app.add_api_route("/redoc", lambda: _redoc_page(app), include_in_schema=False)
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    app.include_router(ops_router)
    app.include_router(api_router)
    from app.web.api_nodes import router as nodes_api_router

    app.include_router(nodes_api_router)
    app.include_router(pages_router)
    from app.web.import_pages import router as import_router

    app.include_router(import_router)
    from app.web.catalogue_pages import router as catalogue_router

    app.include_router(catalogue_router)
    from app.web.pages_oidc import router as oidc_router

    app.include_router(oidc_router)
    from app.web.pages_actions import router as actions_router

    app.include_router(actions_router)
    from app.web.audit_pages import router as audit_router

    app.include_router(audit_router)
    from app.web.inbox_pages import router as inbox_router

    app.include_router(inbox_router)

    from app.web.admin_pages import router as admin_router

    app.include_router(admin_router)
    from app.web.node_pages import router as node_pages_router

    app.include_router(node_pages_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def _refusal_audited(request: Request, exc: ApiError) -> None:
    """A refused access (403) is in the audit trail: who, which address, which path."""
    from app.web.audit_web import audit
    from app.web.auth import page_principal

    try:
        who = page_principal(request)
        audit(request, who, "access.denied", object=request.url.path, outcome="failure", detail={"reason": exc.detail})
    except Exception:  # the refusal is answered even if the record cannot be written
        log.exception("audit record of a refused access not written")


def bind_socket(host: str, port: int):
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(
            f"网页服务无法监听 {host}:{port}：{exc.strerror}（端口被占用？可用 SHIXIAN_HTTP 指定其他端口）"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def uvicorn_config(app, host: str, port: int):
    """uvicorn as `shixian up` / `shixian web` run it. X-Forwarded-For/-Proto are believed only from the
    addresses in SHIXIAN_TRUSTED_PROXIES (default none: uvicorn would otherwise trust any local client,
    which could then pick the address the sign-in throttle counts)."""
    import uvicorn

    proxies = [a.strip() for a in get_settings().trusted_proxies.split(",") if a.strip()]
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=get_settings().web_log,
        access_log=False,
        lifespan="off",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
    )


async def serve_web(ctx) -> None:
    """`shixian up` task: serve the app until the stop event."""
    import uvicorn

    host, port = http_bind()
    app = create_app(ctx.client, host=host)
    server = uvicorn.Server(uvicorn_config(app, host, port))
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # the supervisor owns the signals
    sock = bind_socket(host, port)  # bind here: a busy port is a clear error, not uvicorn's sys.exit
    task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    while not server.started:
        if task.done():
            exc = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"网页服务无法在 {host}:{port} 启动（端口被占用？）: {exc or '已退出'}")
        await asyncio.sleep(0.05)
    shown = f"[{host}]" if ":" in host else host
    ctx.announce("网页 / Web", f"http://{shown}:{port}")
    stop = asyncio.create_task(ctx.stop_event.wait())
    done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stop.cancel()
        exc = task.exception()
        if exc:
            raise exc
        raise RuntimeError(f"网页服务意外退出（{host}:{port}，端口被占用？）")
    server.should_exit = True
    await asyncio.wait({task}, timeout=10)
