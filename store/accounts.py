"""People's sign-in: password credentials, server-side sessions, failed-login log, invites, 督办 urges.

People themselves live in config/departments.toml; this module only keeps what the server must
remember about them. Secrets are never stored in the clear:
- passwords: argon2id hashes (argon2-cffi);
- session ids and invite tokens: sha256 of a 256-bit random value (the value exists only in the
  browser's cookie / the invite link), so a copy of the database signs nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Text, delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow

THROTTLE_FAILURES = 10
THROTTLE_WINDOW = timedelta(minutes=15)
INVITE_VALID = timedelta(hours=24)
MIN_PASSWORD = 10

_hasher = PasswordHasher()


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Credential(SQLModel, table=True):
    __tablename__ = "credential"

    person: str = Field(primary_key=True)  # person id of departments.toml
    password_hash: str | None = None
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True)
    person: str = Field(index=True)
    csrf: str  # per-session form token (not secret from the person, only from other sites)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(index=True)
    client: str = Field(index=True)
    ok: bool = False
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class Invite(SQLModel, table=True):
    __tablename__ = "invite"

    token_hash: str = Field(primary_key=True)
    person: str = Field(index=True)
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Urge(SQLModel, table=True):
    """A supervisor's 督办 of one item: kept in the item's timeline, counted per department."""

    __tablename__ = "urge"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    department: str = Field(index=True)
    by: str
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# ------------------------------------------------------------------------------ expiry settings
def idle_timeout() -> timedelta:
    from domain.settings import get_settings

    return timedelta(hours=get_settings().session_idle_hours)


def absolute_timeout() -> timedelta:
    from domain.settings import get_settings

    return timedelta(hours=get_settings().session_max_hours)


# ------------------------------------------------------------------------------ passwords
class PasswordError(ValueError):
    pass


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"密码至少 {MIN_PASSWORD} 个字符")
    if len(password) > 256:
        raise PasswordError("密码不能超过 256 个字符")


def set_password(s: Session, person: str, password: str) -> None:
    check_password_strength(password)
    row = s.get(Credential, person) or Credential(person=person)
    row.password_hash = _hasher.hash(password)
    row.disabled_at = None
    row.updated_at = utcnow()
    s.add(row)
    end_sessions(s, person, commit=False)  # a new password signs the old sessions out
    s.commit()


def disable(s: Session, person: str) -> bool:
    row = s.get(Credential, person) or Credential(person=person)
    was = row.disabled_at is None and row.password_hash is not None
    row.disabled_at = utcnow()
    row.password_hash = None
    row.updated_at = utcnow()
    s.add(row)
    end_sessions(s, person, commit=False)
    for inv in s.exec(select(Invite).where(Invite.person == person, col(Invite.used_at).is_(None))):
        inv.used_at = utcnow()
        s.add(inv)
    s.commit()
    return was


def verify_password(s: Session, person: str, password: str) -> bool:
    row = s.get(Credential, person)
    if row is None or row.password_hash is None or row.disabled_at is not None:
        _hasher.hash("timing")  # same cost whether or not the person has a password
        return False
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
        s.add(row)
        s.commit()
    return True


def has_password(s: Session, person: str) -> bool:
    row = s.get(Credential, person)
    return row is not None and row.password_hash is not None and row.disabled_at is None


# ------------------------------------------------------------------------------ throttling
def record_attempt(s: Session, person: str, client: str, ok: bool, now: datetime | None = None) -> None:
    now = now or utcnow()
    s.add(LoginAttempt(person=person, client=client, ok=ok, at=now))
    # Only the throttling window matters; a day of history is plenty and keeps the table small.
    s.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < now - timedelta(days=1)))
    s.commit()


def throttled_until(s: Session, person: str, client: str, now: datetime | None = None) -> datetime | None:
    """When sign-in may be tried again, if the person or the address has 10 failures in 15 minutes."""
    now = now or utcnow()
    since = now - THROTTLE_WINDOW
    until = None
    for who, value in ((LoginAttempt.person, person), (LoginAttempt.client, client)):
        times = s.exec(
            select(LoginAttempt.at)
            .where(col(who) == value, col(LoginAttempt.ok).is_(False), col(LoginAttempt.at) > since)
            .order_by(col(LoginAttempt.at).desc())
            .limit(THROTTLE_FAILURES)
        ).all()
        if len(times) >= THROTTLE_FAILURES:
            # Free again once the oldest of the last 10 failures leaves the window.
            t = min(times) + THROTTLE_WINDOW
            until = t if until is None else max(until, t)
    return until


# ------------------------------------------------------------------------------ sessions
def start_session(s: Session, person: str) -> tuple[str, WebSession]:
    sid = secrets.token_urlsafe(32)
    row = WebSession(id_hash=_sha(sid), person=person, csrf=secrets.token_urlsafe(32))
    s.add(row)
    # Sessions past their absolute lifetime can never come back: drop them.
    s.exec(delete(WebSession).where(col(WebSession.created_at) < utcnow() - absolute_timeout() - timedelta(days=1)))
    s.commit()
    s.refresh(row)
    return sid, row


def live_session(s: Session, sid: str, now: datetime | None = None) -> WebSession | None:
    """The session of a cookie value if it is neither ended, idle too long nor too old; touches it."""
    if not sid:
        return None
    now = now or utcnow()
    row = s.get(WebSession, _sha(sid))
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > idle_timeout() or now - row.created_at > absolute_timeout():
        row.ended_at = now
        s.add(row)
        s.commit()
        return None
    cred = s.get(Credential, row.person)
    if cred is None or cred.disabled_at is not None:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute at most
        row.last_seen_at = now
        s.add(row)
        s.commit()
    return row


def end_session(s: Session, sid: str) -> None:
    row = s.get(WebSession, _sha(sid)) if sid else None
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        s.add(row)
        s.commit()


def end_sessions(s: Session, person: str, commit: bool = True) -> None:
    for row in s.exec(select(WebSession).where(WebSession.person == person, col(WebSession.ended_at).is_(None))):
        row.ended_at = utcnow()
        s.add(row)
    if commit:
        s.commit()


# ------------------------------------------------------------------------------ invites
def create_invite(s: Session, person: str, by: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(Invite(token_hash=_sha(token), person=person, created_by=by, created_at=now, expires_at=now + INVITE_VALID))
    s.commit()
    return token


def open_invite(s: Session, token: str, now: datetime | None = None) -> Invite | None:
    row = s.get(Invite, _sha(token)) if token else None
    now = now or utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def use_invite(s: Session, token: str, password: str) -> str | None:
    """Set the password of the invite's person; the invite works once. Returns the person or None."""
    row = open_invite(s, token)
    if row is None:
        return None
    check_password_strength(password)
    row.used_at = utcnow()
    s.add(row)
    s.commit()
    set_password(s, row.person, password)
    return row.person


# ------------------------------------------------------------------------------ urges
def add_urge(s: Session, item_id: str, department: str, by: str, note: str) -> Urge:
    row = Urge(item_id=item_id, department=department, by=by, note=note)
    s.add(row)
    s.commit()
    s.refresh(row)
    return row


def urges_for_item(s: Session, item_id: str) -> list[Urge]:
    return list(s.exec(select(Urge).where(Urge.item_id == item_id).order_by(col(Urge.created_at))).all())


def urge_counts(s: Session, department: str | None = None) -> dict[str, int]:
    q = select(Urge.department, func.count()).group_by(Urge.department)
    if department:
        q = q.where(Urge.department == department)
    return {d: n for d, n in s.exec(q).all()}
