"""accounts: credentials, web sessions, login attempts, invites, 督办 urges

Revision ID: 0002_accounts
Revises: 0001
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.models

revision = '0002_accounts'
down_revision = '0001'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
TS = store.models.UTCDateTime


def _missing(name: str) -> bool:
    # A pre-migration data directory adopted at 0001 may already have every table of the models.
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing('credential'):
        op.create_table('credential',
            sa.Column('person', S(), nullable=False),
            sa.Column('password_hash', S(), nullable=True),
            sa.Column('disabled_at', TS(timezone=True), nullable=True),
            sa.Column('updated_at', TS(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('person'))
    if _missing('web_session'):
        op.create_table('web_session',
            sa.Column('id_hash', S(), nullable=False),
            sa.Column('person', S(), nullable=False),
            sa.Column('csrf', S(), nullable=False),
            sa.Column('created_at', TS(timezone=True), nullable=False),
            sa.Column('last_seen_at', TS(timezone=True), nullable=False),
            sa.Column('ended_at', TS(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint('id_hash'))
        with op.batch_alter_table('web_session') as b:
            b.create_index(b.f('ix_web_session_person'), ['person'], unique=False)
    if _missing('login_attempt'):
        op.create_table('login_attempt',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('person', S(), nullable=False),
            sa.Column('client', S(), nullable=False),
            sa.Column('ok', sa.Boolean(), nullable=False),
            sa.Column('at', TS(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'))
        with op.batch_alter_table('login_attempt') as b:
            b.create_index(b.f('ix_login_attempt_person'), ['person'], unique=False)
            b.create_index(b.f('ix_login_attempt_client'), ['client'], unique=False)
            b.create_index(b.f('ix_login_attempt_at'), ['at'], unique=False)
    if _missing('invite'):
        op.create_table('invite',
            sa.Column('token_hash', S(), nullable=False),
            sa.Column('person', S(), nullable=False),
            sa.Column('created_by', S(), nullable=True),
            sa.Column('created_at', TS(timezone=True), nullable=False),
            sa.Column('expires_at', TS(timezone=True), nullable=False),
            sa.Column('used_at', TS(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint('token_hash'))
        with op.batch_alter_table('invite') as b:
            b.create_index(b.f('ix_invite_person'), ['person'], unique=False)
    if _missing('urge'):
        op.create_table('urge',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('item_id', S(), nullable=False),
            sa.Column('department', S(), nullable=False),
            sa.Column('by', S(), nullable=False),
            sa.Column('note', sa.Text(), nullable=False),
            sa.Column('created_at', TS(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'))
        with op.batch_alter_table('urge') as b:
            b.create_index(b.f('ix_urge_item_id'), ['item_id'], unique=False)
            b.create_index(b.f('ix_urge_department'), ['department'], unique=False)


def downgrade() -> None:
    for name in ('urge', 'invite', 'login_attempt', 'web_session', 'credential'):
        op.drop_table(name)
