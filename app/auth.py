"""Token authentication and role checks for the API and the pages.

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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from fastapi import Request

from domain import labels

COOKIE = "shixian_session"
# A person's page role from their departments.toml roles (a head acts for the department like its liaison).
ROLE_PRIORITY = (
    ("admin", "admin"),
    ("supervisor", "supervisor"),
    ("liaison", "liaison"),
    ("head", "liaison"),
    ("assessor", "assessor"),
)
READ_ALL = ("supervisor", "admin", "local")


class ApiError(Exception):
    """Rendered as ``{"code": ..., "detail": ...}`` with the given HTTP status."""

    def __init__(self, status: int, code: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra

    def body(self) -> dict:
        return {"code": self.code, "detail": self.detail, **self.extra}


def unauthorized(
    detail: str = "未登录或令牌无效：请在请求头 Authorization: Bearer <令牌> 中提供有效令牌"
    " （令牌由管理员用 shixian token create 生成）",
) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


@dataclass(frozen=True)
class Principal:
    role: str
    department: str | None = None
    person: str | None = None
    token_id: str | None = None
    roles: tuple[str, ...] = ()
    csrf: str | None = None  # set for a signed-in browser session

    @property
    def may_lock(self) -> bool:
        return self.role == "admin" or "assessor" in self.roles or self.role == "assessor"

    @property
    def record_role(self) -> str:
        """The role an event is recorded with: a 部门负责人 acts as a liaison but is recorded as the head."""
        if self.role == "liaison" and "head" in self.roles and "liaison" not in self.roles:
            return "head"
        return self.role

    def ingestor(self, client):
        """The ingest path for this principal's events: attributed to them, recorded with their role, and
        confined to their department when they are a liaison (services.access.write_scope)."""
        from services.access import write_scope
        from services.ingest import Ingestor
        from store.db import database_url, get_engine

        return Ingestor(
            client,
            recorded_by=self.actor,
            db_engine=get_engine(database_url()),
            role=self.record_role,
            scope=write_scope(self.role, self.department),
        )

    @property
    def actor(self) -> str:
        return self.person or (f"token:{self.token_id}" if self.token_id else "anonymous")

    @property
    def label(self) -> str:
        who = self.person or (f"令牌 {self.token_id}" if self.token_id else "访客")
        dept = f"（{self.department}）" if self.department else ""
        return f"{labels.ROLES.get(self.record_role, self.record_role)} {who}{dept}"

    # ---- checks (raise ApiError 403)
    def require(self, roles: Iterable[str], what: str) -> None:
        roles = tuple(roles)
        if self.role not in roles:
            allowed = "、".join(labels.ROLES.get(r, r) for r in roles)
            raise forbidden(f"无权{what}：当前角色为{labels.ROLES.get(self.role, self.role)}，需要{allowed}角色")

    def scope(self, department: str | None, what: str, roles: Iterable[str] = READ_ALL) -> str | None:
        """The department filter this principal may use for `what`.

        Liaisons are confined to their own department (another one → 403; none → their own);
        the other allowed roles see everything."""
        if self.role == "liaison":
            if department and department != self.department:
                raise forbidden(f"无权{what}：联络员只能查看本部门（{self.department}）的数据，不能查看 {department}")
            return self.department
        self.require(tuple(roles) + ("liaison",), what)
        return department or None

    def may_see(self, department: str) -> bool:
        if self.role == "liaison":
            return department == self.department
        return self.role in READ_ALL


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
    from domain.engine import engine
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
                listed = row.person in engine().directory.people
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
    from domain.engine import engine

    person = engine().directory.people.get(person_id)
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
