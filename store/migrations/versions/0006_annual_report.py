"""The annual report's SQL path (store/annual.py): event_record.category / .channel (what the report counts by:
kind, applicant type, outcome, channel ..., domain.report.REPORT_FIELDS) filled from the stored payloads, and
indexes that answer the report's queries alone: events by (type, day) carrying ids, department, category and
channel; events by (item, type, day, id, category); clocks by item carrying what a report classifies (clocks by
due day and items by id: 0005's). They replace the single-column indexes they start with (event_record.type,
.item_id, .occurred_on; clock.item_id): SQLite chose the occurred_on index for a list of types and then read most
of the log.

Revision ID: 0006_annual_report
Revises: 0005_clock_summary
"""

from __future__ import annotations

from alembic import op

revision = "0006_annual_report"
down_revision = "0005_clock_summary"
branch_labels = None
depends_on = None


def _indexes(table: str) -> set[str]:
    import sqlalchemy as sa

    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    import sqlalchemy as sa

    from domain.report import REPORT_FIELDS

    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("event_record")}
    if "category" not in cols:  # a database made by create_all of today's models has them already
        with op.batch_alter_table("event_record", schema=None) as batch_op:
            batch_op.add_column(sa.Column("category", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("channel", sa.String(), nullable=True))
    ev = sa.table("event_record", sa.column("type", sa.String), sa.column("payload", sa.JSON))
    ev.append_column(sa.column("category", sa.String))
    ev.append_column(sa.column("channel", sa.String))
    for type_, (category, channel) in REPORT_FIELDS.items():  # the rows written before: text values as they are
        values = {}
        if category:
            values["category"] = ev.c.payload[category].as_string()
        if channel:
            values["channel"] = ev.c.payload[channel].as_string()
        op.execute(ev.update().where(ev.c.type == type_).values(**values))
    have = _indexes("event_record")
    if "ix_event_record_type_day" not in have:
        op.create_index(
            "ix_event_record_type_day",
            "event_record",
            ["type", "occurred_on", "event_id", "item_id", "department", "category", "channel"],
        )
    if "ix_event_record_item_type_day" not in have:
        op.create_index(
            "ix_event_record_item_type_day", "event_record", ["item_id", "type", "occurred_on", "event_id", "category"]
        )
    for name in ("ix_event_record_type", "ix_event_record_item_id", "ix_event_record_occurred_on"):
        if name in have:
            op.drop_index(name, table_name="event_record")
    have = _indexes("clock")
    if "ix_clock_item_report" not in have:
        op.create_index("ix_clock_item_report", "clock", ["item_id", "rule", "due", "state", "met_on"])
    if "ix_clock_item_id" in have:
        op.drop_index("ix_clock_item_id", table_name="clock")


def downgrade() -> None:
    op.create_index("ix_clock_item_id", "clock", ["item_id"])
    op.drop_index("ix_clock_item_report", table_name="clock")
    op.create_index("ix_event_record_occurred_on", "event_record", ["occurred_on"])
    op.create_index("ix_event_record_item_id", "event_record", ["item_id"])
    op.create_index("ix_event_record_type", "event_record", ["type"])
    op.drop_index("ix_event_record_item_type_day", table_name="event_record")
    op.drop_index("ix_event_record_type_day", table_name="event_record")
    with op.batch_alter_table("event_record", schema=None) as batch_op:
        batch_op.drop_column("channel")
        batch_op.drop_column("category")
