"""Who is asking: bearer tokens and session cookies resolved to a services.access.Principal.

Roles (store.tokens.ROLES):
- liaison    联络员: items, overdue, scores and reports of its own department only; may post events for it
- head       部门负责人: as a liaison (its own department), its events recorded as the head's
- supervisor 督办:   everything of every department; may post events
- assessor   考核:   scores and annual reports of every department (no item details, no writes)
- admin      管理员: everything, plus calendar / config reload

The API takes ``Authorization: Bearer sx_...`` (tokens are for machines). Safe (GET) API requests also
accept the pages' session cookie, so the pages can link to exports; API writes need the header.
People sign in at /login with their password (store.accounts): a server-side session whose random id
is the HttpOnly cookie; page forms carry the session's CSRF token. Pages need a signed-in person
whatever address the server binds; anonymous read-only access (role ``local``) only with
SHIXIAN_WEB_ANONYMOUS=read.
"""

from __future__ import annotations

from typing import cast

from fastapi import Request

from services.access import ApiError, Principal, principal_for_session, principal_for_token, token_principal

COOKIE = "shixian_session"


def unauthorized(
    detail: str = "未登录或令牌无效：请在请求头 Authorization: Bearer <令牌> 中提供有效令牌"
    " （令牌由管理员用 shixian token create 生成）",
) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization") or ""
    scheme, _, value = h.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def api_principal(request: Request) -> Principal:
    """FastAPI dependency of every /api route."""
    token = _bearer(request)
    if token is None and request.method in ("GET", "HEAD") and request.cookies.get(COOKIE):
        p = principal_for_session(request.cookies[COOKIE])
        if p is not None:
            return p
    if not token:
        raise unauthorized()
    p, why = token_principal(token)
    if p is None:
        raise unauthorized(why)
    return p


def page_principal(request: Request) -> Principal | None:
    """The signed-in person of a page, the anonymous reader (SHIXIAN_WEB_ANONYMOUS=read), or None (→ login)."""
    cached = getattr(request.state, "principal", False)
    if cached is not False:
        return cast("Principal | None", cached)
    p = None
    if request.cookies.get(COOKIE):
        p = principal_for_session(request.cookies[COOKIE])
    bearer = _bearer(request)
    if p is None and bearer:
        p = principal_for_token(bearer)
    if p is None and getattr(request.app.state, "open_pages", False):
        p = Principal(role="local")
    request.state.principal = p
    return p
