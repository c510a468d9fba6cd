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
event, from IngestResult.conflict), never applied over the first value.
The preview takes each row through the item's own checks and transitions (domain.transitions) and the
clock computation the workflow uses: what it calls 将应用 is what the import applies.
- onboarding: a history row (its start, or its earliest event, dated before the department's go-live, 上线日期)
  uploaded by a liaison or head: not sent, staged in the department's open onboarding batch
  (services/onboarding.py) for one review; its events and due dates are the ones the approval applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain import ledger as L
from domain.events import parse_event
from domain.labels import EVENT_TYPES
from store import events as event_log
from store import items as store_items
from store.db import session


@dataclass
class RowOutcome:
    row: int
    key: str | None
    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    due: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)  # cells read with a guess (domain.ledger.Note)

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "key": self.key,
            "status": self.status,
            "events": self.events,
            "problems": self.problems,
            "due": self.due,
            "notes": self.notes,
        }

    def text(self, dry_run: bool = False) -> str:
        label = ("将导入" if dry_run and self.status == "applied" else STATUS_LABELS[self.status]) + (
            "（预览）" if dry_run else ""
        )
        head = f"第 {self.row} 行 {self.key or '-'}: {label}"
        evs = [
            f"{EVENT_TYPES.get(e['type'], e['type'])}：{EVENT_STATUS_LABELS.get(e['status'], e['status'])}"
            for e in self.events
        ]
        lines = [head + (f"（{'，'.join(evs)}）" if evs else "")]
        lines += [f"  第 {self.row} 行 {self.key or '-'} [{p['column']}] {p['reason']}" for p in self.problems]
        lines += [f"  第 {self.row} 行 {self.key or '-'} [{n['column']}] 提示：{n['note']}" for n in self.notes]
        return "\n".join(lines)


STATUS_LABELS = {
    "applied": "已导入",
    "duplicate": "与前行重复",
    "partial": "部分导入",
    "rejected": "拒绝",
    "nothing_new": "无新内容",
    "held": "补录待审核",
    "onboarding": "纳入历史台账",
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

    item = store_items.get_item(s, row.key) if row.key else None
    reason = item and department_refusal(p.department, [item.department], row.key)
    if not reason:
        return None
    return RowOutcome(row.row, row.key, "rejected", problems=[{"column": L.KEY[p.table.kind], "reason": reason}])


def preview(p: Plan, db_engine, *, role: str | None = None) -> list[RowOutcome]:
    """What an import would do, against the store as it is now: nothing is sent or written. Each row's new
    events go through the item's own checks and transitions (domain.transitions) on a fresh item state,
    as the item's workflow would take them, and its clocks through the same computation: the preview's
    statuses and due dates are the import's by construction. `role`: the uploader's, as for `apply`.
    A history row (see `history_rows`) is 纳入历史台账: simulated as its approval will record it."""
    from services.ingest import Ingestor
    from store.db import init_db

    init_db(db_engine)
    ing = Ingestor(None, db_engine=db_engine, role=role, scope=p.department)  # type: ignore[arg-type]
    out = []
    with session(db_engine) as s:
        history = history_rows(s, p, role)
        for i, row in enumerate(p.rows):
            settled = _parsed(row) or _foreign(s, p, row)
            if settled:
                out.append(settled)
                continue
            if i in history:
                out.append(history_outcome(s, p, row, role, db_engine))
                continue
            events, problems, due = _simulate(ing, s, p.table.kind, row)
            out.append(RowOutcome(row.row, row.key, _row_status([e["status"] for e in events]), events, problems, due))
    return _noted(p, out)


def _noted(p: Plan, out: list[RowOutcome]) -> list[RowOutcome]:
    """Each row's guessed cells (ledger_vocab) on its outcome, in the preview and the result alike."""
    for o, row in zip(out, p.rows, strict=True):
        o.notes = [n.as_json() for n in row.notes]
    return out


def go_live_of(department: str):
    from domain.engine import engine

    dept = engine().directory.departments.get(department)
    return dept.go_live if dept else None


def history_rows(s, p: Plan, role: str | None) -> set[int]:
    """The indexes of `p.rows` that are the department's history, staged for one review instead of sent:
    uploaded by a liaison or head (whose late entries would be held one by one) for a department with a
    go-live date, a valid row whose start event (or, without one, its earliest event) is dated before it,
    for an item the store does not hold yet (a row of an item already applied goes the ordinary way)."""
    from domain.events import STARTS
    from domain.review import HELD_ROLES

    go_live = go_live_of(p.department)
    if go_live is None or role not in HELD_ROLES:
        return set()
    out = set()
    for i, row in enumerate(p.rows):
        if _parsed(row) is not None or not row.key or not row.events:
            continue
        starts = [e for e in row.events if e.get("type") in STARTS]
        first = min(event_day(e) for e in (starts or row.events))
        if first and first < go_live.isoformat() and store_items.get_item(s, row.key) is None:
            out.add(i)
    return out


def event_day(obj: dict[str, Any]) -> str:
    """An event's own date (ISO), as the ingest path reads it; "" when it cannot be read."""
    from domain.events import EventError

    try:
        return parse_event(obj).on[:10]
    except (EventError, ValueError):
        return ""


def row_hash(row: L.Row) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(row.events, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def onboarding_roles(events: list[dict[str, Any]], uploader_role: str | None, go_live) -> dict[str, str]:
    """Which events of a history row keep the uploader's role (the others are recorded as `onboarding`,
    trusted): those dated on or after the go-live, so the ordinary late-entry rule still applies to them."""
    return {
        e["event_id"]: uploader_role or "liaison"
        for e in events
        if go_live is not None and event_day(e) >= go_live.isoformat()
    }


def history_outcome(s, p: Plan, row: L.Row, role: str | None, db_engine) -> RowOutcome:
    """A history row's preview: a repeat of the row staged in the open batch is nothing new, a changed one a
    conflict (refused); otherwise its events as the approval records them (`onboarding`, or the uploader's
    role for those dated on or after go-live, counted late or not from now, the upload's instant)."""
    from domain.review import ONBOARDING_ROLE
    from services.ingest import Ingestor
    from store.onboarding import staged_row

    staged = staged_row(s, p.department, p.table.kind, row.key or "")
    if staged is not None:
        if staged.content_hash == row_hash(row):
            return RowOutcome(
                row.row,
                row.key,
                "nothing_new",
                [{**e, "status": "duplicate"} for e in staged.outcome.get("events", [])],
                [
                    {
                        "column": "",
                        "reason": f"已在待审核的历史台账中（{staged.filename} 第 {staged.row} 行），未重复加入",
                    }
                ],
                staged.outcome.get("due", []),
            )
        col = L.KEY[p.table.kind]
        return RowOutcome(
            row.row,
            row.key,
            "rejected",
            [{"event_id": e["event_id"], "type": e["type"], "status": "conflict"} for e in row.events],
            [
                {
                    "column": col,
                    "reason": f"与待审核历史台账中已暂存的同一编号（{staged.filename} 第 {staged.row} 行）内容不同（冲突）："
                    "本行未加入；如需更正，请待督查驳回该批次后重新上传",
                }
            ],
        )
    roles = onboarding_roles(row.events, role, go_live_of(p.department))
    hist = Ingestor(None, db_engine=db_engine, role=ONBOARDING_ROLE, scope=p.department, roles=roles)  # type: ignore[arg-type]
    events, problems, due = _simulate(hist, s, p.table.kind, row)
    return RowOutcome(row.row, row.key, "onboarding", events, problems, due)


MAIN_CLOCKS = ("request_reply", "policy_publication", "policy_interpretation")


def _simulate(ing, s, kind: str, row: L.Row) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[dict]]:
    """A row's events through domain.transitions on a fresh item state: per event the status the import
    would give (duplicate / conflict by the stored content hash, as services.ingest decides before any
    round trip; rejected by the item's checks; held by its late-entry rule), and the main clocks' due dates."""
    from domain import transitions as tr
    from domain.item_state import ItemState, Refusal
    from domain.shanghai import today
    from services.item_replay import advance

    eng_rules = ing.rules
    st: ItemState | None = None
    events: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    error = None
    for obj in row.events:
        ev = parse_event(obj)
        ev = ev.model_copy(update={"recorded": ing._recorded(ev)})
        if st is None:
            department = ev.department or ing.scope or ""
            st = ItemState(
                id=ev.item_id,
                type=ev.item_type,
                department=department,
                region=ing.directory().region_of(department),
                rules=ing._rules_for(
                    ev.item_type, ing.directory().node_of(department), ing.directory().region_of(department)
                ),
            )
        known = event_log.find_event(s, obj["event_id"])
        status = "new"
        if known is not None and known.content_hash != ev.content_hash:
            status = "conflict"
            problems += _conflicts(kind, known, obj)
        elif known is not None:
            status = "duplicate"
        else:
            try:
                # the workflow's own decision: a late entry is held, and so is an event that depends on a held
                # one (kept in `st.held_events`, so what follows it is judged as the workflow will judge it)
                if tr.admit(st, ev, today=today()).status == "held":
                    status = "held"
            except Refusal as exc:
                status = "rejected"
                col = _column(kind, obj["event_id"], exc.field)
                if {"column": col, "reason": exc.reason} not in problems:
                    problems.append({"column": col, "reason": exc.reason})
        events.append({"event_id": obj["event_id"], "type": obj["type"], "status": status})
        if status in ("conflict", "rejected", "held") or error:
            continue
        # Applied (or already imported): it moves the item on, as in its workflow.
        try:
            if not advance(st, ev):
                continue  # a fact kept without a clock
        except Exception as exc:  # the import refuses it with the same computation
            error = str(getattr(exc, "message", None) or exc)
        st.applied[ev.event_id] = ev.content_hash
        tr.refresh_state(st)
        st.version += 1
    due: list[dict[str, Any]] = []
    for c in st.clocks if st else []:
        if c.rule not in MAIN_CLOCKS:
            continue
        d = {
            "rule": c.rule,
            "name": eng_rules[c.rule].name if c.rule in eng_rules else c.rule,
            "due": c.due,
            "provisional": c.provisional,
        }
        if c.met_on:
            d["met_on"] = c.met_on[:10]
            d["late"] = bool(c.lateness_working_days)
        due.append(d)
    if error:
        due.append({"rule": "", "name": "", "due": None, "error": error})
    return events, problems, due


async def apply(
    p: Plan,
    client,
    *,
    recorded_by: str | None,
    db_engine=None,
    progress: Callable[[], None] | None = None,
    role: str | None = None,
    roles: dict[str, str] | None = None,
    retry_seconds: float = 0.0,
    on_wait: Callable[[int, float], None] | None = None,
) -> list[RowOutcome]:
    """Send every valid row's events through the ingest path; rows refused by the parser send nothing.
    `retry_seconds`, `on_wait`: as services.ingest.Ingestor (a durable job waits for a starved service).
    `role`: the uploader's (a liaison's late rows wait for review, 补录); None = the operator's CLI import.
    A liaison's or head's history rows are staged in the department's onboarding batch instead (their
    outcome is the preview's, 纳入历史台账). `roles`: per event id, the role it is recorded with instead
    (an approved onboarding batch, services/onboarding.py)."""
    from services.ingest import UNAVAILABLE, Ingestor

    # One ledger is one department's, whoever uploads it: every event is checked against its item's own
    # department (services.access), so a row keyed to another department's item changes nothing there.
    ing = Ingestor(
        client,
        recorded_by=recorded_by,
        db_engine=db_engine,
        role=role,
        scope=p.department,
        roles=roles,
        retry_seconds=retry_seconds,
    )
    ing.upload = f"{p.department}-{uuid.uuid4().hex[:10]}"  # its held entries can be reviewed together (services.review, --upload)
    staged: dict[int, RowOutcome] = {}
    if role is not None and not roles:  # an approved batch's own rows are never staged again
        staged = _stage_history(p, ing.db, recorded_by=recorded_by, role=role)
    line_of: dict[int, tuple[int, dict]] = {}
    objs = []
    n = 0
    for i, row in enumerate(p.rows):
        if _parsed(row) is None and i not in staged:
            for obj in row.events:
                n += 1
                line_of[n] = (i, obj)
                objs.append((n, obj))
    results = await ing.ingest(objs, progress=progress, on_wait=on_wait) if objs else []
    per_row: dict[int, list] = {}
    for r in results:
        per_row.setdefault(line_of[r.line][0], []).append(r)
    out = []
    for i, row in enumerate(p.rows):
        settled = _parsed(row) or staged.get(i)
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
                if r.conflict:
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
    return _noted(p, out)


def row_summary(outcome: dict[str, Any]) -> str:
    """How a staged row ends by the preview: late, on_time, open (a clock still running) or refused."""
    if any(e.get("status") in ("rejected", "conflict") for e in outcome.get("events", [])):
        return "refused"
    if any(e.get("status") == "held" for e in outcome.get("events", [])):
        return "held"
    due = [d for d in outcome.get("due", []) if d.get("rule")]
    if any(d.get("late") for d in due):
        return "late"
    if due and all(d.get("met_on") for d in due):
        return "on_time"
    return "open"


ROW_SUMMARIES = {
    "on_time": "按时办结",
    "late": "逾期办结",
    "open": "办理中",
    "held": "含上线后补录（须逐条审核）",
    "refused": "含被拒绝的事件",
}


def _stage_history(p: Plan, db_engine, *, recorded_by: str | None, role: str) -> dict[int, RowOutcome]:
    """Stage the history rows of an upload in the department's open onboarding batch: per row index, its
    outcome (the preview's, computed now: the upload's instant decides which post-go-live events are late)."""
    from store.onboarding import stage_rows

    out: dict[int, RowOutcome] = {}
    add = []
    with session(db_engine) as s:
        for i in sorted(history_rows(s, p, role)):
            row = p.rows[i]
            if _foreign(s, p, row):
                continue  # refused as it would be when sent
            o = history_outcome(s, p, row, role, db_engine)
            out[i] = o
            if o.status != "onboarding":
                continue  # a repeat of a staged row, or a conflict with it
            add.append(
                {
                    "kind": p.table.kind,
                    "key": row.key,
                    "row": row.row,
                    "filename": p.filename,
                    "uploaded_by": recorded_by,
                    "uploader_role": role,
                    "content_hash": row_hash(row),
                    "summary": row_summary(o.as_json()),
                    "events": row.events,
                    "outcome": o.as_json(),
                }
            )
        if add:
            stage_rows(s, p.department, recorded_by, add)
    return out


def _stored_conflicts(db_engine, kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    with session(db_engine) as s:
        known = event_log.find_event(s, obj["event_id"])
    if known is None:  # a conflict within this very import (cannot happen: keys are unique per file)
        col = _column(kind, obj["event_id"], None)
        return [{"column": col, "reason": conflict_reason(col)}]
    return _conflicts(kind, known, obj)


def _stored_due(db_engine, item_id: str) -> list[dict[str, Any]]:
    """After an import: the clocks the engine keeps for the item (main clocks only)."""
    from domain.engine import engine

    rules = engine().rules
    with session(db_engine) as s:
        snap = store_items.get_item(s, item_id)
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


def plan_from_preview(carried: dict[str, Any], department: str) -> Plan:
    """The Plan of a confirmed preview (the rows the preview page carried, in canonical form), read as
    `plan()` read the file. Raises ValueError / KeyError / TypeError for a payload that is not one."""
    from domain.engine import engine

    kind = carried["kind"]
    if kind not in L.KIND_LABELS:
        raise ValueError(kind)
    rows = [(int(n), dict(v)) for n, v in carried["rows"]]
    dept = engine().directory.departments[department]
    table = L.from_canonical(
        kind, rows, carried.get("dropped", []), carried.get("unknown", []), carried.get("encoding", "")
    )
    names = [dept.name] + ([dept.short_name] if dept.short_name else [])  # as plan() reads the file
    return Plan(str(carried.get("filename", "")), dept.id, table, L.map_rows(table, dept.id, names))


def summary(outcomes: list[RowOutcome]) -> dict[str, int]:
    counts = {s: 0 for s in STATUS_LABELS}
    for o in outcomes:
        counts[o.status] += 1
    return counts
