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
from domain.config import ConfigError, config_dir, read_toml
from domain.shanghai import SHANGHAI

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
    # A step that stands for missed ones (backfill, a worker that was down): sent by its item at its own
    # instant, never by the daily sweep (which sends only the steps due at the sweep's instant on their own).
    catch_up: bool = False


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
    # reminders.toml `sweep` (default true): the daily sweep sends the day-rule steps due at the default fire
    # time (only where its schedule runs: `shixian schedules` / `shixian up` create it when this is on).
    sweep: bool = True

    def for_rule(self, rule_id: str, unit: str) -> Ladder:
        hours = unit == "hours"
        base = self.hours if hours else self.default
        raw = self.per_rule.get(rule_id)
        return _parse_ladder(raw, f"reminders.toml: [rules.{rule_id}]", base, hours) if raw else base


def load_ladders(directory: Path | None = None) -> LadderConfig:
    path = (directory or config_dir()) / "reminders.toml"
    data = read_toml(path)
    unknown = set(data) - {"default", "hours", "rules", "sweep"}
    if unknown:
        raise ConfigError(f"reminders.toml: 未知的顶层键 “{sorted(unknown)[0]}”")
    default = _parse_ladder(data.get("default", {}), "reminders.toml: [default]", None, False)
    hours = _parse_ladder(data.get("hours", {}), "reminders.toml: [hours]", None, True)
    sweep = data.get("sweep", True)
    if not isinstance(sweep, bool):
        raise ConfigError(f"reminders.toml: sweep 应为 true 或 false，而不是 “{sweep}”")
    config = LadderConfig(default, hours, dict(data.get("rules", {})), sweep)
    for rule_id, raw in config.per_rule.items():  # validate now, not at the first reminder
        steps = raw.get("steps", []) if isinstance(raw, dict) else None
        if steps is None:
            raise ConfigError(f"reminders.toml: [rules.{rule_id}] 必须是表")
        hourly = any("offset_hours" in st for st in steps if isinstance(st, dict))
        _parse_ladder(raw, f"reminders.toml: [rules.{rule_id}]", hours if hourly else default, hourly)
    return config


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
    last_overdue_at: dt.datetime | None = None,
) -> list[PlannedStep]:
    """Steps still to fire for this due date, in order.

    - Steps before the due date fire at their nominal time; ones already past are dropped.
    - Overdue steps fire once each, in order; when some are already past (a backfilled item, a worker
      that was down), one catch-up notice (the latest missed step) goes out at the next allowed instant
      after a short grace, and the earlier missed ones are covered by it.
    - Repeats follow `repeat_every` working days (hours for hour rules) after the last overdue notice
      actually sent (`last_overdue_at`), so a catch-up is not followed by a burst.
    """
    hours = isinstance(due, dt.datetime)
    tag = due.isoformat()
    # the due instant of an hour rule, or the due day's fire time (where day-rule repeats are anchored)
    due_at = due if isinstance(due, dt.datetime) else _at(due, ladder.fire_at)
    if hours:

        def nominal(s: StepDef) -> dt.datetime:
            return due_at + dt.timedelta(hours=s.offset_hours)

        def allowed(moment: dt.datetime) -> dt.datetime:
            return moment  # emergencies: by the clock, any day

        def after(moment: dt.datetime, n: int) -> dt.datetime:
            return moment + dt.timedelta(hours=n)

        def is_post(s: StepDef) -> bool:
            return s.offset_hours >= 0
    else:

        def nominal(s: StepDef) -> dt.datetime:
            if s.offset < 0:
                day = cal.subtract_working_days(due, -s.offset, region)
            elif s.offset == 0:  # a rest-day due date (fixed dates) is announced the working day before
                day = due if cal.is_workday(due, region) else cal.subtract_working_days(due, 1, region)
            else:
                day = cal.add_working_days(due, s.offset, region)
            return _at(day, ladder.fire_at)

        def allowed(moment: dt.datetime) -> dt.datetime:
            return next_allowed(cal, moment, region, ladder.fire_at)

        def after(moment: dt.datetime, n: int) -> dt.datetime:
            return _at(cal.add_working_days(moment.astimezone(SHANGHAI).date(), n, region), ladder.fire_at)

        def is_post(s: StepDef) -> bool:
            return s.offset > 0

    out: list[PlannedStep] = []
    pre = sorted(
        ((s, nominal(s)) for s in ladder.steps if not is_post(s)),
        key=lambda sw: (sw[1], sw[0].offset_hours if hours else sw[0].offset),
    )
    for s, when in pre:
        same = [t for t, w in pre if w == when]
        # Steps landing on the same moment (a due date on a rest day): the one closest to the due date
        # speaks for all, to everyone they address.
        if s is not same[-1]:
            continue
        to = tuple(dict.fromkeys(r for t in same for r in t.to))
        key = f"{s.id}@{tag}"
        if key not in fired and when > now:
            out.append(PlannedStep(key, s.id, to, when, False))
    post = [s for s in ladder.steps if is_post(s)]
    keys = [f"{s.id}@{tag}" for s in post]
    repeats_sent = sum(1 for k in fired if k.startswith("overdue_repeat_") and k.endswith(f"@{tag}"))
    done = len(post) if repeats_sent else max((i + 1 for i, k in enumerate(keys) if k in fired), default=0)
    pending = [(s, k, nominal(s)) for s, k in zip(post[done:], keys[done:], strict=True)]
    if pending:
        missed = [p for p in pending if p[2] <= now]
        if missed:
            s, k, _ = missed[-1]
            out.append(PlannedStep(k, s.id, s.to, allowed(now + BACKFILL_GRACE), True, catch_up=True))
        out += [PlannedStep(k, s.id, s.to, w, True) for s, k, w in pending if w > now]
        return out  # repeats are planned once every overdue step has gone out
    if ladder.repeat_every > 0:
        anchor = last_overdue_at or (nominal(post[-1]) if post else due_at)
        when = after(anchor, ladder.repeat_every)
        late = when <= now
        if late:  # the worker was down: one notice now, not one per missed repeat
            when = allowed(now + BACKFILL_GRACE)
        n = repeats_sent + 1
        key = f"overdue_repeat_{n}@{tag}"
        out.append(PlannedStep(key, "overdue_repeat", ladder.repeat_to, when, True, catch_up=late))
    return out


# ---------------------------------------------------------------- the daily sweep (issue 22 §2)
# The day-rule steps due at the daily fire time are sent by one sweep (workflows/sweep.py) instead of one
# timer per item: 10,000 items whose reminders fall due at the same 09:00 are then ~300 store reads and one
# message per person, not 10,000 workflow tasks firing in the same second. Hour rules, catch-ups and ladders
# with another fire time keep their item's own timer.


def sweep_time(config: LadderConfig) -> dt.time | None:
    """The sweep's time of day: the default ladder's `fire_at` (reminders.toml [default]); None: no sweep."""
    return config.default.fire_at if config.sweep else None


def is_swept(step: PlannedStep, ladder: Ladder, hours: bool, at: dt.time | None) -> bool:
    """Is this planned step the sweep's (not its item's timer's)? A day-rule step at its nominal instant,
    on a ladder firing at the sweep's time."""
    if at is None or hours or step.catch_up or ladder.fire_at != at:
        return False
    return step.fire_at.astimezone(SHANGHAI).time() == at


def swept_steps(
    ladder: Ladder,
    due: dt.date,
    cal: WorkCalendar,
    region: str,
    instant: dt.datetime,
    fired: set[str] | frozenset[str] = frozenset(),
    last_overdue_at: dt.datetime | None = None,
) -> list[PlannedStep]:
    """The steps of one day-rule clock that the sweep at `instant` sends: planned as the item would have
    planned them just before the instant (`fired`: the step keys already in the delivery log), due exactly
    at `instant` (never before it: no early reminder), and not catch-ups."""
    at = instant.astimezone(SHANGHAI).time()
    if ladder.fire_at != at:
        return []
    just_before = instant - dt.timedelta(microseconds=1)
    steps = plan(ladder, due, cal, region, just_before, fired, last_overdue_at)
    return [s for s in steps if s.fire_at == instant and is_swept(s, ladder, False, at)]


def sweep_instant(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The latest sweep instant at or before `now` (today's `at`, or yesterday's before it)."""
    local = now.astimezone(SHANGHAI)
    today = _at(local.date(), at)
    return today if today <= local else _at(local.date() - dt.timedelta(days=1), at)
