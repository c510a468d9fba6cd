"""Who may write events for which department: the one rule, used by the API, the event forms and the
ledger import, and enforced by the ingest path for every event against its item's own department.

A liaison writes only for their own department; supervisors, admins and the operator write for any.
A ledger belongs to one department whoever uploads it, so its rows may touch only that department's items.
"""

from __future__ import annotations

from collections.abc import Iterable


def write_scope(role: str | None, own_department: str | None) -> str | None:
    """The department a writer is confined to (None: any department)."""
    return own_department if role == "liaison" else None


def department_refusal(scope: str | None, departments: Iterable[object], item_id: str | None = None) -> str | None:
    """Why an event is refused for a writer confined to `scope`, given the departments it touches (its own
    `department` field and its item's department as stored or known by the workflow); None when allowed.
    str(): a non-text department (a number) is another department too."""
    if scope is None:
        return None
    other = sorted({str(d) for d in departments if d is not None and str(d) != scope})
    if not other:
        return None
    names = "、".join(_name(d) for d in other)
    whose = f"编号 {item_id} 是{names}的事项；" if item_id else ""
    return f"无权为其他部门（{names}）登记事件：{whose}只能登记本部门（{_name(scope)}）的事件，未作任何改动"


def _name(department: str) -> str:
    from domain.engine import engine

    try:
        dept = engine().directory.departments.get(department)
    except Exception:  # a broken directory must not hide the refusal itself
        dept = None
    return dept.name if dept else department
