"""Indexes for reports at a province's size: clock.due (a period's scores select by due day) and
event_record.occurred_on (the annual report reads events up to its year).

Revision ID: 0003_ops
Revises: 0002_review
"""
from __future__ import annotations

from alembic import op

revision = "0003_ops"
down_revision = "0002_review"
branch_labels = None
depends_on = None


def _has_index(table: str, name: str) -> bool:
    import sqlalchemy as sa

    return any(ix["name"] == name for ix in sa.inspect(op.get_bind()).get_indexes(table))


def upgrade() -> None:
    # A database made by create_all before migrations (adopted at 0001) already has them.
    if not _has_index("clock", "ix_clock_due"):
        op.create_index("ix_clock_due", "clock", ["due"])
    if not _has_index("event_record", "ix_event_record_occurred_on"):
        op.create_index("ix_event_record_occurred_on", "event_record", ["occurred_on"])


def downgrade() -> None:
    op.drop_index("ix_event_record_occurred_on", table_name="event_record")
    op.drop_index("ix_clock_due", table_name="clock")
