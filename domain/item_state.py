"""State of an item workflow and the messages it exchanges (pydantic, crossing the Temporal boundary).

Kept apart from the workflow classes so that the pure transitions (domain/transitions.py), the ingest
use case and the tests can use them without Temporal.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from domain.clock_specs import ClockSpec, EventWrite, PlannedStepModel
from domain.events import Event
from domain.model import ItemSnapshot
from domain.review import LateEntry

TERMINAL = ("met", "missed", "closed")


class RuleMeta(BaseModel):
    """What a workflow needs to route events to clocks (a copy of the rule data at start)."""

    id: str
    name: str
    unit: str
    start_event: str
    met_by: list[str] = Field(default_factory=list)
    closed_by: list[str] = Field(default_factory=list)
    pause: str | None = None
    resume: str | None = None
    stop: str | None = None
    restart: str | None = None
    extension_event: str | None = None
    # [(before ISO date or "", max working days, max times)], newest edition last
    extension_caps: list[tuple[str, int, int]] = Field(default_factory=list)
    when: dict[str, list[Any]] = Field(default_factory=dict)
    lapses: bool = False  # closes at its due instant instead of going overdue
    since: str | None = None  # applies to clocks starting on or after this date
    # i21-proposals: "supervisor" (an appeal window after a reply): not the department's deadline, so it
    # neither keeps the item open nor is overdue, scored or reminded to the liaison.
    audience: str = "department"
    regions: list[str] = Field(default_factory=list)  # a provincial variant (domain.rules.Rule.regions)
    # "不少于 N 日" (a consultation window): its due date is the last day of the minimum, a met_by event on or
    # before it is refused unless `shorter_allowed` and the event states `urgent_reason` (then met, flagged).
    minimum: bool = False
    shorter_allowed: bool = False
    limit: str = ""  # the rule's limit text (不少于30日), for the refusal
    # A backward pre-deadline (内部时限) counted back from this rule's due date: moves with it.
    counted_back_from: str | None = None
    replaces: str | None = None  # a node's version of this rule (its departments' items get it instead)
    recurring: bool = False  # each met_by event ends the period and starts the next (domain.transitions.renew)

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
    stopped_on: str | None = None
    computed_at: str | None = None  # workflow time of the last computation (backfill grace)
    due: str | None = None
    due_instant: str | None = None
    provisional: bool = False
    explanation: dict[str, Any] = Field(default_factory=dict)
    paused_days: int = 0
    lateness_working_days: int | None = None
    fired: list[str] = Field(default_factory=list)
    last_overdue_at: str | None = None  # when the last overdue notice actually went out
    plan: list[PlannedStepModel] = Field(default_factory=list)
    ladder_step: str | None = None
    period: int = 0  # a recurring duty's period number (1 = from the registration), 0 for other clocks

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
    # event_id -> content hash of every event this item accepted (applied or held): the workflow is the
    # authority on what an id means, so a second sender of the same id learns "duplicate" or "conflict".
    applied: dict[str, str] = Field(default_factory=dict)
    rules: dict[str, RuleMeta] = Field(default_factory=dict)
    abandon_at: str | None = None
    late: list[LateEntry] = Field(default_factory=list)  # late entries (补录), held and reviewed
    held_events: dict[str, Event] = Field(default_factory=dict)  # event_id -> the held event itself
    applicant_key: str | None = None  # from the start event (domain.pii.applicant_key); linking only
    # A recurring duty's last finished periods (newest last, at most domain.transitions.RECENT_PERIODS): each is
    # written as its own clock row (`rule#n`), so the state and every snapshot stay bounded however many
    # periods an item lives through; the counts of all of them are in `data["periods"]`.
    periods: list[ClockData] = Field(default_factory=list)


class ItemInput(BaseModel):
    state: ItemState
    # The item's start event, also sent as the first `apply` Update (update-with-start): a run whose Update
    # was lost before its first task committed (importer, worker and server killed) applies it itself.
    start: Event | None = None
    # Carried across continue-as-new: the store writes not yet seen done (the new run makes them) and the
    # calendar recalculations signalled but not yet made.
    pending: list[EventWrite] = Field(default_factory=list)
    recalc: list[str] = Field(default_factory=list)


class ApplyResult(BaseModel):
    status: str  # applied / duplicate / held; for `review`: approved / rejected
    # Not sent any more: an item's snapshot (clock explanations, KBs) in every Update result was history and
    # CPU nobody read. Kept optional so that results recorded before still decode.
    snapshot: ItemSnapshot | None = None
    note: str = ""
    # `apply_many` only: the refusal ("[field] reason") of an event the batch did not accept (status
    # "rejected"); status "no_start" (the batch's start event was refused) or "not_taken" (the item ended
    # earlier in the batch: send it on its own).
    refused: str = ""


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
        self.field, self.reason = field, reason


CONFLICT = "event_id 冲突：与已收到的同一 event_id 内容不同"
