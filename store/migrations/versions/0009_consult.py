"""item.applicant_key: a keyed hash (HMAC-SHA256 with the server's secret) of a request's applicant identity,
so that a request registered after a withdrawal by the same applicant, or several of one applicant on one day,
can be linked without keeping the identity itself (#17 §4).

Revision ID: 0009_consult
Revises: 0009_annual_lock
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_consult"
down_revision = "0009_annual_lock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    columns = {c["name"] for c in sa.inspect(bind).get_columns("item")}
    if "applicant_key" not in columns:  # a database made by create_all of today's models has it
        with op.batch_alter_table("item") as batch:
            batch.add_column(sa.Column("applicant_key", sa.String(), nullable=True))
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("item")}
    if "ix_item_applicant_key" not in indexes:
        op.create_index("ix_item_applicant_key", "item", ["applicant_key"])


def downgrade() -> None:
    op.drop_index("ix_item_applicant_key", table_name="item")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("applicant_key")
