"""app/ is adapters only (issue 18): no SQL, no store session of its own, no rule id written into it.

Use cases, queries and rules live below (services/, store/, domain/, config/); a CLI command, a route or
a page that needs data calls a service. The one session app/ may open is FastAPI's `SessionDep`
(app/web/deps.py), the request's unit of work handed to the services.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
SESSION_HOME = APP / "web" / "deps.py"
SQL_NAMES = {"select", "text", "col", "func", "delete", "update", "insert", "Session", "create_engine"}
SQL_MODULES = ("sqlmodel", "sqlalchemy")


def _rule_ids() -> set[str]:
    rules = tomllib.loads((ROOT / "config" / "rules.toml").read_text(encoding="utf-8"))["rules"]
    return set(rules)


def _sources() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _session_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound to store.db.session (`from store.db import session [as x]`) and to the module store.db
    (`from store import db [as x]`, `import store.db as x`; `import store.db` binds `store`, seen as the
    dotted call), anywhere in the file: app/ imports lazily inside functions too."""
    bare: set[str] = set()
    modules: set[str] = {"db", "store_db"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "store.db":
            bare |= {a.asname or a.name for a in node.names if a.name == "session"}
        elif isinstance(node, ast.ImportFrom) and node.module == "store":
            modules |= {a.asname or a.name for a in node.names if a.name == "db"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == "store.db" and a.asname}
    return bare, modules


def _opens_session(f: ast.expr, bare: set[str], modules: set[str]) -> bool:
    if isinstance(f, ast.Name):
        return f.id in bare
    if not isinstance(f, ast.Attribute) or f.attr != "session":
        return False
    owner = f.value
    if isinstance(owner, ast.Name):
        return owner.id in modules
    return isinstance(owner, ast.Attribute) and owner.attr == "db" and isinstance(owner.value, ast.Name)


def problems(path: Path, rule_ids: set[str]) -> list[str]:
    out = []
    rel = path.relative_to(ROOT)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bare, modules = _session_names(tree)
    for node in ast.walk(tree):
        if path == SESSION_HOME:  # the request's session is made here, and typed with sqlmodel's Session
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SQL_MODULES:
            out.append(f"{rel}:{node.lineno} imports {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in SQL_MODULES for a in node.names):
            out.append(f"{rel}:{node.lineno} imports sqlalchemy/sqlmodel")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name == "Session" or _opens_session(f, bare, modules):
                out.append(f"{rel}:{node.lineno} opens a store session")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in rule_ids:
            out.append(f"{rel}:{node.lineno} writes the rule id {node.value!r}")
    return out


def test_app_holds_no_sql_no_session_no_rule_id():
    ids = _rule_ids()
    assert ids, "config/rules.toml has no rules"
    found = [p for f in _sources() for p in problems(f, ids)]
    assert found == []


def test_templates_hold_no_rule_id():
    ids = _rule_ids()
    found = [
        f"{t.relative_to(ROOT)}: {rid}"
        for t in sorted((APP / "templates").rglob("*.html")) + sorted((APP / "web" / "templates").rglob("*.html"))
        for rid in ids
        if f"'{rid}'" in t.read_text(encoding="utf-8") or f'"{rid}"' in t.read_text(encoding="utf-8")
    ]
    assert found == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from sqlmodel import select\n", 1),
        ("import sqlalchemy\n", 1),
        ("def f(db):\n    with db.session() as s:\n        pass\n", 1),
        ("from store.db import session\nwith session() as s: pass\n", 1),
        ("def f():\n    from store.db import init_db, session as open_\n    return open_(init_db())\n", 1),
        ("from store import db as d\nd.session()\n", 1),
        ("import store.db\nstore.db.session()\n", 1),
        ("from store.accounts import start_session\nstart_session(s, 'p')\nsession()\n", 0),
        ("def f():\n    return Session(engine)\n", 1),
        ("X = 'request_reply'\n", 1),
        ("X = '答复'\nfrom services import views\n", 0),
    ],
)
def test_the_check_can_fail(tmp_path, source, expected):
    probe = tmp_path / "app" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source, encoding="utf-8")
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        assert len(problems(probe, {"request_reply"})) == expected
    finally:
        ROOT = saved
