"""Read-model tables. Owned by the store; filled by activities and the ingest path.

Portable between SQLite and PostgreSQL:
- JSON columns use SQLAlchemy's generic ``JSON`` type (json on PostgreSQL, TEXT on SQLite).
- Instants use ``UTCDateTime``: always timezone-aware UTC in Python; stored as timestamptz on
  PostgreSQL and as naive-UTC text on SQLite, so that ordering/comparison in SQL is correct on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, String, Table, UniqueConstraint, false, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetime normalised to UTC on the way in and out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            raise ValueError(f"naive datetime not allowed in the store: {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite compares text: keep one fixed format (naive UTC) for every row.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json_col() -> Column:
    return Column(JSON, nullable=False, default=dict)


def _ts_col(index: bool = False, nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Item(SQLModel, table=True):
    __tablename__ = "item"
    # what reports show of each item, read from the index alone when joined to a period's clocks
    __table_args__ = (
        Index("ix_item_report", "id", "type", "department", "title"),
        # only the few items with a bit: the board's and the scores' lists read them from here (0014_item_flags)
        Index(
            "ix_item_flags",
            "flags",
            "type",
            "state",
            "department",
            "id",
            sqlite_where=text("flags IS NOT NULL"),
            postgresql_where=text("flags IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True)  # document_id, request_id, case_id, item_id, annual-report:{dept}:{year}
    type: str = Field(index=True)
    department: str = Field(index=True)
    title: str = ""
    state: str = Field(default="open", index=True)
    version: int = 0
    data: dict[str, Any] = Field(default_factory=dict, sa_column=_json_col())
    # HMAC of a request's applicant identity (domain.pii.applicant_key): links requests of one applicant,
    # never shown, exported or logged.
    applicant_key: str | None = Field(default=None, index=True)
    # which board / score lists the item can be on (domain.flags.flag_bits of its data; None: none)
    flags: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts_col())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts_col())


SUMMARY_MAX = 300  # characters: the summary is in an index (PostgreSQL caps an index entry at ~2.7 KB)


class Clock(SQLModel, table=True):
    __tablename__ = "clock"
    __table_args__ = (
        UniqueConstraint("item_id", "rule", name="uq_clock_item_rule"),
        # A period's reports select clocks by due day and read only these columns: answered from the index
        # alone, without touching each clock's row and its ~4 KB explanation.
        Index(
            "ix_clock_due_report",
            "due",
            "item_id",
            "rule",
            "state",
            "met_on",
            "lateness_working_days",
            "region",
            "summary",
        ),
        # The overdue list, the board and the daily ladder select open clocks by due instant: index-only too.
        Index(
            "ix_clock_open_report",
            "state",
            "due_instant",
            "item_id",
            "rule",
            "due",
            "region",
            "ladder_step",
            "provisional",
        ),
        # an item's clock of a rule, with what a report classifies (the annual report's shares); also every
        # lookup by item id
        Index("ix_clock_item_report", "item_id", "rule", "due", "state", "met_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(sa_column=Column(String, ForeignKey("item.id", ondelete="CASCADE"), nullable=False))
    rule: str
    region: str = "national"
    start: str
    due: str | None = None  # a period's reports select by due day (ix_clock_due_report)
    due_instant: datetime | None = Field(default=None, sa_column=_ts_col(index=True, nullable=True))
    state: str = "open"  # open / paused / met / missed / closed (ix_clock_open_report leads with it)
    met_on: str | None = None
    lateness_working_days: int | None = None
    provisional: bool = False
    paused_days: int = 0
    ladder_step: str | None = None
    explanation: dict[str, Any] = Field(default_factory=dict, sa_column=_json_col())
    # The explanation's one-line summary (at most SUMMARY_MAX characters), kept beside it: a year's 明细
    # lists it for ~35,000 clocks, and extracting it from each ~4 KB explanation was most of the scores query.
    summary: str | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts_col())


class DueDateChange(SQLModel, table=True):
    __tablename__ = "due_date_change"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    rule: str
    old_due: str | None = None
    new_due: str | None = None
    reason: str = ""  # Chinese, shown to users
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_ts_col())


class EventRecord(SQLModel, table=True):
    """Append-only log of accepted events. ``payload`` never contains the ``applicant`` object."""

    __tablename__ = "event_record"
    __table_args__ = (
        # the annual report reads events by type and day (store/annual.py), and all it counts by from the index
        Index(
            "ix_event_record_type_day",
            "type",
            "occurred_on",
            "event_id",
            "item_id",
            "department",
            "category",
            "channel",
        ),
        # an item's events, and "does this item have an event of that type by that day"
        Index("ix_event_record_item_type_day", "item_id", "type", "occurred_on", "event_id", "category"),
        # the board's 登记滞后 list: flagged start events recorded in its period, its longest lags chosen from the
        # index alone (a backfill records a province's ~10⁵ flagged events in one quarter; 0014_item_flags)
        Index(
            "ix_event_record_registration_late",
            "registration_late",
            "ingested_at",
            "department",
            "lag_working_days",
            "event_id",
        ),
        # the scores' registration lag per department and lag of a period's start events (store.events
        # start_lag_counts), from the index alone (migration 0012_scale)
        Index(
            "ix_event_record_start_lag",
            "type",
            "occurred_on",
            "recorded_role",
            "lag_working_days",
            "registration_late",
            "department",
        ),
    )

    event_id: str = Field(primary_key=True)
    type: str
    item_id: str | None = None
    department: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json_col())
    content_hash: str  # sha256 of the canonical JSON of the full original event
    recorded_by: str | None = None
    occurred_on: str | None = None  # ISO date of the event's own date field
    # what the annual report counts by (domain.report.REPORT_FIELDS: kind, applicant type, outcome, channel ...)
    category: str | None = None
    channel: str | None = None
    ingested_at: datetime = Field(default_factory=utcnow, sa_column=_ts_col())
    # The recording instant is ingested_at (the item workflow's clock, 0001); who recorded it: liaison, head,
    # supervisor, admin, operator, system (None: recorded before 0009); supervisor/admin/operator = 代录.
    recorded_role: str | None = None
    # Working days from the event's own date to its recording day (the item's region); None before 0009.
    lag_working_days: int | None = None
    # A start event recorded past the late-entry bound (登记滞后; not held, flagged).
    registration_late: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


class LateEntryRecord(SQLModel, table=True):
    """Late entries (补录) as the item workflows publish them: the review queue is a query on this table.
    A held event is not in ``event_record`` (no number sees it); approval adds it there."""

    __tablename__ = "late_entry"

    event_id: str = Field(primary_key=True)
    item_id: str = Field(index=True)
    department: str = Field(index=True)
    type: str
    occurred_on: str  # the event's own date
    recorded_at: datetime = Field(sa_column=_ts_col())
    recorded_by: str | None = None
    role: str
    reason: str = ""
    status: str = Field(default="held", index=True)  # held / approved / rejected
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=_ts_col(nullable=True))
    decision_reason: str | None = None
    content_hash: str = ""
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json_col())
    upload: str | None = Field(default=None, index=True)  # the ledger upload it came in (Recorded.upload)
    depends_on: str | None = None  # held with (and decided with) this held event


TABLES = [Item, Clock, DueDateChange, EventRecord, LateEntryRecord]


def table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a SQLModel table class (typed: SQLModel adds `__table__` at class creation)."""
    return model.__table__  # type: ignore[attr-defined]
