"""The directory (departments, people, roles, channels) kept in the store and edited on the admin page.

- `StoreDirectory`: the source registered with domain.engine by the composition roots; it re-reads the store
  when the directory's version changed (checked at most every CHECK_EVERY seconds), so a person added on the
  page is reminded by the worker without a restart. While the store was never seeded it returns None and the
  TOML file (config/departments.toml) is the directory.
- Seeding: `import_toml` (shixian directory import, the demo), or the first edit on the admin page.
- Every change is validated by domain.directory.parse_directory on the whole directory as TOML (the same
  rules as the file), so `export_toml` always gives a file the parser accepts: the round trip is lossless.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from domain import channels
from domain.config import ConfigError, config_dir, read_toml
from domain.directory import FILENAME, NODE_ROLES, ROLES, Directory, DirectoryError, parse_directory
from store import directory as store
from store.db import database_url, get_engine, session

log = logging.getLogger("shixian.directory")
CHECK_EVERY = 1.0  # seconds between two looks at the store's version
SOURCE = "人员名录（管理页面）"

_DEPT_ORDER = ("id", "name", "short_name", "node", "region", "head", "annual_reports", "go_live")
_PERSON_ORDER = ("id", "name", "department", "node", "title", "roles", "notify")


# ---------------------------------------------------------------------------------------------- TOML
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"not a TOML value: {value!r}")


def _entry_toml(section: str, entry: dict[str, Any], order: tuple[str, ...]) -> str:
    lines = [f"[[{section}]]"]
    for key in [*order, *sorted(set(entry) - set(order))]:
        if key not in entry or entry[key] is None:
            continue
        value = entry[key]
        if key == "go_live" and isinstance(value, str) and value:
            value = date.fromisoformat(value)  # a TOML date, as the file writes it
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines)


def to_toml(departments: list[dict[str, Any]], people: list[dict[str, Any]], header: str = "") -> str:
    parts = [header.rstrip()] if header else []
    parts += [_entry_toml("department", d, _DEPT_ORDER) for d in departments]
    parts += [_entry_toml("person", p, _PERSON_ORDER) for p in people]
    return "\n\n".join(parts) + "\n"


def entries_of_toml(text: str, source: str = FILENAME) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries of a departments file, validated (DirectoryError), as the store keeps them: the keys the
    file wrote, `go_live` as an ISO date, notify URLs with their ${NAME} references unexpanded."""
    parse_directory(text, source=source)
    data = tomllib.loads(text)

    def norm(entry: dict[str, Any]) -> dict[str, Any]:
        out = dict(entry)
        if isinstance(out.get("go_live"), date):
            out["go_live"] = out["go_live"].isoformat()
        if isinstance(out.get("notify"), str | dict):
            out["notify"] = [out["notify"]]
        if isinstance(out.get("roles"), str):
            out["roles"] = [out["roles"]]
        return out

    return [norm(d) for d in data.get("department", [])], [norm(p) for p in data.get("person", [])]


def build(departments: list[dict[str, Any]], people: list[dict[str, Any]]) -> Directory:
    """The Directory of store entries, validated as the file would be (DirectoryError)."""
    directory = parse_directory(to_toml(departments, people), source=SOURCE)
    return directory


# ---------------------------------------------------------------------------------------------- source
def _store_engine():
    """The store's engine if the store exists (a SQLite file not yet made is not created by a read)."""
    url = database_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).exists():
        return None
    return get_engine(url)


def _tree_signature() -> tuple:
    """config/jurisdictions.toml's size and mtime: the stored entries are validated against its tree, so an
    edited tree is a new directory even when the store did not change."""
    try:
        st = (config_dir() / "jurisdictions.toml").stat()
        return (st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        return (None, None)


class StoreDirectory:
    """Callable directory source for domain.engine.set_directory_source (see the module docstring).

    Fails closed: stored entries that stop parsing (an edited jurisdictions.toml, an entry from before an
    upgrade) keep the last good directory of this store in use and report why through
    domain.engine.config_problem(); with none yet, DirectoryError: never departments.toml instead, which
    lacks the scopes set on the admin page and could widen someone's."""

    def __init__(self, check_every: float = CHECK_EVERY) -> None:
        self.check_every = check_every
        self._lock = threading.Lock()
        self._key: tuple | None = None  # (database url, config dir, jurisdictions.toml) of the cached value
        self._version: int | None = None
        self._value: Directory | None = None
        self._checked = -math.inf  # never looked: monotonic time starts near 0 at boot
        self._problem: str | None = None

    def refresh(self) -> None:
        """Look at the store on the next call (after a change made by this process)."""
        with self._lock:
            self._checked = -math.inf

    def forget(self) -> None:
        """Drop the cached directory, as a freshly started process has none."""
        with self._lock:
            self._key, self._version, self._value, self._checked = None, None, None, -math.inf

    def _report(self, problem: str | None) -> None:
        from domain.engine import set_directory_problem

        if problem and problem != self._problem:
            log.error("%s", problem)
        self._problem = problem
        set_directory_problem(problem)

    def __call__(self) -> Directory | None:
        key = (database_url(), str(config_dir()), _tree_signature())
        now = time.monotonic()
        with self._lock:
            if key == self._key and now - self._checked < self.check_every:
                return self._value
            self._checked = now
            same_store = self._key is not None and key[:2] == self._key[:2]
            try:
                eng = _store_engine()
                if eng is None:
                    self._key, self._version, self._value = key, None, None
                    self._report(None)
                    return None
                with session(eng) as s:
                    v = store.version(s)
                    if key == self._key and v == self._version:
                        return self._value
                    found = store.entries(s) if store.is_seeded(s) else None
            except Exception as exc:  # the store unreachable: the last good directory (or the file) stays
                log.warning("directory store not readable: %s", exc)
                return self._value if same_store else None
            if found is None:
                self._key, self._version, self._value = key, v, None
                self._report(None)
                return None
            try:
                value = build(*found)
            except ConfigError as exc:
                if same_store and self._value is not None:
                    self._report(f"{SOURCE}与 config/jurisdictions.toml 不符或有误，继续使用上一版人员名录：{exc}")
                    self._key, self._version = key, v  # looked at again when the store or the tree changes
                    return self._value
                problem = f"{SOURCE}有误，未改用 departments.toml（以免扩大任何人的权限）：{exc}"
                self._report(problem)
                raise DirectoryError(problem) from None
            self._key, self._version, self._value = key, v, value
            self._report(None)
            return value


_source = StoreDirectory()


def register() -> None:
    """Serve the engine's directory from the store (the composition roots call this)."""
    from domain.engine import set_directory_source

    set_directory_source(_source)


def _changed() -> None:
    _source.refresh()


# ---------------------------------------------------------------------------------------------- reads
def file_text() -> str:
    path = config_dir() / FILENAME
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectoryError(f"{FILENAME}: not found in {config_dir()}") from None


def is_seeded() -> bool:
    with session() as s:
        return store.is_seeded(s)


def current_entries() -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(departments, people, from_store): the store's entries, or the file's while the store is empty."""
    with session() as s:
        if store.is_seeded(s):
            depts, people = store.entries(s)
            return depts, people, True
    depts, people = entries_of_toml(file_text())
    return depts, people, False


def export_toml(limit: str | None = None) -> str:
    """departments.toml text of the directory in use (parse_directory accepts it; secrets stay ${NAME});
    `limit`: an admin's node, whose subtree's departments and people alone are exported."""
    depts, people, from_store = scoped_entries(limit)
    if not from_store and _is_top(limit):
        return file_text()
    header = (
        "# 人员名录：由时限管理页面导出（shixian directory export）。可作为 config/departments.toml 使用，\n"
        "# 或用 shixian directory import 导入。字段说明见仓库中的 config/departments.toml。"
    )
    return to_toml(depts, people, header)


def history(limit: int = 200, object: str | None = None) -> list[store.DirectoryChange]:
    with session() as s:
        return store.changes(s, limit, object)


def version() -> int:
    with session() as s:
        return store.version(s)


def node_tree():
    """The jurisdictions tree the department form's 所属地区 offers (config/jurisdictions.toml)."""
    from domain.jurisdictions import load_jurisdictions

    return load_jurisdictions(config_dir())


def region_names() -> dict[str, str]:
    """Region id -> Chinese name (config/regions.toml), 全国 first."""
    names = {"national": "全国（国家法定节假日）"}
    try:
        raw = read_toml(config_dir() / "regions.toml")
    except (ConfigError, FileNotFoundError):
        raw = {}
    for region, data in raw.items():
        if isinstance(data, dict) and region != "national":  # [national]: the notice rhythm only
            names[region] = str(data.get("name") or region)
    try:
        from domain.engine import engine

        for region in sorted(engine().calendar.regions):
            names.setdefault(region, region)
    except ConfigError:
        pass
    return names


# ---------------------------------------------------------------------------------------------- writes
class FormError(ValueError):
    """A form refused: `errors` maps each field to its Chinese reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def import_toml(text: str, by: str, source: str = FILENAME) -> store.DirectoryChange:
    """Replace the store's directory by a departments file (validated first). DirectoryError if invalid."""
    depts, people = entries_of_toml(text, source)
    with session() as s:
        change = store.replace_all(s, depts, people, by, source)
    _changed()
    return change


def _seeded(by: str) -> None:
    """The first edit seeds the store from the TOML file."""
    with session() as s:
        if store.is_seeded(s):
            return
    import_toml(file_text(), by, f"{FILENAME}（首次编辑时导入）")


def _validate_whole(depts: list[dict[str, Any]], people: list[dict[str, Any]], field: str) -> None:
    try:
        build(depts, people)
    except DirectoryError as exc:
        raise FormError({field: f"名录校验未通过：{exc}"}) from None


def _outside(limit: str | None, node: str | None) -> bool:
    """`node` (None: the root's) lies outside the admin's node `limit` (None or the root: the whole tree)."""
    tree = node_tree()
    if limit is None or limit == tree.root.id:
        return False
    return limit not in tree.nodes or not tree.contains(limit, node or tree.root.id)


def _limit_text(limit: str | None) -> str:
    return f"管理员的权限限于{node_tree().name(limit)}及其下级单位"


def _is_top(limit: str | None) -> bool:
    return limit is None or limit == node_tree().root.id


def person_reach(p: dict[str, Any], dnodes: dict[str, str | None]) -> list[str | None]:
    """The nodes a person's entry reaches (None: the root): their department's node, and for a supervisor's,
    assessor's or admin's role its node (no node: the whole tree). An admin may manage the person only when
    every one lies in the admin's subtree: a department inside does not make a province-wide role inside."""
    reach: list[str | None] = []
    if p.get("department"):
        reach.append(dnodes.get(p["department"]))  # a department not listed: the root's, i.e. outside
    if any(r in NODE_ROLES for r in p.get("roles") or []) or not p.get("department"):
        reach.append(p.get("node") or None)
    return reach


def _dnodes(depts: list[dict[str, Any]]) -> dict[str, str | None]:
    return {d["id"]: d.get("node") or None for d in depts}


def _first_outside(limit: str | None, nodes: list[str | None]) -> str | None:
    """The first of `nodes` outside `limit` (the root's id for None), or None when all lie inside."""
    tree = node_tree()
    return next(((n or tree.root.id) for n in nodes if _outside(limit, n)), None)


def require_department(department_id: str, limit: str | None) -> dict[str, Any]:
    """The entry of a department an admin confined to `limit` opens or acts on: 404 unknown, 403 (naming
    the node) outside the admin's subtree. The one check of every per-department admin route."""
    from services.access import ApiError, forbidden

    d = department_entry(department_id)
    if d is None:
        raise ApiError(404, "not_found", f"没有部门“{department_id}”")
    if (node := _first_outside(limit, [d.get("node") or None])) is not None:
        raise forbidden(f"无权管理部门“{d['name']}”：{_limit_text(limit)}，该部门属于{node_tree().name(node)}")
    return d


def require_person(person_id: str, limit: str | None) -> dict[str, Any]:
    """The entry of a person an admin confined to `limit` opens or acts on (form, invite, test message,
    disable): 404 unknown, 403 (naming the node) when the person reaches outside the admin's subtree."""
    from services.access import ApiError, forbidden

    depts, people, _ = current_entries()
    p = next((p for p in people if p["id"] == person_id), None)
    if p is None:
        raise ApiError(404, "not_found", f"没有人员“{person_id}”")
    if (node := _first_outside(limit, person_reach(p, _dnodes(depts)))) is not None:
        raise forbidden(f"无权管理人员“{p['name']}”：{_limit_text(limit)}，此人属于{node_tree().name(node)}")
    return p


def scoped_entries(limit: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """current_entries() confined to the admin's subtree (`limit`; None or the root: all)."""
    depts, people, from_store = current_entries()
    if _is_top(limit):
        return depts, people, from_store
    dnodes = _dnodes(depts)
    depts = [d for d in depts if not _outside(limit, d.get("node") or None)]
    people = [p for p in people if _first_outside(limit, person_reach(p, dnodes)) is None]
    return depts, people, from_store


def save_department(form: dict[str, str], by: str, *, new: bool, limit: str | None = None) -> str:
    """Create or edit a department from the form (名称, 简称, 日历地区, 上级单位, 上线日期, 负责人). Returns its id."""
    _seeded(by)
    depts, people, _ = current_entries()
    ids = {d["id"] for d in depts}
    errors: dict[str, str] = {}
    did = (form.get("id") or "").strip()
    if new:
        if not did:
            did = _new_id("dept", ids)
        elif not _ID_OK(did):
            errors["id"] = "部门编号只能包含小写字母、数字和 -，如 qz-sfj"
        elif did in ids:
            errors["id"] = f"部门编号“{did}”已被使用"
    elif did not in ids:
        raise FormError({"id": f"没有部门“{did}”"})
    old = next((d for d in depts if d["id"] == did), {})
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = "请填写名称"
    region = (form.get("region") or "national").strip()
    if region not in region_names():
        errors["region"] = "请从列表中选择日历地区"
    tree = node_tree()
    node = (form.get("node") or old.get("node") or tree.root.id).strip()
    if node not in tree.nodes:
        errors["node"] = "请从列表中选择所属地区（config/jurisdictions.toml）"
    elif _outside(limit, node) or (old and _outside(limit, old.get("node"))):
        errors["node"] = f"{_limit_text(limit)}：不能在其他地区新增或修改部门"
    elif region != tree.calendar_region(node) and "region" in form and not errors.get("region"):
        errors["region"] = (
            f"日历地区由所属地区决定：{tree.name(node)}使用“{region_names().get(tree.calendar_region(node), tree.calendar_region(node))}”"
        )
    go_live = (form.get("go_live") or "").strip() or None
    if go_live is not None:
        try:
            go_live = date.fromisoformat(go_live).isoformat()
        except ValueError:
            errors["go_live"] = "上线日期格式应为 2026-12-01"
    head = (form.get("head") or "").strip() or None
    if head is not None:
        p = next((p for p in people if p["id"] == head), None)
        if p is None or p.get("department") != did or "head" not in (p.get("roles") or []):
            errors["head"] = "负责人须是本部门中角色为“部门负责人”的人员"
    if errors:
        raise FormError(errors)
    entry: dict[str, Any] = {"id": did, "name": name}
    if (short := (form.get("short_name") or "").strip()) or old.get("short_name"):
        entry["short_name"] = short
    entry["node"] = node  # the node decides the calendar region and the government unit above (parent)
    if head:
        entry["head"] = head
    if "annual_reports" in old:
        entry["annual_reports"] = old["annual_reports"]
    if go_live:
        entry["go_live"] = go_live
    after = [entry if d["id"] == did else d for d in depts] if not new else [*depts, entry]
    _validate_whole(after, people, "name")
    with session() as s:
        store.put_department(s, entry, by)
    _changed()
    return did


def _ID_OK(value: str) -> bool:
    import re

    return bool(re.fullmatch(r"[a-z0-9][a-z0-9\-_.]{1,62}", value))


def _new_id(prefix: str, taken: set[str]) -> str:
    import secrets

    while True:
        candidate = f"{prefix}-{secrets.token_hex(3)}"
        if candidate not in taken:
            return candidate


def sms_ready() -> dict[str, bool]:
    """Which SMS form kinds have their provider keys set (the page says so before a phone is added)."""
    from domain.settings import get_settings

    st = get_settings()
    return {
        "sms_aliyun": bool(st.sms_aliyun_access_key_id and st.sms_aliyun_access_key_secret.get_secret_value()),
        "sms_tencent": bool(
            st.sms_tencent_secret_id and st.sms_tencent_secret_key.get_secret_value() and st.sms_tencent_sdk_app_id
        ),
    }


def sms_quiet_text() -> str:
    """The SMS quiet hours as the page says them ("" when there are none): the sms kind's in channels.toml,
    or SHIXIAN_SMS_QUIET_HOURS in place of it, as the sending path reads them (engine().channels)."""
    from domain.channel_policy import SMS_SCHEMES
    from domain.engine import engine

    quiet = engine().channels.for_scheme(SMS_SCHEMES[0]).quiet_hours
    return quiet.text() if quiet else ""


def smtp_settings() -> dict[str, str]:
    from domain.settings import environ, get_settings

    st = get_settings()
    return {
        "host": st.smtp_host,
        "user": st.smtp_user,
        "from": st.smtp_from,
        "mode": st.smtp_mode,
        "password_var": "SHIXIAN_SMTP_PASSWORD" if environ().get("SHIXIAN_SMTP_PASSWORD") else "",
    }


def save_person(form: dict[str, str], by: str, *, new: bool, limit: str | None = None) -> str:
    """Create or edit a person from the form (姓名, 登录名 once, 所属部门, 角色, 渠道). Returns the id.

    Channels: `drop_<i>` removes the i-th existing one; `channel_kind` + its fields (`ch_<kind>_<field>`,
    domain.channels.FORM_FIELDS) and `channel_privacy` add one."""
    _seeded(by)
    depts, people, _ = current_entries()
    ids = {p["id"] for p in people}
    errors: dict[str, str] = {}
    pid = (form.get("id") or "").strip()
    if new:
        if not pid:
            pid = _new_id("person", ids)
        elif not _ID_OK(pid):
            errors["id"] = "登录名只能包含小写字母、数字和 - _ .（3 至 63 个字符），如 liaison-sfj"
        elif pid in ids:
            errors["id"] = f"登录名“{pid}”已被使用"
    elif pid not in ids:
        raise FormError({"id": f"没有人员“{pid}”"})
    old = next((p for p in people if p["id"] == pid), {})
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = "请填写姓名"
    dept = (form.get("department") or "").strip() or None
    if dept is not None and dept not in {d["id"] for d in depts}:
        errors["department"] = "请从列表中选择所属部门"
    roles = [r for r in ROLES if form.get(f"role_{r}")]
    tree = node_tree()
    # kept when the form does not send it (a form from before jurisdictions)
    pnode = (str(form["node"]) if "node" in form else (old.get("node") or "")).strip() or None
    if pnode is not None and pnode not in tree.nodes:
        errors["node"] = "请从列表中选择所辖地区（config/jurisdictions.toml）"
    elif pnode is not None and not any(r in NODE_ROLES for r in roles):
        errors["node"] = "所辖地区只适用于督查、考评和管理员角色"

    # Both the department's node and the role's node must lie in a scoped admin's subtree, before and after
    # the change: a department inside does not make a province-wide supervisor or admin inside.
    reach = _dnodes(depts)
    if old and _first_outside(limit, person_reach(old, reach)) is not None:
        errors["department"] = f"{_limit_text(limit)}：不能修改其他地区的人员"
    elif dept is not None and dept in reach and _outside(limit, reach[dept]):
        errors["department"] = f"{_limit_text(limit)}：不能把人员放到其他地区的部门"
    elif not _is_top(limit) and pnode is None and any(r in NODE_ROLES for r in roles):
        # an empty node is the whole tree: refused, never read as the admin's own node behind their back
        errors["node"] = (
            f"{_limit_text(limit)}：督查、考评和管理员角色须选择所辖地区（{node_tree().name(limit)}或其下级）"
        )
    elif pnode is not None and pnode in tree.nodes and _outside(limit, pnode):
        errors["node"] = f"{_limit_text(limit)}：所辖地区不能是{tree.name(pnode)}"
    if not roles:
        errors["roles"] = "请至少选择一个角色"
    elif dept is None and any(r in ("liaison", "head") for r in roles):
        errors["roles"] = "联络员和部门负责人须选择所属部门"
    for d in depts:  # the file's rule (a head belongs to the department and has the role), in the form's words
        if d.get("head") == pid and pid and (dept != d["id"] or "head" not in roles) and "roles" not in errors:
            errors["roles"] = (
                f"此人是“{d['name']}”的负责人：须属于该部门并保留“部门负责人”角色，或先在部门页面更换负责人"
            )
    notify = list(old.get("notify") or [])
    drop = {i for i in range(len(notify)) if form.get(f"drop_{i}")}
    notify = [n for i, n in enumerate(notify) if i not in drop]
    kind = (form.get("channel_kind") or "").strip()
    if kind:
        names = [f for f, _, _ in channels.FORM_FIELDS.get(kind, ())]
        fields = {f: form.get(f"ch_{kind}_{f}", "") for f in names}
        try:
            url = channels.build_url(kind, fields, smtp_settings())
        except channels.ChannelFormError as exc:
            errors["channel_kind" if exc.field == "kind" else f"ch_{kind}_{exc.field}"] = str(exc)
        else:
            privacy = (form.get("channel_privacy") or "").strip() or channels.default_privacy(url)
            if why := channels.problem(url, privacy):
                errors["channel_privacy"] = why
            else:
                notify.append({"url": url, "privacy": privacy})
    if errors:
        raise FormError(errors)
    entry: dict[str, Any] = {"id": pid, "name": name, "department": dept or "", "roles": roles}
    if pnode is not None:
        entry["node"] = pnode
    if (title := (form.get("title") or "").strip()) or old.get("title"):
        entry["title"] = title
    if notify:
        entry["notify"] = notify
    after = [entry if p["id"] == pid else p for p in people] if not new else [*people, entry]
    # a department whose head is no longer its head: refused with the department named
    _validate_whole(depts, after, "roles")
    with session() as s:
        store.put_person(s, entry, by)
    _changed()
    return pid


def channel_rows(person_id: str) -> list[dict[str, Any]]:
    """The person's channels for the page: kind in Chinese, masked address, privacy (no secret shown)."""
    _, people, _ = current_entries()
    p = next((p for p in people if p["id"] == person_id), None)
    rows = []
    for i, n in enumerate((p or {}).get("notify") or []):
        url = n if isinstance(n, str) else n.get("url", "")
        privacy = (n.get("privacy") if isinstance(n, dict) else None) or channels.default_privacy(url)
        kind, _ = channels.parse_url(url)
        rows.append(
            {
                "index": i,
                "kind": channels.FORM_KINDS.get(kind or "", channels.kind_of(url)),
                "address": _address(url),
                "privacy": channels.PRIVACY_NAMES.get(privacy, privacy),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- page views
def _shown(key: str, value: Any, names: dict[str, str]) -> str:
    from domain import labels

    if value in (None, "", []):
        return "（空）"
    if key == "roles":
        return "、".join(labels.ROLES.get(r, r) for r in value)
    if key == "notify":
        urls = [n if isinstance(n, str) else n.get("url", "") for n in value]
        return "；".join(f"{channels.form_kind_name(u)} {_address(u)}" for u in urls)
    if key == "region":
        return region_names().get(value, value)
    if key == "node":
        return node_tree().name(value)
    if key in ("parent", "department", "head"):
        return names.get(value, value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _address(url: str) -> str:
    """A channel as a person reads it: the e-mail or webhook address, else the masked URL."""
    from domain.secrets import mask_url

    kind, fields = channels.parse_url(url)
    if kind == "email":
        return fields["address"]
    if kind == "webhook":
        return mask_url(fields["address"])
    if kind in channels.SMS_FORM_SCHEMES:  # a staff member's phone: its last digits are enough to recognise it
        from domain.sms import mask_phone

        return mask_phone(fields["phone"])
    return mask_url(url)


def history_rows(limit: int = 100, *, scope: str | None = None, object: str | None = None) -> list[dict[str, Any]]:
    """The history for the page: when (Beijing time), who, what, and the fields before → after. `scope`: an
    admin's node: only the changes of the departments and people of its subtree (no whole-directory
    import); `object`: one department's or person's."""
    from domain import labels
    from domain.shanghai import SHANGHAI

    depts, people, _ = current_entries()
    names = {d["id"]: d["name"] for d in depts} | {p["id"]: p["name"] for p in people}
    mine = None
    if not _is_top(scope):
        sd, sp, _ = scoped_entries(scope)
        mine = {d["id"] for d in sd} | {p["id"] for p in sp}
    rows = []
    for c in history(limit, object):
        if mine is not None and (c.kind == "import" or c.object not in mine):
            continue  # another area's change (or one of the whole directory): not this admin's to read
        if c.kind == "import":
            after = c.after or {}
            diff = [f"导入 {after.get('department', 0)} 个部门、{after.get('person', 0)} 名人员（来源：{c.object}）"]
        else:
            before, after = c.before or {}, c.after or {}
            diff = [
                f"{labels.DIRECTORY_FIELDS.get(k, k)}：{_shown(k, before.get(k), names)} → {_shown(k, after.get(k), names)}"
                for k in [*labels.DIRECTORY_FIELDS, *sorted(set(before) | set(after))]
                if k in (set(before) | set(after)) and before.get(k) != after.get(k)
            ]
            diff = list(dict.fromkeys(diff))
        rows.append(
            {
                "id": c.id,
                "at": c.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                "by": names.get(c.by, c.by),
                "by_id": c.by,
                "kind": labels.DIRECTORY_CHANGE_KINDS.get(c.kind, c.kind),
                "action": labels.DIRECTORY_ACTIONS.get(c.action, c.action),
                "object": names.get(c.object, c.object),
                "object_id": c.object,
                "diff": diff,
            }
        )
    return rows


def overview(limit: str | None = None) -> dict[str, Any]:
    """The admin page's lists: departments and people with Chinese names, account states, version; `limit`:
    the admin's node, whose subtree's departments and people alone are listed."""
    from domain import labels
    from services.accounts import account_states

    depts, people, from_store = scoped_entries(limit)
    regions = region_names()
    dnames = {d["id"]: d["name"] for d in depts}
    pnames = {p["id"]: p["name"] for p in people}
    states = account_states([p["id"] for p in people])
    return {
        "from_store": from_store,
        "version": version(),
        "departments": [
            {
                **d,
                "region_name": regions.get(d.get("region") or "national", d.get("region")),
                "parent_name": node_tree().name(d.get("node") or node_tree().root.id),
                "head_name": pnames.get(d.get("head") or "", ""),
                "people": sum(1 for p in people if p.get("department") == d["id"]),
            }
            for d in depts
        ],
        "people": [
            {
                **p,
                "department_name": dnames.get(p.get("department") or "", "（全市）"),
                "role_names": "、".join(labels.ROLES.get(r, r) for r in p.get("roles") or []),
                "channels": len(p.get("notify") or []),
                "state": states.get(p["id"], "none"),
            }
            for p in people
        ],
    }


def department_entry(department_id: str) -> dict[str, Any] | None:
    depts, _, _ = current_entries()
    return next((d for d in depts if d["id"] == department_id), None)


def person_entry(person_id: str) -> dict[str, Any] | None:
    _, people, _ = current_entries()
    return next((p for p in people if p["id"] == person_id), None)


def choices(limit: str | None = None) -> dict[str, Any]:
    """What the forms offer: departments, regions, the heads of each department, roles, channel kinds;
    `limit`: an admin's node, whose subtree's departments and nodes alone are offered."""
    from domain import labels

    depts, people, _ = scoped_entries(limit)
    tree = node_tree()
    # an admin whose node left the tree is offered no node (their saves are refused anyway)
    top = tree.root.id if _is_top(limit) else limit if limit in tree.nodes else None
    return {
        "departments": {d["id"]: d["name"] for d in depts},
        "regions": region_names(),
        "nodes": {
            n.id: ("　" * (n.level_index - tree.nodes[top or tree.root.id].level_index)) + n.name
            for n in (tree.nodes[i] for i in (tree.subtree(top) if top else []))
        },
        "heads": {
            d["id"]: {p["id"]: p["name"] for p in people if p.get("department") == d["id"] and "head" in p["roles"]}
            for d in depts
        },
        "roles": {r: labels.ROLES[r] for r in ROLES},
        "kinds": channels.FORM_KINDS,
        "fields": channels.FORM_FIELDS,
        "privacy": channels.PRIVACY_NAMES,
        "smtp_ready": bool(smtp_settings()["host"]),
        "sms_ready": sms_ready(),
        "sms_quiet": sms_quiet_text(),
    }
