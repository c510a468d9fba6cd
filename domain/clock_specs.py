"""Clock inputs and outputs as pydantic models: what crosses the Temporal boundary between the item workflow
and the clock activities, and what the item state (domain/item_state.py) stores. Pure data, no I/O."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from domain.events import Event


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
    # A minimum window closed on or before its last day with the stated reason (shorter_allowed): met, flagged.
    shortened_reason: str | None = None


class PlannedStepModel(BaseModel):
    key: str
    step: str
    to: list[str]
    fire_at: str
    overdue: bool
    working_days_left: int | None = None  # as seen on the day the step fires
    overdue_working_days: int | None = None
    # Sent by the daily sweep (domain.ladder.is_swept), not by this item's timer; False in histories before.
    swept: bool = False


class EventWrite(BaseModel):
    """The event-log part of one store write: an accepted event's row (none: a snapshot-only write)."""

    event: Event | None = None  # an applied (or approved late) event: its row joins the event log
    system_event: dict[str, Any] | None = None  # an event the engine emits itself (request.abandoned)
    recorded_at: str | None = None  # an approved late entry keeps the time it was first recorded
