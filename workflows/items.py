"""Item workflows: one durable workflow per tracked item (document, request, opinion case, budget, report).

The clocks an event starts, meets, pauses, stops, restarts, extends or closes come from the rule data
(config/rules.toml, handed to the workflow at start as `RuleMeta`), so a new statutory clock is a config
change. Document and request workflows add only their own checks and the request's abandonment timer.

Human actions arrive as the `apply` Update: its validator refuses an invalid event before it reaches
history; the handler computes due dates in activities and keeps them in workflow state. Reminders
fire from the ladder plan (computed in an activity), each step once per due date.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Optional

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.clocks import (
        ClockJob,
        ClockResult,
        ClockSpec,
        ComputeRequest,
        CorrectionRequest,
        CorrectionResult,
        DueChange,
        ExtensionSpec,
        PauseSpec,
        PlannedStepModel,
        PlanRequest,
        SystemEvent,
        compute_clocks,
        correction_period,
        plan_steps,
        record_due_change,
        record_system_event,
        save_snapshot,
    )
    from domain.events import RECORD_ONLY, STARTS, Event
    from domain.model import ClockSnapshot, ItemSnapshot
    from domain.review import HELD_ROLES, LateEntry, holds_clock, late_entry_reason
    from workflows.notify_steps import notify_roles

TERMINAL = ("met", "missed", "closed")
ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# After a correction's respond_by passes, wait this long for a late-arriving import line first.
ABANDON_GRACE = timedelta(hours=1)
ORPHAN_TIMEOUT = timedelta(hours=1)


class RuleMeta(BaseModel):
    """What a workflow needs to route events to clocks (a copy of the rule data at start)."""

    id: str
    name: str
    unit: str
    start_event: str
    met_by: list[str] = Field(default_factory=list)
    closed_by: list[str] = Field(default_factory=list)
    pause: Optional[str] = None
    resume: Optional[str] = None
    stop: Optional[str] = None
    restart: Optional[str] = None
    extension_event: Optional[str] = None
    # [(before ISO date or "", max working days, max times)], newest edition last
    extension_caps: list[tuple[str, int, int]] = Field(default_factory=list)
    when: dict[str, list[Any]] = Field(default_factory=dict)
    lapses: bool = False  # closes at its due instant instead of going overdue
    since: Optional[str] = None  # applies to clocks starting on or after this date

    def applies(self, facts: dict[str, Any]) -> bool:
        return all(facts.get(k) in allowed for k, allowed in self.when.items())

    def extension_cap(self, start: str) -> tuple[int, int] | None:
        for before, days, times in self.extension_caps:
            if not before or start[:10] < before:
                return days, times
        return None


class ClockData(ClockSpec):
    """A clock's inputs (what `compute_clocks` needs) plus what the workflow learnt and decided."""

    state: str = "open"
    stopped: bool = False  # e.g. waiting for the applicant's correction
    stopped_on: Optional[str] = None
    computed_at: Optional[str] = None  # workflow time of the last computation (backfill grace)
    due: Optional[str] = None
    due_instant: Optional[str] = None
    provisional: bool = False
    explanation: dict[str, Any] = Field(default_factory=dict)
    paused_days: int = 0
    lateness_working_days: Optional[int] = None
    fired: list[str] = Field(default_factory=list)
    last_overdue_at: Optional[str] = None  # when the last overdue notice actually went out
    plan: list[PlannedStepModel] = Field(default_factory=list)
    ladder_step: Optional[str] = None

    @property
    def live(self) -> bool:
        return self.state not in TERMINAL


class ItemState(BaseModel):
    id: str
    type: str
    department: str
    title: str = ""
    region: str = "national"
    state: str = "new"
    version: int = 0
    data: dict[str, Any] = Field(default_factory=dict)
    clocks: list[ClockData] = Field(default_factory=list)
    applied: list[str] = Field(default_factory=list)
    rules: dict[str, RuleMeta] = Field(default_factory=dict)
    abandon_at: Optional[str] = None
    late: list[LateEntry] = Field(default_factory=list)  # late entries (补录), held and reviewed
    held_events: dict[str, Event] = Field(default_factory=dict)  # event_id -> the held event itself


class ItemInput(BaseModel):
    state: ItemState


class ApplyResult(BaseModel):
    status: str  # applied / duplicate / held; for `review`: approved / rejected
    snapshot: ItemSnapshot
    note: str = ""


class ReviewDecision(BaseModel):
    """A supervisor's decision on a held late entry (the `review` Update)."""

    event_id: str
    approve: bool
    by: str
    at: str  # ISO instant of the decision
    reason: str = ""


class Refusal(ValueError):
    """An event the item's state cannot accept; the text reaches the sender as "[field] reason"."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"[{field}] {reason}")


def _reject(message: str) -> None:
    raise ApplicationError(message, type="Rejected", non_retryable=True)


class ItemWorkflowBase:
    """Shared machinery; the @workflow.defn classes below add their own rules."""

    def __init__(self, inp: ItemInput) -> None:
        # State exists before the first activation's Update handler runs (it may precede `run`).
        self.st: ItemState = inp.state
        self._lock = asyncio.Lock()
        self._dirty = False
        self._recalc: list[str] = []
        self._start_refused = False  # the start event failed in its handler: end the run now

    # ------------------------------------------------------------ run loop
    async def _run(self, inp: ItemInput) -> ItemSnapshot:
        if self.st.version:  # continued-as-new: timers are rebuilt from the plan
            self._dirty = True
        else:
            try:  # the start event normally arrives with the start (Update right after it)
                await workflow.wait_condition(lambda: self.st.version > 0 or self._start_refused,
                                              timeout=ORPHAN_TIMEOUT)
            except asyncio.TimeoutError:
                pass
            if not self.st.version:
                # Its start event was refused: fail, so that the id can be used by a corrected event
                # (and no empty workflow is left running).
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise ApplicationError("起始事件未被接受，事项未建立", type="NoStartEvent", non_retryable=True)
        while True:
            if self.st.version and self.st.state not in ("open", "new") and not self.st.held_events:
                break  # (a held entry keeps the item reachable until it is reviewed)
            wake = self._next_wake()
            self._dirty = False
            try:
                if wake is None:
                    await workflow.wait_condition(lambda: self._dirty)
                else:
                    secs = (wake - workflow.now()).total_seconds()
                    if secs > 0:
                        await workflow.wait_condition(lambda: self._dirty, timeout=timedelta(seconds=secs))
            except asyncio.TimeoutError:
                pass
            await self._tick()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(ItemInput(state=self.st))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.snapshot()

    def _next_wake(self) -> datetime | None:
        moments = [datetime.fromisoformat(s.fire_at) for c in self.st.clocks if c.state == "open" for s in c.plan]
        moments += [self._lapse_at(c) for c in self._lapsing()]
        if self.st.abandon_at:
            moments.append(datetime.fromisoformat(self.st.abandon_at))
        return min(moments) if moments else None

    async def _tick(self) -> None:
        sends: list[tuple[ClockData, PlannedStepModel]] = []
        async with self._lock:
            if self._recalc:
                reasons, self._recalc = self._recalc, []
                await self._recalculate("；".join(dict.fromkeys(reasons)))
            await self._on_tick()
            lapsed = await self._close_lapsed()
            now = workflow.now()
            for c in self.st.clocks:
                if c.state != "open":
                    continue
                due_steps = [s for s in c.plan if datetime.fromisoformat(s.fire_at) <= now]
                for s in due_steps:
                    c.fired.append(s.key)
                    c.ladder_step = s.step
                    if s.overdue:
                        c.last_overdue_at = now.isoformat()
                    sends.append((c, s))
                if due_steps:
                    await self._replan(c)
            if sends or lapsed:
                self._refresh_state()
                self.st.version += 1
                await self._save()
        # Send outside the lock: a slow channel must not hold up incoming events.
        for c, s in sends:
            await self._notify(c, s)

    def _lapsing(self) -> list[ClockData]:
        return [c for c in self.st.clocks
                if c.state == "open" and c.due_instant and (m := self.st.rules.get(c.rule)) and m.lapses]

    @staticmethod
    def _lapse_at(c: ClockData) -> datetime:
        """When a window closes: its due instant, but for a window imported already past, only after a
        grace period, so that a bulk import's next lines (e.g. the consultation's end) arrive first."""
        due = datetime.fromisoformat(c.due_instant)
        if c.computed_at:
            return max(due, datetime.fromisoformat(c.computed_at) + ABANDON_GRACE)
        return due

    async def _close_lapsed(self) -> bool:
        now, closed = workflow.now(), False
        for c in self._lapsing():
            if self._lapse_at(c) <= now:
                c.state, c.plan, closed = "closed", [], True
                c.explanation = {**c.explanation, "notes": [*c.explanation.get("notes", []),
                                                            f"{c.due} 期限届满，窗口关闭（不属逾期）"]}
                meta = self.st.rules[c.rule]
                await self._end_pauses_started_by(meta.start_event, c.due, _window_kind(meta))
        return closed

    async def _end_pauses_started_by(self, event_type: str, day: str, kind: str | None = None) -> None:
        """A consultation window that lapses ends the pause it opened (条例第三十二条: the agency then
        decides; 第三十四条: deemed consent), so an unanswered consultation cannot stop a clock for ever.
        Only its own pause: another consultation still open keeps the clock paused."""
        for other in self.st.clocks:
            meta = self.st.rules.get(other.rule)
            if not (meta and other.live and meta.pause == event_type):
                continue
            open_pauses = [p for p in other.pauses if p.end is None and _same_kind(p.kind, kind)]
            for p in open_pauses:
                p.end = day
            if open_pauses:
                await self._compute_or_keep(other)

    async def _on_tick(self) -> None:  # type-specific timers
        return None

    # ------------------------------------------------------------ handlers
    @workflow.update
    async def apply(self, ev: Event) -> ApplyResult:
        async with self._lock:
            if ev.event_id in self.st.applied:
                status = "held" if ev.event_id in self.st.held_events else "duplicate"
                return ApplyResult(status=status, snapshot=self.snapshot())
            held = self._late_entry_reason(ev)
            if held:
                # 补录: kept aside; until a supervisor approves it the clocks ignore it.
                self._hold(ev, held)
                self.st.applied.append(ev.event_id)
                self.st.version += 1
                await self._save()
                return ApplyResult(status="held", snapshot=self.snapshot(), note=f"补录待审核：{held}")
            before = self.st.model_copy(deep=True)
            try:
                note = await self._apply(ev)
            except ActivityError as exc:
                self.st = before
                self._start_refused = not before.version
                cause = exc.cause
                _reject(getattr(cause, "message", None) or str(exc))
            except ApplicationError:
                self.st = before
                self._start_refused = not before.version
                raise
            self.st.applied.append(ev.event_id)
            self._refresh_state()
            self.st.version += 1
            await self._save()
            self._dirty = True
            return ApplyResult(status="applied", snapshot=self.snapshot(), note=note or "")

    @apply.validator
    def _validate_apply(self, ev: Event) -> None:
        if ev.event_id in self.st.applied:
            return
        self._check(ev)

    @workflow.update
    async def review(self, d: ReviewDecision) -> ApplyResult:
        """Approve (apply as of the event's own date) or reject (drop, with the reason) a held entry."""
        async with self._lock:
            entry = self._entry(d.event_id)
            if entry is not None and entry.status != "held":  # a repeated decision
                return ApplyResult(status=entry.status, snapshot=self.snapshot())
            ev = self.st.held_events[d.event_id]
            note = None
            if d.approve:
                before = self.st.model_copy(deep=True)
                try:
                    note = await self._apply(ev)
                except ActivityError as exc:
                    self.st = before
                    _reject(getattr(exc.cause, "message", None) or str(exc))
                except ApplicationError:
                    self.st = before
                    raise
            entry = self._entry(d.event_id)
            entry.status = "approved" if d.approve else "rejected"
            entry.decided_by, entry.decided_at, entry.decision_reason = d.by, d.at, d.reason or None
            del self.st.held_events[d.event_id]
            self._refresh_state()
            self.st.version += 1
            await self._save()
            self._dirty = True
            return ApplyResult(status=entry.status, snapshot=self.snapshot(), note=note or "")

    @review.validator
    def _validate_review(self, d: ReviewDecision) -> None:
        entry = self._entry(d.event_id)
        if entry is None:
            raise Refusal("event_id", f"事项 {self.st.id} 没有补录事件 {d.event_id}")
        if entry.status != "held":
            return
        if not d.approve and not d.reason.strip():
            raise Refusal("reason", "驳回补录须说明理由")
        if d.approve:  # the item may have moved on meanwhile (e.g. replied by another entry)
            self._check(self.st.held_events[d.event_id])

    def _entry(self, event_id: str) -> LateEntry | None:
        return next((e for e in self.st.late if e.event_id == event_id), None)

    def _late_entry_reason(self, ev: Event) -> str | None:
        """Why `ev` must wait for review (补录), or None. The ingest path measured how late it was
        recorded (working days, in an activity-free service layer); here only dates are compared."""
        rec = ev.recorded
        if rec is None or rec.role not in HELD_ROLES:
            return None
        touches, extension_dues = False, []
        for c in self.st.clocks:
            meta = self.st.rules.get(c.rule)
            if not (meta and c.live and holds_clock(ev.type, met_by=meta.met_by, closed_by=meta.closed_by,
                                                    pause=meta.pause, stop=meta.stop,
                                                    extension_event=meta.extension_event, lapses=meta.lapses)):
                continue
            touches = True
            if ev.type == meta.extension_event and c.due:
                extension_dues.append(c.due)
        return late_entry_reason(rec, ev.on, extension_dues=extension_dues) if touches else None

    def _hold(self, ev: Event, reason: str) -> None:
        rec = ev.recorded
        self.st.held_events[ev.event_id] = ev
        self.st.late.append(LateEntry(
            event_id=ev.event_id, type=ev.type, on=ev.on, recorded_at=rec.at, recorded_on=rec.on,
            recorded_by=rec.by, role=rec.role, reason=reason, content_hash=ev.content_hash,
            data={k: v for k, v in ev.data.items() if k not in ("event_id", "type")}))

    @workflow.query
    def snapshot(self) -> ItemSnapshot:
        st = self.st
        return ItemSnapshot(
            id=st.id, type=st.type, department=st.department, title=st.title,
            state="open" if st.state == "new" else st.state, version=st.version,
            data={**st.data, "region": st.region},
            clocks=[ClockSnapshot(
                rule=c.rule, start=c.start, due=c.due, due_instant=c.due_instant, state=c.state,
                met_on=c.met_on, lateness_working_days=c.lateness_working_days, provisional=c.provisional,
                paused_days=c.paused_days, region=c.region, explanation=c.explanation, ladder_step=c.ladder_step,
            ) for c in st.clocks],
            late_entries=[e.model_copy() for e in st.late],
        )

    @workflow.query
    def has_event(self, event_id: str) -> bool:
        return event_id in self.st.applied

    @workflow.signal
    def recalculate(self, reason: str) -> None:
        self._recalc.append(reason or "日历数据更新")
        self._dirty = True

    # ------------------------------------------------------------ validation (no side effects)
    def _check(self, ev: Event) -> None:
        st = self.st
        if ev.type in STARTS:
            if st.version:
                raise Refusal("type", f"事项 {st.id} 已存在，不能重复登记（{ev.type}）")
            return
        if not st.version:
            raise Refusal("type", f"未知事项 {ev.item_id}：须先登记起始事件")
        start_on = st.data.get("start_on")
        if start_on and ev.on < start_on[: len(ev.on)]:
            raise Refusal(ev.date_field, f"{ev.type} 的日期 {ev.on} 早于事项起算日 {start_on}")
        if st.state not in ("open", "new") and ev.type not in RECORD_ONLY and not self._record_only(ev):
            raise Refusal("type", f"事项已结束（{st.state}），不能再接受 {ev.type}")
        for c in st.clocks:
            meta = st.rules.get(c.rule)
            if meta and ev.type == meta.extension_event:
                self._check_extension(ev, c, meta)
        self._check_specific(ev)

    def _check_extension(self, ev: Event, c: ClockData, meta: RuleMeta) -> None:
        if not c.live:
            raise Refusal("type", f"{meta.name}时限已结束，不能延期")
        if c.stopped:
            raise Refusal("on", "待申请人补正期间不能延期")
        cap = meta.extension_cap(c.restarted_from or c.start)  # the edition of the original receipt
        if cap is None:
            raise Refusal("type", f"{meta.name}不允许延期")
        max_days, max_times = cap
        if len(c.extensions) >= max_times:
            raise Refusal("type", f"{meta.name}只能延期 {max_times} 次，已于 {c.extensions[0].on} 延期")
        if ev.data["working_days"] + sum(e.working_days for e in c.extensions) > max_days:
            raise Refusal("working_days", f"延期最长不得超过 {max_days} 个工作日")
        if c.due and ev.on > c.due[:10]:
            raise Refusal("on", f"延期须在答复期限届满前决定：当前期限 {c.due}，延期决定日 {ev.on}")

    def _check_specific(self, ev: Event) -> None:
        return None

    def _record_only(self, ev: Event) -> bool:
        """An event kept as a fact on a finished item, with no clock (type-specific)."""
        return False

    # ------------------------------------------------------------ transitions
    async def _apply(self, ev: Event) -> str | None:
        st = self.st
        if ev.type in STARTS:
            st.data.update({k: v for k, v in ev.data.items() if k not in ("event_id", "type", "recorded_by")})
            st.data["start_on"] = ev.on
            st.title = ev.data.get("title") or ev.data.get("subject") or st.title
            st.state = "open"
        self._record_facts(ev)
        facts = {**st.data, **ev.data}
        touched: list[ClockData] = []
        closed_late: list[ClockData] = []
        ended_kind = self._ended_kind(ev)
        for meta in st.rules.values():
            clock = self._clock(meta.id)
            if ev.type == meta.start_event and meta.applies(facts) and not (meta.since and ev.on[:10] < meta.since):
                start = ev.on if meta.unit == "hours" else ev.on[:10]
                if meta.lapses and ev.data.get("delivered_on"):
                    start = ev.data["delivered_on"]  # the window counts from the letter's receipt
                fresh = ClockData(rule=meta.id, start=start, region=st.region)
                if clock is None:
                    st.clocks.append(fresh)
                else:
                    st.clocks[st.clocks.index(clock)] = fresh
                touched.append(fresh)
                continue
            if clock is None or not clock.live:
                continue
            day = ev.on[:10]
            if ended_kind and _window_kind(meta) not in (None, ended_kind):
                continue  # the other consultation's window: still running
            if ev.type in meta.met_by:
                # Met while suspended (waiting for a correction) or during a consultation: the time since
                # then did not run, so the suspension or pause ends on the day the duty was met.
                if clock.stopped:
                    clock.pauses.append(PauseSpec(start=clock.stopped_on or day, end=day, reason="待申请人补正"))
                    clock.stopped, clock.stopped_on = False, None
                for p in clock.pauses:
                    if p.end is None:
                        p.end = day
                clock.met_on = ev.on if meta.unit == "hours" else day
                touched.append(clock)
            elif ev.type in meta.closed_by:
                if not meta.lapses and _after_due(ev.on, clock):
                    # Withdrawn or repealed after the due date: late is late, up to the closing day.
                    clock.met_on = ev.on if meta.unit == "hours" else day
                    closed_late.append(clock)
                    touched.append(clock)
                else:
                    clock.state, clock.plan = "closed", []
            elif ev.type == meta.pause:
                clock.pauses.append(PauseSpec(start=day, reason=_pause_reason(ev), kind=ev.data.get("with")))
                touched.append(clock)
            elif ev.type == meta.resume:
                # A consultation answered after its window lapsed paused the clock only until that
                # window's last day, imported or live alike (the window's lapse ends the pause). Each
                # consultation ends at its own answer or its own window; another one may still run.
                window_ends = [w.due[:10] for w in self._windows_opened_by(meta.pause)
                               if w.due and _same_kind(ended_kind, _window_kind(self.st.rules[w.rule]))]
                end = min([day, *window_ends])
                for p in clock.pauses:
                    if p.end is None and _same_kind(p.kind, ended_kind):
                        p.end = max(end, p.start)
                touched.append(clock)
            elif ev.type == meta.stop:
                clock.stopped, clock.stopped_on, clock.state, clock.plan = True, day, "paused", []
                clock.due = clock.due_instant = None
                clock.explanation = {**clock.explanation, "due": None,
                                     "summary": f"{day} 已告知申请人补正，答复期限自收到补正申请之日起重新计算"}
            elif ev.type == meta.restart:
                old = clock.start
                clock.restarted_from, clock.start = old, day
                clock.pauses, clock.extensions, clock.stopped, clock.fired = [], [], False, []
                clock.stopped_on = clock.last_overdue_at = None
                clock.state = "open"
                touched.append(clock)
            elif ev.type == meta.extension_event:
                clock.extensions.append(ExtensionSpec(on=day, working_days=int(ev.data["working_days"]),
                                                      reason=str(ev.data.get("reason", "")), event_id=ev.event_id))
                touched.append(clock)
        await self._compute(*touched)
        for c in closed_late:
            c.explanation = {**c.explanation, "closed_late": True, "notes": [
                *c.explanation.get("notes", []),
                f"{ev.on[:10]} {_CLOSE_NAMES.get(ev.type, ev.type)}，已过期限 {c.due}：按逾期计，"
                f"逾期 {c.lateness_working_days} 个工作日（期限届满后撤回或废止不能抵消逾期）"]}
        return await self._after_apply(ev)

    def _open_consultations(self) -> set[str | None]:
        return {p.kind for c in self.st.clocks for p in c.pauses if p.end is None}

    def _ended_kind(self, ev: Event) -> str | None:
        """Which consultation a `request.consultation_ended` ends: its `with`, else the only one open."""
        if ev.type != "request.consultation_ended":
            return None
        if ev.data.get("with"):
            return ev.data["with"]
        kinds = self._open_consultations()
        if len(kinds) == 1:
            return next(iter(kinds))
        live = {_window_kind(self.st.rules[c.rule]) for c in self._windows_opened_by("request.consultation_started")
                if c.live}
        return next(iter(live)) if len(live) == 1 else None

    def _record_facts(self, ev: Event) -> None:
        """Keep what later checks and reports need (e.g. publication date, outcome)."""
        keep = {"published_on", "outcome", "repealed_on", "url"}
        for k in keep & ev.data.keys():
            self.st.data[f"{ev.type}.{k}" if k == "published_on" else k] = ev.data[k]

    async def _after_apply(self, ev: Event) -> str | None:
        return None

    def _windows_opened_by(self, event_type: str | None) -> list[ClockData]:
        return [c for c in self.st.clocks
                if (m := self.st.rules.get(c.rule)) and m.lapses and m.start_event == event_type]

    def _clock(self, rule: str) -> ClockData | None:
        return next((c for c in self.st.clocks if c.rule == rule), None)

    def _refresh_state(self) -> None:
        st = self.st
        if st.state not in ("open", "new"):
            return
        if not st.clocks:
            st.state = "recorded"  # e.g. a withheld document: recorded without a clock
        elif all(not c.live for c in st.clocks):
            st.state = "closed"

    # ------------------------------------------------------------ activities
    async def _compute(self, *clocks: ClockData) -> None:
        """Due dates, explanations and reminder plans of these clocks: one activity round trip."""
        todo = list({id(c): c for c in clocks if not c.stopped}.values())
        if not todo:
            return
        req = ComputeRequest(now=workflow.now().isoformat(), clocks=[
            ClockJob(spec=ClockSpec.model_validate(c.model_dump(include=set(ClockSpec.model_fields))),
                     fired=c.fired, last_overdue_at=c.last_overdue_at) for c in todo])
        results: list[ClockResult] = await workflow.execute_activity(
            compute_clocks, req, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            result_type=list[ClockResult])
        for c, res in zip(todo, results):
            calc = res.calc
            c.due, c.due_instant, c.provisional = calc.due, calc.due_instant, calc.provisional
            c.computed_at = workflow.now().isoformat()
            c.explanation, c.paused_days = calc.explanation, calc.paused_days
            if c.met_on is not None and calc.late is not None:
                meta = self.st.rules.get(c.rule)
                if calc.late and meta and meta.lapses:
                    c.state, c.lateness_working_days, c.plan = "closed", None, []  # a window is never late
                    continue
                c.state = "missed" if calc.late else "met"
                c.lateness_working_days = calc.lateness_working_days
                c.plan = []
                continue
            c.state = "paused" if c.due is None else "open"
            c.plan = res.plan if c.state == "open" else []

    async def _replan(self, c: ClockData) -> None:
        if c.state != "open" or not c.due:
            c.plan = []
            return
        req = PlanRequest(rule=c.rule, due=c.due, region=c.region, now=workflow.now().isoformat(), fired=c.fired,
                          last_overdue_at=c.last_overdue_at)
        try:
            c.plan = await workflow.execute_activity(
                plan_steps, req, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
                result_type=list[PlannedStepModel])
        except ActivityError as exc:  # a plan that cannot be computed must not fail the item's workflow
            c.plan = []
            workflow.logger.error("reminder plan of %s/%s not computed: %s", self.st.id, c.rule, exc.cause or exc)

    async def _save(self) -> None:
        await workflow.execute_activity(save_snapshot, self.snapshot(), start_to_close_timeout=ACTIVITY_TIMEOUT,
                                        retry_policy=RETRY)

    async def _notify(self, c: ClockData, s: PlannedStepModel, extra: dict[str, Any] | None = None) -> None:
        meta = self.st.rules.get(c.rule)
        context = {
            "item_title": self.st.title, "rule_name": meta.name if meta else c.rule, "due": c.due,
            "due_key": s.key, "working_days_left": s.working_days_left,
            "overdue_working_days": s.overdue_working_days, "provisional": c.provisional,
            "explanation": c.explanation.get("summary", ""), **(extra or {}),
        }
        try:
            await notify_roles(self.st.id, c.rule, s.step, self.st.department, s.to, context, occurrence=s.key)
        except ActivityError as exc:  # delivery problems are logged and escalated inside; never wedge the clock
            workflow.logger.error("notification %s failed: %s", s.key, exc)

    async def _compute_or_keep(self, *clocks: ClockData) -> None:
        """Recompute outside an event (calendar change, lapse): a clock that cannot be computed keeps its
        last values and is logged, instead of failing the item's workflow (and with it every reminder)."""
        try:
            await self._compute(*clocks)
            return
        except ActivityError:
            pass
        for c in clocks:  # one at a time, so one bad clock does not hold back the others
            i = self.st.clocks.index(c)
            saved = c.model_copy(deep=True)
            try:
                await self._compute(c)
            except ActivityError as exc:
                self.st.clocks[i] = saved
                workflow.logger.error("clock %s of %s kept its last values: %s", c.rule, self.st.id, exc.cause or exc)

    async def _recalculate(self, reason: str) -> None:
        live = [c for c in self.st.clocks if c.live and not c.stopped]
        before = [(c.due, c.provisional) for c in live]
        await self._compute_or_keep(*live)
        live = [c for c in self.st.clocks if c.live and not c.stopped]  # a kept clock is the saved copy
        changed = False
        for c, (old_due, old_prov) in zip(live, before):
            if c.due != old_due or c.provisional != old_prov:
                changed = True
            if c.due != old_due:
                text = f"{reason}：到期日由 {old_due} 变为 {c.due}"
                await workflow.execute_activity(
                    record_due_change, DueChange(item_id=self.st.id, rule=c.rule, old_due=old_due,
                                                 new_due=c.due, reason=text),
                    start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
                step = PlannedStepModel(key=f"due_date_changed@{old_due}>{c.due}", step="due_date_changed",
                                        to=["liaison"], fire_at=workflow.now().isoformat(), overdue=False)
                await self._notify(c, step, {"old_due": old_due, "new_due": c.due, "reason": text})
        if changed:
            self.st.version += 1
            await self._save()


_CLOSE_NAMES = {"request.withdrawn": "申请人撤回申请", "document.repealed": "文件废止",
                "request.abandoned": "视为放弃申请"}


def _window_kind(meta: RuleMeta) -> str | None:
    """The consultation kind a window rule belongs to (its `when.with`), None for other rules."""
    kinds = meta.when.get("with") or []
    return kinds[0] if len(kinds) == 1 else None


def _same_kind(a: str | None, b: str | None) -> bool:
    """Pauses recorded before consultations had kinds (None) match any consultation."""
    return a is None or b is None or a == b


def _after_due(on: str, c: ClockData) -> bool:
    if not c.due or not c.due_instant:
        return False  # paused or waiting for a correction: no due date to be late against
    if len(on) <= 10:
        return on > c.due[:10]
    return datetime.fromisoformat(on) > datetime.fromisoformat(c.due_instant)


def _pause_reason(ev: Event) -> str:
    return {"third_party": "征求第三方意见", "agency": "征求其他机关意见"}.get(ev.data.get("with", ""), "中止计算")


# ---------------------------------------------------------------- documents
@workflow.defn(name="document")
class DocumentWorkflow(ItemWorkflowBase):
    """Policy documents: publication within 20 wd of 成文, then the interpretation within 3 wd."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)

    def _record_only(self, ev: Event) -> bool:
        # A withheld document published later: recorded, no clock (neither publication nor interpretation).
        return ev.type == "document.published" and self.st.data.get("disclosure") == "withheld"

    async def _apply(self, ev: Event) -> str | None:
        if self._record_only(ev):
            self._record_facts(ev)
            return "不予公开的文件后经公开：已记录，不计时限"
        return await super()._apply(ev)

    def _check_specific(self, ev: Event) -> None:
        d = self.st.data
        if ev.type == "document.published":
            if d.get("document.published.published_on"):
                raise Refusal("type", f"文件已于 {d['document.published.published_on']} 公开，不能重复公开")
            if ev.on < d.get("signed_on", ""):
                raise Refusal("published_on", f"公开日期 {ev.on} 早于成文日期 {d['signed_on']}")
        if ev.type == "interpretation.published" and not d.get("document.published.published_on"):
            raise Refusal("type", "文件尚未公开：请先登记 document.published")


# ---------------------------------------------------------------- requests
@workflow.defn(name="request")
class RequestWorkflow(ItemWorkflowBase):
    """Information requests: reply clock with correction restart, consultation pause, one extension."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)

    def _check_specific(self, ev: Event) -> None:
        d = self.st.data
        reply = self._clock("request_reply")
        if ev.type in ("request.replied", "request.answered_on_the_spot") and d.get("outcome"):
            raise Refusal("type", f"申请已答复（{d['outcome']}），不能重复答复")
        if ev.type == "request.correction_requested":
            if reply and reply.stopped:
                raise Refusal("type", "已告知补正，等待申请人补正中")
            window = self._clock("correction_notice")
            if window is not None and window.state == "met":
                raise Refusal("type", f"已于 {window.met_on} 一次性告知补正，不能再次要求补正（条例第三十条）")
            if window is not None and (not window.live or (window.due and ev.on > window.due)):
                raise Refusal("on", f"补正告知须在收到申请之日起7个工作日内（{window.due} 前）作出（条例第三十条）")
        if ev.type == "request.corrected" and not (reply and reply.stopped):
            raise Refusal("type", "未告知补正，不能登记补正")
        if ev.type == "request.corrected" and reply.stopped_on and ev.on < reply.stopped_on:
            raise Refusal("on", f"补正日期 {ev.on} 早于告知补正日期 {reply.stopped_on}")
        if ev.type == "request.answered_on_the_spot" and ev.on[:10] != d.get("start_on", ev.on)[:10]:
            raise Refusal("on", f"当场答复须在收到申请当日（{d.get('start_on')}）作出；{ev.on} 作出的答复"
                                f"请登记为 request.replied（并计入答复期限）")
        kinds = self._open_consultations()
        if ev.type == "request.consultation_started" and (None in kinds or ev.data.get("with") in kinds):
            raise Refusal("type" if None in kinds else "with",
                          "已处于征求意见状态" if None in kinds else f"已处于{_pause_reason(ev)}状态")
        consulted = any(self.st.rules.get(c.rule) and self.st.rules[c.rule].start_event == "request.consultation_started"
                        for c in self.st.clocks)
        if ev.type == "request.consultation_ended" and not consulted:
            raise Refusal("type", "未处于征求意见状态，不能结束征求意见")
        if ev.type == "request.consultation_ended" and not ev.data.get("with") and len(kinds) > 1:
            raise Refusal("with", "征求第三方意见与征求其他机关意见同时进行中：请用 with（third_party / agency）"
                                  "注明结束的是哪一项")

    async def _after_apply(self, ev: Event) -> str | None:
        st = self.st
        if ev.type == "request.correction_requested":
            terms: CorrectionResult = await workflow.execute_activity(
                correction_period, CorrectionRequest(on=ev.on[:10], respond_by=ev.data["respond_by"], region=st.region),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, result_type=CorrectionResult)
            end_of_day = datetime.fromisoformat(f"{terms.respond_by}T23:59:59+08:00")
            st.abandon_at = max(end_of_day, workflow.now() + ABANDON_GRACE).isoformat()
            st.data["respond_by"] = terms.respond_by
            st.data["correction"] = {"stated_respond_by": ev.data["respond_by"], "respond_by": terms.respond_by,
                                     "working_days": terms.working_days, "min_working_days": terms.min_working_days,
                                     "too_short": terms.too_short, "note": terms.note}
            return terms.note or None
        elif ev.type in ("request.corrected", "request.replied", "request.answered_on_the_spot", "request.withdrawn"):
            st.abandon_at = None
        if ev.type == "request.withdrawn":
            self._close_all()
            st.state = "withdrawn"
        return None

    def _close_all(self) -> None:
        for c in self.st.clocks:
            if c.live:
                c.state, c.plan = "closed", []

    async def _on_tick(self) -> None:
        st = self.st
        if not st.abandon_at or workflow.now() < datetime.fromisoformat(st.abandon_at):
            return
        # 条例第三十条: no correction within the period without good reason = application abandoned.
        st.abandon_at = None
        on = st.data.get("respond_by")
        ev = {"event_id": f"{st.id}#abandoned", "type": "request.abandoned", "request_id": st.id, "on": on}
        await workflow.execute_activity(record_system_event, SystemEvent(event=ev),
                                        start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        self._close_all()
        st.data["outcome"] = "other.no_correction"
        st.data["closed_on"] = on
        st.state = "abandoned"
        st.version += 1
        await self._save()


# ---------------------------------------------------------------- everything else
@workflow.defn(name="clocks")
class ClockItemWorkflow(ItemWorkflowBase):
    """Generic rule-driven clocks: budgets, public-opinion responses, annual reports, future rules."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)

    def _check_specific(self, ev: Event) -> None:
        metas = [m for m in self.st.rules.values() if ev.type in m.met_by]
        if not metas:
            return
        clocks = [c for c in self.st.clocks if c.rule in {m.id for m in metas}]
        if clocks and all(not c.live for c in clocks):
            raise Refusal("type", f"{ev.type}：对应时限已履行或已结束")


WORKFLOW_FOR_TYPE = {"document": DocumentWorkflow, "request": RequestWorkflow}


def workflow_for(item_type: str):
    return WORKFLOW_FOR_TYPE.get(item_type, ClockItemWorkflow)
