"""Ledger import (台账导入): preview and apply, shared by `shixian import` and the /import page.

The rows come from domain.ledger (personal-data columns already dropped); their events go through the
one ingest path (services.ingest.Ingestor), so the same validation, idempotency and late-entry rules apply.
Per row the outcome is applied / duplicate / partial / rejected / nothing_new:
- rejected: the row was refused before anything was sent (its problems), or every new event was refused;
- partial: some events applied, others refused (an event the item's state cannot accept);
- nothing_new: every event was already imported with the same content (a re-import);
- duplicate: the row repeats an earlier row of the same file (same key, same content);
- applied: its new events applied (already imported ones are reported as duplicate events);
- unavailable: the workflow service could not be reached, so (some of) its events were not processed:
  not a problem of its data, no column is blamed; importing the same file again finishes it (idempotent).
A changed earlier value is an event-id conflict: reported on the row (status `conflict` of that
event), never applied over the first value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain import ledger as L
from domain.events import parse_event

CONFLICT = "event_id 冲突"


@dataclass
class RowOutcome:
    row: int
    key: str | None
    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    due: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "key": self.key,
            "status": self.status,
            "events": self.events,
            "problems": self.problems,
            "due": self.due,
        }

    def text(self, dry_run: bool = False) -> str:
        label = ("将导入" if dry_run and self.status == "applied" else STATUS_LABELS[self.status]) + (
            "（预览）" if dry_run else ""
        )
        head = f"第 {self.row} 行 {self.key or '-'}: {label} {self.status}"
        evs = [f"{e['type']}={EVENT_STATUS_LABELS.get(e['status'], e['status'])}" for e in self.events]
        lines = [head + (f"（{'，'.join(evs)}）" if evs else "")]
        lines += [f"  第 {self.row} 行 {self.key or '-'} [{p['column']}] {p['reason']}" for p in self.problems]
        return "\n".join(lines)


STATUS_LABELS = {
    "applied": "已导入",
    "duplicate": "与前行重复",
    "partial": "部分导入",
    "rejected": "拒绝",
    "nothing_new": "无新内容",
    "held": "补录待审核",
    "unavailable": "未处理（服务不可用）",
}
EVENT_STATUS_LABELS = {
    "applied": "已应用",
    "new": "将应用",
    "duplicate": "已导入过",
    "conflict": "冲突",
    "rejected": "拒绝",
    "held": "补录待审核",
    "unavailable": "未处理（服务不可用）",
}
UNAVAILABLE_ROW = (
    "工作流服务不可用，本行未处理完（不是数据问题，各事件结果见“事件”）：服务恢复后重新导入同一文件即可，"
    "已导入的不会重复"
)


@dataclass
class Plan:
    """A parsed ledger, ready to preview or apply."""

    filename: str
    department: str
    table: L.Table
    rows: list[L.Row]

    @property
    def kind_label(self) -> str:
        return L.KIND_LABELS[self.table.kind]


def plan(data: bytes, filename: str, department: str, *, kind: str | None = None) -> Plan:
    """Parse a ledger file for `department` (raises LedgerError for the file as a whole)."""
    from domain.engine import engine

    dept = engine().directory.departments.get(department)
    if dept is None:
        raise L.LedgerError(f"未知部门 “{department}”（config/departments.toml 中没有该部门）")
    table = L.read_table(data, filename, kind)
    names = [dept.name] + ([dept.short_name] if dept.short_name else [])
    return Plan(filename, department, table, L.map_rows(table, department, names))


def _step(event_id: str) -> str:
    return event_id.rsplit(":", 1)[1]


def _column(kind: str, event_id: str, field_: str | None) -> str:
    return L.column_of(kind, _step(event_id), field_)


def _row_status(statuses: list[str]) -> str:
    if "unavailable" in statuses:  # not a verdict on the row: it is finished by importing it again
        return "unavailable"
    done = sum(s in ("applied", "new", "held") for s in statuses)
    bad = sum(s in ("rejected", "conflict") for s in statuses)
    if bad:
        return "partial" if done else "rejected"
    if "held" in statuses:  # a liaison's late entry (补录): waits for a supervisor
        return "held"
    return "applied" if done else "nothing_new"


def conflict_reason(column: str) -> str:
    return f"“{column}”与此前导入的值不同（冲突）：已导入的值不会被改写，本次未应用；如确需更正，请联系督办人员处理"


def _conflicts(kind: str, known, obj: dict[str, Any]) -> list[dict[str, str]]:
    """One problem per ledger column whose value differs from the event imported before."""
    import json

    try:
        old = json.loads(known.payload) if isinstance(known.payload, str) else dict(known.payload or {})
    except ValueError:
        old = {}
    new = parse_event(obj).data
    fields = sorted(k for k in set(old) | set(new) if k not in ("event_id", "recorded_by") and old.get(k) != new.get(k))
    cols = []
    for f in fields or ["on"]:
        col = _column(kind, obj["event_id"], f)
        if col not in cols:
            cols.append(col)
    return [{"column": c, "reason": conflict_reason(c)} for c in cols]


def _parsed(row: L.Row) -> RowOutcome | None:
    """Rows settled by the parser alone (refused, or a repeat within the file)."""
    if row.problems:
        return RowOutcome(row.row, row.key, "rejected", problems=[p.as_json() for p in row.problems])
    if row.duplicate_of is not None:
        return RowOutcome(
            row.row,
            row.key,
            "duplicate",
            problems=[{"column": "", "reason": f"与第 {row.duplicate_of} 行相同，已跳过"}],
        )
    return None


def _foreign(s, p: Plan, row: L.Row) -> RowOutcome | None:
    """A row whose key is another department's item (as stored): refused whole, as the import would."""
    from services.access import department_refusal
    from store.models import Item

    item = s.get(Item, row.key) if row.key else None
    reason = item and department_refusal(p.department, [item.department], row.key)
    if not reason:
        return None
    return RowOutcome(row.row, row.key, "rejected", problems=[{"column": L.KEY[p.table.kind], "reason": reason}])


def preview(p: Plan, db_engine) -> list[RowOutcome]:
    """What an import would do, against the store as it is now: nothing is sent or written."""
    from sqlmodel import Session

    from store import repo
    from store.db import init_db

    init_db(db_engine)
    out = []
    with Session(db_engine) as s:
        for row in p.rows:
            settled = _parsed(row) or _foreign(s, p, row)
            if settled:
                out.append(settled)
                continue
            events, problems = [], []
            for obj in row.events:
                known = repo.find_event(s, obj["event_id"])
                ev = parse_event(obj)
                if known is None:
                    status = "new"
                elif known.content_hash == ev.content_hash:
                    status = "duplicate"
                else:
                    status = "conflict"
                    problems += _conflicts(p.table.kind, known, obj)
                events.append({"event_id": obj["event_id"], "type": obj["type"], "status": status})
            out.append(
                RowOutcome(
                    row.row,
                    row.key,
                    _row_status([e["status"] for e in events]),
                    events,
                    problems,
                    due_dates(p.table.kind, row, p.department),
                )
            )
    return out


async def apply(
    p: Plan,
    client,
    *,
    recorded_by: str | None,
    db_engine=None,
    progress: Callable[[], None] | None = None,
    role: str | None = None,
) -> list[RowOutcome]:
    """Send every valid row's events through the ingest path; rows refused by the parser send nothing.
    `role`: the uploader's (a liaison's late rows wait for review, 补录); None = the operator's CLI import."""
    from services.ingest import UNAVAILABLE, Ingestor

    # One ledger is one department's, whoever uploads it: every event is checked against its item's own
    # department (services.access), so a row keyed to another department's item changes nothing there.
    ing = Ingestor(client, recorded_by=recorded_by, db_engine=db_engine, role=role, scope=p.department)
    line_of: dict[int, tuple[int, dict]] = {}
    objs = []
    n = 0
    for i, row in enumerate(p.rows):
        if _parsed(row) is None:
            for obj in row.events:
                n += 1
                line_of[n] = (i, obj)
                objs.append((n, obj))
    results = await ing.ingest(objs, progress=progress) if objs else []
    per_row: dict[int, list] = {}
    for r in results:
        per_row.setdefault(line_of[r.line][0], []).append(r)
    out = []
    for i, row in enumerate(p.rows):
        settled = _parsed(row)
        if settled:
            out.append(settled)
            continue
        events: list[dict[str, Any]] = []
        problems: list[dict[str, str]] = []
        by_id = {obj["event_id"]: obj for obj in row.events}
        for r in per_row.get(i, []):
            status = r.status
            if status == "rejected" and r.field == UNAVAILABLE:
                status = "unavailable"
                if not problems or problems[-1]["reason"] != UNAVAILABLE_ROW:
                    problems.append({"column": "", "reason": UNAVAILABLE_ROW})
            elif status == "rejected":
                col = _column(p.table.kind, r.event_id or "", r.field)
                if r.field == "department":  # about whose item the key names (services.access)
                    col = L.KEY[p.table.kind]
                if r.reason and r.reason.startswith(CONFLICT):
                    status = "conflict"
                    problems += _stored_conflicts(ing.db, p.table.kind, by_id[r.event_id])
                elif {"column": col, "reason": r.reason or ""} not in problems:
                    problems.append({"column": col, "reason": r.reason or ""})
            ev = {"event_id": r.event_id, "type": r.type, "status": status}
            if r.status == "applied" and r.reason:
                ev["note"] = r.reason
            events.append(ev)
        out.append(
            RowOutcome(
                row.row,
                row.key,
                _row_status([e["status"] for e in events]),
                events,
                problems,
                _stored_due(ing.db, row.key) if row.key else [],
            )
        )
    return out


# ------------------------------------------------------------------------------ due dates
def _due_json(rule, dl, met_on: str | None) -> dict[str, Any]:
    d = {"rule": rule.id, "name": rule.name, "due": dl.due_iso() if dl.due else None, "provisional": dl.provisional}
    if met_on:
        d["met_on"] = met_on
        d["late"] = bool(dl.due and met_on > dl.due_iso()[:10])
    return d


def due_dates(kind: str, row: L.Row, department: str) -> list[dict[str, Any]]:
    """The statutory due dates a row's events give (computed as the engine does; for the preview)."""
    from domain.clocks import ClockError, ExtensionGrant, Pause, compute
    from domain.engine import engine

    eng = engine()
    region = engine().directory.region_of(department)
    ev = {_step(e["event_id"]): e for e in row.events}
    day = dt.date.fromisoformat
    out = []
    try:
        if kind == L.REQUESTS and "received" in ev:
            rule = eng.rules["request_reply"]
            start = day(ev["received"]["received_on"])
            restarted = None
            if "corrected" in ev:
                restarted, start = start, day(ev["corrected"]["on"])
            pauses = []
            if "consultation_started" in ev:
                end = ev.get("consultation_ended", {}).get("on")
                pauses.append(Pause(day(ev["consultation_started"]["on"]), day(end) if end else None))
            exts = (
                [ExtensionGrant(day(ev["extended"]["on"]), ev["extended"]["working_days"])] if "extended" in ev else []
            )
            dl = compute(
                rule,
                start,
                eng.calendar,
                region,
                pauses=pauses,
                extensions=exts,
                restarted_from=restarted,
                explain=False,
                granted=True,
            )
            met = (ev.get("replied") or ev.get("withdrawn") or {}).get("on")
            out.append(_due_json(rule, dl, met))
        if kind == L.DOCUMENTS and "signed" in ev:
            signed = ev["signed"]
            if signed["disclosure"] == "public":
                rule = eng.rules["policy_publication"]
                dl = compute(rule, day(signed["signed_on"]), eng.calendar, region, explain=False)
                out.append(_due_json(rule, dl, (ev.get("published") or {}).get("published_on")))
            needs = signed.get("needs_interpretation", signed["kind"] in ("normative", "policy"))
            if needs and "published" in ev:
                rule = eng.rules["policy_interpretation"]
                dl = compute(rule, day(ev["published"]["published_on"]), eng.calendar, region, explain=False)
                out.append(_due_json(rule, dl, (ev.get("interpretation") or {}).get("published_on")))
    except (ClockError, KeyError, ValueError) as exc:
        out.append({"rule": "", "name": "", "due": None, "error": str(exc)})
    return out


def _stored_conflicts(db_engine, kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    from sqlmodel import Session

    from store import repo

    with Session(db_engine) as s:
        known = repo.find_event(s, obj["event_id"])
    if known is None:  # a conflict within this very import (cannot happen: keys are unique per file)
        col = _column(kind, obj["event_id"], None)
        return [{"column": col, "reason": conflict_reason(col)}]
    return _conflicts(kind, known, obj)


def _stored_due(db_engine, item_id: str) -> list[dict[str, Any]]:
    """After an import: the clocks the engine keeps for the item (main clocks only)."""
    from sqlmodel import Session

    from domain.engine import engine
    from store import repo

    rules = engine().rules
    with Session(db_engine) as s:
        snap = repo.get_item(s, item_id)
    if snap is None:
        return []
    out = []
    for c in snap.clocks:
        if c.rule not in ("request_reply", "policy_publication", "policy_interpretation"):
            continue
        d = {
            "rule": c.rule,
            "name": rules[c.rule].name if c.rule in rules else c.rule,
            "due": c.due,
            "provisional": c.provisional,
            "state": c.state,
        }
        if c.met_on:
            d["met_on"] = c.met_on
            d["late"] = bool(c.lateness_working_days)
        out.append(d)
    return out


def summary(outcomes: list[RowOutcome]) -> dict[str, int]:
    counts = {s: 0 for s in STATUS_LABELS}
    for o in outcomes:
        counts[o.status] += 1
    return counts
