"""Dependencies point one way (issue 9 §2; picture in docs/architecture.md).

Every import of every project module is read from its source (imports inside functions included: a
late import is still a dependency), so a new module cannot reach up a layer without this test failing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first; a package may import only packages before it (and itself).
LAYERS = ["domain", "store", "activities", "workflows", "services", "worker", "app"]


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in LAYERS:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in f.relative_to(ROOT).parts:  # Alembic scripts: run by Alembic, not imported
                continue
            parts = f.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def import_graph() -> dict[str, set[tuple[str, int]]]:
    """module -> {(imported project module, line)}; `from a.b import c` counts a.b.c when it is a module."""
    mods = _modules()
    graph: dict[str, set[tuple[str, int]]] = {}
    for name, path in mods.items():
        out: set[tuple[str, int]] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the importing package
                    base = name.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                targets = [module, *(f"{module}.{a.name}" for a in node.names)]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    out.add((t, node.lineno))
        graph[name] = out
    return graph


def _pkg(module: str) -> str:
    return module.split(".")[0]


def _violations(allowed: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in import_graph().items():
        for dep, line in sorted(deps):
            if _pkg(dep) != _pkg(mod) and _pkg(dep) not in allowed.get(_pkg(mod), set(LAYERS)):
                bad.append(f"{mod.replace('.', '/')}.py:{line} imports {dep}")
    return bad


def test_nothing_below_app_imports_app():
    assert _violations({p: set(LAYERS) - {"app"} for p in LAYERS if p != "app"}) == []


def test_domain_imports_no_other_project_package():
    assert _violations({"domain": set()}) == []


def test_store_imports_only_domain():
    assert _violations({"store": {"domain"}}) == []


def test_each_package_imports_only_lower_layers():
    assert _violations({p: set(LAYERS[:i]) for i, p in enumerate(LAYERS)}) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_cycles_between_packages():
    pkgs: dict[str, set[str]] = {}
    for mod, deps in import_graph().items():
        pkgs.setdefault(_pkg(mod), set()).update(_pkg(d) for d, _ in deps if _pkg(d) != _pkg(mod))
    assert _cycles(pkgs) == []


def test_no_module_cycles():
    # e.g. worker.supervisor <-> worker.tasks (tasks registered themselves by importing the supervisor),
    # app.web.pages <-> app.web.pages_actions (the item page's read-side helpers now live in services.item_page)
    graph = {m: {d for d, _ in deps} for m, deps in import_graph().items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    "source, allowed, expected",
    [
        ("from app.ingest import Ingestor\n", {"activities": set(LAYERS) - {"app"}}, 1),
        ("def f():\n    from app import queries\n", {"activities": set(LAYERS) - {"app"}}, 2),  # app and app.queries
        ("from store.db import session\n", {"activities": set(LAYERS) - {"app"}}, 0),
        ("import store.items\n", {"domain": set()}, 1),
    ],
)
def test_the_checker_sees_late_and_plain_imports(tmp_path, monkeypatch, source, allowed, expected):
    """The checks above can fail: a module importing across a line is reported (inside functions too)."""
    for pkg in LAYERS:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "store" / "items.py").write_text("")
    (tmp_path / "store" / "db.py").write_text("")
    (tmp_path / "app" / "ingest.py").write_text("")
    (tmp_path / "app" / "queries.py").write_text("")
    target = next(iter(allowed))
    (tmp_path / target / "probe.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert len(_violations(allowed)) == expected
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
