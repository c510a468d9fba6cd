"""Reports at a province's size (issue 20 §3, s22): item.flags, which board and score lists an item can be on
(domain.flags.flag_bits: 1 a document that can be a mark, 2 a request with flag data, 4 a request with
receipt or delay data; NULL: none), and the partial index ix_item_flags on (flags, type, state, department,
id) of the items with a bit. The board and the scores read those few items from the index instead of
scanning every item's data JSON (three scans of ~150,000 rows each at a province's size). The existing rows
are filled here from their data by the same conditions the store's queries used. And
ix_event_record_registration_late gains lag_working_days and event_id: the board's 登记滞后 list picks its
200 longest lags from the index alone.

Revision ID: 0014_item_flags
Revises: 0012_scale
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_item_flags"
down_revision = "0013_dir_parent"
branch_labels = None
depends_on = None

COLUMNS = ["flags", "type", "state", "department", "id"]
LATE = ["registration_late", "ingested_at", "department", "lag_working_days", "event_id"]
LATE_BEFORE = ["registration_late", "ingested_at", "department"]


def upgrade() -> None:
    bind = op.get_bind()
    cols = {c["name"] for c in sa.inspect(bind).get_columns("item")}
    if "flags" not in cols:  # a database made by create_all of today's models has it already
        with op.batch_alter_table("item", schema=None) as batch_op:
            batch_op.add_column(sa.Column("flags", sa.Integer(), nullable=True))
    item = sa.table(
        "item", sa.column("type", sa.String), sa.column("data", sa.JSON), sa.column("flags", sa.Integer)
    )
    data = item.c.data

    def bit(value: int, cond) -> sa.ColumnElement:
        return sa.case((cond, value), else_=0)

    mark = sa.and_(
        item.c.type == "document",
        sa.or_(
            data["disclosure"].as_string().in_(("withheld", "on_request")),
            sa.and_(data["kind"].as_string() == "normative", data["needs_interpretation"].as_boolean().is_(False)),
        ),
    )
    flag_data = sa.and_(
        item.c.type == "request",
        sa.or_(*(data[k].as_string().is_not(None) for k in ("correction", "consultations", "after_withdrawal"))),
    )
    receipt = sa.and_(
        item.c.type == "request",
        sa.or_(
            *(data[k].as_string().is_not(None) for k in ("unreachable", "reply_delayed", "fee")),
            data[("receipt", "basis")].as_string() != "received_on",
        ),
    )
    total = bit(1, mark) + bit(2, flag_data) + bit(4, receipt)
    op.execute(item.update().where(item.c.type.in_(("document", "request"))).values(flags=sa.func.nullif(total, 0)))
    if "ix_item_flags" not in {ix["name"] for ix in sa.inspect(bind).get_indexes("item")}:
        where = sa.text("flags IS NOT NULL")
        op.create_index("ix_item_flags", "item", COLUMNS, sqlite_where=where, postgresql_where=where)
    # the board's 登记滞后 list picks its longest lags from this index alone (lag and id added)
    late = {ix["name"]: ix["column_names"] for ix in sa.inspect(bind).get_indexes("event_record")}
    if late.get("ix_event_record_registration_late") != LATE:
        if "ix_event_record_registration_late" in late:
            op.drop_index("ix_event_record_registration_late", table_name="event_record")
        op.create_index("ix_event_record_registration_late", "event_record", LATE)


def downgrade() -> None:
    op.drop_index("ix_event_record_registration_late", table_name="event_record")
    op.create_index("ix_event_record_registration_late", "event_record", LATE_BEFORE)
    op.drop_index("ix_item_flags", table_name="item")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("flags")
