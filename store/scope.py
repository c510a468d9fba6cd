"""The department filter every read query takes: one department, a set of them (a node's subtree,
services.access.visible_departments) or None (all)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import false

Departments = str | Collection[str] | None


def department_clause(column: Any, departments: Departments) -> Any:
    """The WHERE clause restricting `column` to `departments`; None when there is nothing to restrict."""
    if departments is None:
        return None
    if isinstance(departments, str):
        return column == departments
    if not departments:
        return false()  # an empty scope sees nothing
    return column.in_(sorted(departments))


def where_departments(query: Any, column: Any, departments: Departments) -> Any:
    clause = department_clause(column, departments)
    return query if clause is None else query.where(clause)


def in_departments(department: str | None, departments: Departments) -> bool:
    """The same rule in Python, for rows already loaded (marks, locked results)."""
    if departments is None:
        return True
    if isinstance(departments, str):
        return department == departments
    return department in departments


def one_department(departments: Departments) -> str | None:
    """The single department asked for, or None for a set (a node's subtree) or all."""
    return departments if isinstance(departments, str) else None
