"""Activities behind the item workflows: deadline arithmetic, ladder plans and read-model writes.

Everything that reads the calendar or config happens here, never in workflow code: a new calendar
notice must not change what a replay computes, and chinese-calendar may raise for unknown years.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.clocks import (
    SHANGHAI,
    ClockError,
    ExtensionGrant,
    Pause,
    compute,
    correction_terms,
    is_late,
    lateness_working_days,
    parse_start,
)
from domain.config import ConfigError
from domain.engine import Engine, engine
from domain.events import Event, parse_event
from domain.ladder import plan
from domain.model import ItemSnapshot
from domain.standing import overdue_working_days, working_days_left
from store import repo
from store.db import _import_table_modules, get_engine, init_db

# What the store activities need is imported here, when the worker imports its activities (before any
# workflow runs), not by an activity thread's first call: while a workflow activation runs in the sandbox,
# sys.modules is the sandbox's thread-local mapping, not a dict, for every thread; cffi's module init
# (argon2's bindings, under store.accounts, a table module init_db imports) writes to it with
# PyDict_SetItem and fails with "SystemError: bad argument to internal function".
_import_table_modules()


# ---------------------------------------------------------------- engine
def activity_engine() -> Engine:
    """`domain.engine.engine()`; broken config at start fails the activity for good (a retry cannot fix it)."""
    try:
        return engine()
    except ConfigError as exc:
        if activity.in_activity():
            raise ApplicationError(str(exc), type="ConfigError", non_retryable=True) from None
        raise


# ---------------------------------------------------------------- models
class PauseSpec(BaseModel):
    start: str
    end: str | None = None
    reason: str = "征求第三方或其他机关意见"
    kind: str | None = None  # e.g. the consultation's `with`: each one ends on its own


class ExtensionSpec(BaseModel):
    on: str
    working_days: int
    reason: str = ""
    event_id: str = ""


class ClockSpec(BaseModel):
    rule: str
    start: str
    region: str = "national"
    pauses: list[PauseSpec] = Field(default_factory=list)
    extensions: list[ExtensionSpec] = Field(default_factory=list)
    restarted_from: str | None = None
    met_on: str | None = None  # date or instant the clock was met
    # How the start was fixed (the channel's receipt rule, contact restored): said in the explanation.
    note: str | None = None
    # 条例第三十五条: a later reply date the agency set and notified (the due date is at least that day).
    delayed_to: str | None = None
    delay_note: str | None = None


class ClockCalc(BaseModel):
    due: str | None = None
    due_instant: str | None = None
    provisional: bool = False
    explanation: dict[str, Any] = Field(default_factory=dict)
    paused_days: int = 0
    late: bool | None = None
    lateness_working_days: int | None = None


class PlanRequest(BaseModel):
    rule: str
    due: str
    region: str = "national"
    now: str
    fired: list[str] = Field(default_factory=list)
    last_overdue_at: str | None = None


class PlannedStepModel(BaseModel):
    key: str
    step: str
    to: list[str]
    fire_at: str
    overdue: bool
    working_days_left: int | None = None  # as seen on the day the step fires
    overdue_working_days: int | None = None


def _clock_error(exc: Exception) -> ApplicationError:
    # Non-retryable: the same input fails the same way; the workflow turns it into a refusal.
    return ApplicationError(str(exc), type="ClockError", non_retryable=True)


def calc(spec: ClockSpec) -> ClockCalc:
    eng = activity_engine()
    try:
        rule = eng.rules[spec.rule]
        dl = compute(
            rule,
            parse_start(spec.start),
            eng.calendar,
            spec.region,
            pauses=[
                Pause(dt.date.fromisoformat(p.start), dt.date.fromisoformat(p.end) if p.end else None, p.reason)
                for p in spec.pauses
            ],
            extensions=[ExtensionGrant(dt.date.fromisoformat(e.on), e.working_days, e.reason) for e in spec.extensions],
            restarted_from=dt.date.fromisoformat(spec.restarted_from) if spec.restarted_from else None,
            granted=True,  # the workflow validator judged each extension when it was decided
        )
    except KeyError:
        raise _clock_error(ConfigError(f"未知规则 “{spec.rule}”")) from None
    except (ClockError, ConfigError) as exc:
        raise _clock_error(exc) from None
    if spec.note and dl.explanation:
        dl.explanation["notes"] = [spec.note, *dl.explanation.get("notes", [])]
        dl.explanation["receipt"] = spec.note
    if spec.delayed_to and dl.due is not None and isinstance(dl.due, dt.date):
        delayed = dt.date.fromisoformat(spec.delayed_to)
        if delayed > dl.due:
            if dl.explanation:
                dl.explanation["summary"] = (
                    f"按条例第三十五条延迟答复至 {delayed}（按法定期限计为 {dl.due}）；{dl.explanation.get('summary', '')}"
                )
                dl.explanation["notes"] = [*dl.explanation.get("notes", []), spec.delay_note or ""]
                dl.explanation["due"] = delayed.isoformat()
                dl.explanation["delayed_to"] = delayed.isoformat()
            dl.due = delayed
    out = ClockCalc(
        due=dl.due_iso(),
        due_instant=dl.due_instant.isoformat() if dl.due_instant else None,
        provisional=dl.provisional,
        explanation=dl.explanation,
        paused_days=dl.paused_days,
    )
    if spec.met_on and dl.due is not None:
        met = parse_start(spec.met_on)
        out.late = is_late(dl.due, met)
        out.lateness_working_days = lateness_working_days(eng.calendar, dl.due, met, dl.region) if out.late else 0
    return out


class CorrectionRequest(BaseModel):
    on: str
    respond_by: str
    region: str = "national"


class CorrectionResult(BaseModel):
    respond_by: str  # moved off a rest day
    working_days: int
    min_working_days: int
    too_short: bool
    note: str = ""


@activity.defn
def correction_period(req: CorrectionRequest) -> CorrectionResult:
    """The applicant's correction period as the law reads it (last day moved off a rest day) and
    whether it is shorter than `[correction] min_working_days`."""
    eng = activity_engine()
    try:
        t = correction_terms(
            dt.date.fromisoformat(req.on),
            dt.date.fromisoformat(req.respond_by),
            eng.calendar,
            eng.calendar.check_region(req.region),
            eng.correction_min,
        )
    except (ClockError, ConfigError, ValueError) as exc:
        raise _clock_error(exc) from None
    return CorrectionResult(
        respond_by=t.respond_by.isoformat(),
        working_days=t.working_days,
        min_working_days=t.min_working_days,
        too_short=t.too_short,
        note=t.note,
    )


class FeeRequest(BaseModel):
    on: str  # the fee notice's day
    region: str = "national"


class FeeResult(BaseModel):
    pay_by: str
    working_days: int
    source: str


@activity.defn
def fee_period(req: FeeRequest) -> FeeResult:
    """The applicant's payment period (国办函〔2020〕109号: 20 working days after the notice; counted from the
    notice's day, as the day it reached the applicant is not recorded)."""
    from domain.receipt import load_receipt

    eng = activity_engine()
    try:
        fee = load_receipt().fee
        region = eng.calendar.check_region(req.region)
        pay_by = eng.calendar.add_working_days(dt.date.fromisoformat(req.on), fee.payment_working_days, region)
    except (ClockError, ConfigError, ValueError) as exc:
        raise _clock_error(exc) from None
    return FeeResult(pay_by=pay_by.isoformat(), working_days=fee.payment_working_days, source=fee.source)


class ClockJob(BaseModel):
    spec: ClockSpec
    fired: list[str] = Field(default_factory=list)
    last_overdue_at: str | None = None


class ComputeRequest(BaseModel):
    now: str  # workflow time: where the ladder plan starts
    clocks: list[ClockJob]


class ClockResult(BaseModel):
    calc: ClockCalc
    plan: list[PlannedStepModel] = Field(default_factory=list)


def _domain_failure(what: str, exc: Exception) -> ApplicationError:
    """Pure arithmetic on the calendar: the same input fails the same way on every attempt, so a
    retry could only hang the event (and an import waiting for it). Non-retryable: the workflow
    refuses the one event with this reason."""
    return ApplicationError(f"{what}：{exc}", type="DomainError", non_retryable=True)


@activity.defn
def compute_clocks(req: ComputeRequest) -> list[ClockResult]:
    """Due dates and reminder plans of every clock an event touched, in one round trip."""
    out = []
    for job in req.clocks:
        try:
            result = calc(job.spec)
            plan_ = []
            if result.due and job.spec.met_on is None:
                plan_ = _plan(
                    PlanRequest(
                        rule=job.spec.rule,
                        due=result.due,
                        region=job.spec.region,
                        now=req.now,
                        fired=job.fired,
                        last_overdue_at=job.last_overdue_at,
                    )
                )
        except ApplicationError:
            raise
        except Exception as exc:  # e.g. OverflowError/ValueError from dates the calendar cannot hold
            raise _domain_failure(f"无法计算期限（{job.spec.rule}，起算 {job.spec.start}）", exc) from None
        out.append(ClockResult(calc=result, plan=plan_))
    return out


@activity.defn
def plan_steps(req: PlanRequest) -> list[PlannedStepModel]:
    try:
        return _plan(req)
    except ApplicationError:
        raise
    except Exception as exc:
        raise _domain_failure(f"无法安排提醒（{req.rule}，到期 {req.due}）", exc) from None


def _plan(req: PlanRequest) -> list[PlannedStepModel]:
    eng = activity_engine()
    rule = eng.rules[req.rule]
    ladder = eng.ladders.for_rule(rule.id, rule.unit)
    due = parse_start(req.due)
    last = dt.datetime.fromisoformat(req.last_overdue_at) if req.last_overdue_at else None
    steps = plan(ladder, due, eng.calendar, req.region, dt.datetime.fromisoformat(req.now), set(req.fired), last)
    due_day = due.astimezone(SHANGHAI).date() if isinstance(due, dt.datetime) else due
    out = []
    for s in steps:
        day = s.fire_at.astimezone(SHANGHAI).date()
        left = working_days_left(eng.calendar, day, due_day, req.region)
        over = overdue_working_days(eng.calendar, due_day, day, req.region)
        out.append(
            PlannedStepModel(
                key=s.key,
                step=s.step,
                to=list(s.to),
                fire_at=s.fire_at.isoformat(),
                overdue=s.overdue,
                working_days_left=left if not s.overdue else None,
                overdue_working_days=over if s.overdue else None,
            )
        )
    return out


# ---------------------------------------------------------------- read model
def _session():
    """A session on the current database (migrated once per engine per process by init_db)."""
    return Session(init_db(get_engine()))


class EventWrite(BaseModel):
    """The event-log part of one store write: an accepted event's row (none: a snapshot-only write)."""

    event: Event | None = None  # an applied (or approved late) event: its row joins the event log
    system_event: dict[str, Any] | None = None  # an event the engine emits itself (request.abandoned)
    recorded_at: str | None = None  # an approved late entry keeps the time it was first recorded


class SaveRequest(EventWrite):
    """What an item workflow writes: its snapshot and, when an event was accepted, the event's log row."""

    snapshot: ItemSnapshot
    # Writes an earlier run scheduled and had not seen done when it continued as new: their rows, written
    # again with this one (insert-or-ignore; the snapshot, newest, covers theirs).
    carried: list[EventWrite] = Field(default_factory=list)


def _event_row(w: EventWrite, department: str):
    ev = w.event
    if w.system_event is not None:
        ev = parse_event(w.system_event, internal=True)
    if ev is None:
        return None
    return repo.event_record_from(
        ev.data,
        item_id=ev.item_id,
        department=ev.department or department,
        occurred_on=ev.on[:10],
        content_hash=ev.content_hash,
        recorded_by="system" if w.system_event is not None else ev.data.get("recorded_by"),
        **({"ingested_at": repo.parse_instant(w.recorded_at)} if w.recorded_at else {}),
    )


@activity.defn
def save_item(req: SaveRequest) -> bool:
    """The one writer of the read model: item snapshot + event rows in one transaction. Idempotent (a
    retried activity re-upserts the same version and finds the rows already there)."""
    rows = [row for w in (*req.carried, req) if (row := _event_row(w, req.snapshot.department)) is not None]
    with _session() as s:
        try:
            written = repo.save_snapshot(s, req.snapshot, commit=False)
            for rec in rows:
                repo.add_event(s, rec, commit=False)
            s.commit()
        except Exception:
            s.rollback()
            raise
        return written


class FactRequest(BaseModel):
    event: Event
    department: str | None = None


@activity.defn
def record_fact(req: FactRequest) -> str:
    """A fact recorded on a finished item (no clock): its event row alone. Returns applied, duplicate
    (same id and content already stored) or conflict (the id is taken by other content)."""
    ev = req.event
    rec = repo.event_record_from(
        ev.data,
        item_id=ev.item_id,
        department=ev.department or req.department,
        occurred_on=ev.on[:10],
        content_hash=ev.content_hash,
        recorded_by=ev.data.get("recorded_by"),
    )
    with _session() as s:
        if repo.add_event(s, rec):
            return "applied"
        known = repo.find_event(s, ev.event_id)
        return "duplicate" if known is None or known.content_hash == ev.content_hash else "conflict"


class DueChange(BaseModel):
    item_id: str
    rule: str
    old_due: str | None
    new_due: str | None
    reason: str


@activity.defn
def record_due_change(change: DueChange) -> None:
    with _session() as s:
        repo.record_due_change(s, change.item_id, change.rule, change.old_due, change.new_due, change.reason)
