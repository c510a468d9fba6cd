"""event_record: who recorded each event (recorded_role; supervisor/admin/operator = 代录), its registration
lag in working days (lag_working_days) and the 登记滞后 flag of a start event recorded past the late-entry bound
(registration_late), with the board's index on it. Rows recorded before stay NULL / false: their role and lag
were not kept.

Revision ID: 0009_lag
Revises: 0009_consult
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009_lag"
down_revision = "0009_consult"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    cols = {c["name"] for c in sa.inspect(bind).get_columns("event_record")}
    with op.batch_alter_table("event_record", schema=None) as batch_op:
        if "recorded_role" not in cols:  # a database made by create_all of today's models has them already
            batch_op.add_column(sa.Column("recorded_role", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        if "lag_working_days" not in cols:
            batch_op.add_column(sa.Column("lag_working_days", sa.Integer(), nullable=True))
        if "registration_late" not in cols:
            batch_op.add_column(
                sa.Column("registration_late", sa.Boolean(), nullable=False, server_default=sa.false())
            )
    if "ix_event_record_registration_late" not in {ix["name"] for ix in sa.inspect(bind).get_indexes("event_record")}:
        op.create_index(
            "ix_event_record_registration_late",
            "event_record",
            ["registration_late", "ingested_at", "department"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_index("ix_event_record_registration_late", table_name="event_record")
    with op.batch_alter_table("event_record", schema=None) as batch_op:
        batch_op.drop_column("registration_late")
        batch_op.drop_column("lag_working_days")
        batch_op.drop_column("recorded_role")
