"""Sign-in with the organisation's identity provider (OpenID Connect): /login/oidc sends the browser to the
provider, /login/oidc/callback ends in the same session cookie as a password sign-in (services.oidc)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.web.audit_web import audit
from app.web.auth import COOKIE
from app.web.pages import (
    PRE_COOKIE,
    _safe_next,
    app_paths,
    client_address,
    redirect_with_flash,
    render,
    secure_cookie,
)
from domain.shanghai import SHANGHAI_OFFSET
from services import oidc
from services.access import landing_path, principal_for_person

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "shixian_oidc"  # the pending flow's state, nonce and PKCE verifier (services.oidc)


def _failed(request: Request, exc: oidc.OidcError) -> HTMLResponse:
    # The reason in the words the person read (it names the provider's account when no person matched it).
    detail = {"via": oidc.provider_name(), "reason": exc.message}
    audit(request, None, "auth.sign_in", person=exc.person, outcome="failure", detail=detail)
    status = 502 if exc.reason in ("provider_unreachable", "provider_misconfigured") else 400
    if exc.reason in ("unknown_person", "disabled", "no_role"):
        status = 403
    resp = render(
        request,
        "error.html",
        None,
        status=status,
        status_code=status,
        detail=f"{oidc.provider_name()}登录失败：{exc.message}",
    )
    resp.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return resp


@router.get("/login/oidc")
def oidc_begin(request: Request, next: str = "/"):
    try:
        url, flow = oidc.begin(_safe_next(next))
    except oidc.OidcError as exc:
        return _failed(request, exc)
    resp = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a top-level GET, which carries it; other sites' requests do not.
    resp.set_cookie(
        FLOW_COOKIE,
        flow,
        max_age=oidc.FLOW_MAX_SECONDS,
        path="/login/oidc",
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request),
    )
    return resp


@router.get(oidc.CALLBACK_PATH)
def oidc_callback(request: Request):
    from services.accounts import start_signed_in_session

    cookie = request.cookies.get(FLOW_COOKIE)
    try:
        done = oidc.finish(dict(request.query_params), cookie)
    except oidc.OidcError as exc:
        return _failed(request, exc)
    p = principal_for_person(done.person.id)
    assert p is not None  # services.oidc checked the person has a page role
    sid, (last_at, last_from, _) = start_signed_in_session(done.person.id, client_address(request))
    audit(request, p, "auth.sign_in", object=p.person, department=p.department, detail={"via": oidc.provider_name()})
    nxt = _safe_next(oidc.next_of(cookie))
    if nxt == "/":
        nxt = landing_path(p, app_paths(request))
    seen = f"{done.person.name}，您已通过{oidc.provider_name()}登录。"
    if last_at is not None:
        seen += f"上次登录：{last_at.astimezone(SHANGHAI_OFFSET):%Y-%m-%d %H:%M}（北京时间），地址 {last_from or '-'}。"
    resp = redirect_with_flash(nxt, seen, request)
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=secure_cookie(request))
    resp.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    resp.delete_cookie(PRE_COOKIE)
    return resp
