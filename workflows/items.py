"""Item workflows: one durable workflow per tracked item (document, request, opinion case, budget, report).

The workflow keeps only orchestration: the checks and transitions are pure functions over the item's
state (domain/transitions.py, state models in domain/item_state.py); due dates come from local
activities (pure computation on the worker's calendar), the item snapshot and the event log from one
store activity (`save_item`, one transaction, the only writer of the read model). Document and request workflows add their own steps.

Human actions arrive as the `apply` Update, usually with the item's start (update-with-start): its
validator refuses an invalid event before it reaches history, and the workflow answers what an event_id
means (applied, duplicate, or a conflict when the same id comes with other content). Reminders fire from
the ladder plan, each step once per due date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import domain.transitions as tr
    from activities.clocks import (
        ClockJob,
        ClockResult,
        ComputeRequest,
        CorrectionRequest,
        CorrectionResult,
        FeeRequest,
        FeeResult,
        PlanRequest,
        compute_clocks,
        correction_period,
        fee_period,
        plan_steps,
    )
    from activities.store import DueChange, SaveRequest, record_due_change, save_item
    from domain.clock_specs import ClockSpec, EventWrite, PlannedStepModel
    from domain.clocks import reprojected_text
    from domain.events import Event
    from domain.item_state import (
        ApplyResult,
        ClockData,
        ItemInput,
        ItemState,
        Refusal,
        ReviewDecision,
        RuleMeta,
    )
    from domain.model import ClockSnapshot, ItemSnapshot, period_rule
    from domain.review import LateEntry
    from domain.shanghai import SHANGHAI_OFFSET
    from workflows.appeals import AppealWindowsInput, AppealWindowsWorkflow
    from workflows.notify_steps import notify_roles

__all__ = [
    "ApplyResult",
    "ClockData",
    "ItemInput",
    "ItemState",
    "Refusal",
    "ReviewDecision",
    "RuleMeta",
    "ItemWorkflow",
    "DocumentWorkflow",
    "RequestWorkflow",
    "ClockItemWorkflow",
    "workflow_for",
    "FINISHED",
]

ACTIVITY_TIMEOUT = timedelta(seconds=60)
LOCAL_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ABANDON_GRACE = tr.GRACE


def _reject(message: str) -> None:
    raise ApplicationError(message, type="Rejected", non_retryable=True)


def _recording_now() -> datetime:
    """The recording instant: the Temporal server's clock as this workflow task sees it, never the clock
    of the host that sent the event (deterministic on replay)."""
    return workflow.now().astimezone(SHANGHAI_OFFSET)


# Workflow versions (workflow.patched): runs recorded before #16 replay without these changes.
# RECORDING_CLOCK: the recording instant from this workflow's clock, and a fact dated after it refused.
# DRAIN: Updates accepted while the last writes drain get their own writes (and are carried across
# continue-as-new) before the run ends.
RECORDING_CLOCK = "s16-recording-clock"
DRAIN = "s16-drain-writes"
# REPROJECT: a calendar recalculation also recomputes the met and missed clocks (their due date, lateness).
REPROJECT = "s17-calendar-reproject"
# CONSULT_CHECKS: the handler's re-check under the lock includes #17 §4's refusals (extension approver and
# notice, consultation after the due date, 逾期不补正 without a notice); runs recorded before accepted them.
CONSULT_CHECKS = "s17-consult-checks"
# LATE_RESTART: a late restart (request.corrected) by a liaison or head is held like a reply.
LATE_RESTART = "s17-lag-late-restart"
# HELD_DEPENDENTS: an event that depends on a held late entry is held with it (runs before applied or refused it).
HELD_DEPENDENTS = "s19-held-dependents"
# BOUNDED_HISTORY: continue-as-new at our own history bound too, not only when the server suggests it.
BOUNDED_HISTORY = "s22-bounded-history"
# A recurring duty's period lapsed unmet ends, and the next starts from its due date (tr.lapse_period).
PERIOD_LAPSE = "s22-period-lapse"
# CARRIED_LOCK: the next run's first write (the previous run's unfinished ones) waits for the Update in hand.
CARRIED_LOCK = "s22-carried-lock"
# A long-lived item (a website column updated every day for years: ~10 history events per update) continues
# as new after this many events or bytes, far below Temporal's limits (51,200 events, 50 MB; warnings from
# 10,240 events / 10 MB) and near the server's own default suggestion (4 Ki events, 4 MB).
# LADDER_SWEEP: the day-rule steps due at the daily fire time (PlannedStepModel.swept) are sent by the daily
# sweep (workflows/sweep.py), not by this item's timer; hour rules and catch-ups stay here (issue 22 §2).
LADDER_SWEEP = "s22-ladder-sweep"
# SWEPT_PASSED: a swept step whose instant has passed counts as fired in the item's state (the sweep sent it)
# when the run next wakes, and a recurring period waiting for its first overdue notice wakes at that step's
# instant: so that the period lapses, and a replan neither plans it again nor plans a catch-up for it.
SWEPT_PASSED = "s24-swept-passed"
HISTORY_EVENTS = 4_000
# The field of the validator's refusal of an event sent to a finished run still writing its store rows.
FINISHED = "(finished)"
HISTORY_BYTES = 4 * 1024 * 1024
# APPEAL_TIMER: a run that ends with appeal windows open hands them to a workflow of their own (workflows/appeals.py),
# which reminds the supervisor and closes them as they lapse; runs recorded before ended leaving them open.
APPEAL_TIMER = "s22-appeal-timer"
# CURRENT: a run started from #24 on records this one marker (and one search-attribute update) in place of every
# patch above (3-5 per new run, each ~3 ms of server CPU): it stands for all of them taken. Asked before each of
# them (`_patched`), so it is decided where the run's first patch was: in a run recorded before, in replay, it is
# absent and each patch is asked as it was. With it, a run ends closing its appeal windows already past in its
# own last write (`_close_past_windows`): only windows still open go to an `appeals:<item>` workflow.
CURRENT = "s24-current"


def _stamped(ev: Event, patched: Callable[[str], bool] = workflow.patched) -> Event:
    """The event with its recording instant taken from the workflow's clock; who recorded it (role,
    recorder, the late-entry bound) stays as the ingest path set it."""
    if ev.recorded is None or not patched(RECORDING_CLOCK):
        return ev
    at = _recording_now()
    on = at.date().isoformat()
    update: dict[str, Any] = {"at": at.isoformat(), "on": on}
    if on != ev.recorded.on:
        update["working_days_after"] = 0  # the sender's count was for another day: not shown
    return ev.model_copy(update={"recorded": ev.recorded.model_copy(update=update)})


class ItemWorkflow:
    """Shared orchestration; the @workflow.defn classes below add their own steps."""

    def __init__(self, inp: ItemInput) -> None:
        # State exists before the first activation's Update handler runs (it precedes `run`).
        self.st: ItemState = inp.state
        self._lock = asyncio.Lock()
        self._dirty = False
        self._recalc: list[str] = list(inp.recalc)
        self._start_refused = False  # the start event failed in its handler: end the run now
        self._last_save: asyncio.Task[None] | None = None  # store writes run one after another, in order
        # Store writes scheduled and not yet seen done (this run's and those carried from the previous run):
        # what continue-as-new hands on. `_carried`: the previous run's, until a write of this run takes them.
        self._pending: list[EventWrite] = list(inp.pending)
        self._carried: list[EventWrite] = list(inp.pending)
        self._sweep_on = False  # LADDER_SWEEP decided for this run (asked once a swept step is planned)
        self._passed_on = False  # SWEPT_PASSED decided for this run (asked once a swept step has passed)
        # Per recurring rule, the last period number handed to a store write: the next write carries the later
        # ones. A mark, not a count: a state rolled back (an approved 补录 that fails) keeps it right, and so
        # does a write after more than RECENT_PERIODS periods ended. The state's periods were all written or
        # travel in `pending` (whose first write carries every period the state keeps: `_stored`).
        self._written: dict[str, int] = {}
        # Per recurring rule whose current period lapsed: when the period after it lapses too (the timer then
        # ends the first, `_lapse_periods(keep_last=True)`). Not carried: the first tick of a run sets it.
        self._next_lapse: dict[str, datetime] = {}
        # Per recurring rule, the last period number a finished store write holds: the state drops no period
        # after it (tr.trim_periods), so that continue-as-new hands on every period not yet in the store (the
        # next run's first write carries all the state keeps). Empty at start: the carried ones are not known
        # to be written.
        self._stored: dict[str, int] = {}
        for p in inp.state.periods:
            self._written[p.rule] = max(self._written.get(p.rule, 0), p.period)

    def _patched(self, patch: str) -> bool:
        """`workflow.patched(patch)`, or true without a marker of its own in a run that has CURRENT's."""
        return workflow.patched(CURRENT) or workflow.patched(patch)

    # ------------------------------------------------------------ run loop
    async def _run(self, inp: ItemInput) -> ItemSnapshot:
        if self.st.version:  # continued-as-new: timers are rebuilt from the plan
            self._dirty = True
            # The previous run's writes not seen done: made here first (idempotent). Under the lock: an Update
            # of this run's first task may be half-way through its event (a period appended, not yet
            # computed), and a write built then would mark that period written with its unfinished row.
            if self._carried and not self._patched(CARRIED_LOCK):
                self._save_soon()
            async with self._lock:
                if self._carried:
                    self._save_soon()
        else:
            # Started with its start event (update-with-start): the Update is in this very first task, its
            # handler ran first (it holds the lock or is done). Without it (the server lost it: its sender,
            # the worker and the server died before this task committed) the run applies the copy it was
            # started with, so that no run ever waits empty for an import to send it again.
            if inp.start is not None and not (self.st.version or self._start_refused or self._lock.locked()):
                try:
                    await self._accept(inp.start)
                except ApplicationError:
                    pass  # refused: _start_refused is set and the run fails below
            await workflow.wait_condition(lambda: self.st.version > 0 or self._start_refused)
            if not self.st.version:
                # Its start event was refused: fail, so that the id can be used by a corrected event.
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise ApplicationError("起始事件未被接受，事项未建立", type="NoStartEvent", non_retryable=True)
        while True:
            if self._finished():
                break
            wake = min(
                filter(None, (tr.next_wake(self.st, skip_swept=self._swept()), self._period_wake())), default=None
            )
            self._dirty = False
            try:
                if wake is None:
                    await workflow.wait_condition(lambda: self._dirty)
                else:
                    secs = (wake - workflow.now()).total_seconds()
                    if secs > 0:
                        await workflow.wait_condition(lambda: self._dirty, timeout=timedelta(seconds=secs))
            except TimeoutError:
                pass
            await self._tick()
            if workflow.info().is_continue_as_new_suggested() or self._history_full():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._saved()
                if not self._patched(DRAIN):
                    workflow.continue_as_new(ItemInput(state=self.st))
                # Updates accepted while the writes drained are applied before the run ends; the writes not
                # seen done (theirs, or any still running) travel in the input and the next run makes them.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(ItemInput(state=self.st, pending=self._pending, recalc=self._recalc))
        if not self._patched(DRAIN):
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._saved()
            return self.snapshot()
        # Before the drain: an Update accepted while the child starts is answered and written by the loop below.
        await self._hand_over_windows()
        while True:  # every Update answered and every write done, also those that came while waiting
            await workflow.wait_condition(workflow.all_handlers_finished)
            last = self._last_save
            await self._saved()
            if last is self._last_save and workflow.all_handlers_finished():
                break
        return self.snapshot()

    async def _hand_over_windows(self) -> None:
        """The item is done but its appeal windows (audience = "supervisor") run on: their reminders and their
        lapse go to a workflow of their own, left running when this run ends."""
        live = [c for c in self.st.clocks if c.state == "open" and tr.supervisor_window(self.st, c)]
        if not live or not self._patched(APPEAL_TIMER):
            return
        if workflow.patched(CURRENT):  # those already past were closed by the last write (_close_past_windows)
            live = [c for c in live if not self._past(c)]
            if not live:
                return
        await workflow.start_child_workflow(
            AppealWindowsWorkflow.run,
            AppealWindowsInput(
                item_id=self.st.id,
                department=self.st.department,
                title=self.st.title or "",
                windows=live,
                names={c.rule: self.st.rules[c.rule].name for c in live},
            ),
            id=f"appeals:{self.st.id}",
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )

    def _past(self, c: ClockData) -> bool:
        return datetime.fromisoformat(c.due_instant or "") <= workflow.now()

    def _close_past_windows(self) -> None:
        """A finished item's appeal windows whose due instant has passed (a backfill's old replies) are closed as
        lapsed in its state, before its last write, instead of by an `appeals:` workflow an hour later
        (tr.lapse_at's grace waits for an item's own next lines: a finished item has none; a review or suit
        filed later is recorded by activities.store.record_fact, which closes the window as met in the store)."""
        past = [
            c
            for c in self.st.clocks
            if c.state == "open" and c.due_instant and tr.supervisor_window(self.st, c) and self._past(c)
        ]
        if past and workflow.patched(CURRENT):
            for c in past:
                tr.close_window(c)

    def _swept(self) -> bool:
        """Are the swept steps the sweep's in this run? Asked only once such a step is planned, so runs
        recorded before (whose plans carry none) record no marker and replay as they were."""
        if not self._sweep_on and any(s.swept for c in self.st.clocks for s in c.plan):
            self._sweep_on = self._patched(LADDER_SWEEP)
        return self._sweep_on

    def _swept_passed(self, steps: list[PlannedStepModel]) -> bool:
        """Do the swept steps that passed count as fired in this run (SWEPT_PASSED)? Asked only once such a
        step exists, so runs recorded before record no marker and replay as they were."""
        if not self._passed_on and steps:
            self._passed_on = self._patched(SWEPT_PASSED)
        return self._passed_on

    def _history_full(self) -> bool:
        """This run's history passed our own bound (`HISTORY_EVENTS` / `HISTORY_BYTES`): continue as new even
        where the server does not suggest it (the time-skipping test server never does; a server's suggestion
        can be configured away). Asked only past the bound, so runs below it record no marker."""
        info = workflow.info()
        over = info.get_current_history_length() > HISTORY_EVENTS or info.get_current_history_size() > HISTORY_BYTES
        return over and self._patched(BOUNDED_HISTORY)

    def _finished(self) -> bool:
        """The item is over and its run ends (a held entry keeps it reachable until it is reviewed)."""
        return bool(self.st.version) and self.st.state not in ("open", "new") and not self.st.held_events

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
                skip = self._swept()
                due_steps = [s for s in c.plan if datetime.fromisoformat(s.fire_at) <= now and not (skip and s.swept)]
                passed = [s for s in c.plan if skip and s.swept and datetime.fromisoformat(s.fire_at) <= now]
                if not self._swept_passed(passed):
                    passed = []
                for s in sorted(passed + due_steps, key=lambda s: s.fire_at):
                    c.fired.append(s.key)
                    c.ladder_step = s.step
                    if s.overdue:
                        # the sweep's notice went out at its instant; the item's own, now
                        c.last_overdue_at = s.fire_at if s in passed else now.isoformat()
                    if s not in passed:
                        sends.append((c, s))
                if due_steps or passed:
                    await self._replan(c)
            # A recurring period past its due day (its first overdue notice sent, if it has one) ends unmet
            # once the period after it has lapsed too; an update ends all the lapsed ones (`_apply`).
            today = _recording_now().date().isoformat()
            ended = [
                c
                for c in tr.recurring_lapsing(self.st)
                if self._lapse_due(c) <= now and (c.last_overdue_at or not any(s.overdue for s in c.plan))
            ]
            if ended and await self._lapse_periods(today, ended, keep_last=True):
                lapsed = True
            if sends or lapsed:
                tr.refresh_state(self.st)
                self.st.version += 1
                await self._save()
        # Send outside the lock: a slow channel must not hold up incoming events.
        for c, s in sends:
            await self._notify(c, s)

    def _lapse_due(self, c: ClockData) -> datetime:
        """When the timer may end recurring period `c`: the day after its due day (after the import grace),
        or, once it lapsed and the period after it was not yet past, the day after that one's due day."""
        own = max(datetime.fromisoformat(c.due_instant or "") + timedelta(seconds=1), tr.lapse_at(c))
        later = self._next_lapse.get(c.rule)
        return later if later is not None and later > own else own

    def _period_wake(self) -> datetime | None:
        """The next moment a recurring period may end, only ever in the future (a past one was just handled,
        or waits for its first overdue notice, whose plan step wakes the run)."""
        now = workflow.now()
        lapsing = tr.recurring_lapsing(self.st)
        moments = [at for c in lapsing if (at := self._lapse_due(c)) > now]
        if self._swept():
            # The first overdue notice of a period is the sweep's: wake at its instant to count it (SWEPT_PASSED).
            first = [
                next(s for s in c.plan if s.overdue)
                for c in lapsing
                if not c.last_overdue_at and any(s.overdue for s in c.plan)
            ]
            first = [s for s in first if s.swept]
            if self._swept_passed(first):
                moments += [at for s in first if (at := datetime.fromisoformat(s.fire_at)) > now]
        return min(moments) if moments else None

    async def _close_lapsed(self) -> bool:
        now, closed = workflow.now(), False
        for c in tr.lapsing(self.st):
            if tr.lapse_at(c) <= now:
                tr.close_window(c)
                closed = True
                for other in tr.pauses_ended_by_lapse(self.st, c):
                    await self._compute_or_keep(other)
        return closed

    async def _on_tick(self) -> None:  # type-specific timers
        return None

    # ------------------------------------------------------------ handlers
    def _restarts(self, ev: Event) -> bool:
        """Is `ev` a restart event of one of this item's rules? (Asked before `workflow.patched`, so that
        only such events leave a version marker.)"""
        return any(m.restart == ev.type for m in self.st.rules.values())

    @workflow.update
    async def apply(self, ev: Event) -> ApplyResult:
        return await self._accept(ev)

    @workflow.update
    async def apply_many(self, events: list[Event]) -> list[ApplyResult]:
        """Several events of this item in one Update (a file's or an upload's events of one item, in order),
        each decided as `apply` decides it and answered on its own (a refusal is a result with `refused`,
        not a failed Update). The accepted ones reach the store in ONE write (one activity, one
        transaction: the final snapshot and every event row). Events after one that ends the item are not
        taken (`not_taken`): the sender sends them on their own, to the finished item's path."""
        out: list[ApplyResult] = []
        writes: list[EventWrite] = []
        renewed = False  # a recurring duty's period finished in this batch
        for ev in events:
            if self._start_refused:
                out.append(ApplyResult(status="no_start"))
                continue
            if self._finished():
                out.append(ApplyResult(status="not_taken"))
                continue
            before = self._unwritten()
            try:
                out.append(await self._accept(ev, writes))
            except ApplicationError as exc:
                out.append(ApplyResult(status="rejected", refused=exc.message))
            renewed = renewed or self._unwritten() > before
            if writes and self._unwritten() >= tr.RECENT_PERIODS:
                # one write per RECENT_PERIODS finished periods: a long batch's writes stay small
                self._save_soon(batch=writes)
                writes = []
        if writes:
            # Answered in this task even when the batch ended the item (unlike `apply`): the write and the
            # run's end follow. An event sent meanwhile is refused as FINISHED by the validator, and its
            # sender waits for the run to close before recording it the finished item's way.
            self._save_soon(batch=writes)
            self._dirty = True
        if renewed:
            # Finished periods live in the snapshots only (the state keeps the last RECENT_PERIODS): the
            # batch is answered once they are written, so that a continue-as-new (after every handler) never
            # hands on more unwritten periods than the state keeps.
            await self._saved()
        return out

    @apply_many.validator
    def _validate_apply_many(self, events: list[Event]) -> None:
        if self._finished() and not self._lock.locked():
            raise Refusal(FINISHED, f"事项 {self.st.id} 已结束，正在写入")

    async def _accept(self, ev: Event, writes: list[EventWrite] | None = None) -> ApplyResult:
        """The `apply` Update's body (also the run's own start, when its Update was lost). `writes`: an
        `apply_many` batch collects its store writes there instead of scheduling one per event."""
        async with self._lock:
            ev = _stamped(ev, self._patched)
            try:
                # Checked again under the lock: another Update (e.g. a second import sending the same id,
                # or another reply) may have changed the item since the validator accepted this one.
                seen = tr.known(self.st, ev)
                dep = None
                if not seen:
                    today = _recording_now().date() if self._patched(RECORDING_CLOCK) else None
                    strict = self._patched(CONSULT_CHECKS)
                    dep = tr.held_dependency(self.st, ev, today, strict) if self.st.held_events else None
                    if dep is not None and not self._patched(HELD_DEPENDENTS):
                        dep = None  # a run recorded before: the event was checked (and applied) on its own
                    # A dependent is checked as it will be applied: after the held events it waits for.
                    tr.check(tr.simulated(self.st) if dep is not None else self.st, ev, today=today, strict=strict)
            except Refusal as exc:
                self._start_refused = not self.st.version
                _reject(str(exc))
            if seen:
                return ApplyResult(status=seen)
            if dep is not None:
                root = tr.group_root(self.st, dep.event_id)
                why = tr.dependent_reason(self.st.held_events[root])
                tr.hold(self.st, ev, why, depends_on=root)
                self._write_soon(writes)
                return ApplyResult(status="held", note=f"补录待审核：{why}")
            held = tr.late_reason(self.st, ev, restart=self._restarts(ev) and self._patched(LATE_RESTART))
            if held:
                tr.hold(self.st, ev, held)
                self._write_soon(writes)
                return ApplyResult(status="held", note=f"补录待审核：{held}")
            before = self.st.model_copy(deep=True)
            try:
                note = await self._apply(ev)
            except ActivityError as exc:
                self.st = before
                self._start_refused = not before.version
                _reject(getattr(exc.cause, "message", None) or str(exc))
            except ApplicationError:
                self.st = before
                self._start_refused = not before.version
                raise
            self.st.applied[ev.event_id] = ev.content_hash
            tr.refresh_state(self.st)
            self.st.version += 1
            # Answered once this workflow task is in history; the store write follows (the ingest path
            # waits for the read model before it reports the batch done). An event that ends the item is
            # answered with its write, in the task that ends the run: the item's next event (a fact on a
            # finished item) then finds the run closed, as it always has.
            recorded_at = ev.recorded.at if ev.recorded else None
            if writes is not None:  # the batch writes once, after its last event
                writes.append(EventWrite(event=ev, recorded_at=recorded_at))
                return ApplyResult(status="applied", note=note or "")
            saving = self._save_soon(ev, recorded_at=recorded_at)
            if self._finished():
                await saving
            self._dirty = True
            return ApplyResult(status="applied", note=note or "")

    def _write_soon(self, writes: list[EventWrite] | None) -> None:
        """A snapshot-only write (a held entry): now, or with the batch's one write."""
        if writes is None:
            self._save_soon()
        else:
            writes.append(EventWrite())

    @apply.validator
    def _validate_apply(self, ev: Event) -> None:
        if self._lock.locked():
            return  # another event is half-way through: the handler decides under the lock
        if self._finished():  # the run only drains its writes: the sender waits for its end (services.ingest)
            raise Refusal(FINISHED, f"事项 {self.st.id} 已结束，正在写入")
        # A start event's dates are checked by the handler: refused there, it ends the run it opened
        # (a validator refusal would leave update-with-start's fresh run waiting for ever).
        today = _recording_now().date() if self.st.version else None
        dep = tr.held_dependency(self.st, ev, today) if self.st.held_events else None
        tr.check(tr.simulated(self.st) if dep is not None else self.st, ev, today=today)

    @workflow.update
    async def review(self, d: ReviewDecision) -> ApplyResult:
        """Approve (apply as of the event's own date) or reject (drop, with the reason) a held entry; the
        events held with it (its dependents) are applied after it, in order, or re-evaluated."""
        async with self._lock:
            entry = self._entry(d.event_id)
            if entry is not None and entry.status != "held":  # a repeated decision
                return ApplyResult(status=entry.status)
            ev = self.st.held_events[d.event_id]
            deps = tr.dependents(self.st, d.event_id)
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
            assert entry is not None
            entry.status = "approved" if d.approve else "rejected"
            entry.decided_by, entry.decided_at, entry.decision_reason = d.by, d.at, d.reason or None
            del self.st.held_events[d.event_id]
            tr.refresh_state(self.st)
            self.st.version += 1
            if not deps:
                # An approved entry joins the event log stamped with the time it was first recorded.
                await self._save(ev if d.approve else None, recorded_at=entry.recorded_at)
            else:
                self._save_soon(ev if d.approve else None, recorded_at=entry.recorded_at)
                for dev in deps:
                    await self._decide_dependent(dev, d, ev)
                await self._saved()
            self._dirty = True
            return ApplyResult(status=entry.status, note=note or "")

    async def _decide_dependent(self, dev: Event, d: ReviewDecision, root: Event) -> None:
        """After its root's decision: apply a dependent (root approved, or it no longer depends on anything
        and is timely), keep it held (late on its own, or waiting for another held event) or refuse it."""
        entry = self._entry(dev.event_id)
        assert entry is not None
        del self.st.held_events[dev.event_id]
        what = tr.event_name(root.type)
        try:
            tr.check(self.st.model_copy(update={"applied": {}}), dev)
        except Refusal as exc:
            verdict = "已批准" if d.approve else "已驳回"
            entry.status, entry.decided_by, entry.decided_at = "rejected", d.by, d.at
            entry.decision_reason = f"所依赖的{what}事件（{root.event_id}）{verdict}后不能生效：{exc.reason}"
            self.st.version += 1
            self._save_soon()
            return
        if not d.approve:
            other = tr.held_dependency(self.st, dev)
            late = None if other else tr.late_reason(self.st, dev, restart=self._restarts(dev))
            if other is not None or late:
                self.st.held_events[dev.event_id] = dev
                entry.depends_on = tr.group_root(self.st, other.event_id) if other is not None else None
                entry.reason = tr.dependent_reason(other) if other is not None else (late or "")
                self.st.version += 1
                self._save_soon()
                return
        before = self.st.model_copy(deep=True)
        try:
            await self._apply(dev)
        except (ActivityError, ApplicationError) as exc:
            self.st = before  # taken after the dependent left the held events
            entry = self._entry(dev.event_id)
            assert entry is not None
            entry.status, entry.decided_by, entry.decided_at = "rejected", d.by, d.at
            entry.decision_reason = f"不能生效：{getattr(exc.cause, 'message', None) or exc}"
            self.st.version += 1
            self._save_soon()
            return
        entry.status, entry.decided_by, entry.decided_at = "approved", d.by, d.at
        entry.decision_reason = (
            f"随所依赖的{what}事件（{root.event_id}）一并批准"
            if d.approve
            else f"所依赖的{what}事件（{root.event_id}）已驳回；本事件按时登记，照常生效"
        )
        self.st.applied[dev.event_id] = dev.content_hash
        tr.refresh_state(self.st)
        self.st.version += 1
        self._save_soon(dev, recorded_at=entry.recorded_at)

    @review.validator
    def _validate_review(self, d: ReviewDecision) -> None:
        entry = self._entry(d.event_id)
        if entry is None:
            raise Refusal("event_id", f"事项 {self.st.id} 没有补录事件 {d.event_id}")
        if entry.status != "held":
            return
        if entry.depends_on:
            raise Refusal(
                "event_id", f"补录 {d.event_id} 依赖待审核的事件 {entry.depends_on}：随该事件一并审核，不能单独审核"
            )
        if not d.approve and not d.reason.strip():
            raise Refusal("reason", "驳回补录须说明理由")
        if d.approve:  # the item may have moved on meanwhile (e.g. replied by another entry)
            held = self.st.held_events[d.event_id]
            tr.check(self.st.model_copy(update={"applied": {}}), held)

    def _entry(self, event_id: str) -> LateEntry | None:
        return next((e for e in self.st.late if e.event_id == event_id), None)

    @workflow.query
    def snapshot(self) -> ItemSnapshot:
        return self._snapshot(self.st.periods)

    def _snapshot(self, periods: list[ClockData]) -> ItemSnapshot:
        """The item as the store keeps it, with these finished periods of its recurring duties as rows."""
        st = self.st
        return ItemSnapshot(
            id=st.id,
            type=st.type,
            department=st.department,
            title=st.title,
            state="open" if st.state == "new" else st.state,
            version=st.version,
            data={**st.data, "region": st.region},
            clocks=[
                ClockSnapshot(
                    rule=row_rule,
                    start=c.start,
                    due=c.due,
                    due_instant=c.due_instant,
                    state=c.state,
                    met_on=c.met_on,
                    lateness_working_days=c.lateness_working_days,
                    provisional=c.provisional,
                    paused_days=c.paused_days,
                    region=c.region,
                    explanation=c.explanation,
                    ladder_step=c.ladder_step,
                )
                # a finished period of a recurring duty is its own row (domain.model.period_rule)
                for c, row_rule in [
                    *((c, c.rule) for c in st.clocks),
                    *((p, period_rule(p.rule, p.period)) for p in periods),
                ]
            ],
            late_entries=[e.model_copy() for e in st.late],
            applicant_key=st.applicant_key,
        )

    @workflow.query
    def event_hash(self, event_id: str) -> str | None:
        """The content hash of an event this item accepted, None if it never saw the id."""
        return self.st.applied.get(event_id)

    @workflow.signal
    def recalculate(self, reason: str) -> None:
        self._recalc.append(reason or "日历数据更新")
        self._dirty = True

    # ------------------------------------------------------------ transitions
    async def _apply(self, ev: Event) -> str | None:
        if ev.type not in tr.STARTS:  # the periods that lapsed before the event's day end first, unmet
            await self._lapse_periods(ev.on[:10], tr.recurring_lapsing(self.st))
        touched = tr.transition(self.st, ev)
        await self._compute(*touched.clocks)
        tr.note_closed_late(ev, touched.closed_late)
        tr.count_periods(self.st, touched.finished)
        return await self._after_apply(ev)

    async def _lapse_periods(self, until: str, clocks: list[ClockData], *, keep_last: bool = False) -> bool:
        """End these recurring periods, and each next one, while its due day is before `until` (ISO day):
        one missed period per elapsed period length (tr.lapse_period). `keep_last` (the timer): a period
        ends only once the one after it has lapsed too, so the latest lapsed period stays open and overdue
        (on the 逾期 list, reminded, and still met by an update recorded late but dated in it). Asks for its
        version marker only when a period lapses."""
        lapsed: list[ClockData] = []
        for c in clocks:
            while c.state == "open" and c.due and c.due[:10] < until:
                retry = workflow.now() + timedelta(days=1)  # the timer asks again tomorrow, not at once
                if not lapsed and not self._patched(PERIOD_LAPSE):
                    self._next_lapse[c.rule] = retry
                    return False
                nxt = tr.next_period(c)
                await self._compute(nxt)
                if not nxt.due or nxt.due[:10] <= c.due[:10]:
                    self._next_lapse[c.rule] = retry
                    break  # no later due date (cannot be computed): the period stays open as it is
                if keep_last and nxt.due[:10] >= until:
                    assert nxt.due_instant
                    self._next_lapse[c.rule] = datetime.fromisoformat(nxt.due_instant) + timedelta(seconds=1)
                    break
                tr.lapse_period(self.st, c, nxt)
                lapsed.append(c)
                c = nxt
        tr.count_periods(self.st, lapsed)
        return bool(lapsed)

    async def _after_apply(self, ev: Event) -> str | None:
        return None

    # ------------------------------------------------------------ activities
    async def _compute(self, *clocks: ClockData) -> None:
        """Due dates, explanations and reminder plans of these clocks: one local activity (pure
        computation on the worker's calendar, no server round trip)."""
        todo = list({id(c): c for c in clocks if not c.stopped}.values())
        if not todo:
            return
        req = ComputeRequest(
            now=workflow.now().isoformat(),
            clocks=[
                ClockJob(
                    spec=ClockSpec.model_validate(c.model_dump(include=set(ClockSpec.model_fields))),
                    fired=c.fired,
                    last_overdue_at=c.last_overdue_at,
                )
                for c in todo
            ],
        )
        results: list[ClockResult] = await workflow.execute_local_activity(
            compute_clocks, req, start_to_close_timeout=LOCAL_TIMEOUT, retry_policy=RETRY
        )
        for c, res in zip(todo, results, strict=True):
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
        req = PlanRequest(
            rule=c.rule,
            due=c.due,
            region=c.region,
            now=workflow.now().isoformat(),
            fired=c.fired,
            last_overdue_at=c.last_overdue_at,
        )
        try:
            c.plan = await workflow.execute_local_activity(
                plan_steps, req, start_to_close_timeout=LOCAL_TIMEOUT, retry_policy=RETRY
            )
        except ActivityError as exc:  # a plan that cannot be computed must not fail the item's workflow
            c.plan = []
            workflow.logger.error("reminder plan of %s/%s not computed: %s", self.st.id, c.rule, exc.cause or exc)

    async def _save(
        self, ev: Event | None = None, *, system_event: dict[str, Any] | None = None, recorded_at: str | None = None
    ) -> None:
        """Write the snapshot (and the event's row) and wait until it is in the store."""
        await self._save_soon(ev, system_event=system_event, recorded_at=recorded_at)

    def _save_soon(
        self,
        ev: Event | None = None,
        *,
        system_event: dict[str, Any] | None = None,
        recorded_at: str | None = None,
        batch: list[EventWrite] | None = None,
    ) -> asyncio.Task[None]:
        """The one writer of the read model: the snapshot as of now and the event's log row, in one
        transaction, after every earlier write of this item (so a later version never lands first).
        A regular activity on purpose, not a local one: it is scheduled only once the workflow task that
        accepted the event is in history, so the store is never ahead of the workflow (a local activity
        would write before that task commits, and a worker killed in between would leave an event row
        the workflow never applied). The caller need not wait: `_saved()` does before the run ends.
        `batch`: an `apply_many`'s writes, all in this one (the last event's row is the request's own)."""
        if self._finished():
            self._close_past_windows()
        if batch:
            last = batch[-1]
            ev, system_event, recorded_at = last.event, last.system_event, last.recorded_at
            earlier = [w for w in batch[:-1] if w.event is not None or w.system_event is not None]
        else:
            earlier = []
        carried, self._carried = self._carried, []
        # A finished period's row never changes once written, and writes are made in order: each write carries
        # only the periods finished since the previous write, except the first write after continue-as-new,
        # which stands for the previous run's unfinished writes and carries all the state keeps.
        written = self._written
        periods = [p for p in self.st.periods if carried or p.period > written.get(p.rule, 0)]
        for p in periods:
            written[p.rule] = max(written.get(p.rule, 0), p.period)
        req = SaveRequest(
            snapshot=self._snapshot(periods),
            event=ev,
            system_event=system_event,
            recorded_at=recorded_at,
            carried=[*carried, *earlier],
        )
        mine = EventWrite(event=ev, system_event=system_event, recorded_at=recorded_at)
        self._pending.extend([*earlier, mine])
        before = self._last_save

        async def write() -> None:
            if before is not None:
                await workflow.wait([before])  # its outcome is its own; only the order matters here
            await workflow.execute_activity(save_item, req, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
            done = [mine, *earlier, *carried]
            self._pending = [p for p in self._pending if all(p is not d for d in done)]
            # Its periods are in the store now: older ones may leave the state (not before: a write not seen
            # done is made again by the next run from `pending`, with only the periods the state still has).
            for p in periods:
                self._stored[p.rule] = max(self._stored.get(p.rule, 0), p.period)
            tr.trim_periods(self.st, self._stored)

        self._last_save = asyncio.create_task(write())
        return self._last_save

    def _unwritten(self) -> int:
        """Finished periods of recurring duties not yet handed to a store write."""
        return sum(1 for p in self.st.periods if p.period > self._written.get(p.rule, 0))

    async def _saved(self) -> None:
        """Every store write scheduled so far is done (they run in order: the last one is enough)."""
        if self._last_save is not None:
            await workflow.wait([self._last_save])

    async def _notify(self, c: ClockData, s: PlannedStepModel, extra: dict[str, Any] | None = None) -> None:
        meta = self.st.rules.get(c.rule)
        context = {
            "item_title": self.st.title,
            "rule_name": meta.name if meta else c.rule,
            "due": c.due,
            "due_key": s.key,
            "working_days_left": s.working_days_left,
            "overdue_working_days": s.overdue_working_days,
            "provisional": c.provisional,
            "explanation": c.explanation.get("summary", ""),
            **(extra or {}),
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

    def _finished_clocks(self) -> list[ClockData]:
        """Met and missed clocks a recalculation recomputes too (a window that lapses is never late)."""
        return [
            c
            for c in self.st.clocks
            if c.state in ("met", "missed")
            and c.met_on
            and not (c.rule in self.st.rules and self.st.rules[c.rule].lapses)
        ]

    async def _recalculate(self, reason: str) -> None:
        live = [c for c in self.st.clocks if c.live and not c.stopped]
        before = [(c.due, c.provisional) for c in live]
        done = self._finished_clocks() if self._patched(REPROJECT) else []
        at = [next(i for i, k in enumerate(self.st.clocks) if k is c) for c in done]
        done_before = [(c.due, c.provisional, c.state, c.lateness_working_days, c.explanation) for c in done]
        await self._compute_or_keep(*live, *done)
        changed = False
        for i, (old_due, old_prov, old_state, old_late, old_ex) in zip(at, done_before, strict=True):
            c = self.st.clocks[i]  # a kept clock is the saved copy
            if old_ex.get("closed_late"):  # closed after its due date: not late any more means closed
                if c.state == "met":
                    c.state, c.lateness_working_days = "closed", None
                else:
                    c.explanation = {**c.explanation, "closed_late": True}
            if (c.due, c.provisional, c.state, c.lateness_working_days) == (old_due, old_prov, old_state, old_late):
                continue
            changed = True
            if (c.due, c.state, c.lateness_working_days) == (old_due, old_state, old_late):
                continue  # only the provisional mark changed: shown on the clock, recorded like an open one's
            text = reprojected_text(reason, old_due, c.due, old_state, old_late, c.state, c.lateness_working_days)
            if c.provisional != old_prov:
                text += "，" + ("不再是暂定结果" if not c.provisional else "成为暂定结果")
            c.explanation = {**c.explanation, "reprojected": [*old_ex.get("reprojected", []), text]}
            await workflow.execute_activity(
                record_due_change,
                DueChange(item_id=self.st.id, rule=c.rule, old_due=old_due, new_due=c.due, reason=text),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
        if changed:
            tr.refresh_state(self.st)
        live = [c for c in self.st.clocks if c.live and not c.stopped]  # a kept clock is the saved copy
        for c, (old_due, old_prov) in zip(live, before, strict=True):
            if c.due != old_due or c.provisional != old_prov:
                changed = True
            if c.due != old_due:
                text = f"{reason}：到期日由 {old_due} 变为 {c.due}"
                await workflow.execute_activity(
                    record_due_change,
                    DueChange(item_id=self.st.id, rule=c.rule, old_due=old_due, new_due=c.due, reason=text),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                )
                step = PlannedStepModel(
                    key=f"due_date_changed@{old_due}>{c.due}",
                    step="due_date_changed",
                    to=["liaison"],
                    fire_at=workflow.now().isoformat(),
                    overdue=False,
                )
                await self._notify(c, step, {"old_due": old_due, "new_due": c.due, "reason": text})
        if changed:
            self.st.version += 1
            await self._save()


# ---------------------------------------------------------------- documents
@workflow.defn(name="document")
class DocumentWorkflow(ItemWorkflow):
    """Policy documents: publication within 20 wd of 成文, then the interpretation within 3 wd."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)

    async def _apply(self, ev: Event) -> str | None:
        if tr.record_only(self.st, ev):
            tr.record_facts(self.st, ev)
            return "不予公开的文件后经公开：已记录，不计时限"
        return await super()._apply(ev)


# ---------------------------------------------------------------- requests
@workflow.defn(name="request")
class RequestWorkflow(ItemWorkflow):
    """Information requests: reply clock with correction restart, consultation pause, one extension."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)

    async def _after_apply(self, ev: Event) -> str | None:
        st = self.st
        if ev.type == "request.correction_requested":
            terms: CorrectionResult = await workflow.execute_local_activity(
                correction_period,
                CorrectionRequest(on=ev.on[:10], respond_by=ev.data["respond_by"], region=st.region),
                start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=RETRY,
            )
            end_of_day = datetime.fromisoformat(f"{terms.respond_by}T23:59:59+08:00")
            st.abandon_at = max(end_of_day, workflow.now() + ABANDON_GRACE).isoformat()
            st.data["respond_by"] = terms.respond_by
            st.data.pop("abandon", None)
            st.data["correction"] = {
                "stated_respond_by": ev.data["respond_by"],
                "respond_by": terms.respond_by,
                "working_days": terms.working_days,
                "min_working_days": terms.min_working_days,
                "too_short": terms.too_short,
                "note": terms.note,
            }
            return terms.note or None
        elif ev.type == tr.FEE_NOTIFIED:
            # 109号: unpaid within the period = application abandoned (other.fee_unpaid), like a correction.
            fee: FeeResult = await workflow.execute_local_activity(
                fee_period,
                FeeRequest(on=ev.on[:10], region=st.region),
                start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=RETRY,
            )
            end_of_day = datetime.fromisoformat(f"{fee.pay_by}T23:59:59+08:00")
            st.abandon_at = max(end_of_day, workflow.now() + ABANDON_GRACE).isoformat()
            st.data["fee"] = {**st.data.get("fee", {}), "pay_by": fee.pay_by}
            st.data["abandon"] = {"on": fee.pay_by, "outcome": "other.fee_unpaid"}
            return f"缴费期限至 {fee.pay_by}（{fee.working_days} 个工作日，{fee.source}）；逾期未缴视为放弃申请"
        elif ev.type in (
            "request.corrected",
            "request.replied",
            "request.answered_on_the_spot",
            "request.withdrawn",
            tr.FEE_PAID,
        ):
            st.abandon_at = None
            st.data.pop("abandon", None)
        if ev.type == "request.withdrawn":
            tr.close_all(st)
            st.state = "withdrawn"
        return None

    async def _on_tick(self) -> None:
        st = self.st
        if not st.abandon_at or workflow.now() < datetime.fromisoformat(st.abandon_at) or tr.correction_held(st):
            return
        # 条例第三十条: no correction within the period without good reason = application abandoned.
        st.abandon_at = None
        # A fee notice's period (109号) or, as before, the correction period (条例第三十条).
        why = st.data.pop("abandon", None) or {}
        on = why.get("on") or st.data.get("respond_by")
        ev = {"event_id": f"{st.id}#abandoned", "type": "request.abandoned", "request_id": st.id, "on": on}
        tr.close_all(st)
        st.data["outcome"] = why.get("outcome") or "other.no_correction"
        st.data["closed_on"] = on
        st.state = "abandoned"
        st.version += 1
        await self._save(system_event=ev)


# ---------------------------------------------------------------- everything else
@workflow.defn(name="clocks")
class ClockItemWorkflow(ItemWorkflow):
    """Generic rule-driven clocks: budgets, public-opinion responses, annual reports, future rules."""

    @workflow.init
    def __init__(self, inp: ItemInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ItemInput) -> ItemSnapshot:
        return await self._run(inp)


WORKFLOW_FOR_TYPE: dict[str, type[ItemWorkflow]] = {"document": DocumentWorkflow, "request": RequestWorkflow}


def workflow_for(item_type: str) -> Any:
    return WORKFLOW_FOR_TYPE.get(item_type, ClockItemWorkflow)
