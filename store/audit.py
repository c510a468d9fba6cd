"""The audit trail (审计记录, 等保 2.0 三级): append-only records of who did what, when, from where.

- One row per action: sign-ins (success and failure, with the address), account and token changes, exports and
  downloads, review decisions, urges, period locks, calendar reloads, refused accesses.
- Append-only: this module has no update or delete path except `purge`, and the database refuses the rest
  itself (triggers made by migration 0008_audit): UPDATE always; DELETE (and TRUNCATE on PostgreSQL) unless the
  deleting transaction is the retention purge *and* the row is older than the legal minimum of 180 days
  (网络安全法第二十一条). The purge marks its transaction: on PostgreSQL the transaction-local setting
  ``shixian.audit_purge = on``; on SQLite the connection function ``shixian_audit_purge()`` (registered by
  store.db on every connection it opens, true only in the purging thread; a connection that lacks it, e.g. the
  sqlite3 shell, cannot delete at all).
- Tampering outside the product (a superuser dropping the trigger) is detectable: each row carries the hash of
  the previous one (``prev_hash``) and its own (``hash``, sha256 over the previous hash and the row's canonical
  JSON); ids are consecutive, assigned here as previous + 1 (a racing writer hits the primary key and retries),
  so a gap, an edited row or a re-linked chain shows in `verify`.
- ``at`` comes from one clock: the database server's on PostgreSQL (web replicas, workers and the CLI on other
  hosts share it), the machine's on SQLite (a local file: every writer is on that machine).
- ``detail`` never holds passwords, tokens, links or applicant data: `append` refuses such keys and token-like
  values (a programming error, not user input).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from domain.settings import AUDIT_MIN_RETENTION_DAYS
from domain.shanghai import SHANGHAI
from store.models import UTCDateTime, utcnow
from store.scope import Departments, where_departments

OUTCOMES = ("success", "failure")
GENESIS = "0" * 64  # prev_hash of the first record ever written
# Keys that must never reach an audit record (secrets; applicant data is dropped at ingest and never offered).
FORBIDDEN_KEYS = frozenset(
    {"password", "password2", "secret", "token", "csrf_token", "invite_link", "link", "session", "applicant"}
)
_TOKEN_LIKE = re.compile(r"sx_[0-9a-f]{10}_\S{20,}")
TOKEN_BLANKED = "sx_…（疑似令牌，已隐去）"
TEXT_MAX = 200  # actor, object, client: what is kept of them


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_action_at", "action", "at"),
        Index("ix_audit_record_actor_at", "actor", "at"),
        Index("ix_audit_record_department_at", "department", "at"),
    )

    # previous + 1, assigned by `append` (the chain's order); never reused
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str  # person id, token:<id>, os:<user> (CLI), system
    role: str = ""  # the actor's role then (labels.AUDIT_ROLES); "" = not signed in
    channel: str  # web / api / cli / system
    action: str  # labels.AUDIT_ACTIONS
    object: str | None = None  # what was acted on: person, token id, item, period, export scope
    department: str | None = None  # department scope of the action, when it has one
    outcome: str = "success"  # success / failure
    client: str | None = None  # client address (web, API); the host for the CLI
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str
    hash: str


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(r: AuditRecord) -> str:
    """sha256 over the previous record's hash and this record's canonical JSON (every column but ``hash``)."""
    body = [
        r.id,
        _iso(r.at),
        r.actor,
        r.role,
        r.channel,
        r.action,
        r.object,
        r.department,
        r.outcome,
        r.client,
        r.detail,
    ]
    canon = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{r.prev_hash}:{canon}".encode()).hexdigest()


def _check_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail as it may be kept. A forbidden key is a programming error and raises; text that looks like
    a token (someone typed or pasted one into a reason) is blanked out, never a reason to lose the record of
    an action that has already happened."""

    def walk(v: Any, path: str) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if str(k).lower() in FORBIDDEN_KEYS:
                    raise ValueError(f"审计记录不能包含 {path}{k}（密码、令牌、链接或申请人信息）")
                out[k] = walk(x, f"{path}{k}.")
            return out
        if isinstance(v, (list, tuple)):
            return [walk(x, path) for x in v]
        if isinstance(v, str):
            return _TOKEN_LIKE.sub(TOKEN_BLANKED, v)
        if isinstance(v, float):
            raise ValueError("审计记录的 detail 只记文字、整数和布尔值（浮点数的写法不唯一，哈希无法复核）")
        return v

    return walk(detail, "")


def _cut(value: str | None) -> str | None:
    if value is None:
        return None
    value = "".join(ch for ch in str(value) if ch >= " " and ch != "\x7f")
    return _TOKEN_LIKE.sub(TOKEN_BLANKED, value)[:TEXT_MAX]


def _clock(s: Session) -> datetime:
    if s.get_bind().dialect.name == "postgresql":
        return s.connection().execute(text("SELECT clock_timestamp()")).scalar_one()
    return utcnow()


def _build(s: Session, at: datetime | None, **values: Any) -> AuditRecord:
    """The next record of the chain (not yet added): id and prev_hash from the last one, then its hash."""
    last = s.exec(select(AuditRecord.id, AuditRecord.hash).order_by(col(AuditRecord.id).desc()).limit(1)).first()
    row = AuditRecord(
        id=(last[0] + 1) if last else 1, at=at or _clock(s), prev_hash=last[1] if last else GENESIS, hash="", **values
    )
    row.hash = record_hash(row)
    return row


def _values(
    actor: str,
    role: str,
    channel: str,
    action: str,
    object: str | None,
    department: str | None,
    outcome: str,
    client: str | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"未知的审计结果：{outcome}")
    detail = _check_detail(dict(detail or {}))
    return {
        "actor": _cut(actor) or "-",
        "role": role or "",
        "channel": channel,
        "action": action,
        "object": _cut(object),
        "department": department or None,
        "outcome": outcome,
        "client": _cut(client),
        "detail": detail,
    }


def append(
    s: Session,
    *,
    actor: str,
    role: str,
    channel: str,
    action: str,
    object: str | None = None,
    department: str | None = None,
    outcome: str = "success",
    client: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one record (committed). ``at`` is the database clock's now; passing it is for tests only."""
    values = _values(actor, role, channel, action, object, department, outcome, client, detail)
    for _attempt in range(20):
        row = _build(s, at, **values)
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # another writer took this id first: chain onto its record
            s.rollback()
            continue
        s.refresh(row)
        s.expunge(row)  # a snapshot: later commits of the session do not expire it
        return row
    raise RuntimeError("审计记录写入冲突过多，未能追加")


# ------------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class Filter:
    since: datetime | None = None  # at >= since
    until: datetime | None = None  # at < until
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    department: str | None = None
    # the reader's scope (store.scope; services.audit sets it from read_scope): None every record, else
    # only the records of those departments
    departments: Departments = None


def _where(q, f: Filter):
    if f.since is not None:
        q = q.where(col(AuditRecord.at) >= f.since)
    if f.until is not None:
        q = q.where(col(AuditRecord.at) < f.until)
    if f.actor:
        q = q.where(AuditRecord.actor == f.actor)
    if f.action:
        q = q.where(AuditRecord.action == f.action)
    if f.outcome:
        q = q.where(AuditRecord.outcome == f.outcome)
    if f.department:
        q = q.where(AuditRecord.department == f.department)
    return where_departments(q, AuditRecord.department, f.departments)


def search(s: Session, f: Filter, *, before_id: int | None = None, limit: int = 50) -> list[AuditRecord]:
    """Newest first; the next page starts before the last id of this one (keyset paging)."""
    q = _where(select(AuditRecord), f)
    if before_id is not None:
        q = q.where(col(AuditRecord.id) < before_id)
    return list(s.exec(q.order_by(col(AuditRecord.id).desc()).limit(limit)).all())


def count(s: Session, f: Filter) -> int:
    from sqlalchemy import func

    return int(s.exec(_where(select(func.count()).select_from(AuditRecord), f)).one())


def iter_all(s: Session, f: Filter, batch: int = 2000):
    """Every matching record, oldest first, read in batches (exports)."""
    after = 0
    while True:
        q = _where(select(AuditRecord), f).where(col(AuditRecord.id) > after)
        rows = list(s.exec(q.order_by(col(AuditRecord.id)).limit(batch)).all())
        if not rows:
            return
        yield from rows
        after = rows[-1].id


# ------------------------------------------------------------------------------ retention purge

_purging = threading.local()


def purging() -> int:
    """SQLite's ``shixian_audit_purge()``: 1 only while this thread runs `purge` (the trigger asks it)."""
    return 1 if getattr(_purging, "on", False) else 0


def purge(
    s: Session,
    retention_days: int,
    *,
    actor: str = "system",
    role: str = "system",
    channel: str = "system",
    client: str | None = None,
    now: datetime | None = None,
) -> AuditRecord | None:
    """Delete the records older than ``retention_days`` (≥ 180) and record that, in one transaction; returns the
    purge's own record (None: nothing was old enough).

    The only deletion there is. The database lets it through only for rows older than 180 days by its own
    clock, whatever ``now`` says. The purge record names where the chain now starts (`verify` checks it)."""
    if retention_days < AUDIT_MIN_RETENTION_DAYS:
        raise ValueError(
            f"审计记录至少保存 {AUDIT_MIN_RETENTION_DAYS} 天（《网络安全法》第二十一条），不能按 {retention_days} 天清理"
        )
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    last = s.exec(
        select(AuditRecord.id, AuditRecord.hash)
        .where(col(AuditRecord.at) < cutoff)
        .order_by(col(AuditRecord.id).desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    from sqlalchemy import func

    doomed = int(s.exec(select(func.count()).select_from(AuditRecord).where(col(AuditRecord.id) <= last[0])).one())
    detail = {"deleted": doomed, "through_id": int(last[0]), "through_hash": last[1]}
    detail.update(retention_days=retention_days, before=f"{cutoff.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}")
    # Built before the delete: it chains onto the head, which may itself be among the deleted.
    row = _build(s, None, **_values(actor, role, channel, "audit.purge", None, None, "success", client, detail))
    conn = s.connection()
    _purging.on = True
    try:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT set_config('shixian.audit_purge', 'on', true)"))  # this transaction only
        # By id: the chain is cut at one point, never with holes (ids and instants rise together).
        n = conn.execute(text("DELETE FROM audit_record WHERE id <= :last"), {"last": last[0]}).rowcount
        if n != doomed:
            raise RuntimeError(f"审计记录清理中途有变化（应删 {doomed} 条，实删 {n} 条），已撤销")
        s.add(row)
        s.commit()
    except Exception:
        s.rollback()
        raise
    finally:
        _purging.on = False
    s.refresh(row)
    s.expunge(row)
    return row


# ------------------------------------------------------------------------------ verification


@dataclass
class Verification:
    checked: int
    first_id: int | None
    last_id: int | None
    head: str | None  # the last record's hash: write it down elsewhere to detect a cut-off tail
    problems: list[str]


def verify(s: Session) -> Verification:
    """Recompute the chain: every hash, every link, consecutive ids; the oldest kept record may link to a purged
    one only when the latest purge record says the chain was cut just before it."""
    problems: list[str] = []
    prev: AuditRecord | None = None
    first: AuditRecord | None = None
    n = 0
    last_purge: AuditRecord | None = None
    for r in iter_all(s, Filter()):
        n += 1
        if first is None:
            first = r
        if r.hash != record_hash(r):
            problems.append(f"第 {r.id} 条：内容与其哈希不符（记录被改动）")
        if prev is not None:
            if r.id != prev.id + 1:
                problems.append(f"第 {prev.id} 条之后缺少第 {prev.id + 1}–{r.id - 1} 条（记录被删除）")
            if r.prev_hash != prev.hash:
                problems.append(f"第 {r.id} 条：与前一条（第 {prev.id} 条）的哈希链接不符")
        if r.action == "audit.purge" and r.outcome == "success":
            last_purge = r
        prev = r
    if first is not None and first.prev_hash != GENESIS:
        cut = (last_purge.detail or {}) if last_purge is not None else {}
        if first.id != int(cut.get("through_id", -2)) + 1 or first.prev_hash != cut.get("through_hash"):
            problems.append(f"最早的第 {first.id} 条之前的记录不在，且没有对应的过期清理记录（记录被删除）")
    return Verification(
        n, first.id if first else None, prev.id if prev else None, prev.hash if prev else None, problems
    )
