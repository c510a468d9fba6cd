"""catalogue_duty / catalogue_duty_change (store/catalogue.py): a node's 基层政务公开标准目录 duties and their
history.

Revision ID: 0015_catalogue
Revises: 0012_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0015_catalogue"
down_revision = "0014_item_flags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    if not insp.has_table("catalogue_duty"):
        op.create_table(
            "catalogue_duty",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("node", sa.String(), nullable=False),
            sa.Column("area", sa.String(), nullable=False),
            sa.Column("seq", sa.String(), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("values", sa.JSON(), nullable=False),
            sa.Column("unit", sa.String(), nullable=True),
            sa.Column("length", sa.Integer(), nullable=False),
            sa.Column("recurring", sa.Boolean(), nullable=False),
            sa.Column("month", sa.Integer(), nullable=True),
            sa.Column("day", sa.Integer(), nullable=True),
            sa.Column("note", sa.String(), nullable=False),
            sa.Column("updated_at", store.models.UTCDateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("node", "area", "seq", name="uq_catalogue_duty_row"),
        )
        op.create_index("ix_catalogue_duty_node", "catalogue_duty", ["node"])
    if not insp.has_table("catalogue_duty_change"):
        op.create_table(
            "catalogue_duty_change",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("at", store.models.UTCDateTime(timezone=True), nullable=False),
            sa.Column("by", sa.String(), nullable=False),
            sa.Column("duty", sa.Integer(), nullable=False),
            sa.Column("action", sa.String(), nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("before", sa.JSON(), nullable=True),
            sa.Column("after", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_catalogue_duty_change_duty", "catalogue_duty_change", ["duty"])


def downgrade() -> None:
    op.drop_table("catalogue_duty_change")
    op.drop_table("catalogue_duty")
