"""Reminder ladders: which step fires when, for one clock's due date.

Each step fires at most once per due date (its key is `step@due`), only at `fire_at` on a working day
(hour rules fire by the clock), and an item that arrives already past steps gets one overdue notice
instead of the whole missed ladder (backfill must not flood anyone).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from domain.calendar import WorkCalendar
from domain.clocks import SHANGHAI
from domain.config import ConfigError, config_dir, read_toml

ROLES = {"liaison", "head", "supervisor", "assessor", "admin"}
# A late notice for a backfilled item waits this long so that a bulk import's next lines
# (e.g. the publication that meets the clock) can arrive first.
BACKFILL_GRACE = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class StepDef:
    id: str
    to: tuple[str, ...]
    offset: int = 0  # working days (day rules)
    offset_hours: int = 0  # hours (hour rules)


@dataclass(frozen=True)
class Ladder:
    steps: tuple[StepDef, ...]
    fire_at: dt.time = dt.time(9, 0)
    repeat_every: int = 3  # working days (day rules) or hours (hour rules); 0 = no repeats
    repeat_to: tuple[str, ...] = ("supervisor",)


@dataclass(frozen=True)
class PlannedStep:
    key: str  # "<step>@<due>": fired at most once
    step: str
    to: tuple[str, ...]
    fire_at: dt.datetime  # aware
    overdue: bool


def _parse_ladder(raw: dict, where: str, base: Ladder | None, hours: bool) -> Ladder:
    steps = []
    for i, s in enumerate(raw.get("steps", []), start=1):
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            raise ConfigError(f"{where}: steps 第{i}项需要 id")
        to = s.get("to", [])
        bad = [r for r in to if r not in ROLES]
        if not to or bad:
            raise ConfigError(f"{where}: steps 第{i}项（{s['id']}）的 to 无效：{bad or '空'}")
        key = "offset_hours" if hours else "offset"
        if not isinstance(s.get(key, 0), int):
            raise ConfigError(f"{where}: steps 第{i}项（{s['id']}）的 {key} 必须是整数")
        steps.append(StepDef(s["id"], tuple(to), int(s.get("offset", 0)), int(s.get("offset_hours", 0))))
    fire_at = raw.get("fire_at")
    try:
        fire = dt.time.fromisoformat(fire_at) if fire_at else (base.fire_at if base else dt.time(9, 0))
    except ValueError:
        raise ConfigError(f"{where}: fire_at “{fire_at}” 应为 HH:MM") from None
    rep_key = "repeat_every_hours" if hours else "repeat_every"
    repeat = raw.get(rep_key, raw.get("repeat_every", base.repeat_every if base else 0))
    return Ladder(
        tuple(steps) if "steps" in raw else (base.steps if base else ()),
        fire,
        int(repeat),
        tuple(raw.get("repeat_to", base.repeat_to if base else ("supervisor",))),
    )


@dataclass(frozen=True)
class LadderConfig:
    default: Ladder
    hours: Ladder
    per_rule: dict[str, dict]

    def for_rule(self, rule_id: str, unit: str) -> Ladder:
        hours = unit == "hours"
        base = self.hours if hours else self.default
        raw = self.per_rule.get(rule_id)
        return _parse_ladder(raw, f"reminders.toml: [rules.{rule_id}]", base, hours) if raw else base


def load_ladders(directory: Path | None = None) -> LadderConfig:
    path = (directory or config_dir()) / "reminders.toml"
    data = read_toml(path)
    unknown = set(data) - {"default", "hours", "rules"}
    if unknown:
        raise ConfigError(f"reminders.toml: 未知的顶层键 “{sorted(unknown)[0]}”")
    default = _parse_ladder(data.get("default", {}), "reminders.toml: [default]", None, False)
    hours = _parse_ladder(data.get("hours", {}), "reminders.toml: [hours]", None, True)
    return LadderConfig(default, hours, dict(data.get("rules", {})))


def _at(day: dt.date, t: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, t, SHANGHAI)


def next_allowed(cal: WorkCalendar, moment: dt.datetime, region: str, fire_at: dt.time) -> dt.datetime:
    """First instant >= moment that is fire_at on a working day or within that working day's hours."""
    local = moment.astimezone(SHANGHAI)
    day = local.date()
    if cal.is_workday(day, region) and local.time() < dt.time(18, 0):
        return max(local, _at(day, fire_at))
    return _at(cal.add_working_days(day, 1, region), fire_at)


def plan(
    ladder: Ladder,
    due: dt.date | dt.datetime,
    cal: WorkCalendar,
    region: str,
    now: dt.datetime,
    fired: set[str] | frozenset[str] = frozenset(),
    horizon: int = 1,
) -> list[PlannedStep]:
    """Steps still to fire for this due date, in order.

    Steps whose time has passed are dropped, except that when the clock is already overdue the latest
    overdue step not yet fired is kept and moved to the next allowed instant (after a short grace).
    `horizon` = how many future repeat steps to include.
    """
    if isinstance(due, dt.datetime):
        return _plan_hours(ladder, due, now, fired, horizon)
    tag = due.isoformat()
    steps: list[PlannedStep] = []
    for s in ladder.steps:
        if s.offset < 0:
            day = cal.subtract_working_days(due, -s.offset, region)
        elif s.offset == 0:
            # A due date on a rest day (fixed dates) is announced on the last working day before it.
            day = due if cal.is_workday(due, region) else cal.subtract_working_days(due, 1, region)
        else:
            day = cal.add_working_days(due, s.offset, region)
        steps.append(PlannedStep(f"{s.id}@{tag}", s.id, s.to, _at(day, ladder.fire_at), s.offset > 0))
    if ladder.repeat_every > 0:
        last_offset = max([s.offset for s in ladder.steps if s.offset > 0], default=0)
        # Enough repeats to pass `now`, plus `horizon` future ones.
        k, future = 1, 0
        while future < horizon:
            day = cal.add_working_days(due, last_offset + k * ladder.repeat_every, region)
            fire = _at(day, ladder.fire_at)
            steps.append(PlannedStep(f"overdue_repeat_{k}@{tag}", f"overdue_repeat", ladder.repeat_to, fire, True))
            future += fire > now
            k += 1
            if k > 2000:
                break
    pending = [s for s in steps if s.key not in fired]
    future = [s for s in pending if s.fire_at > now]
    past_overdue = [s for s in pending if s.fire_at <= now and s.overdue]
    if past_overdue:
        # One catch-up notice replaces every missed overdue step; the next repeat keeps the cadence
        # counted from the catch-up, not from the missed schedule.
        latest = past_overdue[-1]
        when = next_allowed(cal, now + BACKFILL_GRACE, region, ladder.fire_at)
        quiet_until = when.date()
        if ladder.repeat_every > 1:
            quiet_until = cal.add_working_days(when.date(), ladder.repeat_every - 1, region)
        future = [s for s in future if not s.overdue or s.fire_at.date() > quiet_until]
        future.insert(0, PlannedStep(latest.key, latest.step, latest.to, when, True))
    return future


def _plan_hours(ladder, due: dt.datetime, now, fired, horizon) -> list[PlannedStep]:
    tag = due.isoformat()
    steps = [
        PlannedStep(f"{s.id}@{tag}", s.id, s.to, due + dt.timedelta(hours=s.offset_hours), s.offset_hours >= 0)
        for s in ladder.steps
    ]
    if ladder.repeat_every > 0:
        for k in range(1, 200):
            fire = due + dt.timedelta(hours=k * ladder.repeat_every)
            steps.append(PlannedStep(f"overdue_repeat_{k}@{tag}", "overdue_repeat", ladder.repeat_to, fire, True))
            if fire > now and (horizon := horizon - 1) <= 0:
                break
    pending = [s for s in steps if s.key not in fired]
    future = [s for s in pending if s.fire_at > now]
    past_overdue = [s for s in pending if s.fire_at <= now and s.overdue]
    if past_overdue:
        latest = past_overdue[-1]
        future.insert(0, PlannedStep(latest.key, latest.step, latest.to, now + BACKFILL_GRACE, True))
    return future
