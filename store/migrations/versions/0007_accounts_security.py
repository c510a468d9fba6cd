"""Accounts hardening: API tokens expire (api_token.expires_at; tokens made before get the default term from
the upgrade on, so no integration stops at once), and a person's last sign-in and the failures since are kept
to be shown at the next one (credential.last_login_at / .last_login_from / .failed_logins).

Revision ID: 0007_accounts_security
Revises: 0006_annual_report
"""

from __future__ import annotations

from alembic import op

revision = "0007_accounts_security"
down_revision = "0006_annual_report"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    import sqlalchemy as sa

    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    import datetime as dt

    import sqlalchemy as sa

    from domain.settings import get_settings
    from store.models import UTCDateTime

    if "expires_at" not in _columns("api_token"):  # a database made by create_all of today's models has it
        with op.batch_alter_table("api_token", schema=None) as batch_op:
            batch_op.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        tok = sa.table("api_token", sa.column("expires_at", UTCDateTime()))
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=get_settings().token_days)
        op.execute(tok.update().values(expires_at=until))
        with op.batch_alter_table("api_token", schema=None) as batch_op:
            batch_op.alter_column("expires_at", existing_type=UTCDateTime(), nullable=False)
    if "last_login_at" not in _columns("credential"):
        with op.batch_alter_table("credential", schema=None) as batch_op:
            batch_op.add_column(sa.Column("last_login_at", UTCDateTime(), nullable=True))
            batch_op.add_column(sa.Column("last_login_from", sa.String(), nullable=True))
            batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("last_login_from")
        batch_op.drop_column("last_login_at")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
