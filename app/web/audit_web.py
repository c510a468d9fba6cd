"""Audit hooks of the web surface: who acts (the signed-in person or the token), through which door (page or
API) and from which address; each hook in the pages and the API is one call of `audit`."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from services.access import Principal
from services.audit import Actor, record


def client_of(request: Request) -> str | None:
    # Behind a reverse proxy on 127.0.0.1, uvicorn already puts X-Forwarded-For here (forwarded_allow_ips).
    return request.client.host if request.client else None


UNKNOWN_PERSON = "（未知人员）"


def _claimed(person: str | None) -> str:
    """A name typed at sign-in is kept only when it is a person of the directory: anything else may be a
    password typed into the wrong field."""
    if not person:
        return "anonymous"
    try:
        from domain.engine import engine

        return person if person in engine().directory.people else UNKNOWN_PERSON
    except Exception:  # a broken directory: keep nothing typed
        return UNKNOWN_PERSON


def actor_of(request: Request, who: Principal | None, person: str | None = None) -> Actor:
    """`person`: who a sign-in claimed to be, before anyone is signed in."""
    if who is None:
        channel = "api" if request.url.path.startswith("/api") else "web"
        return Actor(_claimed(person), "", channel, client_of(request))
    # a token is a machine's (API); a session is a person's browser, also when it downloads through /api
    return Actor(who.actor, who.role, "api" if who.token_id else "web", client_of(request))


def audit(request: Request, who: Principal | None, action: str, *, person: str | None = None, **kw: Any) -> None:
    record(actor_of(request, who, person), action, **kw)


def sign_in_failed(request: Request, person: str, reason: str) -> None:
    audit(request, None, "auth.sign_in", person=person, outcome="failure", detail={"reason": reason})
