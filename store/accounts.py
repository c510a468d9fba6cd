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
from sqlalchemy import Column, Integer, Text, UniqueConstraint, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from domain import passwords as _passwords
from store.models import UTCDateTime, utcnow
from store.scope import Departments, where_departments

THROTTLE_FAILURES = 10  # per address in THROTTLE_WINDOW: the address is locked
THROTTLE_WINDOW = timedelta(minutes=15)
# Per person no lock (anyone could lock anyone out): after PERSON_FREE_FAILURES in the window each try waits
# twice as long after the last failure, up to PERSON_MAX_DELAY; the right password works after the wait.
PERSON_FREE_FAILURES = 3
PERSON_MAX_DELAY = timedelta(seconds=60)
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
    # the last successful sign-in and the failures since, shown to the person at the next one
    last_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_login_from: str | None = None
    failed_logins: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


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
    # 督办单 (migration 0011_urge): numbered per jurisdiction (the top unit of the department) and year, a
    # colour by how overdue the item was (config/urge.toml), and the department's 办理情况 reply. NULL on rows
    # written before the three-colour practice.
    jurisdiction: str | None = Field(default=None)
    year: int | None = Field(default=None)
    number: int | None = Field(default=None)
    colour: str | None = Field(default=None)
    overdue_working_days: int | None = Field(default=None)
    reply: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    replied_by: str | None = Field(default=None)
    replied_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    __table_args__ = (UniqueConstraint("jurisdiction", "year", "number", name="uq_urge_jurisdiction_year_number"),)


# ------------------------------------------------------------------------------ expiry settings
def idle_timeout(person: str | None = None) -> timedelta:
    """The person's idle timeout: the shortest of their roles' (SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE)."""
    from domain.config import ConfigError
    from domain.engine import engine
    from domain.settings import get_settings

    settings = get_settings()
    roles: tuple[str, ...] = ()
    if person is not None and settings.session_idle_hours_by_role:
        try:
            p = engine().directory.people.get(person)
        except ConfigError:
            p = None
        roles = p.roles if p is not None else ()
    hours = min((settings.idle_hours_for(r) for r in roles), default=settings.session_idle_hours)
    return timedelta(hours=hours)


def absolute_timeout() -> timedelta:
    from domain.settings import get_settings

    return timedelta(hours=get_settings().session_max_hours)


# ------------------------------------------------------------------------------ passwords
PasswordError = _passwords.PasswordError
MIN_PASSWORD = _passwords.MIN_LENGTH
PASSWORD_HISTORY = _passwords.HISTORY


def check_password_strength(password: str, person: str | None = None) -> None:
    """The 等保 2.0 rules of domain/passwords.py (the history rule is checked in set_password)."""
    _passwords.check_strength(password, person)


class PasswordHistory(SQLModel, table=True):
    """The argon2 hashes of a person's earlier passwords: a new one may not repeat the last HISTORY."""

    __tablename__ = "password_history"

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(index=True)
    password_hash: str
    set_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


def _matches(hash_: str | None, password: str) -> bool:
    if not hash_:
        return False
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def was_used(s: Session, person: str, password: str) -> bool:
    """Is `password` the person's current one or one of their last PASSWORD_HISTORY?"""
    hashes = list(
        s.exec(
            select(PasswordHistory.password_hash)
            .where(PasswordHistory.person == person)
            .order_by(col(PasswordHistory.id).desc())
            .limit(PASSWORD_HISTORY)
        ).all()
    )
    cred = s.get(Credential, person)
    if cred is not None and cred.password_hash and cred.password_hash not in hashes:  # set before the history
        hashes = [cred.password_hash, *hashes[: PASSWORD_HISTORY - 1]]
    return any(_matches(h, password) for h in hashes)


def set_password(s: Session, person: str, password: str) -> None:
    check_password_strength(password, person)
    if was_used(s, person, password):
        raise _passwords.reuse_error()
    row = s.get(Credential, person) or Credential(person=person)
    row.password_hash = _hasher.hash(password)
    s.add(PasswordHistory(person=person, password_hash=row.password_hash))
    old = s.exec(
        select(PasswordHistory.id)
        .where(PasswordHistory.person == person)
        .order_by(col(PasswordHistory.id).desc())
        .offset(PASSWORD_HISTORY)
    ).all()
    row.disabled_at = None
    row.updated_at = utcnow()
    s.add(row)
    if old:  # only the last HISTORY are kept (and checked)
        s.exec(delete(PasswordHistory).where(col(PasswordHistory.id).in_(old)))
    end_sessions(s, person, commit=False)  # a new password signs the old sessions out
    s.commit()


def is_disabled(s: Session, person: str) -> bool:
    """Has the person's account been disabled (a person without a credential is not)?"""
    cred = s.get(Credential, person)
    return cred is not None and cred.disabled_at is not None


def disable(s: Session, person: str) -> bool:
    row = s.get(Credential, person) or Credential(person=person)
    was = row.disabled_at is None and row.password_hash is not None
    row.disabled_at = utcnow()
    row.password_hash = None
    row.updated_at = utcnow()
    s.add(row)
    end_sessions(s, person, commit=False)
    from store.tokens import revoke_person_tokens

    revoke_person_tokens(s, person)  # a disabled person's machines stop too
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
    """When sign-in may be tried again: the address locked (10 failures in 15 minutes), or the person's
    growing delay after their last failure. The person is never locked."""
    now = now or utcnow()
    until = [t for t in (address_locked_until(s, client, now), person_delay_until(s, person, now)) if t]
    return max(until) if until else None


def _failures(s: Session, who, value: str, since: datetime, limit: int) -> list[datetime]:
    return list(
        s.exec(
            select(LoginAttempt.at)
            .where(col(who) == value, col(LoginAttempt.ok).is_(False), col(LoginAttempt.at) > since)
            .order_by(col(LoginAttempt.at).desc())
            .limit(limit)
        ).all()
    )


def address_locked_until(s: Session, client: str, now: datetime | None = None) -> datetime | None:
    now = now or utcnow()
    times = _failures(s, LoginAttempt.client, client, now - THROTTLE_WINDOW, THROTTLE_FAILURES)
    if len(times) >= THROTTLE_FAILURES:
        return min(times) + THROTTLE_WINDOW  # free once the oldest of the last 10 leaves the window
    return None


def person_delay(failures: int) -> timedelta:
    """The wait after a person's n-th failure in the window: none, then 1 s, 2 s, 4 s … up to a minute."""
    if failures < PERSON_FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - PERSON_FREE_FAILURES, 16)), PERSON_MAX_DELAY)


def person_delay_until(s: Session, person: str, now: datetime | None = None) -> datetime | None:
    now = now or utcnow()
    times = _failures(s, LoginAttempt.person, person, now - THROTTLE_WINDOW, 64)
    if not times:
        return None
    t = max(times) + person_delay(len(times))
    return t if t > now else None


def note_sign_in(s: Session, person: str, client: str, ok: bool) -> tuple[datetime | None, str | None, int]:
    """Keep the person's last sign-in and the failures since. On success returns the previous sign-in
    (time, address) and the failures in between, to be shown to the person; then starts over."""
    row = s.get(Credential, person)
    if row is None:
        return None, None, 0
    before = (row.last_login_at, row.last_login_from, row.failed_logins)
    if ok:
        row.last_login_at, row.last_login_from, row.failed_logins = utcnow(), client[:100], 0
    else:
        row.failed_logins += 1
    s.add(row)
    s.commit()
    return before


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
    if now - row.last_seen_at > idle_timeout(row.person) or now - row.created_at > absolute_timeout():
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
    check_password_strength(password, row.person)
    if was_used(s, row.person, password):
        raise _passwords.reuse_error()
    row.used_at = utcnow()
    s.add(row)
    s.commit()
    set_password(s, row.person, password)
    return row.person


# ------------------------------------------------------------------------------ urges
def add_urge(
    s: Session,
    item_id: str,
    department: str,
    by: str,
    note: str,
    *,
    jurisdiction: str | None = None,
    year: int | None = None,
    colour: str | None = None,
    overdue_working_days: int | None = None,
) -> Urge:
    """Store one urge; with `jurisdiction` and `year` it takes the next 督办单 number of that pair (two
    supervisors urging at once: the unique index refuses the second, which takes the number after)."""
    for _ in range(20):
        number = None
        if jurisdiction is not None and year is not None:
            top = s.exec(
                select(func.max(Urge.number)).where(Urge.jurisdiction == jurisdiction, Urge.year == year)
            ).one()
            number = (top or 0) + 1
        row = Urge(
            item_id=item_id,
            department=department,
            by=by,
            note=note,
            jurisdiction=jurisdiction,
            year=year,
            number=number,
            colour=colour,
            overdue_working_days=overdue_working_days,
        )
        s.add(row)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            continue
        s.refresh(row)
        return row
    raise RuntimeError("督办单号分配冲突，请重试")


def get_urge(s: Session, urge_id: int) -> Urge | None:
    return s.get(Urge, urge_id)


def reply_urge(s: Session, urge_id: int, by: str, text: str) -> Urge | None:
    """The department's 办理情况 on an urge (who, when); a later reply replaces the earlier one."""
    row = s.get(Urge, urge_id)
    if row is None:
        return None
    row.reply, row.replied_by, row.replied_at = text, by, utcnow()
    s.add(row)
    s.commit()
    s.refresh(row)
    return row


def recent_urges(s: Session, department: Departments = None, limit: int = 50) -> list[Urge]:
    """The newest urges (the board's 督办 list), of one department or all."""
    q = select(Urge).order_by(col(Urge.created_at).desc(), col(Urge.id).desc()).limit(limit)
    q = where_departments(q, Urge.department, None if department == "" else department)
    return list(s.exec(q).all())


def urges_for_item(s: Session, item_id: str) -> list[Urge]:
    return list(s.exec(select(Urge).where(Urge.item_id == item_id).order_by(col(Urge.created_at))).all())


def urge_counts(s: Session, department: Departments = None) -> dict[str, int]:
    q = select(Urge.department, func.count()).group_by(Urge.department)
    q = where_departments(q, Urge.department, None if department == "" else department)
    return {d: n for d, n in s.exec(q).all()}
