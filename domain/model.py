"""Snapshots of tracked items: the shape workflows publish and the read model stores.

Dates travel as ISO strings so the same objects pass through Temporal's pydantic
converter, the SQL store and the JSON outputs without conversion rules of their own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.review import LateEntry

# awaiting_contact: not started yet, the applicant cannot be reached (国办公开办函〔2015〕207号 一.2)
ClockState = Literal["open", "paused", "met", "missed", "closed", "awaiting_contact"]
ItemType = Literal[
    "document",
    "request",
    "opinion",
    "budget",
    "annual_report",
    "proposal",
    "hotline",
    "message",
    "duty",
    "consultation",
    "column",
]


# A recurring duty's finished period is its own clock row, its rule id suffixed with the period number
# ("website_freshness_news#12"); the current period keeps the plain rule id. Readers that count by rule
# (scores, labels) take the rule back with `rule_of`.
PERIOD_SEP = "#"


def period_rule(rule: str, period: int) -> str:
    return f"{rule}{PERIOD_SEP}{period}"


def rule_of(row_rule: str) -> str:
    return row_rule.split(PERIOD_SEP, 1)[0]


class ClockSnapshot(BaseModel):
    rule: str
    start: str  # ISO date (day rules) or datetime (hour rules)
    due: str | None = None  # ISO date / datetime; None while paused with no end yet
    due_instant: str | None = None  # ISO datetime +08:00: end of the due day, or the hour deadline
    state: ClockState = "open"
    met_on: str | None = None
    lateness_working_days: int | None = None
    provisional: bool = False
    paused_days: int = 0
    region: str = "national"
    explanation: dict[str, Any] = Field(default_factory=dict)
    ladder_step: str | None = None  # last reminder step reached


class ItemSnapshot(BaseModel):
    id: str
    type: ItemType
    department: str
    title: str = ""
    state: str = "open"  # open until every clock is met, missed or closed
    version: int = 0  # bumped by the workflow on every change; the store keeps the newest
    data: dict[str, Any] = Field(default_factory=dict)  # type-specific facts (kind, outcome, ...)
    clocks: list[ClockSnapshot] = Field(default_factory=list)
    late_entries: list[LateEntry] = Field(default_factory=list)  # 补录: held and reviewed
    # A request's applicant as a keyed hash (domain.pii.applicant_key), for linking only: never shown.
    applicant_key: str | None = None

    @property
    def held(self) -> list[LateEntry]:
        return [e for e in self.late_entries if e.status == "held"]
