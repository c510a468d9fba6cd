"""Late entries (补录): events recorded long after their own date, held until a supervisor reviews them.

Pure: the working-day count is computed by the caller (the ingest path) with the calendar and handed
in; the item workflow only compares dates and asks `late_entry_reason`.

An event is a late entry when it is recorded by a liaison or head, would meet, pause (stop), extend,
withdraw or close a live clock, and either
- was recorded more than `late_entry_working_days` working days or more than `late_entry_calendar_days`
  calendar days (config/review.toml; whichever bound is reached first) after its own date, or
- is an extension recorded after the clock's current due date (条例第三十三条: an extension is decided
  within the period), whatever date it claims.
Events recorded by supervisors, admins, the operator's import (`shixian events ingest` on the server)
and the engine itself are never held (they are marked 代录 instead, see `PROXY_ROLES`), nor is a department's
approved history (`ONBOARDING_ROLE`).

A start event is never held (that would stop a clock): recorded past the same bound it is flagged
登记滞后 (`registration_lag`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.config import ConfigError, config_dir, read_toml
from domain.labels import RECORDERS

# Roles whose entries are reviewed; everybody else (supervisor, admin, operator, system) is trusted.
HELD_ROLES = frozenset({"liaison", "head"})
# Roles whose entries for a department are marked 代录 (entered by the 公开办 or an operator's import).
PROXY_ROLES = frozenset({"supervisor", "admin", "operator"})
# A department's history (历史台账初始化): events dated before its go-live, recorded by its liaison or head and
# applied once a supervisor approved the whole onboarding batch (services/onboarding.py). Trusted like the
# roles above: never held, no 登记滞后 flag (the approval was the review), not 代录 either.
ONBOARDING_ROLE = "onboarding"
TRUSTED_ROLES = frozenset({*PROXY_ROLES, "system", ONBOARDING_ROLE})
DEFAULT_WORKING_DAYS = 3
DEFAULT_CALENDAR_DAYS = 7
# Start events whose registration lag is measured; annual_report.year_closed is made by the engine.
REGISTRATION_STARTS = frozenset(
    {
        "request.received",
        "document.signed",
        "opinion.detected",
        "budget.approved",
        "consultation.opened",
        # issue 21's items: each is a start a department records, so its registration can lag too
        "proposal.assigned",
        "proposal.reanswer_requested",
        "hotline.received",
        "message.received",
        "column.registered",
        "duty.formed",
    }
)


class Recorded(BaseModel):
    """When and by whom an event reached the system (attached by the ingest path, never by the sender)."""

    at: str  # ISO instant, +08:00
    on: str  # ISO date (Asia/Shanghai) of `at`
    role: str  # liaison / head / supervisor / admin / operator / system
    by: str | None = None
    working_days_after: int = 0  # working days d with own date < d <= recorded date (event's region)
    limit: int = DEFAULT_WORKING_DAYS
    # The calendar-day bound in force when the ingest path counted `late_from` (None: recorded before it).
    calendar_limit: int | None = None
    scope: str | None = None  # the only department whose items the recorder may write (None: any)
    # The first recording day that is late: the (limit + 1)-th working day after the event's own date, or
    # the (calendar_limit + 1)-th day if earlier (`first_late_day`; the ingest path counts it with the
    # calendar, from the event's date alone). The item workflow
    # compares it with the recording day it takes from its own clock (the Temporal server's), so a host
    # clock running behind cannot make a late entry look timely. None in histories recorded before.
    late_from: str | None = None
    # The upload (ledger import) the event came in, so that a review list can take all of one upload.
    upload: str | None = None


EntryStatus = Literal["held", "approved", "rejected"]


class LateEntry(BaseModel):
    """One late entry as the workflow publishes it in the item snapshot (and the store lists it)."""

    event_id: str
    type: str
    on: str  # the event's own date
    recorded_at: str
    recorded_on: str
    recorded_by: str | None = None
    role: str = "liaison"
    reason: str  # why it was held (Chinese)
    status: EntryStatus = "held"
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    content_hash: str = ""
    data: dict[str, Any] = Field(default_factory=dict)  # the event's fields (no personal data)
    upload: str | None = None  # the ledger upload it came in (Recorded.upload)
    # Held because it depends on another held event (its event id): decided with it, never on its own.
    depends_on: str | None = None


class ReviewConfig(BaseModel):
    late_entry_working_days: int = DEFAULT_WORKING_DAYS
    late_entry_calendar_days: int = DEFAULT_CALENDAR_DAYS
    source: str = ""


def load_review_config(directory=None) -> ReviewConfig:
    path = (directory or config_dir()) / "review.toml"
    if not path.exists():
        return ReviewConfig()
    data = read_toml(path)
    value = data.get("late_entry_working_days", DEFAULT_WORKING_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60:
        raise ConfigError(f"{path.name}: late_entry_working_days 应为 0–60 之间的整数工作日数（当前：{value!r}）")
    days = data.get("late_entry_calendar_days", DEFAULT_CALENDAR_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 90:
        raise ConfigError(f"{path.name}: late_entry_calendar_days 应为 0–90 之间的整数自然日数（当前：{days!r}）")
    unknown = set(data) - {"late_entry_working_days", "late_entry_calendar_days", "source"}
    if unknown:
        raise ConfigError(f"{path.name}: 未知字段 {', '.join(sorted(unknown))}")
    return ReviewConfig(
        late_entry_working_days=value, late_entry_calendar_days=days, source=str(data.get("source", ""))
    )


def first_late_day(own: date, working_days: int, calendar_days: int, calendar: Any, region: str) -> date:
    """The first recording day that is late: more than `working_days` working days or more than
    `calendar_days` calendar days after the event's own date, whichever comes first (across Spring
    Festival 3 working days are 12 calendar days; the calendar bound keeps such a gap reviewable)."""
    by_working = calendar.add_working_days(own, working_days + 1, region)
    return min(by_working, own + timedelta(days=calendar_days + 1))


def limit_text(rec: Recorded) -> str:
    """The bound as the reason shows it."""
    if rec.calendar_limit is None:
        return f"{rec.limit} 个工作日"
    return f"{rec.limit} 个工作日或 {rec.calendar_limit} 个自然日（先到为准）"


def registration_lag(rec: Recorded | None, event_id: str, event_type: str, own_date: str) -> dict[str, Any] | None:
    """The 登记滞后 flag's data for a start event recorded on or after its first late day, else None.
    Only the department's own registrations (liaison, head) are measured: an entry by the 公开办 or an
    operator's (back-fill) import is marked 代录 with its recording time instead."""
    if rec is None or rec.role not in HELD_ROLES or event_type not in REGISTRATION_STARTS or rec.late_from is None:
        return None
    if rec.on < rec.late_from:
        return None
    own = own_date[:10]
    return {
        "event_id": event_id,
        "type": event_type,
        "on": own,
        "recorded_at": rec.at,
        "recorded_on": rec.on,
        "recorded_by": rec.by,
        "role": rec.role,
        "late_from": rec.late_from,
        "limit": rec.limit,
        "calendar_limit": rec.calendar_limit,
        "calendar_days": (date.fromisoformat(rec.on) - date.fromisoformat(own)).days,
        # the ingest host's count, when it saw the same day as the workflow (else the calendar days tell)
        "working_days": rec.working_days_after or None,
    }


def holds_clock(
    event_type: str,
    *,
    met_by: list[str],
    closed_by: list[str],
    pause: str | None,
    stop: str | None,
    extension_event: str | None,
    lapses: bool,
    restart: str | None = None,
) -> bool:
    """Would this event meet, pause, extend, withdraw, close or restart a clock of this rule?

    Meeting a lapsing window (e.g. the consultation's answer) or resuming a pause only shortens the
    time the department gets, so recording it late cannot hide lateness: not reviewed. A restart
    (`request.corrected`) is: a later restart date gives the department more time."""
    if event_type in closed_by or event_type in (pause, stop, extension_event):
        return True
    if restart is not None and event_type == restart:
        return True
    return event_type in met_by and not lapses


def late_entry_reason(rec: Recorded | None, own_date: str, *, extension_dues: list[str]) -> str | None:
    """Why this event is held, or None. `extension_dues`: the current due dates of the live clocks this
    event would extend (empty for other events)."""
    if rec is None or rec.role not in HELD_ROLES:
        return None
    who = RECORDERS.get(rec.role, rec.role)
    for due in extension_dues:
        if due and rec.on > due[:10]:
            return (
                f"延期决定于 {rec.on} 才登记，已过当前答复期限 {due[:10]}（条例第三十三条：延期须在期限内决定），"
                f"由{who}补录，须督查审核"
            )
    if rec.late_from is not None:
        if rec.on >= rec.late_from:
            # The count is shown when the ingest host measured it on the same day (its clock agreed).
            how = (
                f"晚 {rec.working_days_after} 个工作日，超过 {rec.limit} 个工作日"
                if rec.working_days_after > rec.limit
                else f"超过 {limit_text(rec)}：{rec.late_from} 起登记即为补录"
            )
            return f"事件日期 {own_date[:10]}，{rec.on} 才登记（{how}），由{who}补录，须督查审核"
        return None
    if rec.working_days_after > rec.limit:
        return (
            f"事件日期 {own_date[:10]}，{rec.on} 才登记（晚 {rec.working_days_after} 个工作日，"
            f"超过 {rec.limit} 个工作日），由{who}补录，须督查审核"
        )
    return None


# Receipt events (§5) that pause, stop or lengthen a request's reply clock (not rule data: transitions.py).
RECEIPT_HOLDS = frozenset({"request.fee_notified", "request.reply_delayed", "request.applicant_unreachable"})
LIVE_STATES = ("open", "paused")  # a clock a held entry can still decide (met, missed, closed: decided)
DEPENDENT_REASON = "依赖待审核的{what}事件（{event_id}），随其一并审核"


def rule_holds(rule: Any, event_type: str) -> bool:
    """Would a held event of `event_type` decide a clock of `rule` (a domain.rules.Rule)? Also the resume
    of a pause (a dependent event held with its start) and the receipt events on the reply clock."""
    if event_type in RECEIPT_HOLDS:
        return rule.start_event == "request.received" and not rule.lapses
    if event_type == rule.resume:
        return True
    return holds_clock(
        event_type,
        met_by=list(rule.met_by),
        closed_by=list(rule.closed_by),
        pause=rule.pause,
        stop=rule.stop,
        extension_event=rule.extension.event if rule.extension else None,
        lapses=rule.lapses,
        restart=rule.restart,
    )


def held_clocks(entries: Iterable[tuple[str, str]], rules: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Which clocks are held (待审核): (item id, rule id) of every clock a held late entry — (item id, event
    type) — would meet, close, pause, stop, restart or extend. Such a clock is neither on time nor overdue
    until the entry is decided: the board, the scores, the annual report and the item page all ask this."""
    out: set[tuple[str, str]] = set()
    types: dict[str, list[str]] = {}
    for item_id, event_type in entries:
        types.setdefault(event_type, []).append(item_id)
    for event_type, items in types.items():
        for rule in rules.values():
            if rule_holds(rule, event_type):
                out.update((i, rule.id) for i in items)
    return out
