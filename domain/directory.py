"""Departments and people: who is told what, through which channels (config/departments.toml).

Pure: reads only the configuration file (and the environment for `${NAME}` secrets in notify URLs).
Every validation problem raises `DirectoryError` with a message naming the file and the entry, so a bad
file is rejected at start-up, not when the first reminder is due.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from domain import channels as _channels
from domain import config as _config
from domain.jurisdictions import Jurisdictions, implicit_tree, load_jurisdictions
from domain.settings import environ

FILENAME = "departments.toml"
ROLES = ("liaison", "head", "supervisor", "assessor", "admin")
DEPARTMENT_ROLES = ("liaison", "head")  # these need a department; the others may be city-wide
DEFAULT_REGION = "national"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DEPT_KEYS = {"id", "name", "region", "head", "short_name", "node", "annual_reports", "go_live"}
REPORT_LEVELS = ("department", "government")
_PERSON_KEYS = {"id", "name", "department", "roles", "notify", "title", "oidc", "node"}
NODE_ROLES = ("supervisor", "assessor", "admin")  # roles scoped to a node of the jurisdictions tree


class DirectoryError(_config.ConfigError):
    """The directory file is malformed or inconsistent; the message names the file and the entry."""


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    region: str = DEFAULT_REGION
    head: str | None = None
    short_name: str = ""
    # The unit this one belongs under: the department of its node that compiles the node's government report
    # (annual_reports includes "government"); None for that unit itself or a node without one. Derived from
    # `node` (departments.toml has no `parent` since jurisdictions): the government's annual report covers it.
    parent: str | None = None
    # Which annual reports this unit publishes (条例第四十九条): its own ("department", by January 31)
    # and, for the office that compiles the local government's report, "government" (by March 31).
    annual_reports: tuple[str, ...] = ("department",)
    # 上线日期: the day the department starts recording in Shixian. Ledger rows and events dated before it are
    # its history (历史台账), imported as one onboarding batch rather than as late entries. None: no history
    # window (every entry follows the late-entry rule).
    go_live: date | None = None
    # The jurisdiction node (config/jurisdictions.toml) the department belongs to.
    node: str = ""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    department: str | None
    roles: tuple[str, ...]
    notify: tuple[str, ...] = ()
    title: str = ""
    # The privacy class of each notify channel, in the same order (declared, or the kind's default).
    privacy: tuple[str, ...] = ()
    # The identity provider's value of SHIXIAN_OIDC_CLAIM for this person (none: the person id is compared).
    oidc: str | None = None
    # The node a supervisor's, assessor's or admin's role covers (its whole subtree); None: the root's.
    # A liaison or head acts for their department only, whatever node it is in.
    node: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def channel_privacy(self, index: int) -> str:
        """`group` or `personal` (domain/channels.py); a channel without a recorded class is a group."""
        return self.privacy[index] if index < len(self.privacy) else _channels.default_privacy(self.notify[index])


@dataclass
class Directory:
    departments: dict[str, Department] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    source: str = FILENAME
    tree: Jurisdictions = field(default_factory=implicit_tree)

    def department(self, department_id: str) -> Department:
        try:
            return self.departments[department_id]
        except KeyError:
            raise KeyError(f'unknown department "{department_id}"') from None

    def person(self, person_id: str) -> Person:
        try:
            return self.people[person_id]
        except KeyError:
            raise KeyError(f'unknown person "{person_id}"') from None

    def department_name(self, department_id: str) -> str:
        d = self.departments.get(department_id)
        return d.name if d else department_id

    def people_for(self, department_id: str | None, role: str) -> list[Person]:
        """People holding `role` in the department. For `head`, the department's declared head comes first."""
        found = [
            p for p in self.people.values() if role in p.roles and (p.department or None) == (department_id or None)
        ]
        d = self.departments.get(department_id or "")
        if role == "head" and d and d.head and d.head in self.people:
            head = self.people[d.head]
            found = [head] + [p for p in found if p.id != head.id]
        return found

    def with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]

    def supervisors(self) -> list[Person]:
        return self.with_role("supervisor")

    def region_of(self, department_id: str | None) -> str:
        d = self.departments.get(department_id or "")
        return d.region if d else DEFAULT_REGION

    # ---- the jurisdictions tree
    def node_of(self, department_id: str | None) -> str | None:
        d = self.departments.get(department_id or "")
        return d.node if d else None

    def departments_in(self, node_id: str, *, deep: bool = True) -> list[str]:
        """The departments of `node_id` (and, `deep`, of every node below it), in file order."""
        nodes = set(self.tree.subtree(node_id)) if deep else {node_id}
        return [d.id for d in self.departments.values() if d.node in nodes]

    def people_over(self, department_id: str | None, role: str) -> list[Person]:
        """People holding a node-scoped `role` (supervisor, assessor, admin) whose node's subtree holds the
        department: a county's overdue item reaches its county's, city's and province's supervisors, never a
        neighbouring county's. No department (or one not in the directory): everyone with the role."""
        node = self.node_of(department_id)
        people = self.with_role(role)
        if node is None:
            return people
        return [p for p in people if p.node is None or self.tree.contains(p.node, node)]

    def person_node(self, person: Person) -> str:
        """The node whose subtree a person's supervisor/assessor/admin role covers (the root when not set)."""
        return person.node or self.tree.root.id


def _expand_env(url: str, where: str, env: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name not in env:
            raise DirectoryError(f'{where}: environment variable "{name}" is not set (used in a notify URL)')
        return env[name]

    return _ENV_REF.sub(repl, url)


def _channel_entry(item: str | dict, where: str) -> tuple[str, str | None]:
    """A notify entry: a URL string, or a table { url = "…", privacy = "group" | "personal" }."""
    if isinstance(item, str):
        return item, None
    unknown = set(item) - {"url", "privacy"}
    if unknown:
        raise DirectoryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: url, privacy)")
    url = _required(item, "url", where)
    declared = _require_str(item, "privacy", where, required=False)
    return url, declared


def _required(entry: dict, key: str, where: str) -> str:
    value = _require_str(entry, key, where)
    assert value is not None  # required=True raises instead of returning None
    return value


def _require_str(entry: dict, key: str, where: str, *, required: bool = True) -> str | None:
    if key not in entry:
        if required:
            raise DirectoryError(f'{where}: missing required key "{key}"')
        return None
    value = entry[key]
    if not isinstance(value, str):
        raise DirectoryError(f'{where}: "{key}" must be a string, got {type(value).__name__}')
    if required and not value.strip():
        raise DirectoryError(f'{where}: "{key}" must not be empty')
    return value


def _report_levels(entry: dict, where: str) -> tuple[str, ...]:
    levels = entry.get("annual_reports", ["department"])
    if not isinstance(levels, list) or any(lv not in REPORT_LEVELS for lv in levels):
        raise DirectoryError(f"{where}: annual_reports must be a list of {', '.join(REPORT_LEVELS)}")
    return tuple(levels)


def _go_live(entry: dict, where: str) -> date | None:
    value = entry.get("go_live")
    if value is None:
        return None
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise DirectoryError(f'{where}: "go_live" must be a date like 2026-12-01, got {value!r}')


def _entry_where(source: str, section: str, i: int, entry: dict, allowed: set[str]) -> str:
    """How errors name this entry (by id when it has one); rejects keys the section does not know."""
    eid = entry.get("id")
    where = f'{source}: {section} "{eid}"' if isinstance(eid, str) and eid else f"{source}: {section} #{i}"
    unknown = set(entry) - allowed
    if unknown:
        raise DirectoryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return where


def parse_directory(
    text: str, source: str = FILENAME, env: dict[str, str] | None = None, tree: Jurisdictions | None = None
) -> Directory:
    """Parse and validate the TOML text of a departments file against the jurisdictions tree (default: the
    config directory's jurisdictions.toml, or the one implicit node without it)."""
    env = environ() if env is None else env
    tree = load_jurisdictions() if tree is None else tree
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # message carries "(at line N, column M)"
        raise DirectoryError(f"{source}: malformed TOML: {e}") from None

    unknown_top = set(data) - {"department", "person"}
    if unknown_top:
        raise DirectoryError(f"{source}: unknown section(s) {', '.join(sorted(unknown_top))}")
    for section in ("department", "person"):
        if section in data and not isinstance(data[section], list):
            raise DirectoryError(f"{source}: [{section}] must be an array of tables: write [[{section}]]")

    directory = Directory(source=source, tree=tree)
    for i, entry in enumerate(data.get("department", []), start=1):
        if isinstance(entry, dict) and "parent" in entry:
            raise DirectoryError(
                f"{_entry_where(source, 'department', i, entry, _DEPT_KEYS | {'parent'})}: "
                '"parent" is replaced by "node": a department belongs to a node of config/jurisdictions.toml '
                "(its government's annual report covers the node's departments)"
            )
        where = _entry_where(source, "department", i, entry, _DEPT_KEYS)
        did = _required(entry, "id", where)
        name = _required(entry, "name", where)
        if did in directory.departments:
            raise DirectoryError(f'{where}: duplicate department id "{did}"')
        node = _require_str(entry, "node", where, required=False) or tree.root.id
        if node not in tree.nodes:
            raise DirectoryError(f'{where}: unknown node "{node}" (see {tree.source})')
        # The node decides the calendar; an explicit `region` may only name the node's own region (or, for a
        # department without `node`, any region: files from before jurisdictions).
        region = _require_str(entry, "region", where, required=False) or None
        node_region = tree.calendar_region(node)
        if region is not None and "node" in entry and region != node_region:
            raise DirectoryError(
                f'{where}: region "{region}" differs from the calendar of node "{node}" ("{node_region}"): '
                "the node decides the calendar; drop region or set the node's calendar in jurisdictions.toml"
            )
        directory.departments[did] = Department(
            id=did,
            name=name,
            region=region or node_region,
            head=_require_str(entry, "head", where, required=False) or None,
            short_name=_require_str(entry, "short_name", where, required=False) or "",
            annual_reports=_report_levels(entry, where),
            go_live=_go_live(entry, where),
            node=node,
        )
    # `parent`: the node's government unit, for every other department of the node.
    government: dict[str, str] = {}
    for d in directory.departments.values():
        if "government" in d.annual_reports:
            if d.node in government:
                raise DirectoryError(
                    f'{source}: department "{d.id}": node "{d.node}" already has "{government[d.node]}" compiling '
                    'its government report (annual_reports "government"): one unit per node'
                )
            government[d.node] = d.id
    for did, d in list(directory.departments.items()):
        gov = government.get(d.node)
        if gov and gov != did:
            directory.departments[did] = replace(d, parent=gov)

    for i, entry in enumerate(data.get("person", []), start=1):
        where = _entry_where(source, "person", i, entry, _PERSON_KEYS)
        pid = _required(entry, "id", where)
        name = _required(entry, "name", where)
        if pid in directory.people:
            raise DirectoryError(f'{where}: duplicate person id "{pid}"')
        dept = _require_str(entry, "department", where, required=False) or None
        if dept is not None and dept not in directory.departments:
            raise DirectoryError(f'{where}: unknown department "{dept}"')
        if "roles" not in entry:
            raise DirectoryError(f'{where}: missing required key "roles"')
        roles = entry["roles"]
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise DirectoryError(f'{where}: "roles" must be a non-empty list of strings')
        for role in roles:
            if role not in ROLES:
                raise DirectoryError(f'{where}: unknown role "{role}" (known: {", ".join(ROLES)})')
            if role in DEPARTMENT_ROLES and dept is None:
                raise DirectoryError(f'{where}: role "{role}" needs a department')
        pnode = _require_str(entry, "node", where, required=False) or None
        if pnode is not None:
            if pnode not in tree.nodes:
                raise DirectoryError(f'{where}: unknown node "{pnode}" (see {tree.source})')
            if not set(roles) & set(NODE_ROLES):
                raise DirectoryError(
                    f'{where}: "node" scopes the roles {", ".join(NODE_ROLES)}; this person has none of them'
                )
        notify = entry.get("notify", [])
        if isinstance(notify, str | dict):
            notify = [notify]
        if not isinstance(notify, list) or not all(isinstance(u, str | dict) for u in notify):
            raise DirectoryError(
                f'{where}: "notify" must be a list of URL strings or {{ url = "…", privacy = "group" }} tables'
            )
        urls, privacy = [], []
        for n, item in enumerate(notify, start=1):
            url, declared = _channel_entry(item, f"{where}: notify #{n}")
            url = _expand_env(url.strip(), where, env)
            if "://" not in url:
                raise DirectoryError(
                    f'{where}: notify URL "{url.split(":")[0]}…" has no scheme (like json:// or mailto://)'
                )
            if why := _channels.problem(url, declared or _channels.default_privacy(url)):
                raise DirectoryError(f"{where}: notify #{n}: {why}")
            urls.append(url)
            privacy.append(declared or _channels.default_privacy(url))
        directory.people[pid] = Person(
            id=pid,
            name=name,
            department=dept,
            roles=tuple(dict.fromkeys(roles)),
            notify=tuple(urls),
            title=_require_str(entry, "title", where, required=False) or "",
            privacy=tuple(privacy),
            oidc=_require_str(entry, "oidc", where, required=False) or None,
            node=pnode,
        )

    for d in directory.departments.values():
        if d.head is None:
            continue
        p = directory.people.get(d.head)
        if p is None:
            raise DirectoryError(f'{source}: department "{d.id}": head "{d.head}" is not a [[person]]')
        if p.department != d.id or "head" not in p.roles:
            raise DirectoryError(
                f'{source}: department "{d.id}": head "{d.head}" must belong to it and have the role "head"'
            )
    return directory


def load_directory(config_dir: Path | None = None, *, env: dict[str, str] | None = None) -> Directory:
    """Load `departments.toml` from the config directory (default: `domain.config.config_dir()`)."""
    base = Path(config_dir) if config_dir is not None else _config.config_dir()
    path = base / FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectoryError(f"{FILENAME}: not found in {base}") from None
    except UnicodeDecodeError as e:
        raise DirectoryError(f"{FILENAME}: not UTF-8: {e}") from None
    env = environ() if env is None else env
    tree = load_jurisdictions(base)
    # Every notice reads the directory: parse a given text and environment once (a burst of 600 notices
    # would otherwise parse the file 600 times). A changed file, variable or tree is a new key.
    key = (text, tuple(sorted((k, v) for k, v in env.items() if "${" + k + "}" in text)), id(tree))
    cached = _parsed.get(key)
    if cached is None:
        cached = parse_directory(text, source=FILENAME, env=env, tree=tree)
        if len(_parsed) > 8:
            _parsed.clear()
        _parsed[key] = cached
    return cached


_parsed: dict[tuple, Directory] = {}
