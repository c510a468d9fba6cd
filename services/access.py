"""Who may write events for which department: the one rule, used by the API, the event forms and the
ledger import, and enforced by the ingest path for every event against its item's own department.

A liaison writes only for their own department; supervisors, admins and the operator write for any.
A ledger belongs to one department whoever uploads it, so its rows may touch only that department's items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain import labels

ROLE_LABELS = labels.ROLES
READ_ALL = ("supervisor", "admin", "local")


class ApiError(Exception):
    """Rendered as ``{"code": ..., "detail": ...}`` with the given HTTP status."""

    def __init__(self, status: int, code: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra

    def body(self) -> dict:
        return {"code": self.code, "detail": self.detail, **self.extra}


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


@dataclass(frozen=True)
class Principal:
    role: str
    department: str | None = None
    person: str | None = None
    token_id: str | None = None
    roles: tuple[str, ...] = ()
    csrf: str | None = None  # set for a signed-in browser session

    @property
    def may_lock(self) -> bool:
        return self.role == "admin" or "assessor" in self.roles or self.role == "assessor"

    @property
    def record_role(self) -> str:
        """The role an event is recorded with: a 部门负责人 acts as a liaison but is recorded as the head."""
        if self.role == "liaison" and "head" in self.roles and "liaison" not in self.roles:
            return "head"
        return self.role

    @property
    def actor(self) -> str:
        return self.person or (f"token:{self.token_id}" if self.token_id else "anonymous")

    @property
    def label(self) -> str:
        who = self.person or (f"令牌 {self.token_id}" if self.token_id else "访客")
        dept = f"（{self.department}）" if self.department else ""
        return f"{ROLE_LABELS.get(self.record_role, self.record_role)} {who}{dept}"

    # ---- checks (raise ApiError 403)
    def require(self, roles: Iterable[str], what: str) -> None:
        roles = tuple(roles)
        if self.role not in roles:
            allowed = "、".join(ROLE_LABELS.get(r, r) for r in roles)
            raise forbidden(f"无权{what}：当前角色为{ROLE_LABELS.get(self.role, self.role)}，需要{allowed}角色")

    def scope(self, department: str | None, what: str, roles: Iterable[str] = READ_ALL) -> str | None:
        """The department filter this principal may use for `what`.

        Liaisons are confined to their own department (another one → 403; none → their own);
        the other allowed roles see everything."""
        if self.role == "liaison":
            if department and department != self.department:
                raise forbidden(f"无权{what}：联络员只能查看本部门（{self.department}）的数据，不能查看 {department}")
            return self.department
        self.require(tuple(roles) + ("liaison",), what)
        return department or None

    def may_see(self, department: str) -> bool:
        if self.role == "liaison":
            return department == self.department
        return self.role in READ_ALL


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
    from domain.directory import load_directory

    try:
        dept = load_directory().departments.get(department)
    except Exception:  # a broken directory must not hide the refusal itself
        dept = None
    return dept.name if dept else department
