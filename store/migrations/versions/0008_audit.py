"""audit_record: the append-only audit trail (store/audit.py), with the database's own refusal of UPDATE and
DELETE (and TRUNCATE on PostgreSQL). A DELETE passes only inside the retention purge's transaction and only for
rows older than 180 days by the database's clock (网络安全法第二十一条: six months at least).

Revision ID: 0008_audit
Revises: 0006_annual_report
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = "0008_audit"
down_revision = "0007_accounts_security"
branch_labels = None
depends_on = None

REFUSED = "审计记录只能追加，不能修改或删除（只有超过保存期限的记录由定期清理删除）"

PG_GUARD = f"""
CREATE OR REPLACE FUNCTION shixian_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN  -- nested: a TRUNCATE (statement trigger) has no OLD row
        IF coalesce(current_setting('shixian.audit_purge', true), '') = 'on'
           AND OLD.at < now() - interval '180 days' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'insufficient_privilege';
END $$
"""

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    # shixian_audit_purge() is registered on the product's connections (store.db); elsewhere it does not exist
    f"""CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record
    WHEN shixian_audit_purge() = 0 OR OLD.at >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-180 days')
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
)


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("audit_record"):  # a database made by create_all of today's models has it
        op.create_table(
            "audit_record",
            sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("at", store.models.UTCDateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(), nullable=False),
            sa.Column("role", sa.String(), nullable=False),
            sa.Column("channel", sa.String(), nullable=False),
            sa.Column("action", sa.String(), nullable=False),
            sa.Column("object", sa.String(), nullable=True),
            sa.Column("department", sa.String(), nullable=True),
            sa.Column("outcome", sa.String(), nullable=False),
            sa.Column("client", sa.String(), nullable=True),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.Column("prev_hash", sa.String(), nullable=False),
            sa.Column("hash", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_audit_record_at", "audit_record", ["at"])
        op.create_index("ix_audit_record_action_at", "audit_record", ["action", "at"])
        op.create_index("ix_audit_record_actor_at", "audit_record", ["actor", "at"])
        op.create_index("ix_audit_record_department_at", "audit_record", ["department", "at"])
    if bind.dialect.name == "postgresql":
        op.execute(PG_GUARD)
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute(
            "CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record"
            " FOR EACH ROW EXECUTE FUNCTION shixian_audit_guard()"
        )
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record")
        op.execute(
            "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record"
            " FOR EACH STATEMENT EXECUTE FUNCTION shixian_audit_guard()"
        )
    else:
        for stmt in SQLITE_TRIGGERS:
            op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record")
        op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS shixian_audit_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
    op.drop_table("audit_record")
