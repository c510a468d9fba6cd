"""Roll-ups of a jurisdiction node (issue 20 §1): per department figures of the node's subtree read once from
the store, added up the tree by domain/rollup.py; the board's and the scores page's roll-up tables, the
compare-children view and its xlsx, and the API answers (/api/nodes...).

Which node a principal may ask for: `node_scope`, services.access.read_scope's rule (the principal's own
node and everything below it; an unknown node is 404, one outside is 403). The store reads take the subtree's
department set (store/scope.py `Departments`; `_subtree_filter`: none for every department).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.engine import engine
from domain.rollup import Figures, NodeRollup, RollupRow, roll_up
from domain.rules import is_internal
from domain.scoring import Period, ScoreResult
from services.access import ApiError, Principal, forbidden
from store.scope import Departments

__all__ = [
    "NodeInfo",
    "NodeList",
    "NodeRollupView",
    "compare_rows",
    "department_figures",
    "node_list",
    "node_rollup",
    "node_scope",
    "rollup_view",
]

READERS = ("supervisor", "admin", "assessor", "local")


# ---------------------------------------------------------------------------------- which node


def _tree():
    return engine().directory.tree


def node_scope(who: Principal, node: str | None, what: str = "查看汇总") -> str:
    """The node `who` reads for `node` (None: their own node, else the root): services.access.read_scope's
    rule (404 unknown, 403 outside the principal's subtree); a liaison, confined to a department, is refused."""
    from services.access import read_scope

    if who.write_scope is not None:
        raise forbidden(f"无权{what}：联络员只能查看本部门的数据")
    sc = read_scope(who, node=node or None, what=what, roles=READERS)
    return sc.node or _tree().root.id


def node_departments(node: str) -> frozenset[str]:
    """The departments of `node`'s subtree (the set every read of the roll-up is narrowed to)."""
    return frozenset(engine().directory.departments_in(node))


def _subtree_filter(departments: Collection[str]) -> tuple[frozenset[str] | None, set[str]]:
    """(the `department` argument of the store reads: the set, or None when it is every department — no
    4,000-value IN list for a province's root —, the set to keep rows to)."""
    keep = set(departments)
    everyone = engine().directory.departments
    return (None if len(keep) >= len(everyone) and keep >= set(everyone) else frozenset(keep)), keep


def board_node_scope(node: str | None, department: str | None) -> tuple[str | None, frozenset[str] | None]:
    """(the node whose roll-up the board shows, the departments its lists are narrowed to): none for a
    department's board or a one-node tree (the board as it was); the root's roll-up over everything when no
    node is asked for; another node's subtree. The caller checked the principal may read `node`."""
    tree = _tree()
    if department or len(tree.nodes) <= 1:
        return None, None
    nid = node or tree.root.id
    if nid not in tree.nodes:
        raise ApiError(404, "unknown_node", f"未知的行政区划节点：{nid}（见 config/jurisdictions.toml）")
    return nid, (None if nid == tree.root.id else node_departments(nid))


# ---------------------------------------------------------------------------------- figures


def department_figures(
    departments: Collection[str],
    day: dt.date,
    period: Period,
    *,
    scores: ScoreResult | None = None,
    overdue: tuple[list, list] | None = None,
) -> dict[str, Figures]:
    """Figures of each of `departments` (every one of them, zeros included) on `day`: open items, overdue and
    待审核 clocks (services.views.overdue_and_held), the period's on-time / late / missed clocks and score
    (services.scores), registration lags of the period's start events and urges. Each source is read once for
    the whole set; `scores` / `overdue` already read by the caller (the board) are reused."""
    from domain.review import HELD_ROLES, REGISTRATION_STARTS
    from services.scores import period_scores
    from store.accounts import urge_counts
    from store.clock_rows import open_counts_by_department
    from store.db import session
    from store.events import start_lags

    arg, keep = _subtree_filter(departments)
    counts: dict[str, dict[str, Any]] = {d: {} for d in keep}

    def add(d: str | None, key: str, n: float) -> None:
        if d in counts:
            counts[d][key] = counts[d].get(key, 0) + n

    rules = engine().rules
    if overdue is not None:
        for r in overdue[0]:
            add(r.department, "internal_overdue" if is_internal(r.rule, rules) else "overdue", 1)
        for r in overdue[1]:
            add(r.department, "held", 1)
    else:
        for d, rule, is_held in _overdue_clocks(day, arg):
            add(d, "held" if is_held else "internal_overdue" if is_internal(rule, rules) else "overdue", 1)
    res = scores if scores is not None else period_scores(period, day, arg, details="deducted")
    for ds in res.summary:
        if ds.department in counts:
            c = counts[ds.department]
            c.update(on_time=ds.on_time, late=ds.late, missed=ds.overdue, score_sum=float(ds.score), scored=1)
    for d in counts:  # locked with all departments, or on its own (with or without clocks due then)
        if res.locked_at is not None or d in res.locked_departments:
            counts[d]["locked"] = 1
    with session() as s:
        for d, n in open_counts_by_department(s, keep).items():
            add(d, "open", n)
        for d, n in urge_counts(s, arg).items():
            add(d, "urges", n)
        for d, lag, late in start_lags(
            s, REGISTRATION_STARTS, HELD_ROLES, period.start.isoformat(), period.end.isoformat(), arg
        ):
            add(d, "lag_count", 1)
            add(d, "lag_days", lag)
            add(d, "lag_late", int(late))
    return {d: Figures(**c) for d, c in counts.items()}


def _overdue_clocks(day: dt.date, department: Departments) -> list[tuple[str, str, bool]]:
    """(department, rule, waiting for review) of each clock past due on `day`: services.views.overdue_and_held's
    split (held is neither late nor on time), counted without building its rows."""
    from services.queries import overdue_rows
    from services.scores import held_keys
    from store.db import session

    with session() as s:
        held = held_keys(s, department)
    return [(r["department"], r["rule"], (r["id"], r["rule"]) in held) for r in overdue_rows(day, department)]


def node_rollup(
    node: str,
    day: dt.date,
    period: Period,
    *,
    scores: ScoreResult | None = None,
    overdue: tuple[list, list] | None = None,
) -> NodeRollup:
    directory = engine().directory
    depts = directory.departments_in(node)  # file order: the rows' order
    figs = department_figures(depts, day, period, scores=scores, overdue=overdue)
    return roll_up(
        directory.tree,
        figs,
        node,
        node_of={d: directory.departments[d].node for d in depts},
        names={d: directory.departments[d].name for d in depts},
    )


def scores_rollup(
    node: str | None, res: ScoreResult, day: dt.date, period: Period
) -> tuple[NodeRollup | None, ScoreResult]:
    """The scores page of a node: its roll-up (per child node and own department) from `res`, and `res`
    narrowed to the node's subtree. A one-node tree or a department's page: (None, res) unchanged."""
    picked, within = board_node_scope(node, res.department)
    if picked is None:
        return None, res
    rollup = node_rollup(picked, day, period, scores=res)
    if within is None:
        return rollup, res

    def keep(rows: list) -> list:
        return [r for r in rows if (r.get("department") if isinstance(r, dict) else r.department) in within]

    fields = ("summary", "details", "registration", "request_checks", "amendments")
    return rollup, res.model_copy(update={f: keep(getattr(res, f)) for f in fields})


# ---------------------------------------------------------------------------------- answers


class NodeInfo(BaseModel):
    id: str
    name: str
    level: Literal["province", "city", "county"]
    level_name: str
    code: str = ""
    parent: str | None = None
    departments: int = Field(description="本级部门数（不含下级地区）")
    children: list[str] = Field(default_factory=list)


class NodeList(BaseModel):
    root: str
    nodes: list[NodeInfo]


class FiguresView(BaseModel):
    departments: int
    open: int
    overdue: int = Field(description="逾期未办（法定时限；不含内部时限）")
    internal_overdue: int = Field(0, description="内部时限已过而未办（不计逾期未办，亦不计按时率）")
    held: int = Field(description="待审核：已过期限但待补录审核，不计逾期")
    on_time: int
    late: int
    missed: int
    on_time_rate: float | None = Field(description="按时 /（按时 + 逾期办结 + 到期未办），由合计数计算")
    registration_lag_starts: int
    registration_lag_mean: float | None = Field(description="平均登记滞后（工作日）= 合计滞后 / 起始事件数")
    registration_late: int
    score: float | None = Field(description="已考评部门得分的平均数（每个部门权重相同）")
    scored_departments: int
    urges: int
    locked_departments: int = Field(0, description="得分为已锁定数字的部门数")


class RowView(BaseModel):
    kind: Literal["node", "department"]
    id: str
    name: str
    level: str = ""
    code: str = ""
    figures: FiguresView


class NodeRollupView(BaseModel):
    node: NodeInfo
    path: list[str] = Field(description="从最上级到本节点的节点编号")
    as_of: str
    period: str
    period_title: str
    total: FiguresView
    children: list[RowView] = Field(description="每个下级地区一行（其全部下级合计）")
    own: list[RowView] = Field(description="本级各部门")


def figures_view(f: Figures) -> FiguresView:
    return FiguresView(
        departments=f.departments,
        open=f.open,
        overdue=f.overdue,
        internal_overdue=f.internal_overdue,
        held=f.held,
        on_time=f.on_time,
        late=f.late,
        missed=f.missed,
        on_time_rate=f.on_time_rate,
        registration_lag_starts=f.lag_count,
        registration_lag_mean=f.lag_mean,
        registration_late=f.lag_late,
        score=f.score,
        scored_departments=f.scored,
        urges=f.urges,
        locked_departments=f.locked,
    )


def _row_view(r: RollupRow) -> RowView:
    return RowView(kind=r.kind, id=r.id, name=r.name, level=r.level, code=r.code, figures=figures_view(r.figures))


def node_info(node_id: str) -> NodeInfo:
    from domain.labels import NODE_LEVELS

    directory = engine().directory
    n = directory.tree.node(node_id)
    return NodeInfo(
        id=n.id,
        name=n.name,
        level=n.level,  # LEVELS, checked when the tree is parsed
        level_name=NODE_LEVELS.get(n.level, n.level),
        code=n.code,
        parent=n.parent,
        departments=len(directory.departments_in(n.id, deep=False)),
        children=[c.id for c in directory.tree.children(n.id)],
    )


def node_list(who: Principal) -> NodeList:
    """The nodes `who` may read: their node's subtree (the whole tree for the root or no node)."""
    top = node_scope(who, None, "查看行政区划")
    return NodeList(root=top, nodes=[node_info(n) for n in _tree().subtree(top)])


def rollup_view(r: NodeRollup, day: dt.date, period: Period) -> NodeRollupView:
    return NodeRollupView(
        node=node_info(r.node.id),
        path=[n.id for n in r.path],
        as_of=day.isoformat(),
        period=period.label,
        period_title=period.title,
        total=figures_view(r.total),
        children=[_row_view(c) for c in r.children],
        own=[_row_view(o) for o in r.own],
    )


# ---------------------------------------------------------------------------------- compare children

CompareSort = Literal["score", "on_time_rate", "overdue", "lag", "name"]
COMPARE_SORTS = {
    "name": lambda r: (r.name,),
    "on_time_rate": lambda r: (r.figures.on_time_rate is None, -(r.figures.on_time_rate or 0), r.name),
    "overdue": lambda r: (-r.figures.overdue, r.name),
    "lag": lambda r: (r.figures.lag_mean is None, -(r.figures.lag_mean or 0), r.name),
    "score": lambda r: (r.figures.score is None, -(r.figures.score or 0), r.name),
}


def compare_rows(r: NodeRollup, sort: str = "score") -> list[RollupRow]:
    """The node's children side by side (a county, without children: its own departments), sorted by `sort`
    (COMPARE_SORTS; the page re-sorts in the browser too)."""
    if sort not in COMPARE_SORTS:
        allowed = "、".join(COMPARE_SORTS)
        raise ApiError(422, "invalid_parameter", f"参数 sort 无效：{sort}（可选：{allowed}）", field="sort")
    rows = r.children or r.own
    return sorted(rows, key=COMPARE_SORTS[sort])


def write_compare_xlsx(r: NodeRollup, rows: list[RollupRow], day: dt.date, period: Period, out) -> None:
    """The compare table as one sheet (openpyxl, like services/exports.py): the node's total last."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from domain.labels import NODE_LEVELS, ROLLUP_COLUMNS

    wb = Workbook()
    ws = wb.active
    ws.title = "下级对比"
    ws.append([f"{r.node.name} 下级对比（{period.title}，统计截止 {day.isoformat()}）"])
    ws["A1"].font = Font(bold=True)
    keys = ["name", "level", "departments", "on_time_rate", "overdue", "held", "lag_mean", "lag_late", "score"]
    keys += ["on_time", "late", "missed", "open", "urges"]
    ws.append([ROLLUP_COLUMNS[k] for k in keys])
    for c in ws[2]:
        c.font = Font(bold=True)

    def line(name: str, level: str, f: Figures) -> list:
        values = {
            "name": name,
            "level": NODE_LEVELS.get(level, "本级部门" if not level else level),
            "departments": f.departments,
            "on_time_rate": f.on_time_rate,
            "overdue": f.overdue,
            "held": f.held,
            "lag_mean": f.lag_mean,
            "lag_late": f.lag_late,
            "score": f.score,
            "on_time": f.on_time,
            "late": f.late,
            "missed": f.missed,
            "open": f.open,
            "urges": f.urges,
        }
        return [values[k] for k in keys]

    for row in rows:
        ws.append(line(row.name, row.level, row.figures))
        if row.figures.on_time_rate is not None:
            ws.cell(ws.max_row, keys.index("on_time_rate") + 1).number_format = "0.0%"
    ws.append(line(f"{r.node.name}合计", r.node.level, r.total))
    for c in ws[ws.max_row]:
        c.font = Font(bold=True)
    if r.total.on_time_rate is not None:
        ws.cell(ws.max_row, keys.index("on_time_rate") + 1).number_format = "0.0%"
    ws.column_dimensions["A"].width = 28
    wb.save(out)


class CompareView(BaseModel):
    node: NodeInfo
    path: list[str]
    as_of: str
    period: str
    period_title: str
    sort: str
    compares: Literal["children", "departments"] = Field(description="下级地区对比；县级（无下级）为本级部门对比")
    rows: list[RowView]
    total: FiguresView


def compare_view(
    who: Principal, node: str, day: dt.date, p: Period, *, sort: str = "score"
) -> tuple[CompareView, NodeRollup, list[RollupRow]]:
    """The compare page and /api/nodes/{id}/compare: `node`'s children side by side for the period `p` (the
    adapters default it to the current quarter, as the board) on `day`. Checks: node_scope, sort."""
    nid = node_scope(who, node, "查看下级对比")
    r = node_rollup(nid, day, p)
    rows = compare_rows(r, sort)
    view = CompareView(
        node=node_info(nid),
        path=[n.id for n in r.path],
        as_of=day.isoformat(),
        period=p.label,
        period_title=p.title,
        sort=sort,
        compares="children" if r.children else "departments",
        rows=[_row_view(x) for x in rows],
        total=figures_view(r.total),
    )
    return view, r, rows


def node_rollup_view(who: Principal, node: str, day: dt.date, p: Period) -> NodeRollupView:
    """/api/nodes/{id}/rollup: the node's total, per child node and per own department."""
    nid = node_scope(who, node, "查看汇总")
    return rollup_view(node_rollup(nid, day, p), day, p)
