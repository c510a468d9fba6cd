"""The audit trail's use cases: record an action, search and export records, purge expired ones, verify.

Who may read it: the admin role only (管理员 acts as 审计管理员 here; the product has no separate auditor role
yet). Supervisors and the others get a refusal (403 on the page). The server's operator reads it with
`shixian audit` like every CLI command (the shell account on the server is the trust boundary).
Nobody can edit or delete a record through the product: there is no such use case (store/audit.py).
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from domain import labels
from domain.notice_text import beijing_text
from domain.settings import get_settings
from domain.shanghai import SHANGHAI
from store import audit as store_audit
from store.audit import AuditRecord, Filter
from store.db import session

if TYPE_CHECKING:
    from services.access import Principal

READERS = ("admin", "operator")  # operator: the CLI at the server (Actor.cli), never a token or a page


class AuditAccessError(PermissionError):
    """The viewer may not read the audit trail (the page answers 403 with this text)."""


@dataclass(frozen=True)
class Actor:
    """Who acts and through which door: id (person, token:<id>, os:<user>), role, channel, client address."""

    id: str
    role: str
    channel: str  # web / api / cli / system
    client: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the server's shell (命令行): the OS account, on this host."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            user = "unknown"
        return cls(f"os:{user}", "operator", "cli", socket.gethostname())


SYSTEM = Actor("system", "system", "system")


def record(
    actor: Actor,
    action: str,
    *,
    object: str | None = None,
    department: str | None = None,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    db=None,
) -> AuditRecord:
    """Append one record for `actor` (its own transaction: the action itself has already committed)."""
    if action not in labels.AUDIT_ACTIONS:
        raise ValueError(f"未知的审计操作代码：{action}")
    with session(db) as s:
        return store_audit.append(
            s,
            actor=actor.id,
            role=actor.role,
            channel=actor.channel,
            action=action,
            object=object,
            department=department,
            outcome=outcome,
            client=actor.client,
            detail=detail,
        )


# ------------------------------------------------------------------------------ reading


def require_reader(role: str | None) -> None:
    if role not in READERS:
        have = labels.ROLES.get(role or "", role or "未登录")
        raise AuditAccessError(f"无权查看审计记录：当前角色为{have}，需要管理员角色")


class AuditQueryError(ValueError):
    """A filter value is not valid (the message names the field)."""


def parse_filter(
    since: str | None = None,
    until: str | None = None,
    person: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    department: str | None = None,
) -> Filter:
    """A filter from the page's or the CLI's values: dates (Asia/Shanghai days, both ends included)."""
    from domain.limits import parse_iso_day

    def day(value: str | None, field: str) -> dt.date | None:
        if not value:
            return None
        try:
            return parse_iso_day(value.strip())
        except ValueError as exc:
            raise AuditQueryError(f"{field}：{exc}") from None

    start, end = day(since, "起始日期"), day(until, "截止日期")
    if start and end and end < start:
        raise AuditQueryError(f"截止日期 {end} 早于起始日期 {start}")
    if action and action not in labels.AUDIT_ACTIONS:
        raise AuditQueryError(f"未知的操作：{action}（可用：{'、'.join(labels.AUDIT_ACTIONS)}）")
    if outcome and outcome not in labels.AUDIT_OUTCOMES:
        raise AuditQueryError(f"未知的结果：{outcome}（可用：success 成功、failure 失败）")
    midnight = dt.time(0, 0)
    return Filter(
        since=dt.datetime.combine(start, midnight, SHANGHAI) if start else None,
        until=dt.datetime.combine(end + dt.timedelta(days=1), midnight, SHANGHAI) if end else None,
        actor=(person or "").strip() or None,
        action=action or None,
        outcome=outcome or None,
        department=(department or "").strip() or None,
    )


@dataclass
class AuditRow:
    """A record as people read it: Shanghai time, Chinese words for every code."""

    id: int
    at: str  # YYYY-MM-DD HH:MM:SS (北京时间)
    actor: str
    actor_name: str
    role: str
    channel: str
    action: str
    action_code: str
    object: str
    department: str
    outcome: str
    outcome_code: str
    client: str
    detail: str
    department_code: str = ""  # the id (the exports' last column); `department` is its name


_DETAIL_WORDS = {
    "type": labels.EVENT_TYPES,
    "role": labels.ROLES,
    "action": labels.AUDIT_ACTIONS,
    "outcome": labels.AUDIT_OUTCOMES,
}


def _detail_text(detail: dict[str, Any], departments: dict[str, str] | None = None) -> str:
    """`键：值` pairs in Chinese (codes as their words), in a fixed order."""
    parts = []
    for k, v in sorted(detail.items()):
        if v in ("", None):
            continue
        words = _DETAIL_WORDS.get(k) or (departments if k in ("scope", "department") else None)
        shown = words.get(v, v) if words and isinstance(v, str) else v
        parts.append(f"{labels.label(labels.AUDIT_DETAIL, k)}：{shown}")
    return "；".join(parts)


def row_view(
    r: AuditRecord, names: dict[str, str] | None = None, departments: dict[str, str] | None = None
) -> AuditRow:
    names, departments = names or {}, departments or {}
    return AuditRow(
        id=r.id,
        at=beijing_text(r.at, seconds=True),
        actor=r.actor,
        actor_name=names.get(r.actor, ""),
        role=labels.label(labels.AUDIT_ROLES, r.role),
        channel=labels.label(labels.AUDIT_CHANNELS, r.channel),
        action=labels.label(labels.AUDIT_ACTIONS, r.action),
        action_code=r.action,
        object=r.object or "",
        department=departments.get(r.department or "", r.department or ""),
        outcome=labels.label(labels.AUDIT_OUTCOMES, r.outcome),
        outcome_code=r.outcome,
        client=r.client or "",
        detail=_detail_text(r.detail or {}, departments),
        department_code=r.department or "",
    )


def _directory_names() -> tuple[dict[str, str], dict[str, str]]:
    try:
        from domain.engine import engine

        d = engine().directory
    except Exception:  # a broken departments.toml must not hide the audit trail
        return {}, {}
    return {p.id: p.name for p in d.people.values()}, {k: v.name for k, v in d.departments.items()}


@dataclass
class Page:
    rows: list[AuditRow]
    total: int
    next_before: int | None  # pass as before_id for the next (older) page


def reader_filter(who: Principal | str | None, f: Filter) -> Filter:
    """`f` confined to what `who` may read: the operator (a role, the CLI) every record; an admin scoped to a
    node only the records of its subtree's departments (services.access.read_scope, once; a department
    filter outside it: 403 naming the node)."""
    role = who if who is None or isinstance(who, str) else who.role
    require_reader(role)
    if who is None or isinstance(who, str):
        return f
    from services.access import read_scope

    sc = read_scope(who, department=f.department, what="查看审计记录", roles=READERS)
    return replace(f, departments=sc.filter)


def department_choices(who: Principal) -> dict[str, str]:
    """The departments (id → name) the page's 部门 filter offers `who`: those of their scope only."""
    from services.access import visible_departments

    _, names = _directory_names()
    seen = visible_departments(who)
    return {k: v for k, v in names.items() if seen is None or k in seen}


def search(who: Principal | str | None, f: Filter, *, before_id: int | None = None, limit: int = 50, db=None) -> Page:
    """A page of records, newest first (`who`: the reader, a Principal, or the operator's role)."""
    f = reader_filter(who, f)
    names, depts = _directory_names()
    with session(db) as s:
        rows = store_audit.search(s, f, before_id=before_id, limit=limit + 1)
        total = store_audit.count(s, f)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([row_view(r, names, depts) for r in rows], total, rows[-1].id if more and rows else None)


def export_rows(who: Principal | str | None, f: Filter, db=None) -> Iterator[AuditRow]:
    """Every matching record `who` may read (reader_filter), oldest first (the export files)."""
    f = reader_filter(who, f)  # refused here, before the caller writes a file
    names, depts = _directory_names()

    def rows() -> Iterator[AuditRow]:
        with session(db) as s:
            for r in store_audit.iter_all(s, f):
                yield row_view(r, names, depts)

    return rows()


def filter_detail(f: Filter) -> dict[str, Any]:
    """What an export covered, for its own audit record."""
    out: dict[str, Any] = {}
    for k in ("since", "until"):
        v = getattr(f, k)
        if v is not None:
            out[k] = v.astimezone(SHANGHAI).isoformat()
    for k in ("actor", "action", "outcome", "department"):
        if getattr(f, k):
            out[k] = getattr(f, k)
    return out


# ------------------------------------------------------------------------------ retention and integrity


def purge(actor: Actor = SYSTEM, db=None, now: dt.datetime | None = None) -> AuditRecord | None:
    """Delete what is older than SHIXIAN_AUDIT_RETENTION_DAYS (default and minimum 180 days)."""
    days = get_settings().audit_retention_days
    with session(db) as s:
        return store_audit.purge(
            s, days, actor=actor.id, role=actor.role, channel=actor.channel, client=actor.client, now=now
        )


def verify(db=None) -> store_audit.Verification:
    with session(db) as s:
        return store_audit.verify(s)
