"""notify_outbox / notify_outbox_key / notify_bucket (store/outbox.py): the durable delivery queue of
rate-limited channels (issue 22 §1).

Revision ID: 0016_delivery_queue
Revises: 0015_catalogue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0016_delivery_queue"
down_revision = "0015_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    when = store.models.UTCDateTime(timezone=True)
    if not insp.has_table("notify_outbox"):
        op.create_table(
            "notify_outbox",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("message_key", sa.String(length=128), nullable=False),
            sa.Column("bucket", sa.String(length=64), nullable=False),
            sa.Column("channel", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("person", sa.String(), nullable=False),
            sa.Column("channel_index", sa.Integer(), nullable=False),
            sa.Column("title", sa.String(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("content_hash", sa.String(length=64), nullable=False),
            sa.Column("individual", sa.Boolean(), nullable=False),
            sa.Column("state", sa.String(), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("not_before", when, nullable=False),
            sa.Column("created_at", when, nullable=False),
            sa.Column("claimed_at", when, nullable=True),
            sa.Column("sent_at", when, nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("message_key"),
        )
        op.create_index("ix_notify_outbox_bucket_state", "notify_outbox", ["bucket", "state", "not_before"])
        op.create_index("ix_notify_outbox_person", "notify_outbox", ["person"])
        op.create_index("ix_notify_outbox_state", "notify_outbox", ["state"])
        op.create_index("ix_notify_outbox_claimed_at", "notify_outbox", ["claimed_at"])
    if not insp.has_table("notify_outbox_key"):
        op.create_table(
            "notify_outbox_key",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("key", sa.String(length=512), nullable=False),
            sa.Column("message_id", sa.Integer(), nullable=False),
            sa.Column("request", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("key"),
        )
        op.create_index("ix_notify_outbox_key_message_id", "notify_outbox_key", ["message_id"])
    if not insp.has_table("notify_bucket"):
        op.create_table(
            "notify_bucket",
            sa.Column("bucket", sa.String(length=64), nullable=False),
            sa.Column("holder", sa.String(), nullable=False),
            sa.Column("lease_until", when, nullable=True),
            sa.PrimaryKeyConstraint("bucket"),
        )


def downgrade() -> None:
    op.drop_table("notify_bucket")
    op.drop_table("notify_outbox_key")
    op.drop_table("notify_outbox")
