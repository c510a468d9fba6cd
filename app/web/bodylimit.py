"""Request body limits per route class, enforced before the application reads a byte.

A body announced larger than its route's limit (Content-Length) is refused at once with 413; a body without
Content-Length (chunked) is counted as it streams in and refused as soon as it passes the limit, so at most
limit + one chunk is ever held. Classes (domain/settings.py): sign-in forms, uploads (ledger import,
POST /api/events; the import's confirm form 4 times that), everything else.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.settings import get_settings

SIGNIN_PATHS = ("/login", "/logout", "/invite/")
UPLOAD_PATHS = ("/import", "/api/events", "/catalogue", "/catalogue/confirm")  # catalogue: i21-catalogue
CONFIRM_PATH = "/import/confirm"
# The confirm form carries the preview's canonical rows back, URL-encoded JSON with the column names in every
# row: a few times the file it came from (the ledger's row limit bounds it further).
CONFIRM_FACTOR = 4
MULTIPART_SLACK = 64 * 1024  # the multipart envelope around a file of the documented size


def limit_for(path: str) -> tuple[int, str]:
    """(bytes, how the limit reads in Chinese) of a request path."""
    s = get_settings()
    if path in UPLOAD_PATHS:
        return s.body_max_upload_mb * 1024 * 1024 + MULTIPART_SLACK, f"{s.body_max_upload_mb} MB"
    if path == CONFIRM_PATH:
        mb = s.body_max_upload_mb * CONFIRM_FACTOR
        return mb * 1024 * 1024, f"{mb} MB"
    if path in SIGNIN_PATHS[:2] or path.startswith(SIGNIN_PATHS[2]):
        return s.body_max_signin_kb * 1024, f"{s.body_max_signin_kb} KB"
    return s.body_max_form_kb * 1024, f"{s.body_max_form_kb} KB"


def message(shown: str) -> str:
    return f"请求内容过大（此处上限 {shown}），未作任何处理；台账请分批导入，事件请分批提交。"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its limit: FastAPI's body parsing re-raises an
    HTTPException as it is (any other exception would become a 400)."""

    def __init__(self, shown: str):
        # close: the rest of the body is never read, so the connection cannot carry another request
        super().__init__(413, message(shown), headers={"Connection": "close"})
        self.shown = shown


def _wants_json(path: str) -> bool:
    return path.startswith("/api") or path in ("/openapi.json", "/healthz", "/readyz")


async def send_413(scope: Scope, send: Send, shown: str) -> None:
    text = message(shown)
    if _wants_json(scope.get("path", "")):
        body = json.dumps({"code": "body_too_large", "detail": text}, ensure_ascii=False).encode()
        ctype = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>请求内容过大 · 时限</title>'
            '<link rel="stylesheet" href="/static/style.css"></head><body><main><h1>请求内容过大（413）</h1>'
            f'<p>{text}</p><p><a href="/">返回首页</a></p></main></body></html>'
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            # close: the rest of the body is never read, so the connection cannot carry another request
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, shown = limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced > limit:
                    await send_413(scope, send, shown)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(shown)
            return msg

        async def tracked(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await send_413(scope, send, shown)
