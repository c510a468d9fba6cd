"""urge: the 督办单 of the three-colour practice — number per jurisdiction and year, colour, overdue working
days when urged, and the department's 办理情况 reply (who, when). Rows of before stay NULL.

Revision ID: 0011_urge
Revises: 0011_review_upload
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0011_urge"
down_revision = "0011_review_upload"
branch_labels = None
depends_on = None

COLUMNS = (
    ("jurisdiction", sa.String()),
    ("year", sa.Integer()),
    ("number", sa.Integer()),
    ("colour", sa.String()),
    ("overdue_working_days", sa.Integer()),
    ("reply", sa.Text()),
    ("replied_by", sa.String()),
    ("replied_at", store.models.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("urge")}
    missing = [(n, t) for n, t in COLUMNS if n not in have]
    if not missing:  # made by create_all of today's models
        return
    with op.batch_alter_table("urge") as b:
        for name, type_ in missing:
            b.add_column(sa.Column(name, type_, nullable=True))
        b.create_unique_constraint("uq_urge_jurisdiction_year_number", ["jurisdiction", "year", "number"])


def downgrade() -> None:
    with op.batch_alter_table("urge") as b:
        b.drop_constraint("uq_urge_jurisdiction_year_number", type_="unique")
        for name, _ in reversed(COLUMNS):
            b.drop_column(name)
