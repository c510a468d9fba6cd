"""Jurisdictions: the tree of governments from province to county (config/jurisdictions.toml).

Each node is one level of government (省级, 地级, 县级) with its name, 行政区划代码 and calendar region;
departments belong to one node (departments.toml `node`). A node's calendar is its own `calendar` region or,
without one, its parent's: a county in 凉山州 works on the prefecture's overlay, which sits on Sichuan's and the
national arrangement (domain/calendar.py resolves the overlay chain of a region).

Pure: parsing and tree walks only. Without the file the tree is one implicit node holding every department,
as a single city's installation was before jurisdictions existed.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from domain import config as _config

FILENAME = "jurisdictions.toml"
LEVELS = ("province", "city", "county")  # 省级 · 地级（市、州、盟）· 县级（县、区、县级市、旗）
IMPLICIT_ROOT = "local"
NATIONAL = "national"
_CODE = re.compile(r"^\d{6}$")
_NODE_KEYS = {"id", "name", "short_name", "code", "level", "parent", "calendar", "deadline"}
_DEADLINE_KEYS = {"id", "name", "rule", "applies_to", "levels", "month", "day", "source", "quote"}
APPLIES_TO = ("subtree", "own", "below")  # the node and every node below · its own departments · the nodes below


class JurisdictionError(_config.ConfigError):
    """jurisdictions.toml is malformed or inconsistent; the message names the file and the node."""


@dataclass(frozen=True)
class Deadline:
    """An internal pre-deadline a node sets ahead of a statutory rule (内部时限, `[[node.deadline]]`): e.g. a city
    wants its departments' annual reports by 01-26, before the statutory 01-31. It becomes an extra rule
    (domain/rules.py `internal_rules`) for the items of the departments it covers: same start and met_by
    events as `rule`, its own fixed date; shown on the board, scored only where a scheme weights it."""

    id: str
    name: str
    rule: str  # the statutory rule (rules.toml) it precedes
    month: int
    day: int
    source: str
    quote: str = ""
    applies_to: str = "subtree"  # APPLIES_TO
    levels: tuple[str, ...] = ()  # only nodes of these levels (empty: any)


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    level: str
    code: str = ""  # 行政区划代码 (GB/T 2260), six digits
    parent: str | None = None
    calendar: str | None = None  # the node's own calendar region; None: its parent's
    short_name: str = ""
    deadlines: tuple[Deadline, ...] = ()  # internal pre-deadlines for the departments this node watches

    @property
    def level_index(self) -> int:
        return LEVELS.index(self.level)


@dataclass
class Jurisdictions:
    nodes: dict[str, Node] = field(default_factory=dict)
    source: str = FILENAME
    implicit: bool = False
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _subtree: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self._children = {nid: [] for nid in self.nodes}
        for n in self.nodes.values():
            if n.parent is not None:
                self._children[n.parent].append(n.id)
        self._subtree = {}

    # ------------------------------------------------------------------ lookups
    @property
    def root(self) -> Node:
        return next(n for n in self.nodes.values() if n.parent is None)

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f'unknown node "{node_id}"') from None

    def name(self, node_id: str | None) -> str:
        n = self.nodes.get(node_id or "")
        return n.name if n else (node_id or "")

    def children(self, node_id: str) -> list[Node]:
        """The nodes directly below, in file order."""
        return [self.nodes[c] for c in self._children.get(node_id, [])]

    def ancestors(self, node_id: str) -> list[Node]:
        """The path from the root down to `node_id`, both included."""
        path: list[Node] = []
        cur: str | None = node_id
        while cur is not None:
            n = self.nodes[cur]
            path.append(n)
            cur = n.parent
        return path[::-1]

    def subtree(self, node_id: str) -> tuple[str, ...]:
        """`node_id` and every node below it (preorder)."""
        cached = self._subtree.get(node_id)
        if cached is None:
            out, stack = [], [node_id]
            while stack:
                cur = stack.pop()
                out.append(cur)
                stack.extend(reversed(self._children.get(cur, [])))
            cached = self._subtree[node_id] = tuple(out)
        return cached

    def contains(self, ancestor: str, node_id: str) -> bool:
        """`node_id` is `ancestor` or lies below it."""
        cur: str | None = node_id
        while cur is not None:
            if cur == ancestor:
                return True
            cur = self.nodes[cur].parent if cur in self.nodes else None
        return False

    def child_towards(self, ancestor: str, node_id: str) -> str | None:
        """The child of `ancestor` on the way down to `node_id` (None: `node_id` is `ancestor` or not below it):
        the column a department's figures roll up into on its ancestor's board."""
        cur: str | None = node_id
        while cur is not None:
            parent = self.nodes[cur].parent if cur in self.nodes else None
            if parent == ancestor:
                return cur
            cur = parent
        return None

    def calendar_region(self, node_id: str) -> str:
        """The calendar region a node's departments work on: its own, else the nearest ancestor's, else national."""
        for n in reversed(self.ancestors(node_id)):
            if n.calendar:
                return n.calendar
        return NATIONAL

    def deadline_nodes(self, node_id: str, d: Deadline) -> frozenset[str]:
        """The nodes whose departments a deadline of `node_id` applies to."""
        if d.applies_to == "own":
            nodes: tuple[str, ...] = (node_id,)
        elif d.applies_to == "below":
            nodes = self.subtree(node_id)[1:]
        else:
            nodes = self.subtree(node_id)
        return frozenset(n for n in nodes if not d.levels or self.nodes[n].level in d.levels)

    def deadlines(self) -> list[tuple[Node, Deadline]]:
        """Every internal pre-deadline of the tree, in file order."""
        return [(n, d) for n in self.nodes.values() for d in n.deadlines]


def implicit_tree() -> Jurisdictions:
    """A directory without jurisdictions.toml: one node holding every department."""
    return Jurisdictions({IMPLICIT_ROOT: Node(IMPLICIT_ROOT, "本级", "city")}, source=FILENAME, implicit=True)


def parse_jurisdictions(text: str, source: str = FILENAME) -> Jurisdictions:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise JurisdictionError(f"{source}: TOML 格式错误：{e}") from None
    unknown = set(data) - {"node"}
    if unknown:
        raise JurisdictionError(f"{source}: 未知的顶层键 {', '.join(sorted(unknown))}（只允许 [[node]]）")
    raw = data.get("node", [])
    if not isinstance(raw, list) or not raw:
        raise JurisdictionError(f"{source}: 至少需要一个 [[node]]（行政区划节点）")
    nodes: dict[str, Node] = {}
    codes: dict[str, str] = {}
    for i, entry in enumerate(raw, start=1):
        nid = entry.get("id") if isinstance(entry, dict) else None
        where = f'{source}: node "{nid}"' if isinstance(nid, str) and nid else f"{source}: 第{i}个 node"
        if not isinstance(entry, dict):
            raise JurisdictionError(f"{where}: 必须是表（[[node]]）")
        bad = set(entry) - _NODE_KEYS
        if bad:
            raise JurisdictionError(
                f"{where}: 未知的键 {', '.join(sorted(bad))}（允许：{', '.join(sorted(_NODE_KEYS))}）"
            )
        values: dict[str, str | None] = {}
        for key in _NODE_KEYS - {"deadline"}:
            v = entry.get(key)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise JurisdictionError(f"{where}: {key} 必须是非空字符串")
            values[key] = v.strip() if isinstance(v, str) else None
        for key in ("id", "name", "level"):
            if not values[key]:
                raise JurisdictionError(f"{where}: 缺少 {key}")
        assert values["id"] and values["name"] and values["level"]
        if values["id"] in nodes:
            raise JurisdictionError(f'{where}: id "{values["id"]}" 重复')
        if values["level"] not in LEVELS:
            raise JurisdictionError(f"{where}: level “{values['level']}” 无效（允许：{'、'.join(LEVELS)}）")
        code = values["code"] or ""
        if code:
            if not _CODE.match(code):
                raise JurisdictionError(f"{where}: code “{code}” 不是6位行政区划代码")
            if code in codes:
                raise JurisdictionError(f"{where}: 行政区划代码 {code} 与 node “{codes[code]}” 重复")
            codes[code] = values["id"]
        nodes[values["id"]] = Node(
            id=values["id"],
            name=values["name"],
            level=values["level"],
            code=code,
            parent=values["parent"],
            calendar=values["calendar"],
            short_name=values["short_name"] or "",
            deadlines=_deadlines(entry.get("deadline", []), where),
        )
    roots = [n for n in nodes.values() if n.parent is None]
    if len(roots) != 1:
        names = "、".join(n.id for n in roots) or "无"
        raise JurisdictionError(f"{source}: 必须恰有一个顶层节点（没有 parent 的 node），现有：{names}")
    for n in nodes.values():
        if n.parent is None:
            continue
        where = f'{source}: node "{n.id}"'
        parent = nodes.get(n.parent)
        if parent is None:
            raise JurisdictionError(f"{where}: 上级节点 “{n.parent}” 不存在")
        if parent.level_index >= n.level_index:
            raise JurisdictionError(
                f"{where}: 级别 {n.level} 不低于上级节点 “{parent.id}” 的级别 {parent.level}（省级 → 地级 → 县级）"
            )
    # Levels strictly decrease downwards, so a cycle cannot pass the check above; a node unreachable from
    # the root can't exist either (its chain of parents would have to cycle).
    return Jurisdictions(nodes, source=source)


def _deadlines(raw: object, where: str) -> tuple[Deadline, ...]:
    if not isinstance(raw, list):
        raise JurisdictionError(f"{where}: deadline 必须是表数组（[[node.deadline]]）")
    out: list[Deadline] = []
    for i, d in enumerate(raw, start=1):
        dw = f"{where} 第{i}个 deadline"
        if not isinstance(d, dict):
            raise JurisdictionError(f"{dw}: 必须是表")
        bad = set(d) - _DEADLINE_KEYS
        if bad:
            raise JurisdictionError(
                f"{dw}: 未知的键 {', '.join(sorted(bad))}（允许：{', '.join(sorted(_DEADLINE_KEYS))}）"
            )
        for key in ("id", "name", "rule", "source"):
            if not isinstance(d.get(key), str) or not d[key].strip():
                raise JurisdictionError(f"{dw}: 缺少 {key}（非空字符串）")
        if not re.fullmatch(r"[a-z0-9_]+", d["id"]):
            raise JurisdictionError(f"{dw}: id “{d['id']}” 只能含小写字母、数字和下划线")
        month, day = d.get("month"), d.get("day")
        try:
            if not isinstance(month, int) or not isinstance(day, int):
                raise ValueError
            _dt.date(2000, month, day)
        except ValueError:
            raise JurisdictionError(f"{dw}: 需要有效的 month 与 day（如 month = 1, day = 26）") from None
        applies = d.get("applies_to", "subtree")
        if applies not in APPLIES_TO:
            raise JurisdictionError(f"{dw}: applies_to “{applies}” 无效（允许：{'、'.join(APPLIES_TO)}）")
        levels = d.get("levels", [])
        if not isinstance(levels, list) or any(lv not in LEVELS for lv in levels):
            raise JurisdictionError(f"{dw}: levels 必须是级别列表（{'、'.join(LEVELS)}）")
        if any(x.id == d["id"] for x in out):
            raise JurisdictionError(f"{dw}: id “{d['id']}” 重复")
        out.append(
            Deadline(
                id=d["id"],
                name=d["name"].strip(),
                rule=d["rule"].strip(),
                month=month,
                day=day,
                source=d["source"].strip(),
                quote=str(d.get("quote", "")).strip(),
                applies_to=applies,
                levels=tuple(levels),
            )
        )
    return tuple(out)


def load_jurisdictions(config_dir: Path | None = None) -> Jurisdictions:
    base = Path(config_dir) if config_dir is not None else _config.config_dir()
    path = base / FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return implicit_tree()
    except UnicodeDecodeError as e:
        raise JurisdictionError(f"{FILENAME}: 不是 UTF-8 编码：{e}") from None
    cached = _parsed.get(text)
    if cached is None:
        cached = parse_jurisdictions(text)
        _parsed.clear()
        _parsed[text] = cached
    return cached


_parsed: dict[str, Jurisdictions] = {}
