"""Roll-ups up the jurisdictions tree (issue 20 §1): a node's board and scores as its own departments and
one row per child node, each child's whole subtree aggregated.

Pure: the per-department figures come in (services/rollup.py reads them from the store once for the
subtree's department set); this module only adds them up. Every rate is recomputed from the summed counts,
never averaged: a county with 3 clocks does not weigh as much as a city with 3,000.

Score of a group of departments. domain/scoring.py scores each department on its own under its scheme
(full score minus capped indicator deductions, plus bonus); it forms no unit total, and a scheme's full score
is per assessed unit (锦州 2020, 泉州鲤城 2020: every 部门 / 县区 is assessed out of 100). So a node's score
here is the mean over its departments scored in the period, each department weighing one (the
"department-weighted mean"): the sum of scores and the number of scored departments are carried up, and the
mean is taken once at the node, so a node's score never averages its children's averages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Literal

from domain.jurisdictions import Jurisdictions, Node


@dataclass(frozen=True)
class Figures:
    """One department's (or a group's) figures. Counts only: every ratio is a property over them."""

    departments: int = 1  # departments counted in (1 for one department)
    open: int = 0  # items being handled (办理中)
    overdue: int = 0  # open statutory clocks past due (逾期未办, today); 内部时限 apart, as in the on-time rate
    internal_overdue: int = 0  # open internal pre-deadlines (内部时限) past due: shown apart, never 逾期未办
    held: int = 0  # past due but waiting for a late entry's review (待审核: neither late nor on time)
    on_time: int = 0  # clocks due in the period met on time
    late: int = 0  # clocks due in the period met late (逾期办结)
    missed: int = 0  # clocks due in the period not met (逾期未办 in the scores)
    lag_count: int = 0  # start events with a registration lag known, dated in the period
    lag_days: int = 0  # their lags summed, working days
    lag_late: int = 0  # of them flagged 登记滞后
    score_sum: float = 0.0  # Σ department scores of the period
    scored: int = 0  # departments scored in the period (with a clock due or a mark)
    urges: int = 0  # 督办 sent
    locked: int = 0  # departments whose period figures are their own lock's (已锁定)

    def __add__(self, other: Figures) -> Figures:
        # positional, over the names listed once: a province's roll-up adds ~8,000 of them per board
        return Figures(*[getattr(self, n) + getattr(other, n) for n in _FIELDS])

    @property
    def decided(self) -> int:
        return self.on_time + self.late + self.missed

    @property
    def on_time_rate(self) -> float | None:
        """on_time / (on_time + late + missed), as domain.scoring rates a department; None: nothing decided."""
        return round(self.on_time / self.decided, 4) if self.decided else None

    @property
    def lag_mean(self) -> float | None:
        """Mean registration lag in working days (Σ lag / starts)."""
        return round(self.lag_days / self.lag_count, 2) if self.lag_count else None

    @property
    def score(self) -> float | None:
        """Mean score of the scored departments (see the module docstring); None: none scored."""
        return round(self.score_sum / self.scored, 2) if self.scored else None


_FIELDS = tuple(f.name for f in fields(Figures))
_VALUES = attrgetter(*_FIELDS)  # a Figures' values in field order, as one tuple
ZERO = Figures(departments=0)


@dataclass(frozen=True)
class RollupRow:
    kind: Literal["node", "department"]
    id: str
    name: str
    figures: Figures
    level: str = ""  # a node's level (province, city, county); "" for a department
    code: str = ""  # a node's 行政区划代码


@dataclass(frozen=True)
class NodeRollup:
    node: Node
    total: Figures  # the node's whole subtree
    children: list[RollupRow] = field(default_factory=list)  # one per child node, its subtree summed
    own: list[RollupRow] = field(default_factory=list)  # one per department of the node itself
    path: list[Node] = field(default_factory=list)  # root … node (the breadcrumb)


def total(figures: list[Figures]) -> Figures:
    """The sum of `figures` (ZERO for none), field by field: a province's 4,000 departments at once, not
    one Figures per addition."""
    if not figures:
        return ZERO
    values = _VALUES
    return Figures(*[sum(column) for column in zip(*map(values, figures), strict=True)])


def roll_up(
    tree: Jurisdictions,
    per_department: Mapping[str, Figures],
    node: str,
    *,
    node_of: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> NodeRollup:
    """`node`'s total, one row per child node (its subtree's departments summed) and one row per department of
    `node` itself. `per_department` holds the figures of the subtree's departments (a department missing
    from it counts as none); `node_of` says each department's node (Directory.node_of), `names` their names.
    Departments outside the subtree are ignored, so passing a whole province's figures is safe."""
    here = tree.node(node)
    names = names or {}
    by_child: dict[str, list[Figures]] = {c.id: [] for c in tree.children(node)}
    own: list[RollupRow] = []
    every: list[Figures] = []
    for dept, nid in node_of.items():
        if nid not in tree.nodes or not tree.contains(node, nid):
            continue
        fig = per_department.get(dept, Figures())
        every.append(fig)
        if nid == node:
            own.append(RollupRow("department", dept, names.get(dept, dept), fig))
            continue
        child = tree.child_towards(node, nid)
        assert child is not None  # nid lies strictly below node
        by_child[child].append(fig)
    sum_all = total(every)
    children = [
        RollupRow("node", c.id, c.name, total(by_child[c.id]), level=c.level, code=c.code) for c in tree.children(node)
    ]
    return NodeRollup(node=here, total=sum_all, children=children, own=own, path=tree.ancestors(node))
