"""API tokens: stored hashed, looked up by a public id prefix.

A token reads ``sx_<id>_<secret>``: ``id`` (10 hex chars) is the row's primary key and may appear in
logs; ``secret`` (43 url-safe chars, 256 bits) is only ever shown once, at creation. The table keeps
``sha256(id + ":" + secret)``; verification is a primary-key lookup plus a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, col, select

from domain import labels
from store.models import UTCDateTime, utcnow

ROLES = ("liaison", "supervisor", "assessor", "admin")
ROLE_LABELS = {r: labels.ROLES[r] for r in ROLES}
PREFIX = "sx_"


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: str = Field(primary_key=True)
    hash: str
    role: str
    department: str | None = None
    person: str | None = None
    label: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))

    @property
    def actor(self) -> str:
        """Who a write by this token is attributed to: the person, else the token itself."""
        return self.person or f"token:{self.id}"


def _hash(token_id: str, secret: str) -> str:
    return hashlib.sha256(f"{token_id}:{secret}".encode()).hexdigest()


def ensure_table(engine) -> None:
    """The token table is part of the migrated schema."""
    from store.db import init_db

    init_db(engine)


def create_token(
    session: Session, role: str, department: str | None = None, person: str | None = None, label: str = ""
) -> tuple[str, ApiToken]:
    """Store a new token; returns (the plain token — shown once —, its row)."""
    if role not in ROLES:
        raise ValueError(f"未知角色“{role}”（可用：{'、'.join(ROLES)}）")
    if role == "liaison" and not department:
        raise ValueError("联络员令牌必须指定 --department 部门")
    token_id = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    row = ApiToken(
        id=token_id,
        hash=_hash(token_id, secret),
        role=role,
        department=department or None,
        person=person or None,
        label=label,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return f"{PREFIX}{token_id}_{secret}", row


def verify(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented token, or None (malformed, unknown, wrong secret, revoked)."""
    token = (token or "").strip()
    if not token.startswith(PREFIX):
        return None
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not token_id or not secret:
        return None
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.hash, _hash(token_id, secret)):
        return None
    return row


def revoke(session: Session, token_id: str) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    return True


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())
