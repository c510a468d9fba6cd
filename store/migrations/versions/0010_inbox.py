"""inbox_message: the built-in 站内消息 channel (store/inbox.py), one row per (notice key, person).

Revision ID: 0010_inbox
Revises: 0009_lag
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0010_inbox"
down_revision = "0009_lag"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("inbox_message"):  # made by create_all of today's models
        return
    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(), nullable=True),
        sa.Column("item_id", sa.String(), nullable=True),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("created_at", store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "person", name="uq_inbox_message_key_person"),
    )
    op.create_index("ix_inbox_message_person", "inbox_message", ["person"])
    op.create_index("ix_inbox_message_person_read", "inbox_message", ["person", "read_at"])
    op.create_index("ix_inbox_message_item_id", "inbox_message", ["item_id"])
    op.create_index("ix_inbox_message_department", "inbox_message", ["department"])


def downgrade() -> None:
    op.drop_table("inbox_message")
