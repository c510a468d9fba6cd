"""Daily digests (issue 4 §3): which day it is, whether anyone works, and what each person reads.

The scheduled `DigestWorkflow` (workflows/digests.py) runs every day at 09:00 Asia/Shanghai and calls:

1. `digest_day`: is the day a working day per the calendar (chinese-calendar data plus the overlays in
   config/calendars/, so make-up Saturdays/Sundays count and statutory rest days do not)? The national
   calendar decides for city-wide roles; a department's region (e.g. guangxi, 壮族三月三) decides for its
   liaison and head. No region works -> the run is "skipped" and nothing is sent.
2. `plan_digests`: loads the open item snapshots from the store and runs `domain.digests.build_digests`
   (liaison: due within 5 working days; supervisor: overdue by department; head: their department's).
   People whose region rests that day are left out.

The workflow then sends each digest with `notify_person` under the delivery key
`digest-{date}:digest:{step}:{person}`: once per day and person, also across restarts and repeated runs.

Everything here runs in activities (calendar and config are read at run time, never in workflow code).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import activity

from domain.shanghai import SHANGHAI_OFFSET

NATIONAL = "national"
DIGEST_RULE = "digest"


def digest_item_id(day: str) -> str:
    """The delivery-log item id of one day's digests (part of the unique delivery key)."""
    return f"digest-{day}"


# ------------------------------------------------------------------------------------------ models
class DigestInput(BaseModel):
    """Workflow input. `for_date` (ISO date) is for tests and manual runs; scheduled runs leave it empty
    and use the schedule's scheduled time (search attribute TemporalScheduledStartTime) or the clock."""

    for_date: str | None = None


class DigestDayRequest(BaseModel):
    date: str  # ISO date (Asia/Shanghai)


class DigestDay(BaseModel):
    date: str
    workday: bool  # someone works today (national or a department's region)
    national_workday: bool
    reason: str = ""  # national day classification, e.g. 国庆节调休上班 / 国庆节 / 周末 / 工作日
    working_regions: list[str] = Field(default_factory=list)
    resting_regions: list[str] = Field(default_factory=list)
    provisional: bool = False  # no published holiday arrangement for this year yet


class DigestMessage(BaseModel):
    person_id: str
    step: str  # digest_liaison / digest_supervisor / digest_head / digest_admin
    context: dict[str, Any] = Field(default_factory=dict)


class DigestPlan(BaseModel):
    date: str
    open_items: int = 0
    messages: list[DigestMessage] = Field(default_factory=list)
    resting_people: list[str] = Field(default_factory=list)  # had a digest but their region rests today


DigestStatus = Literal["sent", "skipped", "stale", "empty"]


class DigestSummary(BaseModel):
    date: str
    workday: bool
    status: DigestStatus  # sent: digests went out · skipped: rest day · stale: catch-up run on a later day ·
    #                       empty: working day with nothing to report
    date_source: Literal["input", "schedule", "clock"] = "clock"
    reason: str = ""
    sent: int = 0  # newly delivered now
    already_sent: int = 0  # delivered by an earlier run of the same day (nothing sent again)
    failed: int = 0
    resting_people: list[str] = Field(default_factory=list)  # regional rest day: their digest not sent
    deliveries: list[str] = Field(default_factory=list)  # "person:step:status"


# ------------------------------------------------------------------------------------------ date
def digest_date(for_date: str | None, scheduled_start: datetime | None, now: datetime) -> tuple[str, str, bool]:
    """(ISO date, source, stale) of one digest run; pure, used from workflow code.

    `for_date` wins (tests, manual runs). Otherwise the schedule's scheduled time, as a date in Asia/Shanghai:
    a run started late (worker down at 09:00, Temporal catch-up) still belongs to the day it was scheduled
    for, and is `stale` when it only starts on a later day (that day's own run sends that day's digest).
    Without either, the workflow clock's date in Asia/Shanghai.
    """
    if for_date:
        return date.fromisoformat(for_date[:10]).isoformat(), "input", False
    today = now.astimezone(SHANGHAI_OFFSET).date()
    if scheduled_start is not None:
        if scheduled_start.tzinfo is None:
            scheduled_start = scheduled_start.replace(tzinfo=UTC)
        day = scheduled_start.astimezone(SHANGHAI_OFFSET).date()
        return day.isoformat(), "schedule", today > day
    return today.isoformat(), "clock", False


# ------------------------------------------------------------------------------------------ helpers
def _region_of_person(directory, person_id: str) -> str:
    person = directory.people.get(person_id)
    if person is None or not person.department:
        return NATIONAL  # city-wide roles follow the national calendar
    return directory.region_of(person.department)


def classify_day(day: date, calendar, directory) -> DigestDay:
    regions = [NATIONAL] + sorted({d.region for d in directory.departments.values()} - {NATIONAL})
    working: list[str] = []
    resting: list[str] = []
    for region in regions:
        (working if calendar.is_workday(day, region) else resting).append(region)
    info = calendar.day(day, NATIONAL)
    return DigestDay(
        date=day.isoformat(),
        workday=bool(working),
        national_workday=NATIONAL in working,
        reason=info.reason,
        working_regions=working,
        resting_regions=resting,
        provisional=bool(getattr(info, "provisional", False)),
    )


def plan_for(
    day: date,
    items: list,
    directory,
    calendar,
    held: list[str] | None = None,
    decided: list | None = None,
    since: dict[str, Any] | None = None,
) -> DigestPlan:
    """The digests of `day` for `items` (ItemSnapshots), leaving out people whose region rests.
    `held`: the department of each late entry (补录) waiting for review; `decided` / `since`: the late
    entries decided and each person's previous digest (domain.digests.build_digests)."""
    from activities.clocks import activity_engine as engine
    from domain import labels
    from domain.digests import build_digests, working_days_left_from
    from domain.notice_text import date_text

    plan = DigestPlan(date=day.isoformat(), open_items=len(items))
    # The calendar notices of the departments' regions (and national) that should be out by now.
    used = {d.region for d in directory.departments.values()} - {NATIONAL}
    missing = [m.text for m in calendar.missing_notices(day, used)] if hasattr(calendar, "missing_notices") else []
    for person_id, step, context in build_digests(
        items, directory, day, working_days_left_from(calendar), engine().rules, held, decided, since, missing
    ):
        if not calendar.is_workday(day, _region_of_person(directory, person_id)):
            plan.resting_people.append(person_id)
            continue
        # Names for the delivery log and a possible 送达失败 notice (digest templates do not use them).
        context.setdefault("item_title", f"{date_text(day.isoformat())}{labels.STEPS.get(step, step)}")
        context.setdefault("rule_name", "每日汇总")
        plan.messages.append(DigestMessage(person_id=person_id, step=step, context=context))
    return plan


# How far back the 审核结果 section of a person's first digest looks (no earlier digest to start from).
FIRST_DIGEST_LOOKBACK_DAYS = 7


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def since_end(t: datetime) -> datetime:
    """The end (24:00 Shanghai) of the day a digest went out: a later digest lists decisions after the
    previous one, never earlier than the end of that one's own day (what it could have listed)."""
    d = _aware(t).astimezone(SHANGHAI_OFFSET).date()
    return datetime.combine(d + timedelta(days=1), time(0), SHANGHAI_OFFSET)


def decision_window(day: date, now: datetime) -> tuple[datetime, datetime]:
    """(since, until) of the decisions a digest of `day` may list: from a week before (a person's first
    digest; later ones start at their previous digest) up to now, or the end of `day` for a past day."""
    start = datetime.combine(day - timedelta(days=FIRST_DIGEST_LOOKBACK_DAYS), time(9), SHANGHAI_OFFSET)
    end = datetime.combine(day + timedelta(days=1), time(0), SHANGHAI_OFFSET)
    return start, min(_aware(now), end)


# ------------------------------------------------------------------------------------------ activities
@activity.defn(name="digest_day")
def digest_day(req: DigestDayRequest) -> DigestDay:
    """Is `req.date` a working day (national calendar and each department region)?"""
    from activities.clocks import activity_engine as engine

    return classify_day(date.fromisoformat(req.date), engine().calendar, engine().directory)


@activity.defn(name="plan_digests")
def plan_digests(req: DigestDayRequest) -> DigestPlan:
    """Open items from the store -> the day's digests per person (see module docstring)."""
    from activities.clocks import activity_engine as engine
    from store.db import session
    from store.digests import decided_late_entries, previous_digests
    from store.items import late_entries, list_items

    day = date.fromisoformat(req.date)
    since, until = decision_window(day, datetime.now(UTC))
    with session() as s:
        items = list_items(s, state="open")
        held = [e.department for e in late_entries(s, status="held")]
        previous = previous_digests(s, digest_item_id(req.date))
        decided = decided_late_entries(s, min([since, *previous.values()], key=_aware), until)
    directory = engine().directory
    # each person's decisions start after their previous digest; a first digest looks back a week
    after = {p: min(_aware(previous[p]), since_end(previous[p])) if p in previous else since for p in directory.people}
    return plan_for(day, items, directory, engine().calendar, held, decided, after)
