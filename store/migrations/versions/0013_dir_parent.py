"""Stored directory departments from before jurisdictions (issue 20) carry `parent` (the government unit
above), which the directory parser now refuses ("parent" is replaced by "node"), so a store holding one would
no longer give a directory at all. Each stored `parent` becomes the department's `node` where the parent names
a node's government unit (a stored department with a `node` whose annual_reports include "government"), and is
dropped otherwise; a department that has a `node` already keeps it. Not reversible: the downgrade keeps `node`.

Revision ID: 0013_dir_parent
Revises: 0012_scale
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0013_dir_parent"
down_revision = "0012_scale"
branch_labels = None
depends_on = None


def _data(value) -> dict:
    if isinstance(value, str):  # SQLite hands JSON back as text through a plain table
        value = json.loads(value)
    return dict(value or {})


def migrate(bind) -> int:
    """The data step on a connection; returns how many entries changed."""
    if not sa.inspect(bind).has_table("directory_department"):
        return 0
    table = sa.table("directory_department", sa.column("id", sa.String), sa.column("data", sa.JSON))
    rows = {r.id: _data(r.data) for r in bind.execute(sa.select(table.c.id, table.c.data))}
    government = {
        did: d["node"]
        for did, d in rows.items()
        if d.get("node") and "government" in (d.get("annual_reports") or [])
    }
    changed = 0
    for did, d in rows.items():
        if "parent" not in d:
            continue
        parent = d.pop("parent")
        if not d.get("node") and parent in government:
            d["node"] = government[parent]
        bind.execute(sa.update(table).where(table.c.id == did).values(data=d))
        changed += 1
    return changed


def upgrade() -> None:
    migrate(op.get_bind())


def downgrade() -> None:
    pass  # `parent` is derived from `node` now; nothing to put back
