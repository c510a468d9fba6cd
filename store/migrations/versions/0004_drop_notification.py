"""drop the unused notification table (deliveries are logged in `delivery`)

Revision ID: 0004_drop_notification
Revises: 0003_ops
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_drop_notification'
down_revision = '0003_ops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table('notification'):
        return
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_item_id'))
        batch_op.drop_index(batch_op.f('ix_notification_department'))
    op.drop_table('notification')


def downgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('item_id', sa.String(), nullable=False),
    sa.Column('rule', sa.String(), nullable=False),
    sa.Column('step', sa.String(), nullable=False),
    sa.Column('recipient', sa.String(), nullable=False),
    sa.Column('department', sa.String(), nullable=True),
    sa.Column('due', sa.String(), nullable=True),
    sa.Column('message', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_item_id'), ['item_id'], unique=False)
