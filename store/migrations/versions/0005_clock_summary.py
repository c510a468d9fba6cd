"""clock.summary: the explanation's one-line summary in its own column (a year's scores list it for every
clock without reading each clock's explanation JSON); filled from the explanations already stored.

Revision ID: 0005_clock_summary
Revises: 0004_drop_notification
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_clock_summary"
down_revision = "0004_drop_notification"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("clock")}
    if "summary" not in cols:  # a database made by create_all of today's models has it already
        with op.batch_alter_table("clock", schema=None) as batch_op:
            batch_op.add_column(sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    clock = sa.table("clock", sa.column("summary", sa.String), sa.column("explanation", sa.JSON))
    op.execute(
        clock.update()
        .where(clock.c.summary.is_(None))
        .values(summary=clock.c.explanation["summary"].as_string())
    )


def downgrade() -> None:
    with op.batch_alter_table("clock", schema=None) as batch_op:
        batch_op.drop_column("summary")
