"""Use case: the column ledger (栏目台账) of the departments a principal may read (domain/columns.py)."""

from __future__ import annotations

from typing import Any

from domain.columns import column_ledger
from domain.engine import engine
from store.scope import Departments


def column_ledger_view(department: Departments) -> list[dict[str, Any]]:
    from services.views import department_names
    from store.db import session
    from store.items import list_items

    with session() as s:
        snaps = list_items(s, department=department, type="column")
    return column_ledger(snaps, engine().rules, department_names())
