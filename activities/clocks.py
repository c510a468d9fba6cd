"""Activities behind the item workflows: deadline arithmetic and ladder plans (`compute_clocks`, pure), and
`reproject` of one finished clock on a new calendar. Every store write (the item workflows' and
`reproject_closed`'s for finished items) is in activities/store.py.

Everything that reads the calendar or config happens here, never in workflow code: a new calendar
notice must not change what a replay computes, and chinese-calendar may raise for unknown years.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.clock_specs import ClockSpec, ExtensionSpec, PauseSpec, PlannedStepModel
from domain.clocks import (
    SHANGHAI,
    ClockError,
    ExtensionGrant,
    Pause,
    compute_rule,
    correction_terms,
    judged_late,
    lateness_working_days,
    parse_start,
    reprojected_text,
    shortened,
)
from domain.config import ConfigError
from domain.engine import Engine, engine, rule_in_use
from domain.ladder import is_swept, plan, sweep_time
from domain.model import ClockSnapshot
from domain.standing import overdue_working_days, working_days_left
from store.db import _import_table_modules

# What the store activities need is imported here, when the worker imports its activities (before any
# workflow runs), not by an activity thread's first call: while a workflow activation runs in the sandbox
# (SHIXIAN_WORKFLOW_SANDBOX, and CI's strict one; production runs unsandboxed),
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


def _clock_error(exc: Exception) -> ApplicationError:
    # Non-retryable: the same input fails the same way; the workflow turns it into a refusal.
    return ApplicationError(str(exc), type="ClockError", non_retryable=True)


def _deadline(spec: ClockSpec, eng: Engine, *, explain: bool = True):
    """The clock's deadline on the current calendar, with every input a spec carries: pauses, extensions,
    restart, and a 第三十五条 later date (at least that day). KeyError for an unknown rule, ClockError /
    ConfigError for input the calendar cannot count. One place, so a re-projection and a live clock agree."""
    dl = compute_rule(
        eng.rules,
        rule_in_use(eng, spec.rule),
        parse_start(spec.start),
        eng.calendar,
        spec.region,
        pauses=[
            Pause(dt.date.fromisoformat(p.start), dt.date.fromisoformat(p.end) if p.end else None, p.reason)
            for p in spec.pauses
        ],
        extensions=[ExtensionGrant(dt.date.fromisoformat(e.on), e.working_days, e.reason) for e in spec.extensions],
        restarted_from=dt.date.fromisoformat(spec.restarted_from) if spec.restarted_from else None,
        explain=explain,
        granted=True,  # the workflow validator judged each extension when it was decided
    )
    if spec.note and dl.explanation:
        dl.explanation["notes"] = [spec.note, *dl.explanation.get("notes", [])]
        dl.explanation["receipt"] = spec.note
    if spec.delayed_to and isinstance(dl.due, dt.date):
        delayed = dt.date.fromisoformat(spec.delayed_to)
        if delayed > dl.due:
            if dl.explanation:
                dl.explanation["summary"] = (
                    f"按条例第三十五条延迟答复至 {delayed}（按法定期限计为 {dl.due}）；{dl.explanation.get('summary', '')}"
                )
                dl.explanation["notes"] = [*dl.explanation.get("notes", []), spec.delay_note or ""]
                dl.explanation["due"] = delayed.isoformat()
                dl.explanation["delayed_to"] = delayed.isoformat()
                dl.explanation["delay_note"] = spec.delay_note or ""
            dl.due = delayed
    return dl


def calc(spec: ClockSpec) -> ClockCalc:
    eng = activity_engine()
    try:
        dl = _deadline(spec, eng)
    except KeyError:
        raise _clock_error(ConfigError(f"未知规则 “{spec.rule}”")) from None
    except (ClockError, ConfigError) as exc:
        raise _clock_error(exc) from None
    out = ClockCalc(
        due=dl.due_iso(),
        due_instant=dl.due_instant.isoformat() if dl.due_instant else None,
        provisional=dl.provisional,
        explanation=dl.explanation,
        paused_days=dl.paused_days,
    )
    if spec.restarted_from:  # kept so that a finished clock can be recomputed from its snapshot
        out.explanation = {**out.explanation, "restarted_from": spec.restarted_from}
    if spec.met_on and dl.due is not None:
        met = parse_start(spec.met_on)
        rule = eng.rules[spec.rule]
        out.late = judged_late(rule, dl.due, met)
        out.lateness_working_days = lateness_working_days(eng.calendar, dl.due, met, dl.region) if out.late else 0
        if shortened(rule, dl.due, met):
            out.explanation = {**out.explanation, **shortened_note(rule, dl.due, met, spec.shortened_reason)}
    return out


def shortened_note(rule, due, met, reason: str | None) -> dict[str, Any]:
    """What a minimum window closed early (with its stated reason) shows: flagged 缩短征求意见期."""
    closed, earliest = str(met)[:10], str(due)[:10]
    return {
        "shortened": {"closed_on": closed, "earliest": earliest, "reason": reason or ""},
        "summary": f"{rule.limit_text}，应在 {earliest} 之后结束；{closed} 即结束（缩短征求意见期，"
        f"理由：{reason or '未说明'}）",
    }


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
    rule = rule_in_use(eng, req.rule)
    ladder = eng.ladders.for_rule(rule.id, rule.unit)
    due = parse_start(req.due)
    last = dt.datetime.fromisoformat(req.last_overdue_at) if req.last_overdue_at else None
    steps = plan(ladder, due, eng.calendar, req.region, dt.datetime.fromisoformat(req.now), set(req.fired), last)
    hours = isinstance(due, dt.datetime)
    at = sweep_time(eng.ladders)
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
                swept=is_swept(s, ladder, hours, at),
            )
        )
    return out


# ---------------------------------------------------------------- closed clocks after a calendar change
class ReprojectRequest(BaseModel):
    reason: str
    after: str | None = None  # the last item id of the previous page
    limit: int = 200
    # only these departments' items (a calendar change of some regions: re-projection per node); None: all
    departments: list[str] | None = None


class ReprojectResult(BaseModel):
    items: int = 0  # items looked at on this page
    changed: int = 0  # clocks whose due date, lateness or provisional mark changed
    next_after: str | None = None  # None: no further page


def spec_from_snapshot(c: ClockSnapshot) -> ClockSpec:
    """A finished clock's inputs as its stored explanation keeps them (pauses, extensions, restart)."""
    ex = c.explanation or {}
    restarted = ex.get("restarted_from")
    if restarted is None:  # explanations written before the key: the restart note names the first start
        m = next((_RESTART.search(n) for n in ex.get("notes", []) if isinstance(n, str) and _RESTART.search(n)), None)
        restarted = m.group(1) if m else None
    return ClockSpec(
        rule=c.rule,
        start=c.start,
        region=c.region,
        pauses=[
            PauseSpec(start=p["from"], end=p.get("to"), reason=p.get("reason") or "") for p in ex.get("pauses", [])
        ],
        extensions=[
            ExtensionSpec(on=e["on"], working_days=int(e["working_days"]), reason=e.get("reason") or "")
            for e in ex.get("extensions", [])
        ],
        restarted_from=restarted,
        met_on=c.met_on,
        # the receipt note and a 第三十五条 later date are inputs too: without them a reload would judge a
        # delayed reply against its statutory date
        note=ex.get("receipt"),
        delayed_to=ex.get("delayed_to"),
        delay_note=ex.get("delay_note"),
        shortened_reason=(ex.get("shortened") or {}).get("reason") or None,
    )


_log = logging.getLogger("shixian.calendar")
_RESTART = re.compile(r"原起算日 (\d{4}-\d{2}-\d{2})")


def _unchanged(spec: ClockSpec, c: ClockSnapshot, eng: Engine) -> bool:
    """The clock's due date, provisional mark and lateness are what the current calendar gives."""
    try:
        dl = _deadline(spec, eng, explain=False)
    except (ClockError, ConfigError, KeyError, ValueError):
        return False  # the full computation decides (and logs)
    if dl.due is None or dl.due_iso() != c.due or dl.provisional != c.provisional or spec.met_on is None:
        return False
    met = parse_start(spec.met_on)
    late = judged_late(eng.rules[spec.rule], dl.due, met)
    lateness = lateness_working_days(eng.calendar, dl.due, met, dl.region) if late else 0
    state = "missed" if late else ("closed" if c.explanation.get("closed_late") else "met")
    return state == c.state and (not late or lateness == c.lateness_working_days)


def reproject(c: ClockSnapshot, reason: str) -> tuple[ClockSnapshot, str | None] | None:
    """A met or missed clock recomputed on the current calendar: the new clock and the text of the
    change (None when only the provisional mark changed: not recorded, as for an open clock), None when
    nothing it shows changed. A clock closed after its due date (withdrawn, repealed) that the new due
    date puts before the closing is closed, not met."""
    eng = activity_engine()
    rule = eng.rules.get(c.rule)
    if rule is None or rule.lapses or c.state not in ("met", "missed") or not c.met_on:
        return None
    spec = spec_from_snapshot(c)
    try:
        if _unchanged(spec, c, eng):  # the usual case: without building the explanation
            return None
        new = calc(spec)
    except ApplicationError as exc:  # a clock the current data cannot compute keeps its values
        _log.warning("clock %s/%s not re-projected: %s", c.start, c.rule, exc)
        return None
    if new.due is None or new.late is None:
        return None
    closed_late = bool(c.explanation.get("closed_late"))
    state = "missed" if new.late else ("closed" if closed_late else "met")
    lateness = None if state == "closed" else new.lateness_working_days
    if (new.due, new.provisional, state, lateness) == (c.due, c.provisional, c.state, c.lateness_working_days):
        return None
    text: str | None = None
    explanation = {**new.explanation, "reprojected": list(c.explanation.get("reprojected", []))}
    if (new.due, state, lateness) != (c.due, c.state, c.lateness_working_days):
        text = reprojected_text(reason, c.due, new.due, c.state, c.lateness_working_days, state, lateness)
        if new.provisional != c.provisional:
            text += "，" + ("不再是暂定结果" if not new.provisional else "成为暂定结果")
        explanation["reprojected"].append(text)
    if spec.restarted_from:
        explanation["restarted_from"] = spec.restarted_from
    if closed_late and state == "missed":
        explanation["closed_late"] = True
    out = c.model_copy(
        update={
            "due": new.due,
            "due_instant": new.due_instant,
            "provisional": new.provisional,
            "explanation": explanation,
            "paused_days": new.paused_days,
            "state": state,
            "lateness_working_days": lateness,
        }
    )
    return out, text
