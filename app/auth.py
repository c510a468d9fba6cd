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

from services.access import ApiError, Principal

COOKIE = "shixian_session"
# A person's page role from their departments.toml roles (a head acts for the department like its liaison).
ROLE_PRIORITY = (
    ("admin", "admin"),
    ("supervisor", "supervisor"),
    ("liaison", "liaison"),
    ("head", "liaison"),
    ("assessor", "assessor"),
)


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


TOKEN_REFUSALS = {
    "invalid": "令牌无效或已被吊销（token invalid or revoked）",
    "revoked": "令牌无效或已被吊销（token invalid or revoked）",
    "expired": "令牌已过期（有效期至 {until}），请联系管理员用 shixian token create 重新生成",
    "disabled": "令牌所属人员已停用或已不在人员名录中，令牌不再有效",
}


def token_principal(token: str) -> tuple[Principal | None, str]:
    """The principal of a bearer token, or None and the Chinese reason it is refused."""
    from sqlmodel import Session

    from domain.config import ConfigError
    from domain.directory import load_directory
    from domain.shanghai import SHANGHAI
    from services.queries import db
    from store.accounts import Credential
    from store.tokens import check, ensure_table

    eng = db()
    ensure_table(eng)
    with Session(eng) as s:
        row, state = check(s, token)
        if row is None or state != "ok":
            until = f"{row.expires_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if row is not None else ""
            return None, TOKEN_REFUSALS[state].format(until=until)
        if row.person:
            # Checked here too: a path that disabled the person without revoking still stops the token.
            cred = s.get(Credential, row.person)
            try:
                listed = row.person in load_directory().people
            except ConfigError:  # a broken departments.toml is reported elsewhere; the credential still counts
                listed = True
            if (cred is not None and cred.disabled_at is not None) or not listed:
                return None, TOKEN_REFUSALS["disabled"]
        role = "liaison" if row.role == "head" else row.role  # a head reads and writes as its department's liaison
        return Principal(
            role=role, department=row.department, person=row.person, token_id=row.id, roles=(row.role,)
        ), ""


def principal_for_token(token: str) -> Principal | None:
    return token_principal(token)[0]


def principal_for_person(person_id: str, csrf: str | None = None) -> Principal | None:
    from domain.directory import load_directory

    person = load_directory().people.get(person_id)
    if person is None:  # removed from departments.toml: the session no longer stands for anyone
        return None
    role = next((page for have, page in ROLE_PRIORITY if have in person.roles), None)
    if role is None:
        return None
    return Principal(role=role, department=person.department or None, person=person.id, roles=person.roles, csrf=csrf)


def principal_for_session(sid: str) -> Principal | None:
    from sqlmodel import Session

    from services.queries import db
    from store.accounts import live_session

    with Session(db()) as s:
        row = live_session(s, sid)
        if row is None:
            return None
        return principal_for_person(row.person, row.csrf)


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
