"""Sign-in with the organisation's identity provider (OpenID Connect, through Authlib).

The authorization-code flow with PKCE (S256), state and nonce; the provider's endpoints and keys come from
its discovery document (`<issuer>/.well-known/openid-configuration`). The browser carries the flow's
secrets between `begin` and `finish` in a short-lived HttpOnly cookie: the state in the callback must equal
the cookie's (a callback started in another browser is refused), the ID token must carry the cookie's nonce
and is checked against the provider's keys, issuer, audience and lifetime.

The claim named by SHIXIAN_OIDC_CLAIM (default preferred_username) maps to a person of the directory: the
person whose `oidc` field equals it, else the person whose id equals it. The session it ends in is the same
server-side session as a password sign-in (services.accounts.start_session). Passwords stay.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from domain.directory import Person
from domain.settings import get_settings

CALLBACK_PATH = "/login/oidc/callback"
FLOW_MAX_SECONDS = 600  # the pending-flow cookie's lifetime: a sign-in left open longer starts over
_TIMEOUT = 10.0
_DISCOVERY_TTL = 3600.0
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}

# Chinese words for the provider's standard error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
PROVIDER_ERRORS = {
    "access_denied": "您在身份认证页面取消了登录，或未同意授权本系统",
    "login_required": "身份认证服务要求重新登录",
    "consent_required": "身份认证服务要求您同意授权本系统",
    "interaction_required": "身份认证服务需要您进一步操作",
    "invalid_request": "登录请求不被身份认证服务接受",
    "unauthorized_client": "本系统未获身份认证服务授权（客户端配置有误）",
    "invalid_client": "本系统的客户端编号或密钥不被身份认证服务接受",
    "invalid_grant": "授权码无效或已过期",
    "server_error": "身份认证服务内部错误",
    "temporarily_unavailable": "身份认证服务暂时不可用",
}


def _why(exc: BaseException) -> str:
    """A network failure in words (the exception's class name for the operator, after them)."""
    import requests

    if isinstance(exc, requests.Timeout):
        words = f"{_TIMEOUT:g} 秒内无应答"
    elif isinstance(exc, requests.ConnectionError):
        words = "无法连接"
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        words = f"应答 HTTP {exc.response.status_code}"
    elif isinstance(exc, ValueError):
        words = "应答不是有效的 JSON"
    else:
        words = "请求失败"
    return f"{words}（{type(exc).__name__}）"


class OidcError(Exception):
    """A sign-in that did not end in a session: `reason` is a code for the audit trail, the message Chinese."""

    def __init__(self, reason: str, message: str, claim: str | None = None, person: str | None = None):
        super().__init__(message)
        self.reason, self.message, self.claim, self.person = reason, message, claim, person


@dataclass(frozen=True)
class SignedIn:
    person: Person
    claim: str  # the claim's value the person was found by


def enabled() -> bool:
    return get_settings().oidc_enabled


def provider_name() -> str:
    return get_settings().oidc_name


def redirect_uri() -> str:
    """Where the provider sends the browser back (register it at the provider as the client's redirect URI)."""
    return get_settings().public_base + CALLBACK_PATH


def _client(metadata: dict[str, Any] | None = None):
    from authlib.integrations.requests_client import OAuth2Session

    st = get_settings()
    secret = st.oidc_client_secret.get_secret_value() if st.oidc_client_secret else None
    methods = (metadata or {}).get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth_method = "client_secret_basic" if secret else "none"
    if secret and "client_secret_basic" not in methods and "client_secret_post" in methods:
        auth_method = "client_secret_post"
    client = OAuth2Session(
        client_id=st.oidc_client_id,
        client_secret=secret,
        scope="openid profile",
        redirect_uri=redirect_uri(),
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )
    client.trust_env = False  # the provider is reached directly, never through a proxy from the environment
    return client


def discovery(force: bool = False) -> dict[str, Any]:
    """The provider's discovery document (kept for an hour); its issuer must be the configured one."""
    import requests

    issuer = (get_settings().oidc_issuer or "").rstrip("/")
    cached = _discovery.get(issuer)
    if cached and not force and time.monotonic() - cached[0] < _DISCOVERY_TTL:
        return cached[1]
    url = issuer + "/.well-known/openid-configuration"
    try:
        with requests.Session() as c:
            c.trust_env = False
            r = c.get(url, timeout=_TIMEOUT)
            r.raise_for_status()
            meta = r.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError(
            "provider_unreachable", f"无法读取身份认证服务的配置（{url}）：{_why(exc)}，请稍后再试或联系管理员"
        ) from None
    if not isinstance(meta, dict) or str(meta.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError(
            "provider_misconfigured",
            f"身份认证服务的配置与 SHIXIAN_OIDC_ISSUER 不符（其 issuer 为“{meta.get('issuer') if isinstance(meta, dict) else '?'}”），"
            "请管理员核对",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not meta.get(key):
            raise OidcError("provider_misconfigured", f"身份认证服务的配置缺少 {key}，请管理员核对")
    _discovery[issuer] = (time.monotonic(), meta)
    return meta


def begin(next_path: str) -> tuple[str, str]:
    """The provider's authorization URL to send the browser to, and the pending-flow cookie's value."""
    from authlib.common.security import generate_token

    if not enabled():
        raise OidcError("not_configured", "本系统未配置统一身份认证，请用人员编号和密码登录")
    meta = discovery()
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    with _client(meta) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_path, "at": int(time.time())}
    return url, base64.urlsafe_b64encode(json.dumps(flow).encode()).decode()


def _flow(cookie: str | None) -> dict[str, Any]:
    if not cookie:
        raise OidcError("bad_state", "登录请求已过期或不是从本浏览器发起的（缺少登录状态），请返回登录页重新登录")
    try:
        flow = json.loads(base64.urlsafe_b64decode(cookie.encode()))
        if not isinstance(flow, dict) or not all(isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier")):
            raise ValueError("incomplete flow")
    except Exception:
        raise OidcError("bad_state", "登录状态无法识别，请返回登录页重新登录") from None
    if time.time() - float(flow.get("at", 0)) > FLOW_MAX_SECONDS:
        raise OidcError("bad_state", "登录请求已超过 10 分钟未完成，已失效，请返回登录页重新登录")
    return flow


def next_of(cookie: str | None) -> str:
    try:
        return str(_flow(cookie).get("next") or "/")
    except OidcError:
        return "/"


def finish(params: dict[str, str], cookie: str | None) -> SignedIn:
    """The person the provider's callback (`params`: its query) signs in; OidcError naming what went wrong."""
    if not enabled():
        raise OidcError("not_configured", "本系统未配置统一身份认证，请用人员编号和密码登录")
    flow = _flow(cookie)
    if not hmac.compare_digest(params.get("state", "").encode(), flow["state"].encode()):
        raise OidcError("bad_state", "登录状态校验失败（state 不符）：该回调不是本浏览器发起的登录，未登录")
    if params.get("error"):
        code = params["error"][:64]
        words = PROVIDER_ERRORS.get(code, "身份认证服务拒绝了登录")
        raise OidcError("provider_error", f"身份认证服务未完成登录：{words}（{code}）")
    if not params.get("code"):
        raise OidcError("provider_error", "身份认证服务的回调中没有授权码，未登录")
    meta = discovery()
    if meta.get("authorization_response_iss_parameter_supported") and params.get("iss"):
        if params["iss"].rstrip("/") != str(meta["issuer"]).rstrip("/"):  # RFC 9207: a mix-up attack
            raise OidcError("provider_error", "回调来自另一个身份认证服务（iss 不符），未登录")
    claims = _claims(meta, params["code"], flow)
    return _signed_in(claims)


def _claims(meta: dict[str, Any], code: str, flow: dict[str, Any]) -> dict[str, Any]:
    import requests
    from authlib.common.errors import AuthlibBaseError

    with _client(meta) as client:
        try:
            token = client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=flow["verifier"],
                grant_type="authorization_code",
                timeout=_TIMEOUT,
            )
        except AuthlibBaseError as exc:
            err = str(getattr(exc, "error", "") or "")
            words = PROVIDER_ERRORS.get(err, "身份认证服务拒绝了授权码")
            raise OidcError("provider_error", f"换取身份令牌失败：{words}（{err or type(exc).__name__}）") from None
        except requests.RequestException as exc:
            raise OidcError("provider_unreachable", f"无法连接身份认证服务换取令牌：{_why(exc)}") from None
        if "id_token" not in token:
            raise OidcError("token_invalid", "身份认证服务未返回身份令牌（id_token），未登录")
        claims = _id_token_claims(client, meta, token, flow["nonce"])
        claim = get_settings().oidc_claim
        if claim not in claims and meta.get("userinfo_endpoint"):
            # A conforming provider puts scope claims in the UserInfo answer, not the ID token (OIDC Core §5.4).
            try:
                r = client.get(meta["userinfo_endpoint"], timeout=_TIMEOUT)
                r.raise_for_status()
                info = r.json()
            except (requests.RequestException, ValueError) as exc:
                raise OidcError("provider_unreachable", f"无法读取身份认证服务的用户信息：{_why(exc)}") from None
            if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
                raise OidcError("token_invalid", "用户信息与身份令牌不属于同一账号（sub 不符），未登录")
            claims = {**info, **claims}
    return claims


def _id_token_claims(client, meta: dict[str, Any], token: dict[str, Any], nonce: str) -> dict[str, Any]:
    import requests
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet
    from joserfc.jws import JWSRegistry

    algs = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = [a for a in algs if a != "none"]
    try:
        r = client.get(meta["jwks_uri"], withhold_token=True, timeout=_TIMEOUT)
        r.raise_for_status()
        keys = KeySet.import_key_set(r.json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=algs, registry=JWSRegistry(algorithms=algs))
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [meta["issuer"]]}},
            {"nonce": nonce, "client_id": get_settings().oidc_client_id, "access_token": token.get("access_token")},
        )
        claims.validate(leeway=120)
    except requests.RequestException as exc:
        raise OidcError("provider_unreachable", f"无法读取身份认证服务的签名公钥：{_why(exc)}") from None
    except (JoseError, ValueError, KeyError) as exc:
        raise OidcError("token_invalid", f"身份令牌校验失败（{type(exc).__name__}），未登录") from None
    except Exception as exc:  # authlib's claim errors (issuer, audience, nonce, expiry)
        raise OidcError(
            "token_invalid", f"身份令牌校验失败（{getattr(exc, 'error', type(exc).__name__)}），未登录"
        ) from None
    return dict(claims)


def person_for_claim(value: str) -> Person | None:
    """The directory's person for the provider's claim value: the one whose `oidc` field is it, else (only with
    SHIXIAN_OIDC_MATCH_ID) the one whose id is it (a person whose `oidc` names another account is never found by id)."""
    from domain.engine import engine

    people = engine().directory.people
    by_field = [p for p in people.values() if p.oidc == value]
    if by_field:
        return by_field[0]
    # By id only when the operator says the claim cannot be chosen by its holder (SHIXIAN_OIDC_MATCH_ID):
    # preferred_username is neither unique nor stable (OIDC Core §5.7), so an account named "admin" at the
    # provider must not become the person "admin".
    if not get_settings().oidc_match_id:
        return None
    p = people.get(value)
    return p if p is not None and p.oidc in (None, value) else None


def _signed_in(claims: dict[str, Any]) -> SignedIn:
    from services.access import principal_for_person
    from store.accounts import is_disabled
    from store.db import session

    claim = get_settings().oidc_claim
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcError("no_claim", f"身份认证服务未提供“{claim}”（SHIXIAN_OIDC_CLAIM），无法确定人员，未登录")
    value = value.strip()
    person = person_for_claim(value)
    if person is None:
        raise OidcError(
            "unknown_person",
            f"统一身份认证账号“{value}”未对应本系统的任何人员，未登录。"
            f'请管理员在部门与人员名册中为该人员登记 oidc = "{value}"。',
            claim=value,
        )
    with session() as s:
        disabled = is_disabled(s, person.id)
    if disabled:
        raise OidcError(
            "disabled", f"人员 {person.name}（{person.id}）的账号已停用，未登录。", claim=value, person=person.id
        )
    if principal_for_person(person.id) is None:
        raise OidcError(
            "no_role", f"人员 {person.name}（{person.id}）没有可登录的角色，未登录。", claim=value, person=person.id
        )
    return SignedIn(person=person, claim=value)
