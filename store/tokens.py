"""API tokens: stored hashed, looked up by a public id prefix.

A token reads ``sx_<id>_<secret>``: ``id`` (10 hex chars) is the row's primary key and may appear in
logs; ``secret`` (43 url-safe chars, 256 bits) is only ever shown once, at creation. The table keeps
``sha256(id + ":" + secret)``; verification is a primary-key lookup plus a constant-time compare.
Every token expires (SHIXIAN_TOKEN_DAYS, default 90 days); a person's tokens are revoked when the person is
disabled (store.accounts.disable), and app.web.auth also refuses a token whose person is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, col, select

from domain import labels
from store.models import UTCDateTime, utcnow

ROLES = ("liaison", "head", "supervisor", "assessor", "admin")
DEPARTMENT_ROLES = ("liaison", "head")  # act for one department only
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
    expires_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

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
    session: Session,
    role: str,
    department: str | None = None,
    person: str | None = None,
    label: str = "",
    expires_days: int | None = None,
) -> tuple[str, ApiToken]:
    """Store a new token; returns (the plain token — shown once —, its row)."""
    from domain.settings import get_settings

    if role not in ROLES:
        raise ValueError(f"未知角色“{role}”（可用：{'、'.join(ROLES)}）")
    if role in DEPARTMENT_ROLES and not department:
        raise ValueError(f"{ROLE_LABELS[role]}令牌必须指定 --department 部门")
    days = get_settings().token_days if expires_days is None else expires_days
    if not 1 <= days <= 3650:
        raise ValueError(f"有效期 {days} 天无效：应为 1 至 3650 天")
    now = utcnow()
    token_id = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    row = ApiToken(
        id=token_id,
        hash=_hash(token_id, secret),
        role=role,
        department=department or None,
        person=person or None,
        label=label,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return f"{PREFIX}{token_id}_{secret}", row


def check(session: Session, token: str, now: datetime | None = None) -> tuple[ApiToken | None, str]:
    """(row, "ok") for a live token, else (the row if the secret matched, why not: "invalid" — malformed,
    unknown, wrong secret —, "revoked" or "expired")."""
    token = (token or "").strip()
    if not token.startswith(PREFIX):
        return None, "invalid"
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not token_id or not secret:
        return None, "invalid"
    row = session.get(ApiToken, token_id)
    if row is None or not hmac.compare_digest(row.hash, _hash(token_id, secret)):
        return None, "invalid"
    if row.revoked_at is not None:
        return row, "revoked"
    if row.expires_at <= (now or utcnow()):
        return row, "expired"
    return row, "ok"


def verify(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented token, or None (malformed, unknown, wrong secret, revoked, expired)."""
    row, state = check(session, token)
    return row if state == "ok" else None


def revoke(session: Session, token_id: str) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
    return True


def revoke_person_tokens(session: Session, person: str) -> int:
    """Revoke every live token of a person (the caller commits)."""
    rows = session.exec(select(ApiToken).where(ApiToken.person == person, col(ApiToken.revoked_at).is_(None))).all()
    for row in rows:
        row.revoked_at = utcnow()
        session.add(row)
    return len(rows)


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())
