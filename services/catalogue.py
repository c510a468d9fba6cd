"""Catalogue duties (基层政务公开标准目录, 国办发〔2019〕54号): import a node's catalogue, list it, and serve the
rules its duties give to the engine.

- `plan` reads a file (domain.catalogue.read_catalogue) and compares it with the node's stored duties of that
  area: each row new / unchanged / changed, or the refused rows named (file, line, column, text). No writes.
- `apply` writes the plan only when no row is refused (all-or-nothing, like the ledger import); a re-import of
  the same file changes nothing; a changed row updates its duty and appends its history row.
- Access: admins and supervisors (and the server-side CLI operator) for the nodes of their own subtree only.
- `CatalogueRules`: the rule source registered with domain.engine (`duty_<node>_<id>` rules, rebuilt when the
  catalogue's version in the store changes), so the ingest, the workflows' activities and the pages see the
  same duties. Every version of a duty is a rule (`@<change id>` after a re-import changed it): new items start
  the current one, running items keep theirs (`build_rules`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from domain.catalogue import (
    Catalogue,
    CatalogueProblem,
    DutyRow,
    duty_name,
    duty_rule,
    duty_rule_id,
    period_of,
    read_catalogue,
)
from domain.config import config_dir
from domain.engine import engine
from domain.ledger import LedgerError
from domain.rules import Rule
from services.access import ApiError, Principal, forbidden, home_node
from store import catalogue as store
from store.db import database_url, get_engine, init_db, session

log = logging.getLogger("shixian.catalogue")
ROLES = ("admin", "supervisor")
CHECK_EVERY = 1.0  # seconds between two looks at the catalogue's version


class CatalogueRefused(ValueError):
    """The file cannot be imported (the message names why; nothing was written)."""


@dataclass(frozen=True)
class RowPlan:
    line: int
    seq: str
    name: str
    limit: str  # the row's 公开时限 text
    period: str  # how the engine counts it
    note: str
    status: str  # new / unchanged / changed
    changed: tuple[str, ...] = ()  # the fields that differ from the stored duty


@dataclass
class Plan:
    filename: str
    node: str
    area: str
    rows: list[RowPlan] = field(default_factory=list)
    problems: list[CatalogueProblem] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    def problem_lines(self) -> list[str]:
        return [p.message(self.filename) for p in self.problems]

    def summary(self) -> str:
        if self.problems:
            return f"{self.filename}: {len(self.problems)} 行被拒绝，未导入任何内容"
        verb = "已导入" if self.applied else "预览"
        return (
            f"{self.filename}（{self.area}，{self.node}）{verb}：新增 {self.count('new')}、有变更 "
            f"{self.count('changed')}、未变 {self.count('unchanged')}"
        )


def area_of(filename: str, area: str | None) -> str:
    return (area or Path(filename).stem).strip()


def check_access(who: Principal, node: str, what: str = "导入标准目录") -> None:
    """Admins and supervisors (and the CLI operator) of `node`'s subtree only (403 otherwise; 404 unknown)."""
    tree = engine().directory.tree
    if node not in tree.nodes:
        raise ApiError(404, "unknown_node", f"未知地区（节点）：{node}（见 config/jurisdictions.toml）")
    if who.role == "local":
        return
    if who.role not in ROLES:
        who.require(ROLES, what)
    home = home_node(who)
    if not tree.contains(home, node):
        raise forbidden(f"无权{what}：{tree.name(node)}不在{tree.name(home)}及其下级单位之内")


def _db():
    db = get_engine()
    init_db(db)
    return db


def _fingerprint(values: dict[str, str], unit, length, recurring, month, day) -> dict[str, Any]:
    return {"values": dict(values), "period": [unit, length, recurring, month, day]}


def _row_snapshot(row: DutyRow) -> dict[str, Any]:
    p = row.period
    return _fingerprint(row.values, p.unit, p.stored_length, p.recurring, p.month, p.day)


def _compare(cat: Catalogue, node: str, area: str, stored: dict[str, store.CatalogueDuty]) -> Plan:
    plan = Plan(cat.filename, node, area, problems=list(cat.problems), unknown=list(cat.unknown))
    for row in cat.rows:
        old = stored.get(row.seq)
        status, changed = "new", tuple[str, ...]()
        if old is not None:
            before, after = store.snapshot(old), _row_snapshot(row)
            diff = [k for k in row.values if before["values"].get(k, "") != after["values"][k]]
            if before["period"] != after["period"] and "limit" not in diff:
                diff.append("limit")
            changed = tuple(diff)
            status = "changed" if changed else "unchanged"
        plan.rows.append(
            RowPlan(
                row.line,
                row.seq,
                duty_name(row.values),
                row.values["limit"],
                row.period.text,
                row.period.note,
                status,
                changed,
            )
        )
    return plan


def _read(data: bytes, filename: str) -> Catalogue:
    try:
        return read_catalogue(data, filename)
    except LedgerError as exc:
        raise CatalogueRefused(str(exc)) from None


def plan(who: Principal, data: bytes, filename: str, node: str, area: str | None = None) -> Plan:
    """The preview: what an import of `data` would do (no writes)."""
    check_access(who, node)
    area = area_of(filename, area)
    cat = _read(data, filename)
    with session(_db()) as s:
        return _compare(cat, node, area, store.duties_of_area(s, node, area))


def apply(who: Principal, data: bytes, filename: str, node: str, area: str | None = None) -> Plan:
    """Import the file: every row a duty of `node` (all-or-nothing: any refused row and nothing is written)."""
    check_access(who, node)
    area = area_of(filename, area)
    cat = _read(data, filename)
    with session(_db()) as s:
        stored = store.duties_of_area(s, node, area)
        out = _compare(cat, node, area, stored)
        if not out.ok:
            return out
        for row, rp in zip(cat.rows, out.rows, strict=True):
            if rp.status == "unchanged":
                continue
            duty = stored.get(row.seq)
            before = store.snapshot(duty) if duty is not None else None
            if duty is None:
                duty = store.CatalogueDuty(node=node, area=area, seq=row.seq, name="")
            p = row.period
            duty.name = duty_name(row.values)
            duty.values = dict(row.values)
            duty.unit, duty.length, duty.recurring, duty.month, duty.day = (
                p.unit,
                p.stored_length,
                p.recurring,
                p.month,
                p.day,
            )
            duty.note = p.note
            store.save_duty(s, duty, by=who.actor, source=filename, before=before)
        s.commit()
    out.applied = True
    _source.refresh()
    return out


def duty_view(d: store.CatalogueDuty, version: int | None = None) -> dict[str, Any]:
    """One duty as listed; `version`: its rule's current version (current_version)."""
    p = period_of(d.unit, d.length, d.recurring, d.month, d.day)
    assert d.id is not None
    return {
        "id": d.id,
        "node": d.node,
        "area": d.area,
        "seq": d.seq,
        "name": d.name,
        "limit": d.values.get("limit", ""),
        "period": p.text,
        "note": d.note,
        "rule": duty_rule_id(d.node, d.id, version) if d.unit is not None else None,
        "basis": d.values.get("basis", ""),
        "subject": d.values.get("subject", ""),
    }


def list_duties(who: Principal, node: str) -> list[dict[str, Any]]:
    """The duties of `node` and of the nodes below it."""
    check_access(who, node, "查看标准目录")
    tree = engine().directory.tree
    nodes = {n for n in tree.nodes if tree.contains(node, n)}
    with session(_db()) as s:
        duties = store.list_duties(s, nodes)
        versions = store.change_ids(s, [d.id for d in duties if d.id is not None])
        return [duty_view(d, current_version(versions.get(d.id or 0, []))) for d in duties]


def history(who: Principal, duty_id: int) -> list[dict[str, Any]]:
    with session(_db()) as s:
        duty = store.get_duty(s, duty_id)
        if duty is None:
            raise ApiError(404, "unknown_duty", f"未知标准目录事项：{duty_id}")
        check_access(who, duty.node, "查看标准目录")
        return [
            {
                "at": c.at.isoformat(),
                "by": c.by,
                "action": c.action,
                "source": c.source,
                "before": c.before,
                "after": c.after,
            }
            for c in store.changes_of(s, duty_id)
        ]


def duty_refusal(duty_id: Any, department: str) -> str | None:
    """Why an item of `department` may not be registered against catalogue duty `duty_id` (None: it may):
    the duty must exist, have a clock, and belong to the department's node or a node above it."""
    directory = engine().directory
    with session(_db()) as s:
        duty = store.get_duty(s, int(duty_id)) if str(duty_id).isdigit() else None
    if duty is None:
        return f"未知标准目录事项 “{duty_id}”（shixian catalogue list 列出本地区的事项）"
    if duty.unit is None:
        return f"标准目录事项 {duty_id}（{duty.name}）为长期公开事项，无公开时限，无需登记"
    node = directory.node_of(department)
    if node is None or not directory.tree.contains(duty.node, node):
        return f"标准目录事项 {duty_id} 属于{directory.tree.name(duty.node)}，部门 {department} 不在其范围内"
    return None


def current_rule(duty_id: Any) -> str | None:
    """The id of the rule a new item of catalogue duty `duty_id` starts: the duty's version now in force (None:
    unknown or standing). The ingest compares it with its rule table, which may predate a re-import."""
    if not str(duty_id).isdigit():
        return None
    with session(_db()) as s:
        duty = store.get_duty(s, int(duty_id))
        if duty is None or duty.unit is None or duty.id is None:
            return None
        return duty_rule_id(duty.node, duty.id, current_version(store.change_ids(s, [duty.id])[duty.id]))


def duty_choices(who: Principal) -> dict[str, str]:
    """The duties with a clock `who` may register items against (id -> shown text): a liaison's, those of its
    department's node and the nodes above it; anyone else's, those of the nodes above, at and below its node."""
    directory = engine().directory
    tree = directory.tree
    own = who.write_scope
    at = directory.node_of(own) if own else home_node(who)
    if at is None or at not in tree.nodes:
        return {}
    nodes = {n for n in tree.nodes if tree.contains(n, at) or (own is None and tree.contains(at, n))}
    with session(_db()) as s:
        duties = store.list_duties(s, nodes)
    return {
        str(d.id): f"{d.area} 第{d.seq}项 {d.name}（{period_of(d.unit, d.length, d.recurring, d.month, d.day).text}）"
        for d in duties
        if d.unit is not None and d.id is not None
    }


# ---------------------------------------------------------------------------------------------- rules
def current_version(change_ids: list[int]) -> int | None:
    """The version of a duty's rule now in force: None as first imported, else its last change's id."""
    return change_ids[-1] if len(change_ids) > 1 else None


def build_rules(
    duties: list[store.CatalogueDuty], history: dict[int, list[store.CatalogueDutyChange]]
) -> dict[str, Rule]:
    """Every version of every duty's rule: the current one starts the clocks of new items; the versions a
    re-import superseded (a changed period, a row now 长期公开) only count on for the open items formed under
    them. A rule an item uses is thus never changed nor removed by an import."""
    out: dict[str, Rule] = {}
    for d in duties:
        assert d.id is not None
        changes = history.get(d.id, [])
        now = current_version([c.id for c in changes if c.id is not None])
        for i, c in enumerate(changes[:-1]):  # the superseded versions, as their change rows recorded them
            after = c.after or {}
            unit, length, recurring, month, day = after.get("period") or [None, 0, False, None, None]
            p = replace(period_of(unit, length, recurring, month, day), note=after.get("note", ""))
            version = None if i == 0 else c.id
            rule = duty_rule(d.node, d.id, d.area, after.get("values") or {}, p, version, current=False)
            if rule is not None:
                out[rule.id] = rule
        p = replace(period_of(d.unit, d.length, d.recurring, d.month, d.day), note=d.note)
        rule = duty_rule(d.node, d.id, d.area, d.values, p, now)
        if rule is not None:
            out[rule.id] = rule
    return out


class CatalogueRules:
    """Callable rule source for domain.engine.set_rule_source: (version, rules), re-read when the catalogue's
    version in the store changes (looked at most every CHECK_EVERY seconds)."""

    def __init__(self, check_every: float = CHECK_EVERY) -> None:
        self.check_every = check_every
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value: tuple[Any, dict[str, Rule]] = (None, {})
        self._checked = -math.inf  # never looked (monotonic time may be below check_every on a fresh boot)

    def refresh(self) -> None:
        with self._lock:
            self._checked = -math.inf

    def __call__(self) -> tuple[Any, dict[str, Rule]]:
        key = (database_url(), str(config_dir()))
        now = time.monotonic()
        with self._lock:
            if key == self._key and now - self._checked < self.check_every:
                return self._value
            self._checked = now
            url = key[0]
            if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).exists():
                self._key, self._value = key, (None, {})
                return self._value
            db = get_engine(url)
            init_db(db)
            with session(db) as s:
                v = store.version(s)
                if key == self._key and self._value[0] == (key, v):
                    return self._value
                rules = build_rules(store.list_duties(s), store.change_history(s)) if v else {}
            self._key, self._value = key, ((key, v), rules)
            return self._value


_source = CatalogueRules()


def register() -> None:
    """Serve the catalogue duties' rules to the engine (the composition roots call this)."""
    from domain.engine import set_rule_source

    set_rule_source(_source)
