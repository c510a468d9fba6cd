"""domain/rollup.py on the three-level test tree (tests/province.py) with made-up figures: a node's total is
the sum of its children and own departments, every rate is recomputed from the summed counts (never an
average of rates), a score is the mean over scored departments."""

from __future__ import annotations

from domain.jurisdictions import parse_jurisdictions
from domain.rollup import Figures, roll_up
from tests.province import DEPARTMENTS, jurisdictions_toml

TREE = parse_jurisdictions(jurisdictions_toml())
NODE_OF = {d: node for node, depts in DEPARTMENTS.items() for d, _, _ in depts}
NAMES = {d: name for depts in DEPARTMENTS.values() for d, name, _ in depts}


def _figures() -> dict[str, Figures]:
    """Distinct numbers per department so that a wrong sum shows (department i: i on time, ...)."""
    out = {}
    for i, d in enumerate(sorted(NODE_OF), start=1):
        out[d] = Figures(
            open=i,
            overdue=i % 3,
            held=i % 2,
            on_time=10 * i,
            late=i,
            missed=i % 4,
            lag_count=i,
            lag_days=i * i,
            lag_late=i % 2,
            score_sum=100.0 - i,
            scored=1,
            urges=i % 5,
        )
    out["ls-jyj"] = Figures()  # a department with nothing due: not scored, no rate
    return out


def _sum(figs: dict[str, Figures], depts) -> Figures:
    out = Figures(departments=0)
    for d in depts:
        out = out + figs[d]
    return out


def test_province_rolls_up_its_cities_and_own_departments():
    figs = _figures()
    r = roll_up(TREE, figs, "gx", node_of=NODE_OF, names=NAMES)
    assert [c.id for c in r.children] == ["qz", "bh"]
    assert [(c.level, c.code, c.name) for c in r.children] == [
        ("city", "450700", "钦州市"),
        ("city", "450500", "北海市"),
    ]
    assert [o.id for o in r.own] == ["gx-zfb", "gx-fgw"] and r.own[0].name == "广西壮族自治区人民政府办公厅"
    # each child: its whole subtree (the city's own departments and its counties')
    qz = next(c for c in r.children if c.id == "qz")
    assert qz.figures == _sum(figs, ["qz-zfb", "qz-fgw", "ls-zfb", "ls-jyj", "pb-zfb", "pb-jyj"])
    assert qz.figures.departments == 6
    # the total equals the sum of the children and the own departments, field by field
    parts = [c.figures for c in r.children] + [o.figures for o in r.own]
    assert r.total == _sum(figs, NODE_OF) == sum(parts[1:], parts[0])
    assert r.total.departments == 12
    assert [n.id for n in r.path] == ["gx"]


def test_rates_lags_and_scores_come_from_counts_not_averages():
    figs = _figures()
    r = roll_up(TREE, figs, "qz", node_of=NODE_OF, names=NAMES)
    ls = next(c for c in r.children if c.id == "ls")
    a, b = figs["ls-zfb"], figs["ls-jyj"]
    assert ls.figures.on_time_rate == round(
        (a.on_time + b.on_time) / (a.on_time + a.late + a.missed + b.on_time + b.late + b.missed), 4
    )
    # ls-jyj has no rate of its own: averaging rates would have to skip it or count it as 0; counts need neither
    assert b.on_time_rate is None and ls.figures.on_time_rate == a.on_time_rate
    # the city total's rate is not the mean of its parts' rates
    t = r.total
    assert t.on_time_rate == round(t.on_time / (t.on_time + t.late + t.missed), 4)
    parts = [c.figures for c in r.children] + [o.figures for o in r.own]
    rated = [p.on_time_rate for p in parts if p.on_time_rate is not None]
    assert t.on_time_rate != round(sum(rated) / len(rated), 4)
    assert t.lag_mean == round(t.lag_days / t.lag_count, 2)
    # score: mean over the scored departments (ls-jyj not scored), not over children's means
    scored = [figs[d].score_sum for d in figs if NODE_OF[d] in ("qz", "ls", "pb") and figs[d].scored]
    assert t.scored == 5 and t.score == round(sum(scored) / 5, 2)
    assert ls.figures.score == a.score_sum
    assert [n.id for n in r.path] == ["gx", "qz"]


def test_a_county_has_no_children_and_ignores_other_departments():
    figs = _figures()
    r = roll_up(TREE, figs, "hp", node_of=NODE_OF, names=NAMES)
    assert r.children == [] and [o.id for o in r.own] == ["hp-zfb", "hp-jyj"]
    assert r.total == figs["hp-zfb"] + figs["hp-jyj"]
    # a department missing from the figures counts as one department with nothing in it
    r = roll_up(TREE, {}, "bh", node_of=NODE_OF)
    assert r.total == Figures(departments=4) and r.total.on_time_rate is None and r.total.score is None
    assert [c.figures.departments for c in r.children] == [2]
