"""directory_department / directory_person / directory_change (store/directory.py) and password_history
(store/accounts.py): the directory edited on the admin page, its history, and the last passwords of a person.

Revision ID: 0011_directory
Revises: 0011_urge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0011_directory"
down_revision = "0011_urge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    for name in ("directory_department", "directory_person"):
        if not insp.has_table(name):
            op.create_table(
                name,
                sa.Column("id", sa.String(), nullable=False),
                sa.Column("position", sa.Integer(), nullable=False),
                sa.Column("data", sa.JSON(), nullable=False),
                sa.Column("updated_at", store.models.UTCDateTime(timezone=True), nullable=False),
                sa.PrimaryKeyConstraint("id"),
            )
    if not insp.has_table("directory_change"):
        op.create_table(
            "directory_change",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("at", store.models.UTCDateTime(timezone=True), nullable=False),
            sa.Column("by", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("object", sa.String(), nullable=False),
            sa.Column("action", sa.String(), nullable=False),
            sa.Column("before", sa.JSON(), nullable=True),
            sa.Column("after", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_directory_change_object", "directory_change", ["object"])
    if not insp.has_table("password_history"):
        op.create_table(
            "password_history",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("person", sa.String(), nullable=False),
            sa.Column("password_hash", sa.String(), nullable=False),
            sa.Column("set_at", store.models.UTCDateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_password_history_person", "password_history", ["person"])


def downgrade() -> None:
    op.drop_table("password_history")
    op.drop_table("directory_change")
    op.drop_table("directory_person")
    op.drop_table("directory_department")
