"""Reports at a province's size (issue 20 §3): ix_event_record_start_lag on event_record (type, occurred_on,
recorded_role, lag_working_days, registration_late, department): the scores' registration lag of a year
(~100,000 start events) is counted per department and lag from this index alone, without reading the events'
payloads.

Revision ID: 0012_scale
Revises: 0011_onboarding
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_scale"
down_revision = "0011_onboarding"
branch_labels = None
depends_on = None

START_LAG = ["type", "occurred_on", "recorded_role", "lag_working_days", "registration_late", "department"]


def upgrade() -> None:
    # a database made by create_all of today's models has it already
    if "ix_event_record_start_lag" not in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("event_record")}:
        op.create_index("ix_event_record_start_lag", "event_record", START_LAG)


def downgrade() -> None:
    op.drop_index("ix_event_record_start_lag", table_name="event_record")
