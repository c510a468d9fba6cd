"""import_job (store/import_jobs.py): durable import jobs, their progress and result (issue 22 §3).

Revision ID: 0018_import_jobs
Revises: 0015_catalogue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0018_import_jobs"
down_revision = "0016_delivery_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    if insp.has_table("import_job"):
        return
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("created_at", store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("finished_at", store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_job_department", "import_job", ["department"])
    op.create_index("ix_import_job_created_by", "import_job", ["created_by"])


def downgrade() -> None:
    op.drop_table("import_job")
