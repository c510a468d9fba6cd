"""onboarding_batch, onboarding_row: a department's history rows staged for one review (store/onboarding.py).

Revision ID: 0011_onboarding
Revises: 0011_directory
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0011_onboarding"
down_revision = "0011_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("onboarding_batch"):  # made by create_all of today's models
        return
    ts = store.models.UTCDateTime(timezone=True)
    op.create_table(
        "onboarding_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("uploaded_by", sa.String(), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", ts, nullable=True),
        sa.Column("decision_reason", sa.String(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_onboarding_batch_department_status", "onboarding_batch", ["department", "status"])
    op.create_table(
        "onboarding_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("uploaded_by", sa.String(), nullable=True),
        sa.Column("uploader_role", sa.String(), nullable=False),
        sa.Column("uploaded_at", ts, nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "kind", "key", name="uq_onboarding_row_batch_key"),
    )
    op.create_index("ix_onboarding_row_batch_id", "onboarding_row", ["batch_id"])


def downgrade() -> None:
    op.drop_table("onboarding_row")
    op.drop_table("onboarding_batch")
