"""late_entry: the ledger upload a late entry came in (`upload`, so that a review list takes all of one upload)
and the held event it depends on (`depends_on`: decided with it). Rows recorded before stay NULL.

Revision ID: 0011_review_upload
Revises: 0010_inbox
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011_review_upload"
down_revision = "0010_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    cols = {c["name"] for c in sa.inspect(bind).get_columns("late_entry")}
    with op.batch_alter_table("late_entry", schema=None) as batch_op:
        if "upload" not in cols:  # a database made by create_all of today's models has them already
            batch_op.add_column(sa.Column("upload", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        if "depends_on" not in cols:
            batch_op.add_column(sa.Column("depends_on", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    if "ix_late_entry_upload" not in {ix["name"] for ix in sa.inspect(bind).get_indexes("late_entry")}:
        op.create_index("ix_late_entry_upload", "late_entry", ["upload"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_late_entry_upload", table_name="late_entry")
    with op.batch_alter_table("late_entry", schema=None) as batch_op:
        batch_op.drop_column("depends_on")
        batch_op.drop_column("upload")
