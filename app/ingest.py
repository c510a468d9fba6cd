"""The one ingest path: validate → deduplicate → start/update the item's workflow → record.

Used by `shixian events ingest` and `POST /api/events`. Per event the result is applied, duplicate or
rejected (with the field and the reason); a rejected event never stops or half-applies the others.
The workflow's Update id is the event_id, so a retry after a crash cannot apply an event twice; the
event row and the item snapshot returned by the workflow are written in one transaction.
"""
from __future__ import annotations

import logging

import asyncio
import datetime as dt
import json
import re
from collections import OrderedDict
from typing import Any, Callable, Iterable, Literal, Optional

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.clocks import engine
from domain.shanghai import SHANGHAI
from domain.shanghai import now as shanghai_now
from domain.config import ConfigError
from domain.events import RECORD_ONLY, STARTS, Event, EventError, parse_event
from domain.model import ItemSnapshot
from domain.review import HELD_ROLES, Recorded, load_review_config
from domain.rules import Rule
from store import repo
from store.db import get_engine, init_db
from store.models import Item
from worker.client import TASK_QUEUE
from workflows.items import ApplyResult, ItemInput, ItemState, RuleMeta, workflow_for

Status = Literal["applied", "duplicate", "rejected", "held"]
CONCURRENCY = 16  # items processed at once; events of one item stay in order


class IngestResult(BaseModel):
    line: int
    status: Status
    event_id: Optional[str] = None
    type: Optional[str] = None
    item_id: Optional[str] = None
    field: Optional[str] = None
    reason: Optional[str] = None

    def text(self) -> str:
        head = f"第 {self.line} 行 {self.event_id or '-'}"
        if self.status == "applied":
            return f"{head}: 已应用 applied（{self.type} → {self.item_id}）" + (f"；{self.reason}" if self.reason else "")
        if self.status == "held":
            return f"{head}: 补录待审核 held（{self.type} → {self.item_id}）；{self.reason}"
        if self.status == "duplicate":
            return f"{head}: 重复 duplicate（已处理过，未作改动）"
        return f"{head}: 拒绝 rejected [{self.field}] {self.reason}"


def workflow_id(ev: Event) -> str:
    return f"{ev.item_type}:{ev.item_id}"


def rule_table(rules: dict[str, Rule]) -> dict[str, RuleMeta]:
    out = {}
    for r in rules.values():
        caps = []
        for before, ed in r.editions:
            if ed.extension:
                caps.append((before.isoformat(), ed.extension.max_working_days, ed.extension.max_times))
        if r.extension:
            caps.append(("", r.extension.max_working_days, r.extension.max_times))
        out[r.id] = RuleMeta(
            id=r.id, name=r.name, unit=r.unit, start_event=r.start_event, met_by=list(r.met_by),
            closed_by=list(r.closed_by), pause=r.pause, resume=r.resume, stop=r.stop, restart=r.restart,
            extension_event=r.extension.event if r.extension else None, extension_caps=caps,
            when={k: list(v) for k, v in r.when}, lapses=r.lapses,
            since=r.since.isoformat() if r.since else None,
        )
    return out


def parse_jsonl(text: str) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((n, _BadJSON(f"JSON 格式错误：{exc.msg}（第 {exc.colno} 列）")))
    return out


log = logging.getLogger("shixian.ingest")


class _BadJSON:
    def __init__(self, reason: str):
        self.reason = reason


class Ingestor:
    def __init__(self, client: Client, *, recorded_by: str | None = None, db_engine=None, internal: bool = False,
                 role: str | None = None, now: Callable[[], dt.datetime] | None = None):
        self.client = client
        self.recorded_by = recorded_by
        self.internal = internal  # the engine's own events (annual-report openers) are allowed
        # Who records: the API passes the token's role; the server-side CLI is the operator's import,
        # the engine's own events are "system". Only liaisons' and heads' entries can be held (补录).
        self.role = role or ("system" if internal else "operator")
        self.now = now or shanghai_now
        self._late_limit: int | None = None  # config/review.toml, read once per batch
        self.db = db_engine or get_engine()
        init_db(self.db)
        eng = engine()
        self.rules = rule_table(eng.rules)
        self._directory = None

    def directory(self):
        if self._directory is None:
            from domain.directory import load_directory

            self._directory = load_directory()
        return self._directory

    # ------------------------------------------------------------ batch
    async def ingest(self, objs: Iterable[tuple[int, Any]], progress=None) -> list[IngestResult]:
        results: dict[int, IngestResult] = {}
        seen: dict[str, tuple[str, int]] = {}  # event_id -> (content hash, line), within this batch
        repeats: list[tuple[int, Event, int]] = []
        per_item: OrderedDict[str, list[tuple[int, Event]]] = OrderedDict()
        for line, obj in objs:
            if isinstance(obj, _BadJSON):
                results[line] = IngestResult(line=line, status="rejected", field="(json)", reason=obj.reason)
                continue
            if self.recorded_by and isinstance(obj, dict) and not obj.get("recorded_by"):
                obj = {**obj, "recorded_by": self.recorded_by}
            try:
                ev = parse_event(obj, internal=self.internal)
            except EventError as exc:
                eid = obj.get("event_id") if isinstance(obj, dict) else None
                results[line] = IngestResult(line=line, status="rejected", event_id=eid if isinstance(eid, str) else None,
                                             field=exc.field, reason=exc.reason)
                continue
            try:
                ev = ev.model_copy(update={"recorded": self._recorded(ev)})
            except ConfigError as exc:  # e.g. a broken config/review.toml: refuse, never apply unreviewed
                results[line] = IngestResult(line=line, status="rejected", event_id=ev.event_id, type=ev.type,
                                             item_id=ev.item_id, field="(config)", reason=str(exc))
                continue
            if ev.event_id in seen:
                known_hash, first = seen[ev.event_id]
                if known_hash != ev.content_hash:
                    results[line] = self._dup_or_conflict(line, ev, known_hash)
                else:
                    repeats.append((line, ev, first))
                continue
            seen[ev.event_id] = (ev.content_hash, line)
            per_item.setdefault(ev.item_id, []).append((line, ev))
        sem = asyncio.Semaphore(CONCURRENCY)

        async def run_item(events: list[tuple[int, Event]]) -> None:
            async with sem:
                for line, ev in events:
                    results[line] = await self.ingest_one(line, ev)
                    if progress:
                        progress()

        await asyncio.gather(*(run_item(evs) for evs in per_item.values()))
        for line, ev, first in repeats:  # a repeat within the batch shares the first copy's fate
            was = results[first]
            results[line] = was.model_copy(update={
                "line": line, "status": "rejected" if was.status == "rejected" else "duplicate",
                "reason": f"与第 {first} 行相同" + (f"：{was.reason}" if was.status == "rejected" else "")})
        out = [results[k] for k in sorted(results)]
        _observe(out)
        return out

    def _recorded(self, ev: Event) -> Recorded:
        """When (Asia/Shanghai) and by whom the event reached the system, and for reviewable roles how
        many working days (the item's region) after its own date: the workflow decides whether to hold."""
        at = self.now().astimezone(SHANGHAI)
        rec = Recorded(at=at.isoformat(), on=at.date().isoformat(), role=self.role,
                       by=ev.data.get("recorded_by") or self.recorded_by)
        if self.role in HELD_ROLES:
            own = dt.date.fromisoformat(ev.on[:10])
            if self._late_limit is None:
                self._late_limit = load_review_config().late_entry_working_days
            rec.limit = self._late_limit
            rec.working_days_after = engine().calendar.working_days_between(own, at.date(), self._region(ev))
        return rec

    def _region(self, ev: Event) -> str:
        department = ev.department
        if not department:
            with repo_session(self.db) as s:
                item = s.get(Item, ev.item_id)
            department = item.department if item else None
        try:
            return self.directory().region_of(department) if department else "national"
        except Exception:  # unknown department: refused later with its own message
            return "national"

    def _dup_or_conflict(self, line: int, ev: Event, known_hash: str) -> IngestResult:
        if known_hash == ev.content_hash:
            return IngestResult(line=line, status="duplicate", event_id=ev.event_id, type=ev.type, item_id=ev.item_id)
        return IngestResult(line=line, status="rejected", event_id=ev.event_id, type=ev.type, item_id=ev.item_id,
                            field="event_id", reason="event_id 冲突：与已收到的同一 event_id 内容不同")

    # ------------------------------------------------------------ one event
    async def ingest_one(self, line: int, ev: Event) -> IngestResult:
        def rejected(field: str, reason: str) -> IngestResult:
            return IngestResult(line=line, status="rejected", event_id=ev.event_id, type=ev.type, item_id=ev.item_id,
                                field=field, reason=reason)

        with repo_session(self.db) as s:
            known = repo.find_event(s, ev.event_id) or repo.find_late_entry(s, ev.event_id)
        if known is not None:  # an applied event, or a late entry held or already reviewed
            return self._dup_or_conflict(line, ev, known.content_hash)
        try:
            outcome = await self._route(ev)
        except _Rejected as exc:
            return rejected(exc.field, exc.reason)
        except ConfigError as exc:
            return rejected("(config)", str(exc))
        except RPCError as exc:
            # One event the server refuses (e.g. over its message size limit) fails alone, with the
            # reason, instead of ending the whole import with the others unreported.
            status = exc.status.name if exc.status else "?"
            return rejected("(temporal)", f"工作流服务拒绝了该事件：{exc.message}（状态 {status}）")
        if outcome.status == "held":  # no event row: nothing counts it until a supervisor approves
            if outcome.snapshot is not None:
                with repo_session(self.db) as s:
                    repo.save_snapshot(s, outcome.snapshot)
            return IngestResult(line=line, status="held", event_id=ev.event_id, type=ev.type, item_id=ev.item_id,
                                reason=outcome.note or "补录待审核")
        if outcome.status == "duplicate" and outcome.snapshot is None:
            return IngestResult(line=line, status="duplicate", event_id=ev.event_id, type=ev.type, item_id=ev.item_id)
        self._record(ev, outcome.snapshot)
        return IngestResult(line=line, status="applied", event_id=ev.event_id, type=ev.type, item_id=ev.item_id,
                            reason=outcome.note or None)

    def _record(self, ev: Event, snap: ItemSnapshot | None) -> None:
        department = ev.department or (snap.department if snap else None)
        rec = repo.event_record_from(ev.data, item_id=ev.item_id, department=department, occurred_on=ev.on[:10],
                                     content_hash=ev.content_hash, recorded_by=ev.data.get("recorded_by"))
        with repo_session(self.db) as s:
            try:
                if snap is not None:
                    repo.save_snapshot(s, snap, commit=False)
                repo.add_event(s, rec, commit=False)
                s.commit()
            except Exception:
                s.rollback()
                raise

    async def _route(self, ev: Event) -> "_Outcome":
        wid = workflow_id(ev)
        if ev.type in STARTS:
            self._check_new_item(ev)
            await self._start(ev, wid)
        try:
            return await self._update(ev, wid)
        except _NoWorkflow:
            pass
        if ev.type == "annual_report.published":
            # A report published with no clock yet: open the year's clock first, then meet it.
            opener = parse_event({"event_id": f"{ev.item_id}#open", "type": "annual_report.year_closed",
                                  "department": ev.data["department"], "year": ev.data["year"],
                                  "level": ev.data.get("level", "department"), "recorded_by": "system"},
                                 internal=True)
            self._check_new_item(opener)
            await self._start(opener, wid)
            first = await self._update(opener, wid)
            self._record(opener, first.snapshot)
            return await self._update(ev, wid)
        raise _Rejected(_id_field(ev), f"未知事项 {ev.item_id}：须先登记起始事件")

    def _check_new_item(self, ev: Event) -> None:
        department = ev.department or ""
        if department not in self.directory().departments:
            raise _Rejected("department", f"未知部门 “{department}”（config/departments.toml 中没有该部门）")
        with repo_session(self.db) as s:
            other = s.get(Item, ev.item_id)
        if other is not None and other.type != ev.item_type:
            raise _Rejected(_id_field(ev), f"编号 {ev.item_id} 已被{other.type}类事项使用，请使用唯一编号")

    async def _start(self, ev: Event, wid: str) -> None:
        department = ev.department or ""
        state = ItemState(id=ev.item_id, type=ev.item_type, department=department,
                          region=self.directory().region_of(department), rules=self.rules)
        wf = workflow_for(ev.item_type)
        try:
            # A finished item keeps its id: a second start event must not begin a second life. Only a run
            # that failed (its start event was refused) may be replaced.
            await self.client.start_workflow(
                wf.run, ItemInput(state=state), id=wid, task_queue=TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            pass  # the update below is refused by the finished workflow's state

    async def _update(self, ev: Event, wid: str) -> "_Outcome":
        handle = self.client.get_workflow_handle(wid)
        try:
            res: ApplyResult = await handle.execute_update("apply", ev, id=ev.event_id, result_type=ApplyResult)
            return _Outcome(res.status, res.snapshot, res.note)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise _Rejected(*_split_reason(ev, getattr(cause, "message", None) or str(cause or exc))) from None
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND and "completed" not in str(exc).lower():
                raise
            return await self._finished(ev, wid, handle, exc)

    async def _finished(self, ev: Event, wid: str, handle, exc: RPCError) -> "_Outcome":
        """The workflow is gone (never started) or has completed."""
        try:
            desc = await handle.describe()
        except RPCError:
            raise _NoWorkflow() from None
        if desc.status == WorkflowExecutionStatus.FAILED:  # a run whose start event was refused
            raise _NoWorkflow()
        if await handle.query("has_event", ev.event_id):  # applied before a crash, not yet recorded
            return _Outcome("applied", await handle.query("snapshot", result_type=ItemSnapshot), "")
        snap = await handle.query("snapshot", result_type=ItemSnapshot)
        if ev.type in RECORD_ONLY or ev.type == "interpretation.published":
            return _Outcome("applied", None, f"事项已结束（{snap.state}），已记录用于统计")
        if ev.type == "document.published" and snap.data.get("disclosure") == "withheld":
            # A withheld document published later: a fact for the record, no clock runs for it.
            return _Outcome("applied", None, "不予公开的文件后经公开：已记录，不计时限")
        status = desc.status.name if desc.status else "?"
        raise _Rejected("type", f"事项已结束（{snap.state}，{status}），不能再接受 {ev.type}")


class _Outcome:
    def __init__(self, status: str, snapshot: ItemSnapshot | None, note: str = ""):
        self.status, self.snapshot, self.note = status, snapshot, note


class _Rejected(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


class _NoWorkflow(Exception):
    pass


def _id_field(ev: Event) -> str:
    for k in ("document_id", "request_id", "case_id", "item_id", "department"):
        if k in ev.data:
            return k
    return "type"


def _split_reason(ev: Event, message: str) -> tuple[str, str]:
    """Workflow refusals read "[field] reason"; anything else is about the event as a whole."""
    m = re.match(r"\[([\w.]+)\] (.*)", message, re.S)
    return (m.group(1), m.group(2)) if m else ("type", message)



def repo_session(db):
    from sqlmodel import Session

    return Session(db)


def _observe(results: list[IngestResult]) -> None:
    """Metrics and one log line per event: ids, type and status only (never payload or reason text)."""
    from worker.metrics import count_results

    count_results(results)
    for r in results:
        log.info("event %s", r.status, extra={"event_id": r.event_id, "item_id": r.item_id, "event_type": r.type,
                                             "status": r.status, "field": r.field})
