"""Who is acting (Principal: person, roles, department, node) and what they may read and write: the one rule,
used by the API, the pages, the CLI (the operator), the event forms, the ledger upload and the ingest path.

Reads: `read_scope` → `Scope` (a liaison's own department; a supervisor's, assessor's or admin's node subtree of
config/jurisdictions.toml, the root's or no node: all; `?node=` / `?department=` inside it; outside: 403 naming
the node; unknown: 404). Writes: `write_refusal` / `require_write` (events, review decisions, urges, locks,
onboarding decisions, ledger uploads): a liaison for their own department only (department_refusal), a
node-scoped writer for the departments of their subtree only (node_refusal); `require_lock` for locks of all
(a node-scoped assessor locks their node's departments one by one: services.locks.lock_for).
A ledger belongs to one department whoever uploads it, so its rows may touch only that department's items.
`require_top`: what concerns every area (the calendar reload) only for the root's or an unscoped principal.
Tokens: a person's token carries that person's node (not readable: refused, never the whole tree); a role
token of no person is the root's, as only the operator (`shixian token create`) issues tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain import labels
from store.scope import Departments

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
    # The jurisdiction node a supervisor's, assessor's or admin's reads are confined to (its subtree);
    # None: the whole tree. A liaison is confined to their department instead (write_scope).
    node: str | None = None

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
    def write_scope(self) -> str | None:
        """The department this principal is confined to (services.access.write_scope)."""
        return write_scope(self.role, self.department)

    @property
    def actor(self) -> str:
        return self.person or (f"token:{self.token_id}" if self.token_id else "anonymous")

    @property
    def label(self) -> str:
        who = _person_name(self.person) if self.person else (f"令牌 {self.token_id}" if self.token_id else "访客")
        dept = f"（{_name(self.department)}）" if self.department else ""
        return f"{labels.ROLES.get(self.record_role, self.record_role)} {who}{dept}"

    # ---- checks (raise ApiError 403)
    def require(self, roles: Iterable[str], what: str) -> None:
        roles = tuple(roles)
        if self.role not in roles:
            allowed = "、".join(labels.ROLES.get(r, r) for r in roles)
            raise forbidden(f"无权{what}：当前角色为{labels.ROLES.get(self.role, self.role)}，需要{allowed}角色")

    def scope(self, department: str | None, what: str, roles: Iterable[str] = READ_ALL) -> Departments:
        """The department filter this principal may use for `what` (read_scope(...).filter)."""
        return read_scope(self, department=department, what=what, roles=roles).filter

    def may_see(self, department: str) -> bool:
        if self.write_scope is not None:
            return department == self.write_scope
        if self.role not in READ_ALL:
            return False
        seen = visible_departments(self)
        return seen is None or department in seen


def visible_departments(who: Principal) -> frozenset[str] | None:
    """The departments `who` may read (None: every one): a liaison's own; for a principal scoped to a node, the
    departments of that node's subtree (config/jurisdictions.toml); the root node or no node: all."""
    scope = who.write_scope
    if scope is not None:
        return frozenset({scope}) if scope else frozenset()
    if who.node is None:
        return None
    from domain.engine import engine

    directory = engine().directory
    tree = directory.tree
    if who.node not in tree.nodes:
        return frozenset()  # a node no longer in the tree confines to nothing, never to everything
    if who.node == tree.root.id:
        return None
    return frozenset(directory.departments_in(who.node))


@dataclass(frozen=True)
class Scope:
    """What a read is confined to: `departments` (None: all), the node asked for or the principal's own
    (None: an unscoped principal asking for no node) and the one department asked for, if any."""

    departments: frozenset[str] | None
    node: str | None = None
    department: str | None = None

    @property
    def filter(self) -> Departments:
        """The `department` argument of the store reads: one department, a node's set, or None (all)."""
        return self.department or self.departments


def _tree():
    from domain.engine import engine

    directory = engine().directory
    return directory, directory.tree


def node_label(node: str | None) -> str:
    try:
        return _tree()[1].name(node)
    except Exception:  # a broken directory must not hide the refusal itself
        return node or ""


def home_node(who: Principal) -> str:
    """The node whose subtree a supervisor's, assessor's or admin's role covers (the root when none is set)."""
    _, tree = _tree()
    return who.node or tree.root.id


def check_node(node: str | None) -> None:
    if node:
        _, tree = _tree()
        if node not in tree.nodes:
            raise ApiError(404, "unknown_node", f"未知地区（节点）：{node}（见 config/jurisdictions.toml）")


def check_department(department: str | None) -> None:
    if department:
        directory, _ = _tree()
        if department not in directory.departments:
            raise ApiError(404, "unknown_department", f"未知部门：{department}（见 config/departments.toml）")


def read_scope(
    who: Principal,
    *,
    department: str | None = None,
    node: str | None = None,
    what: str,
    roles: Iterable[str] = READ_ALL,
) -> Scope:
    """The one read rule: what `who` may read for `what`, filtered by `department` and/or `node`.

    A liaison is confined to their own department (another one, or a node not holding it: 403). Any other
    allowed role reads its node's subtree (config/jurisdictions.toml; no node: the whole tree): a node or a
    department outside it is refused (403, naming the node). Unknown node or department: 404."""
    check_node(node)
    check_department(department)
    directory, tree = _tree()
    own = who.write_scope
    if own is not None:
        if not own:
            raise forbidden(f"无权{what}：联络员未登记所属部门（见 config/departments.toml）")
        if department and department != own:
            raise forbidden(
                f"无权{what}：联络员只能查看本部门（{_name(own)}）的数据，不能查看{_name(department)}的数据"
            )
        own_node = directory.node_of(own)
        if node and not (own_node and tree.contains(node, own_node)):
            raise forbidden(f"无权{what}：联络员只能查看本部门（{_name(own)}）的数据，本部门不属于{tree.name(node)}")
        return Scope(frozenset({own}), own_node, own)
    who.require(tuple(roles) + ("liaison",), what)
    home = home_node(who)
    role = labels.ROLES.get(who.role, who.role)
    if home not in tree.nodes:
        raise forbidden(f"无权{what}：{role}所属的地区（{home}）不在 config/jurisdictions.toml 中")
    if node and not tree.contains(home, node):
        raise forbidden(f"无权{what}：{role}只能查看{tree.name(home)}及其下级的数据，{tree.name(node)}不在其辖区内")
    if department:
        dnode = directory.node_of(department) or tree.root.id
        if not tree.contains(home, dnode):
            raise forbidden(
                f"无权{what}：{role}只能查看{tree.name(home)}及其下级的数据，"
                f"{_name(department)}属于{tree.name(dnode)}，不在其辖区内"
            )
        if node and not tree.contains(node, dnode):
            raise ApiError(
                422,
                "invalid_parameter",
                f"参数 department：{_name(department)}属于{tree.name(dnode)}，不在{tree.name(node)}内",
                field="department",
            )
        return Scope(frozenset({department}), node or who.node, department)
    target = node or who.node
    if target is None or target == tree.root.id:
        return Scope(None, target)
    return Scope(frozenset(directory.departments_in(target)), target)


def node_choices(who: Principal) -> dict[str, str]:
    """The nodes `who` may filter by (their node's subtree, indented by level) for the pages' 所属地区 select;
    empty for a liaison or a tree of one node."""
    if who.write_scope is not None:
        return {}
    _, tree = _tree()
    home = home_node(who)
    if home not in tree.nodes or len(tree.nodes) < 2:
        return {}
    top = tree.nodes[home].level_index
    return {n: "\u3000" * (tree.nodes[n].level_index - top) + tree.nodes[n].name for n in tree.subtree(home)}


def write_refusal(
    who: Principal, departments: Iterable[object], *, verb: str = "登记", what: str = "事件", item_id: str | None = None
) -> str | None:
    """Why `who` may not write (events, review decisions, urges, locks, onboarding decisions) for the
    departments it touches; None when allowed. A liaison: their own department only (department_refusal);
    a node-scoped supervisor, assessor or admin: the departments of their node's subtree."""
    own = who.write_scope
    if own is not None:
        return department_refusal(own, departments, item_id)
    return node_refusal(visible_departments(who), who.node, departments, verb=verb, what=what, item_id=item_id)


def node_refusal(
    allowed: frozenset[str] | None,
    node: str | None,
    departments: Iterable[object],
    *,
    verb: str = "登记",
    what: str = "事件",
    item_id: str | None = None,
) -> str | None:
    """node-scoped half of write_refusal: `allowed` the departments of `node`'s subtree (None: all)."""
    if allowed is None:
        return None
    other = sorted({str(d) for d in departments if d is not None and str(d) not in allowed})
    if not other:
        return None
    names = "、".join(_name(d) for d in other)
    where = node_label(node)
    whose = f"编号 {item_id} 是{names}的事项，" if item_id else ""
    return f"无权为{names}{verb}{what}：{whose}权限限于{where}及其下级单位，未作任何改动"


def require_write(
    who: Principal, departments: Iterable[object], *, verb: str = "登记", what: str = "事件", item_id: str | None = None
) -> None:
    """write_refusal as a 403."""
    reason = write_refusal(who, departments, verb=verb, what=what, item_id=item_id)
    if reason:
        raise forbidden(reason)


def require_lock(who: Principal, department: str | None, what: str) -> None:
    """A lock of all departments (`department` None) only by an unscoped principal or the root's; a
    node-scoped assessor or admin locks the departments of their subtree one by one."""
    if department is None and visible_departments(who) is not None:
        raise forbidden(f"无权{what}（全部部门）：权限限于{node_label(who.node)}及其下级单位，请指定部门")
    require_write(who, [department], verb="锁定", what=what)


def require_top(who: Principal, roles: Iterable[str], what: str) -> None:
    """`what` concerns every area (the calendar and config reload): one of `roles`, unscoped or scoped to the
    root node only; a node-scoped admin is refused (403 naming their node)."""
    who.require(roles, what)
    if visible_departments(who) is not None:
        raise forbidden(
            f"无权{what}：权限限于{node_label(who.node)}及其下级单位，此操作影响全部地区，须由上级管理员执行"
        )


ADMIN_HOME = "/admin"
LANDING_PATHS = (ADMIN_HOME, "/scores", "/liaison", "/")  # the pages landing_path may choose by route


def landing_path(who: Principal, routes: Iterable[str] = ()) -> str:
    """Where a person lands after signing in (password or identity provider): where their work is.
    assessor → the scores; supervisor → the board; liaison → their department's items (/liaison), a
    部门负责人 → their department's page; admin → the admin page when the app has one (`routes`: the
    app's paths), else the board."""
    from urllib.parse import quote

    if who.role == "assessor":
        return "/scores"
    if who.role == "liaison":
        if who.record_role == "head" and who.department:
            return f"/departments/{quote(who.department)}"
        return "/liaison"
    if who.role == "admin" and ADMIN_HOME in set(routes):
        return ADMIN_HOME
    return "/"


def write_scope(role: str | None, own_department: str | None) -> str | None:
    """The department a writer is confined to (None: any department). A liaison (a head acts as one) is
    confined to their own; one with no department on record to none at all ("")."""
    return (own_department or "") if role == "liaison" else None


def act_for(who: Principal, department: str | None, verb: str = "登记", what: str = "事件") -> str | None:
    """The department `who` acts for when asking for `department`: a confined writer's own (another one:
    403), anyone else's choice (None: not chosen). The API's reads, the forms, the upload and the ingest
    path all confine through write_scope, so they cannot disagree."""
    scope = who.write_scope
    if scope is None:
        if department:  # a node-scoped writer: only for the departments of their subtree
            require_write(who, [department], verb=verb, what=what)
        return department or None
    if department and department != scope:
        raise forbidden(
            f"无权为其他部门（{department}）{verb}{what}：联络员只能{verb}本部门（{who.department}）的{what}"
        )
    return scope or None


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


def _person_name(person: str) -> str:
    from domain.engine import engine

    try:
        p = engine().directory.people.get(person)
    except Exception:  # a broken directory must not hide who is signed in
        p = None
    return p.name if p else person


def _name(department: str) -> str:
    from domain.engine import engine

    try:
        dept = engine().directory.departments.get(department)
    except Exception:  # a broken directory must not hide the refusal itself
        dept = None
    return dept.name if dept else department


# ---------------------------------------------------------------------------------- who a credential is

# A person's page role from their departments.toml roles (a head acts for the department like its liaison).
ROLE_PRIORITY = (
    ("admin", "admin"),
    ("supervisor", "supervisor"),
    ("liaison", "liaison"),
    ("head", "liaison"),
    ("assessor", "assessor"),
)


TOKEN_REFUSALS = {
    "invalid": "令牌无效或已被吊销（token invalid or revoked）",
    "revoked": "令牌无效或已被吊销（token invalid or revoked）",
    "expired": "令牌已过期（有效期至 {until}），请联系管理员用 shixian token create 重新生成",
    "disabled": "令牌所属人员已停用或已不在人员名录中，令牌不再有效",
    "directory": "人员名录暂不可用，无法确定令牌所属人员的辖区，令牌暂不能使用（请联系管理员检查人员名录）",
}


def token_principal(token: str) -> tuple[Principal | None, str]:
    """The principal of a bearer token, or None and the Chinese reason it is refused."""
    from domain.config import ConfigError
    from domain.engine import engine
    from domain.shanghai import SHANGHAI
    from services.queries import db
    from store.accounts import is_disabled
    from store.db import session
    from store.tokens import check, ensure_table

    eng = db()
    ensure_table(eng)
    with session(eng) as s:
        row, state = check(s, token)
        if row is None or state != "ok":
            until = f"{row.expires_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if row is not None else ""
            return None, TOKEN_REFUSALS[state].format(until=until)
        if row.person:
            # Checked here too: a path that disabled the person without revoking still stops the token.
            disabled = is_disabled(s, row.person)
            try:
                listed = row.person in engine().directory.people
            except ConfigError:  # a broken departments.toml is reported elsewhere; the credential still counts
                listed = True
            if disabled or not listed:
                return None, TOKEN_REFUSALS["disabled"]
        role = "liaison" if row.role == "head" else row.role  # a head reads and writes as its department's liaison
        node = None
        if role != "liaison" and row.person:
            try:
                node = _person_node(row.person)
            except Exception:  # fail closed: a scope not known is never the whole tree
                return None, TOKEN_REFUSALS["directory"]
        # A role token of no person (`shixian token create` without --person) is the root's: only the operator,
        # who holds the whole store, issues tokens (no page or API route creates one), so it is a top-level one.
        return Principal(
            role=role, department=row.department, person=row.person, token_id=row.id, roles=(row.role,), node=node
        ), ""


def principal_for_token(token: str) -> Principal | None:
    return token_principal(token)[0]


def principal_for_person(person_id: str, csrf: str | None = None) -> Principal | None:
    from domain.engine import engine

    person = engine().directory.people.get(person_id)
    if person is None:  # removed from departments.toml: the session no longer stands for anyone
        return None
    role = next((page for have, page in ROLE_PRIORITY if have in person.roles), None)
    if role is None:
        return None
    return Principal(
        role=role,
        department=person.department or None,
        person=person.id,
        roles=person.roles,
        csrf=csrf,
        node=person.node if role != "liaison" else None,
    )


def _person_node(person_id: str) -> str | None:
    """The node a token's person is scoped to (None: unscoped). Raises when the directory cannot say (broken,
    or the person not in it): the caller refuses the token rather than read that as the whole tree."""
    from domain.engine import engine

    person = engine().directory.people.get(person_id)
    if person is None:
        raise LookupError(f"person {person_id} not in the directory")
    return person.node


def principal_for_session(sid: str) -> Principal | None:
    from services.queries import db
    from store.accounts import live_session
    from store.db import session

    with session(db()) as s:
        row = live_session(s, sid)
        if row is None:
            return None
        return principal_for_person(row.person, row.csrf)
