"""Indexes for the annual report's SQL path (store/annual.py): events by (type, day) carrying their ids and
department, events by (item, type, day), and clocks by due day carrying what a report classifies. They
replace the single-column indexes they start with (event_record.type, .item_id, .occurred_on; clock.due, .item_id):
SQLite chose the occurred_on index for a list of types and then read most of the log.

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
    have = _indexes("event_record")
    if "ix_event_record_type_day" not in have:
        op.create_index(
            "ix_event_record_type_day", "event_record", ["type", "occurred_on", "event_id", "item_id", "department"]
        )
    if "ix_event_record_item_type_day" not in have:
        op.create_index(
            "ix_event_record_item_type_day", "event_record", ["item_id", "type", "occurred_on", "event_id"]
        )
    for name in ("ix_event_record_type", "ix_event_record_item_id", "ix_event_record_occurred_on"):
        if name in have:
            op.drop_index(name, table_name="event_record")
    have = _indexes("clock")
    if "ix_clock_due_report" not in have:
        op.create_index("ix_clock_due_report", "clock", ["due", "rule", "state", "met_on", "item_id"])
    if "ix_clock_due" in have:
        op.drop_index("ix_clock_due", table_name="clock")
    if "ix_clock_item_report" not in have:
        op.create_index("ix_clock_item_report", "clock", ["item_id", "rule", "due", "state", "met_on"])
    if "ix_clock_item_id" in have:
        op.drop_index("ix_clock_item_id", table_name="clock")
    if "ix_item_id_department" not in _indexes("item"):
        op.create_index("ix_item_id_department", "item", ["id", "department"])


def downgrade() -> None:
    op.drop_index("ix_item_id_department", table_name="item")
    op.create_index("ix_clock_item_id", "clock", ["item_id"])
    op.drop_index("ix_clock_item_report", table_name="clock")
    op.create_index("ix_clock_due", "clock", ["due"])
    op.drop_index("ix_clock_due_report", table_name="clock")
    op.create_index("ix_event_record_occurred_on", "event_record", ["occurred_on"])
    op.create_index("ix_event_record_item_id", "event_record", ["item_id"])
    op.create_index("ix_event_record_type", "event_record", ["type"])
    op.drop_index("ix_event_record_item_type_day", table_name="event_record")
    op.drop_index("ix_event_record_type_day", table_name="event_record")
