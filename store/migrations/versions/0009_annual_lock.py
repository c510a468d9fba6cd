"""annual_lock: a year's annual report as published (its counted tables 二/三/四, store/locks.py AnnualLock), so
a late entry approved after the publication lists an amendment instead of rewriting the published figures.

Revision ID: 0009_annual_lock
Revises: 0008_audit
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision = "0009_annual_lock"
down_revision = "0008_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("annual_lock"):  # a database made by create_all of today's models
        return
    op.create_table(
        "annual_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("locked_at", store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("basis", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("published_on", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("year", "scope", name="uq_annual_lock_year_scope"),
    )
    with op.batch_alter_table("annual_lock", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annual_lock_year"), ["year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("annual_lock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annual_lock_year"))
    op.drop_table("annual_lock")
