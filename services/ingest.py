"""The one ingest use case: validate → send each event to its item's workflow → report what it decided.

Used by `shixian events ingest`, `POST /api/events`, the event forms, ledger imports and the annual-report
kickoff. Per event the result is applied, held (a late entry waiting for review), duplicate or rejected
(with the field and the reason); a rejected event never stops or half-applies the others.

The item workflow is the authority on what an event_id means (it keeps each accepted id's content hash:
the same id with other content is a conflict) and the only writer of the read model (its store activity
writes the snapshot and the event row in one transaction). This module writes nothing to the store: it
reads it only to answer ids it already holds without a round trip, and, at the end of a batch, to wait
until it holds every event the batch applied (the workflow answers once the event is in its history and
writes the store right after). An item is started together with its start event in one round trip
(update-with-start); events of one item go in order, items concurrently.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.clocks import engine
from activities.store import FactRequest
from domain.config import ConfigError
from domain.directory import Directory
from domain.engine import rule_in_use
from domain.events import ITEM_ID_FIELDS, ITEM_TYPE, RECORD_ONLY, STARTS, Event, EventError, parse_event
from domain.ids import workflow_id
from domain.item_state import CONFLICT, ApplyResult, ItemInput, ItemState, RuleMeta
from domain.pii import applicant_key
from domain.review import HELD_ROLES, Recorded, first_late_day
from domain.rules import Rule
from domain.settings import get_settings
from domain.shanghai import SHANGHAI
from domain.shanghai import now as shanghai_now
from store.db import get_engine, init_db, session
from store.disk import EXHAUSTED_MB, DiskFull, is_disk_full, low_space
from store.events import content_hashes
from store.models import Item
from workflows.facts import FactWorkflow
from workflows.items import FINISHED, ItemWorkflow, workflow_for

Status = Literal["applied", "duplicate", "rejected", "held"]
CONCURRENCY = 16  # items processed at once; events of one item stay in order
# Events of one item sent in one `apply_many` Update (and written to the store in one transaction); an item
# with more goes in several, in order. Bounded so that one Update's payload and workflow task stay small.
BATCH = 50
CLOSING_PATIENCE = 60.0  # seconds an event waits for a finished item's run to end (its last store writes)
READ_MODEL_PATIENCE = 120.0  # seconds without a store write before an import reports the read model behind
# An import that may wait (a durable job, the CLI; SHIXIAN_IMPORT_RETRY_SECONDS) sends the events the service did
# not answer again, first after RETRY_FIRST seconds, doubling up to RETRY_MAX: a dev server starved of CPU
# answers "context deadline exceeded" for a while and then takes them (re-sending is safe: ids are kept).
RETRY_FIRST = 1.0
RETRY_MAX = 30.0


def waiting_text(events: int, seconds: float) -> str:
    """What an import that resends (the CLIs) says before each wait."""
    return f"工作流服务暂无响应：{events} 个事件 {seconds:.0f} 秒后重新发送"


class ReadModelBehind(RuntimeError):
    """Applied events whose store writes have not landed (the workflows keep retrying them)."""

    def __init__(self, missing: int):
        self.missing = missing
        super().__init__(
            f"{missing} 个已应用的事件在 {READ_MODEL_PATIENCE:.0f} 秒内未写入读模型（数据库不可用？）："
            "事件已在工作流中生效，写入会自动重试，数据库恢复后读模型随之补齐"
        )


# The field of an event not processed because the workflow service could not be reached: not a refusal
# of the event's content (re-sending it later applies it; an id it reached already answers duplicate).
UNAVAILABLE = "(unavailable)"
UNAVAILABLE_REASON = "工作流服务不可用，未处理（不是数据问题）：服务恢复后重新提交即可，已生效的不会重复"


def _unavailable(exc: RPCError) -> bool:
    """The service could not be reached or did not answer (an outage), as opposed to a refusal."""
    return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


LIVE_POLLER_SECONDS = 75.0  # a live worker re-polls at least once a minute (the server's long-poll expiry)


async def worker_problem(client: Client, timeout: float = 3.0, settle: float = 2.0) -> tuple[str, str] | None:
    """Why events sent now would not be answered: (code, Chinese reason), or None. Checked before an upload
    or an API batch is sent, so that a dead worker or server is said at once instead of after a minute's
    silence. The server lists a task queue's pollers for minutes after they stop: a worker counts as alive
    only if it polled within LIVE_POLLER_SECONDS. No live poller is asked again for `settle` seconds (a
    worker that just started has not polled yet). A server that cannot say (the time-skipping test server)
    is trusted."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=get_settings().task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    give_up = time.monotonic() + settle
    while True:
        try:
            resp = await client.workflow_service.describe_task_queue(request, timeout=dt.timedelta(seconds=timeout))
        except RPCError as exc:
            if exc.status == RPCStatusCode.UNIMPLEMENTED:
                return None
            log.warning("describe task queue failed: %s", exc.status.name if exc.status else "?")
            return "temporal_unavailable", "工作流服务暂不可用（无法连接）"
        except Exception as exc:  # connection refused / timed out before any status
            log.warning("describe task queue failed: %s", type(exc).__name__)
            return "temporal_unavailable", "工作流服务暂不可用（无法连接）"
        now = time.time()
        if any(now - p.last_access_time.ToSeconds() < LIVE_POLLER_SECONDS for p in resp.pollers):
            return None
        if time.monotonic() >= give_up:
            log.warning("no worker polls task queue %s", request.task_queue.name)
            return "no_worker", "没有正在运行的工作进程（worker），事件暂时无法处理"
        await asyncio.sleep(0.2)


class Stalled(RuntimeError):
    """No event of a batch answered for SHIXIAN_IMPORT_STALL_SECONDS: the worker or the server died under it."""


async def watched(start: Callable[[Callable[[], None]], Any], expected: int) -> Any:
    """Run a batch (`start(progress)`, e.g. an Ingestor.ingest), giving up with Stalled when none of its
    `expected` events has been answered for SHIXIAN_IMPORT_STALL_SECONDS: a worker killed after the
    pre-check leaves the Updates waiting for minutes. Once every event is answered only the read model's
    writes remain, which have their own bound (ReadModelBehind). What was sent and not answered may still
    take effect later; sending the same events again applies each exactly once (the workflow keeps ids)."""
    stall = get_settings().import_stall_seconds
    last, answered = [time.monotonic()], [0]

    def tick() -> None:
        last[0] = time.monotonic()
        answered[0] += 1

    task = asyncio.ensure_future(start(tick))
    while True:
        done, _ = await asyncio.wait({task}, timeout=min(1.0, stall))
        if done:
            return task.result()
        if answered[0] < expected and time.monotonic() - last[0] > stall:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            log.error("batch stalled: no event answered for %.0f s", stall)
            raise Stalled(f"工作流服务已 {stall:.0f} 秒没有处理任何事件（工作进程可能已停止）")


class IngestResult(BaseModel):
    line: int
    status: Status
    event_id: str | None = None
    type: str | None = None
    item_id: str | None = None
    field: str | None = None
    reason: str | None = None
    # Refused by the department rule (an access refusal, not bad content): a form answers 403. Not sent.
    forbidden: bool = Field(default=False, exclude=True)
    # Refused because the id was accepted before with other content (status stays "rejected" on the wire):
    # the ledger import reports it as the row's `conflict`, its preview by the same test. Not sent.
    conflict: bool = Field(default=False, exclude=True)

    def text(self) -> str:
        head = f"第 {self.line} 行 {self.event_id or '-'}"
        if self.status == "applied":
            tail = f"；{self.reason}" if self.reason else ""
            return f"{head}: 已应用 applied（{self.type} → {self.item_id}）{tail}"
        if self.status == "held":
            return f"{head}: 补录待审核 held（{self.type} → {self.item_id}）；{self.reason}"
        if self.status == "duplicate":
            return f"{head}: 重复 duplicate（已处理过，未作改动）"
        if self.field == UNAVAILABLE:
            return f"{head}: 未处理（服务不可用） {self.reason}"
        return f"{head}: 拒绝 rejected [{self.field}] {self.reason}"


def _settle(op: WithStartWorkflowOperation) -> None:
    """Retrieve the start operation's own outcome after a failed update-with-start: the SDK sets the same
    error (e.g. ALREADY_EXISTS when two imports race) on it, and asyncio would otherwise log it at garbage
    collection as "Future exception was never retrieved"."""
    fut = op._workflow_handle  # the SDK keeps no public non-blocking accessor
    if fut.done() and not fut.cancelled():
        fut.exception()


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
            id=r.id,
            name=r.name,
            unit=r.unit,
            start_event=r.start_event,
            met_by=list(r.met_by),
            closed_by=list(r.closed_by),
            pause=r.pause,
            resume=r.resume,
            stop=r.stop,
            restart=r.restart,
            extension_event=r.extension.event if r.extension else None,
            extension_caps=caps,
            when={k: list(v) for k, v in r.when},
            lapses=r.lapses,
            since=r.since.isoformat() if r.since else None,
            audience=r.audience,
            regions=list(r.regions),
            minimum=r.minimum,
            shorter_allowed=r.shorter_allowed,
            limit=r.limit_text if r.minimum else "",
            counted_back_from=r.counted_back_from,
            replaces=r.replaces,
            recurring=r.recurring,
        )
    return out


def item_rules(
    table: dict[str, RuleMeta],
    item_type: str,
    node: str | None,
    rule_nodes: dict[str, frozenset[str]],
    chain: tuple[str, ...] = (),
) -> dict[str, RuleMeta]:
    """The rules an item of `item_type` in a department of `node` starts with: its type's rules, and a node's
    internal pre-deadlines and a node's own versions of rules (`rule_nodes`: rule id -> the nodes it covers)
    only where they cover `node`. `chain`: the department's calendar region and the regions above it; a
    provincial variant (`regions`) joins only there. A variant takes the place of the rule it `replaces` at the
    start, where its own `when` applies (domain.transitions.replaced_here); the national rule stays for the rest."""
    here = {
        k: m
        for k, m in table.items()
        if ITEM_TYPE.get(m.start_event.split(".")[0]) == item_type
        and (k not in rule_nodes or node in rule_nodes[k])
        and (not m.regions or bool(set(m.regions) & set(chain)))
    }
    return here


def internal_rule_nodes(rules: dict[str, Rule]) -> dict[str, frozenset[str]]:
    """The rules that apply only to some nodes' departments: internal pre-deadlines and node versions."""
    return {r.id: r.nodes for r in rules.values() if r.nodes is not None}


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
    def __init__(
        self,
        client: Client,
        *,
        recorded_by: str | None = None,
        db_engine=None,
        internal: bool = False,
        role: str | None = None,
        now: Callable[[], dt.datetime] | None = None,
        scope: str | None = None,
        roles: dict[str, str] | None = None,
        node_scope: tuple[str | None, frozenset[str]] | None = None,
        retry_seconds: float = 0.0,
    ):
        self.client = client
        # How long events the service did not answer (unavailable, timed out) are sent again before they are
        # reported 未处理: 0 for a person waiting on a page or an API call (they are told to re-submit).
        self.retry_seconds = retry_seconds
        # A node-scoped supervisor's or admin's reach (their node and its subtree's departments): the items of
        # other departments are refused like a liaison's other departments (services.access.node_refusal).
        self.node_scope = node_scope
        # Per event id, the role it is recorded with instead of `role`: an approved onboarding batch is
        # recorded as `onboarding` (domain.review.ONBOARDING_ROLE, trusted), except its events that were
        # late entries when uploaded, which keep the uploader's role (services/onboarding.py).
        self.roles = roles or {}
        # The department whose items this sender may write (services.access); None = any. Checked for
        # every event against the item's own department, not the one the sender claims.
        self.scope = scope
        self._owners: dict[str, str] = {}  # item id -> department, for items this ingestor started
        self._down = False  # the service was unreachable in this batch: the rest is not sent
        self.recorded_by = recorded_by
        self.internal = internal  # the engine's own events (annual-report openers) are allowed
        # Who records: the API passes the token's role; the server-side CLI is the operator's import,
        # the engine's own events are "system". Only liaisons' and heads' entries can be held (补录).
        self.role = role or ("system" if internal else "operator")
        self.now = now or shanghai_now
        self.upload: str | None = None  # the ledger upload these events come in (set by ledger_import.apply)
        self._late_limit: tuple[int, int] | None = None  # config/review.toml (working, calendar days), once
        self.db = db_engine or get_engine()
        init_db(self.db)
        eng = engine()
        self.rules = rule_table(eng.rules)
        # internal pre-deadlines (内部时限): the nodes whose departments' items get them
        self._rule_nodes = internal_rule_nodes(eng.rules)
        self._rules_by_type: dict[tuple[str, str | None, str], dict[str, RuleMeta]] = {}
        self._directory: Directory | None = None

    def _link_applicant(self, ev: Event, key: str | None) -> Event:
        """The event with its applicant key and, when the same applicant withdrew a request in the same
        department within `[withdrawal] relink_working_days` before this one's receipt, the link to it
        (kept in the item's data, shown as 撤回后重新申请). The store is read only."""
        if key is None:
            return ev
        from store.requests import withdrawals_by_applicant

        limit = engine().limits.relink_working_days
        received = dt.date.fromisoformat(ev.on[:10])
        calendar, region = engine().calendar, self._region(ev)
        best: tuple[dt.date, str, int] | None = None  # the latest withdrawal in reach
        with session(self.db) as s:
            for request_id, withdrawn_on in withdrawals_by_applicant(s, key, ev.department or "", ev.item_id):
                try:
                    day = dt.date.fromisoformat(withdrawn_on[:10])
                except ValueError:
                    continue
                if day > received:
                    continue
                wd = calendar.working_days_between(day, received, region)
                if wd <= limit and (best is None or day > best[0]):
                    best = (day, request_id, wd)
        link = {"request_id": best[1], "withdrawn_on": best[0].isoformat(), "working_days": best[2]} if best else None
        data = {**ev.data, "after_withdrawal": link} if link else ev.data
        return ev.model_copy(update={"applicant_key": key, "data": data})

    def directory(self):
        if self._directory is None:
            self._directory = engine().directory
        return self._directory

    # ------------------------------------------------------------ batch
    async def ingest(
        self,
        objs: Iterable[tuple[int, Any]],
        progress: Callable[[], None] | None = None,
        on_result: Callable[[IngestResult], None] | None = None,
        on_wait: Callable[[int, float], None] | None = None,
    ) -> list[IngestResult]:
        """Every line's result, in line order. `on_result` hears each one as soon as it is decided (an event
        the service did not answer only once `retry_seconds` are spent); `on_wait(events, seconds)` before
        each wait to send such events again."""
        self._down = False  # each batch tries the service again
        results: dict[int, IngestResult] = {}
        # lines the service did not answer, with that result, while there is time to send them again
        unanswered: dict[int, IngestResult] = {}
        retry_until = time.monotonic() + self.retry_seconds
        final = [self.retry_seconds <= 0]
        seen: dict[str, tuple[str, int]] = {}  # event_id -> (content hash, line), within this batch
        repeats: dict[int, list[int]] = {}  # first line -> later lines with the same id and content
        per_item: OrderedDict[str, list[tuple[int, Event]]] = OrderedDict()

        def decided(r: IngestResult) -> None:
            if r.field == UNAVAILABLE and not final[0]:
                unanswered[r.line] = r
                return
            results[r.line] = r
            if on_result:
                on_result(r)
            if progress:
                progress()
            for line in repeats.pop(r.line, []):  # a repeat within the batch shares the first copy's fate
                decided(
                    r.model_copy(
                        update={
                            "line": line,
                            "status": "rejected" if r.status == "rejected" else "duplicate",
                            "reason": f"与第 {r.line} 行相同" + (f"：{r.reason}" if r.status == "rejected" else ""),
                        }
                    )
                )

        events: list[tuple[int, Event]] = []
        for line, obj in objs:
            if isinstance(obj, _BadJSON):
                decided(IngestResult(line=line, status="rejected", field="(json)", reason=obj.reason))
                continue
            if self.recorded_by and isinstance(obj, dict) and not obj.get("recorded_by"):
                obj = {**obj, "recorded_by": self.recorded_by}
            if self.scope is not None and isinstance(obj, dict) and obj.get("department") is not None:
                # Another department named in the event is refused before its content is judged; the item's
                # own department is checked once the event is parsed (_check_scope).
                from services.access import department_refusal

                reason = department_refusal(self.scope, (obj["department"],))
                if reason:
                    eid = obj.get("event_id")
                    decided(
                        IngestResult(
                            line=line,
                            status="rejected",
                            event_id=eid if isinstance(eid, str) else None,
                            type=obj.get("type") if isinstance(obj.get("type"), str) else None,
                            field="department",
                            reason=reason,
                            forbidden=True,
                        )
                    )
                    continue
            try:
                # Facts dated after this host's today are refused here already; the item workflow checks
                # again against the Temporal server's clock (the recording instant that counts).
                ev = parse_event(obj, internal=self.internal, today=self.now().astimezone(SHANGHAI).date())
                if ev.type == "request.received" and isinstance(obj, dict) and obj.get("applicant"):
                    # Hashed from the identity as sent, before anything masks or drops it; only the hash
                    # goes on (linking after a withdrawal, several requests of one applicant on one day).
                    ev = self._link_applicant(ev, applicant_key(obj["applicant"], applicant_secret()))
            except EventError as exc:
                eid = obj.get("event_id") if isinstance(obj, dict) else None
                decided(
                    IngestResult(
                        line=line,
                        status="rejected",
                        event_id=eid if isinstance(eid, str) else None,
                        field=exc.field,
                        reason=exc.reason,
                    )
                )
                continue
            try:
                ev = ev.model_copy(update={"recorded": self._recorded(ev)})
            except ConfigError as exc:  # e.g. a broken config/review.toml: refuse, never apply unreviewed
                decided(_result(line, ev, "rejected", "(config)", str(exc)))
                continue
            if ev.event_id in seen:
                known_hash, first = seen[ev.event_id]
                if known_hash != ev.content_hash:
                    decided(_result(line, ev, "rejected", "event_id", CONFLICT))
                else:
                    repeats.setdefault(first, []).append(line)
                continue
            seen[ev.event_id] = (ev.content_hash, line)
            events.append((line, ev))
        stored = self._stored_hashes([ev.event_id for _, ev in events])
        for line, ev in events:
            if ev.event_id in stored:  # answered from the event log without a round trip
                decided(
                    _result(line, ev, "duplicate")
                    if stored[ev.event_id] == ev.content_hash
                    else _result(line, ev, "rejected", "event_id", CONFLICT)
                )
            else:
                per_item.setdefault(ev.item_id, []).append((line, ev))
        sem = asyncio.Semaphore(CONCURRENCY)

        async def run_item(evs: list[tuple[int, Event]]) -> None:
            async with sem:
                for i in range(0, len(evs), BATCH):
                    chunk = evs[i : i + BATCH]
                    if len(chunk) == 1:
                        decided(await self._decide(*chunk[0]))
                    else:
                        for r in await self._decide_batch(chunk):
                            decided(r)

        await asyncio.gather(*(run_item(evs) for evs in per_item.values()))
        sent = dict(events)
        delay = RETRY_FIRST
        while unanswered:
            if time.monotonic() + delay > retry_until:  # no time for another try: what is left is said as it is
                final[0] = True
                for line in sorted(unanswered):
                    decided(unanswered.pop(line))
                break
            log.warning(
                "workflow service did not answer %d events: sending them again in %.0f s", len(unanswered), delay
            )
            if on_wait:
                on_wait(len(unanswered), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
            self._down = False
            again: OrderedDict[str, list[tuple[int, Event]]] = OrderedDict()
            for line in sorted(unanswered):  # an item's unanswered events are the tail of its own, in order
                again.setdefault(sent[line].item_id, []).append((line, sent[line]))
            unanswered.clear()
            await asyncio.gather(*(run_item(evs) for evs in again.values()))
        out = [results[k] for k in sorted(results)]
        _observe(out)
        await self.read_model_holds(out)
        return out

    async def read_model_holds(self, results: Iterable[IngestResult]) -> None:
        """Return once the read model holds every applied, held or duplicate event of `results`. An item
        workflow answers as soon as the event is in its history and writes the store right after (in
        order, per item), so a caller that reads the store next (a test, a page, the next command) sees
        it. (A duplicate's write may still be pending too: e.g. a re-import after a crash.)
        Raises ReadModelBehind if the writes make no progress for READ_MODEL_PATIENCE seconds."""
        missing = {r.event_id for r in results if r.status in ("applied", "held", "duplicate") and r.event_id}
        delay, last_progress = 0.005, time.monotonic()
        while missing:
            found = self._stored_hashes(sorted(missing)).keys()
            if found:
                missing -= found
                last_progress = time.monotonic()
                continue
            if time.monotonic() - last_progress > READ_MODEL_PATIENCE:
                raise ReadModelBehind(len(missing))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _recorded(self, ev: Event) -> Recorded:
        """Who records the event and, for reviewable roles, from which day on its recording is late (the
        (limit + 1)-th working day after its own date, in the item's region). `at`/`on` say when this
        host saw it; the item workflow replaces them with its own clock's instant, which decides."""
        at = self.now().astimezone(SHANGHAI)
        role = self.roles.get(ev.event_id, self.role)
        rec = Recorded(
            at=at.isoformat(),
            on=at.date().isoformat(),
            role=role,
            by=ev.data.get("recorded_by") or self.recorded_by,
            scope=self.scope,  # checked again by the item's workflow, under its lock (no race with a start)
            upload=self.upload,
        )
        # Liaisons' and heads' entries: a late one is held, a late start flagged 登记滞后 (domain.review).
        if role in HELD_ROLES:
            own = dt.date.fromisoformat(ev.on[:10])
            if self._late_limit is None:
                cfg = engine().review
                self._late_limit = (cfg.late_entry_working_days, cfg.late_entry_calendar_days)
            rec.limit, rec.calendar_limit = self._late_limit
            calendar, region = engine().calendar, self._region(ev)
            rec.late_from = first_late_day(own, rec.limit, rec.calendar_limit, calendar, region).isoformat()
            rec.working_days_after = calendar.working_days_between(own, at.date(), region)
        return rec

    def _region(self, ev: Event) -> str:
        department = ev.department
        if not department:
            with session(self.db) as s:
                item = s.get(Item, ev.item_id)
            department = item.department if item else None
        try:
            return self.directory().region_of(department) if department else "national"
        except Exception:  # unknown department: refused later with its own message
            return "national"

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        """Content hashes the read model already holds for these ids (applied events and late entries).
        A read only: the workflow remains the authority for everything not found here."""
        with session(self.db) as s:
            return content_hashes(s, ids)

    # ------------------------------------------------------------ one event
    async def ingest_one(self, line: int, ev: Event) -> IngestResult:
        """One event, its result once the read model holds it."""
        res = await self._decide(line, ev)
        await self.read_model_holds([res])
        return res

    async def _decide(self, line: int, ev: Event) -> IngestResult:
        if self._down:  # fail fast: each further call would wait out the client's retries first
            return _result(line, ev, "rejected", UNAVAILABLE, UNAVAILABLE_REASON)
        try:
            status, note = await self._route(ev)
        except _Rejected as exc:
            return _result(line, ev, "rejected", exc.field, exc.reason, exc.forbidden)
        except ConfigError as exc:
            return _result(line, ev, "rejected", "(config)", str(exc))
        except RPCError as exc:
            return self._rpc_refusal(line, ev, exc)
        if status == "held":
            return _result(line, ev, "held", reason=note or "补录待审核")
        return _result(line, ev, status, reason=note or None)  # type: ignore[arg-type]

    async def _decide_batch(self, evs: list[tuple[int, Event]]) -> list[IngestResult]:
        """Several events of one item: the sender's checks per event (as `_route` makes them), then ONE
        `apply_many` Update carrying those that passed, in order (update-with-start when the first is a
        start event), each answered on its own. What the batch cannot decide goes the one-event way: an item
        whose workflow is not running (finished, never started: facts on a finished item, the annual-report
        opener) and the events after one that ended the item."""
        if self._down:
            return [_result(line, ev, "rejected", UNAVAILABLE, UNAVAILABLE_REASON) for line, ev in evs]
        out: list[IngestResult] = []
        send: list[tuple[int, Event]] = []
        first = evs[0][1]
        wid = workflow_id(first.item_type, first.item_id)
        starts = first.type in STARTS
        refused_start: IngestResult | None = None
        try:
            for line, ev in evs:
                try:
                    await self._checks(ev, wid, new_item=starts and ev is first)
                except _Rejected as exc:
                    refusal = _result(line, ev, "rejected", exc.field, exc.reason, exc.forbidden)
                    if ev is first:  # no start: the rest cannot be taken either; the one-event way says why
                        refused_start = refusal
                        break
                    out.append(refusal)
                    continue
                except ConfigError as exc:
                    out.append(_result(line, ev, "rejected", "(config)", str(exc)))
                    continue
                send.append((line, ev))
        except RPCError:  # a check asked the service and got no answer: the one-event way says it per event
            asked = True
        else:
            asked = False
        if asked:
            return [await self._decide(ln, e) for ln, e in evs]
        if refused_start is not None:
            return [refused_start] + [await self._decide(ln, e) for ln, e in evs[1:]]
        if not send:
            return out
        try:
            answers = await self._send_batch([ev for _, ev in send], wid, starts and send[0][1] is first)
        except _NoWorkflow:
            return out + [await self._decide(line, ev) for line, ev in send]
        except RPCError as exc:
            return out + [self._rpc_refusal(line, ev, exc) for line, ev in send]
        later: list[tuple[int, Event]] = []
        for (line, ev), res in zip(send, answers, strict=True):
            if res.status == "rejected":
                out.append(_result(line, ev, "rejected", *_split_reason(ev, res.refused)))
            elif res.status == "no_start":
                out.append(_result(line, ev, "rejected", _id_field(ev), f"未知事项 {ev.item_id}：须先登记起始事件"))
            elif res.status == "not_taken":
                later.append((line, ev))
            elif res.status == "held":
                out.append(_result(line, ev, "held", reason=res.note or "补录待审核"))
            else:
                if res.status == "applied" and ev.type in STARTS and ev.department:
                    self._owners[ev.item_id] = ev.department
                out.append(_result(line, ev, res.status, reason=res.note or None))  # type: ignore[arg-type]
        for line, ev in later:
            out.append(await self._decide(line, ev))
        return out

    async def _checks(self, ev: Event, wid: str, *, new_item: bool = False) -> None:
        """The sender's checks of one event before it is sent (department and node rules, the approver, a
        new item's department and id)."""
        if self.scope is not None:
            await self._check_scope(ev, wid)
        if self.node_scope is not None:
            await self._check_node_scope(ev, wid)
        if ev.type == "request.extended":
            await self._check_approver(ev, wid)
        if new_item:
            self._check_new_item(ev)

    async def _send_batch(self, evs: list[Event], wid: str, start: bool) -> list[ApplyResult]:
        """One `apply_many` Update: with the item's start (its first event) when `start`."""
        try:
            if start:
                first = evs[0]
                op = self._start_op(first, wid)
                try:
                    return await self.client.execute_update_with_start_workflow(
                        ItemWorkflow.apply_many, evs, start_workflow_operation=op, id=_update_id(first)
                    )
                except BaseException:
                    _settle(op)
                    raise
            return await self.client.get_workflow_handle(wid).execute_update(
                ItemWorkflow.apply_many, evs, id=_update_id(evs[0])
            )
        except WorkflowUpdateFailedError as exc:
            if _split_reason(evs[0], _message(exc))[0] == FINISHED:
                await self._closing(wid)
            raise _NoWorkflow() from None  # each event the one-event way (the item's run has ended)
        except WorkflowAlreadyStartedError:
            raise _NoWorkflow() from None
        except RPCError as exc:
            if _closed(exc):
                raise _NoWorkflow() from None
            raise

    def _rpc_refusal(self, line: int, ev: Event, exc: RPCError) -> IngestResult:
        """An event the service did not take."""
        # The embedded server on a full disk answers UNAVAILABLE "shard status unknown": not this event's
        # fault, and no event can go through; say it as the full disk it is (507), not a refusal.
        if is_disk_full(exc) or (exc.status == RPCStatusCode.UNAVAILABLE and low_space(EXHAUSTED_MB)):
            raise DiskFull("磁盘空间不足：工作流服务无法写入其数据库") from exc
        if _unavailable(exc):
            if not self._down:  # once per batch, not once per event in flight
                log.warning("workflow service unavailable: %s", exc.status.name if exc.status else "?")
            self._down = True
            return _result(line, ev, "rejected", UNAVAILABLE, UNAVAILABLE_REASON)
        # One event the server refuses (e.g. over its message size limit) fails alone, with the
        # reason, instead of ending the whole import with the others unreported.
        code = exc.status.name if exc.status else "?"
        return _result(line, ev, "rejected", "(temporal)", f"工作流服务拒绝了该事件：{exc.message}（状态 {code}）")

    async def _route(self, ev: Event) -> tuple[str, str]:
        wid = workflow_id(ev.item_type, ev.item_id)
        await self._checks(ev, wid, new_item=ev.type in STARTS)
        if ev.type in STARTS:
            status, note = await self._start_with(ev, wid)
            if status == "applied" and ev.department:
                self._owners[ev.item_id] = ev.department
            return status, note
        try:
            return await self._update(ev, wid)
        except _NoWorkflow:
            pass
        if ev.type == "annual_report.published":
            # A report published with no clock yet: open the year's clock first, then meet it.
            opener = parse_event(
                {
                    "event_id": f"{ev.item_id}#open",
                    "type": "annual_report.year_closed",
                    "department": ev.data["department"],
                    "year": ev.data["year"],
                    "level": ev.data.get("level", "department"),
                    "recorded_by": "system",
                },
                internal=True,
            )
            self._check_new_item(opener)
            await self._start_with(opener, wid)
            return await self._update(ev, wid)
        raise _Rejected(_id_field(ev), f"未知事项 {ev.item_id}：须先登记起始事件")

    async def _owner(self, ev: Event, wid: str) -> str | None:
        """The item's own department: as the store holds it, else as the item's workflow knows it (its
        store write may still be pending); None for an item not known yet."""
        owner = self._owners.get(ev.item_id)
        if owner is None:
            with session(self.db) as s:
                item = s.get(Item, ev.item_id)
            owner = item.department if item is not None else None
            if owner is not None:  # an item's department never changes
                self._owners[ev.item_id] = owner
        if owner is None and ev.type not in STARTS:
            try:
                snap = await self.client.get_workflow_handle(wid).query(ItemWorkflow.snapshot)
                owner = snap.department or None
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        return owner

    async def _check_approver(self, ev: Event, wid: str) -> None:
        """条例第三十三条第二款: an extension is approved by the 负责人. The directory (config/departments.toml)
        is the authority on who that is: a person with the role `head` in the item's department, or a
        supervisor (公开办); never the person recording it. The rest (the notice to the applicant, the
        due date) is checked by the item's workflow."""
        approver = str(ev.data.get("approved_by") or "")
        recorders = {r for r in (self.recorded_by, ev.recorded.by if ev.recorded else None) if r}
        if approver in recorders:
            raise _Rejected("approved_by", f"批准人 {approver} 是登记人本人：延期须经负责人同意，不能自己批准")
        owner = await self._owner(ev, wid)
        if owner is None:
            return  # an unknown item: refused with its own message
        person = self.directory().people.get(approver)
        if person is None:
            raise _Rejected(
                "approved_by",
                f"批准人 “{approver[:40]}” 不在人员名录中（config/departments.toml）：请填写负责人的人员编号",
            )
        if not (person.has_role("supervisor") or (person.has_role("head") and person.department == owner)):
            name = self.directory().department_name(owner)
            raise _Rejected(
                "approved_by",
                f"批准人 {person.id}（{person.name}）不是{name}的负责人，也不是督查人员：延期须经政府信息公开工作机构"
                "负责人同意（条例第三十三条第二款）",
            )

    async def _check_scope(self, ev: Event, wid: str) -> None:
        """The department rule against the item's own department (see _owner), else (a new item) the event's."""
        from services.access import department_refusal

        owner = await self._owner(ev, wid)
        reason = department_refusal(
            self.scope, (ev.department, owner), ev.item_id if owner and owner != self.scope else None
        )
        if reason:
            raise _Rejected("department", reason, forbidden=True)

    async def _check_node_scope(self, ev: Event, wid: str) -> None:
        """The node rule against the item's own department (else, a new item, the event's)."""
        from services.access import node_refusal

        assert self.node_scope is not None
        node, allowed = self.node_scope
        owner = await self._owner(ev, wid)
        reason = node_refusal(allowed, node, (ev.department, owner), item_id=ev.item_id if owner else None)
        if reason:
            raise _Rejected("department", reason, forbidden=True)

    def _check_new_item(self, ev: Event) -> None:
        department = ev.department or ""
        if department not in self.directory().departments:
            raise _Rejected("department", f"未知部门 “{department}”（config/departments.toml 中没有该部门）")
        if ev.type == "duty.formed":  # i21-catalogue: the duty must exist, have a clock, cover the department
            from services.catalogue import current_rule, duty_refusal

            if reason := duty_refusal(ev.data.get("duty"), department):
                raise _Rejected("duty", reason)
            # imported or re-imported after this ingest's rule table was built: take the rules anew (the
            # duty's version now in force, not the one a re-import superseded)
            want = current_rule(ev.data.get("duty"))
            if want not in self._start_rules(ev, department):
                try:
                    rule_in_use(engine(), want or "")  # the source re-read if another process just imported
                except KeyError:
                    pass
                self.rules = rule_table(engine().rules)
                self._rule_nodes = internal_rule_nodes(engine().rules)
                self._rules_by_type.clear()
            if want not in self._start_rules(ev, department):
                raise _Rejected("duty", f"标准目录事项 {ev.data.get('duty')} 的时限规则尚未生效，请稍后重试")
        with session(self.db) as s:
            other = s.get(Item, ev.item_id)
        if other is not None and other.type != ev.item_type:
            raise _Rejected(_id_field(ev), f"编号 {ev.item_id} 已被{other.type}类事项使用，请使用唯一编号")

    async def _start_with(self, ev: Event, wid: str) -> tuple[str, str]:
        """Start the item's workflow with its start event as the first Update: one round trip. A finished
        item keeps its id (a second start event must not begin a second life); only a run whose start
        event was refused (failed) may be replaced."""
        start = self._start_op(ev, wid)
        try:
            res: ApplyResult = await self.client.execute_update_with_start_workflow(
                ItemWorkflow.apply, ev, start_workflow_operation=start, id=_update_id(ev)
            )
        except WorkflowUpdateFailedError as exc:
            field, reason = _split_reason(ev, _message(exc))
            if field == FINISHED:
                await self._closing(wid)
                return await self._finished(ev, wid)
            raise _Rejected(field, reason) from None
        except WorkflowAlreadyStartedError:
            _settle(start)
            return await self._finished(ev, wid)
        except RPCError as exc:
            _settle(start)
            if not _closed(exc):
                raise
            return await self._finished(ev, wid)
        except BaseException:  # cancelled (an upload confirm that stalled): the SDK sets it on the start op too
            _settle(start)
            raise
        return res.status, res.note

    def _start_op(self, ev: Event, wid: str) -> WithStartWorkflowOperation:
        """The start of the item's workflow with its start event (also carried in the input: see ItemInput)."""
        department = ev.department or ""
        state = ItemState(
            id=ev.item_id,
            type=ev.item_type,
            department=department,
            region=self.directory().region_of(department),
            rules=self._start_rules(ev, department),
        )
        return WithStartWorkflowOperation(
            workflow_for(ev.item_type).run,
            ItemInput(state=state, start=ev),
            id=wid,
            task_queue=get_settings().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )

    def _start_rules(self, ev: Event, department: str) -> dict[str, RuleMeta]:
        directory = self.directory()
        rules = self._rules_for(ev.item_type, directory.node_of(department), directory.region_of(department))
        if ev.item_type == "duty":  # only its own duty's rule: a node's catalogue has hundreds
            rules = {k: m for k, m in rules.items() if m.when.get("duty") == [ev.data.get("duty")]}
        return rules

    def _rules_for(self, item_type: str, node: str | None = None, region: str = "national") -> dict[str, RuleMeta]:
        """The rules an item of this type can start: only its own events reach its workflow, so a rule
        started by another type's event never runs there. (A request's start input: 1.6 KB instead of
        4.6 KB with every rule, carried by the CLI, the server's history and the worker.) A node's internal
        pre-deadlines join only for the departments they cover (`node`: the item's department's node)."""
        key = (item_type, node, region)
        if key not in self._rules_by_type:
            chain = engine().calendar.chain(region)
            self._rules_by_type[key] = item_rules(self.rules, item_type, node, self._rule_nodes, chain)
        return self._rules_by_type[key]

    async def _update(self, ev: Event, wid: str) -> tuple[str, str]:
        handle = self.client.get_workflow_handle(wid)
        try:
            res: ApplyResult = await handle.execute_update(ItemWorkflow.apply, ev, id=_update_id(ev))
        except WorkflowUpdateFailedError as exc:
            field, reason = _split_reason(ev, _message(exc))
            if field == FINISHED:  # the item ended and its run writes its last rows: record it once closed
                await self._closing(wid)
                return await self._finished(ev, wid)
            raise _Rejected(field, reason) from None
        except RPCError as exc:
            if not _closed(exc):
                raise
            return await self._finished(ev, wid)
        return res.status, res.note

    async def _closing(self, wid: str) -> None:
        """Wait (bounded) for a finished item's run to end: it only has its store writes left."""
        try:
            await asyncio.wait_for(self.client.get_workflow_handle(wid).result(), CLOSING_PATIENCE)
        except (WorkflowFailureError, TimeoutError):
            pass  # `_finished` asks its state either way

    async def _finished(self, ev: Event, wid: str) -> tuple[str, str]:
        """The workflow never started, failed (its start event was refused) or completed (a finished item:
        it still answers for the ids it accepted; a few kinds of fact are recorded on it)."""
        handle = self.client.get_workflow_handle(wid)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if _unavailable(exc):  # an outage is not "no such item"
                raise
            raise _NoWorkflow() from None
        if desc.status == WorkflowExecutionStatus.FAILED:
            raise _NoWorkflow()
        seen = await handle.query(ItemWorkflow.event_hash, ev.event_id)
        if seen is not None:
            if seen != ev.content_hash:
                raise _Rejected("event_id", CONFLICT)
            return "duplicate", ""
        snap = await handle.query(ItemWorkflow.snapshot)
        if ev.type in STARTS:
            raise _Rejected("type", f"事项 {ev.item_id} 已结束（{snap.state}），不能重复登记（{ev.type}）")
        if ev.type in RECORD_ONLY or ev.type == "interpretation.published":
            note = f"事项已结束（{snap.state}），已记录用于统计"
        elif ev.type == "document.published" and snap.data.get("disclosure") == "withheld":
            note = "不予公开的文件后经公开：已记录，不计时限"  # a fact for the record, no clock runs for it
        else:
            status = desc.status.name if desc.status else "?"
            raise _Rejected("type", f"事项已结束（{snap.state}，{status}），不能再接受 {ev.type}")
        try:
            outcome = await self.client.execute_workflow(
                FactWorkflow.run,
                FactRequest(event=ev, department=snap.department),
                id=f"fact:{ev.event_id}",
                task_queue=get_settings().task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowFailureError as exc:  # refused by the fact workflow (e.g. dated after its today)
            cause = exc.cause
            raise _Rejected(*_split_reason(ev, getattr(cause, "message", None) or str(cause or exc))) from None
        if outcome == "conflict":
            raise _Rejected("event_id", CONFLICT)
        return outcome, note if outcome == "applied" else ""


def node_scope(who) -> tuple[str | None, frozenset[str]] | None:
    """(node, its subtree's departments) for a node-scoped writer; None for an unscoped one or a liaison."""
    from services.access import visible_departments

    if who.write_scope is not None:
        return None
    allowed = visible_departments(who)
    return None if allowed is None else (who.node, allowed)


def ingestor_for(who, client, *, retry_seconds: float = 0.0) -> Ingestor:
    """The ingest path for a services.access.Principal's events: attributed to them, recorded with their
    role, and confined to their department when they are a liaison (services.access.write_scope)."""
    from store.db import database_url, get_engine

    return Ingestor(
        client,
        recorded_by=who.actor,
        db_engine=get_engine(database_url()),
        role=who.record_role,
        scope=who.write_scope,
        node_scope=node_scope(who),
        retry_seconds=retry_seconds,
    )


def _result(
    line: int, ev: Event, status: Status, field: str | None = None, reason: str | None = None, forbidden: bool = False
) -> IngestResult:
    return IngestResult(
        line=line,
        status=status,
        event_id=ev.event_id,
        type=ev.type,
        item_id=ev.item_id,
        field=field,
        reason=reason,
        forbidden=forbidden,
        conflict=field == "event_id" and reason == CONFLICT,  # the one text the workflow's Refusal carries
    )


def _update_id(ev: Event) -> str:
    # Unique per send: the workflow, not Temporal's Update-id dedup, tells a duplicate from a conflict
    # (a reused id would hand the second sender the first one's "applied"). The SDK's own retries of
    # one send reuse it.
    return f"{ev.event_id}@{uuid.uuid4().hex[:12]}"


def _message(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return getattr(cause, "message", None) or str(cause or exc)


def _closed(exc: RPCError) -> bool:
    """The item's workflow is not running: never started, or finished (update-with-start on a finished
    item's id answers ALREADY_EXISTS: its id is not reused)."""
    return exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.ALREADY_EXISTS) or "completed" in str(exc).lower()


class _Rejected(Exception):
    def __init__(self, field: str, reason: str, forbidden: bool = False):
        super().__init__(reason)
        self.field, self.reason, self.forbidden = field, reason, forbidden


class _NoWorkflow(Exception):
    pass


def _id_field(ev: Event) -> str:
    for k in (*ITEM_ID_FIELDS, "department"):
        if k in ev.data:
            return k
    return "type"


def _split_reason(ev: Event, message: str) -> tuple[str, str]:
    """Workflow refusals read "[field] reason"; anything else is about the event as a whole."""
    m = re.match(r"\[([\w.()]+)\] (.*)", message, re.S)
    return (m.group(1), m.group(2)) if m else ("type", message)


# Who counts the results (the worker's metrics module adds its counter; services never import worker).
OBSERVERS: list[Callable[[list[IngestResult]], None]] = []


def _observe(results: list[IngestResult]) -> None:
    """Metrics and one log line per event: ids, type and status only (never payload or reason text)."""
    for observer in OBSERVERS:
        observer(results)
    for r in results:
        log.info(
            "event %s",
            r.status,
            extra={
                "event_id": r.event_id,
                "item_id": r.item_id,
                "event_type": r.type,
                "status": r.status,
                "field": r.field,
            },
        )


def applicant_secret() -> bytes:
    """The key of domain.pii.applicant_key: SHIXIAN_APPLICANT_KEY_SECRET, else a random one generated once
    and kept in the data directory (mode 0600). Losing it only stops linking requests recorded before."""
    import os
    import secrets

    settings = get_settings()
    if settings.applicant_key_secret is not None:
        return settings.applicant_key_secret.get_secret_value().encode()
    path = settings.data_dir / "applicant-key.secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()
