"""Reports at a province's size read a period's clocks from indexes alone:

- clock.summary: the explanation's one-line summary in its own column (at most 300 characters), filled
  from the explanations already stored, so the 明细 never reads a clock's ~4 KB explanation JSON;
- ix_clock_due_report on clock (due, item_id, rule, state, met_on, lateness_working_days, region, summary),
  replacing ix_clock_due, and ix_item_report on item (id, type, department, title): a year's scores join
  ~35,000 clocks to their items without reading either table's rows;
- ix_clock_open_report on clock (state, due_instant, item_id, rule, due, region, ladder_step, provisional),
  replacing ix_clock_state: the overdue list, the board and the ladder read open clocks from it alone.

Revision ID: 0005_clock_summary
Revises: 0004_drop_notification
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_clock_summary"
down_revision = "0004_drop_notification"
branch_labels = None
depends_on = None

SUMMARY_MAX = 300  # store.models.SUMMARY_MAX when this migration was written


def _indexes(table: str) -> set[str]:
    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("clock")}
    if "summary" not in cols:  # a database made by create_all of today's models has it already
        with op.batch_alter_table("clock", schema=None) as batch_op:
            batch_op.add_column(sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    clock = sa.table("clock", sa.column("summary", sa.String), sa.column("explanation", sa.JSON))
    summary = clock.c.explanation["summary"].as_string()
    op.execute(
        clock.update()
        .where(clock.c.summary.is_(None))
        .values(
            summary=sa.case(
                (sa.func.length(summary) > SUMMARY_MAX, sa.func.substr(summary, 1, SUMMARY_MAX - 1).concat("…")),
                else_=summary,
            )
        )
    )
    clock_ix, item_ix = _indexes("clock"), _indexes("item")
    if "ix_clock_due" in clock_ix:
        op.drop_index("ix_clock_due", table_name="clock")
    if "ix_clock_due_report" not in clock_ix:
        op.create_index(
            "ix_clock_due_report",
            "clock",
            ["due", "item_id", "rule", "state", "met_on", "lateness_working_days", "region", "summary"],
        )
    if "ix_item_report" not in item_ix:
        op.create_index("ix_item_report", "item", ["id", "type", "department", "title"])
    if "ix_clock_state" in clock_ix:
        op.drop_index("ix_clock_state", table_name="clock")
    if "ix_clock_open_report" not in clock_ix:
        op.create_index(
            "ix_clock_open_report",
            "clock",
            ["state", "due_instant", "item_id", "rule", "due", "region", "ladder_step", "provisional"],
        )


def downgrade() -> None:
    op.drop_index("ix_clock_open_report", table_name="clock")
    op.create_index("ix_clock_state", "clock", ["state"])
    op.drop_index("ix_item_report", table_name="item")
    op.drop_index("ix_clock_due_report", table_name="clock")
    op.create_index("ix_clock_due", "clock", ["due"])
    with op.batch_alter_table("clock", schema=None) as batch_op:
        batch_op.drop_column("summary")
