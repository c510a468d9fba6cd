"""late entries (补录) awaiting or after review

Revision ID: 0002_review
Revises: 0002_accounts
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision = '0002_review'
down_revision = '0002_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A data directory adopted from before migrations (create_all of the models) may have it already.
    if sa.inspect(op.get_bind()).has_table('late_entry'):
        return
    op.create_table('late_entry',
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('occurred_on', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('recorded_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('decided_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index(op.f('ix_late_entry_department'), 'late_entry', ['department'], unique=False)
    op.create_index(op.f('ix_late_entry_item_id'), 'late_entry', ['item_id'], unique=False)
    op.create_index(op.f('ix_late_entry_status'), 'late_entry', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_late_entry_status'), table_name='late_entry')
    op.drop_index(op.f('ix_late_entry_item_id'), table_name='late_entry')
    op.drop_index(op.f('ix_late_entry_department'), table_name='late_entry')
    op.drop_table('late_entry')
