"""One Chinese label per state and step: pages, messages, the CLI, scores and exports read one table."""

import ast
from pathlib import Path

from domain import labels
from domain.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent


def test_every_ladder_step_and_notice_template_has_a_label():
    steps = {p.stem for p in (ROOT / "config" / "templates" / "notify").glob("*.j2") if not p.stem.startswith("_")}
    assert steps <= set(labels.STEPS), steps - set(labels.STEPS)


def test_fired_keys_map_to_their_step():
    assert labels.step_label("overdue_repeat_2@2026-11-05") == labels.STEPS["overdue_repeat"]
    assert labels.step_label("overdue_1@2026-11-05") == labels.STEPS["overdue_1"]
    assert labels.step_label(None) == "—"


def test_rule_names_come_from_rules_toml():
    rules = load_rules()
    assert labels.rule_names(rules) == {rid: r.name for rid, r in rules.items()}


def test_a_rules_toml_edit_reaches_notices_and_pages_alike(tmp_path, monkeypatch):
    """Notices, digests and pages name a rule from the rules in use: a renamed rule is renamed everywhere."""
    import shutil

    import domain.engine as engine_mod

    cfg = tmp_path / "config"
    shutil.copytree(ROOT / "config", cfg)
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    engine_mod.reset()
    try:
        before = engine_mod.engine().rule_name("request_reply")
        assert before == "依申请公开答复" and engine_mod.engine().rule_names["request_reply"] == before
        rules = cfg / "rules.toml"
        rules.write_text(
            rules.read_text(encoding="utf-8").replace('name = "依申请公开答复"', 'name = "申请答复"'), encoding="utf-8"
        )
        assert engine_mod.engine().rule_name("request_reply") == "申请答复"
        assert engine_mod.engine().rule_names["request_reply"] == "申请答复"
        assert engine_mod.engine().rules["request_reply"].name == "申请答复"
    finally:
        engine_mod.reset()


def test_the_same_words_everywhere():
    from app.web import pages
    from store.tokens import ROLE_LABELS

    assert all(ROLE_LABELS[r] == labels.ROLES[r] for r in ROLE_LABELS)
    env = pages.templates.env
    assert env.filters["clock_state"]("missed") == labels.CLOCK_STATES["missed"]
    assert env.filters["step"]("overdue_1@2026-01-05") == labels.STEPS["overdue_1"]


def test_no_alias_of_a_label_table():
    """`X = labels.Y` (or `import Y as X` from domain.labels) elsewhere is a second name for one table."""
    offenders = []
    for pkg in ("domain", "store", "activities", "workflows", "worker", "services", "app"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "labels.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Assign)
                    and all(isinstance(t, ast.Name) for t in node.targets)
                    and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "labels"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(node, ast.ImportFrom) and node.module == "domain.labels":
                    offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for a in node.names if a.asname]
    assert not offenders, offenders


def test_no_label_table_is_redefined_elsewhere():
    """A dict literal mapping state/step keys to Chinese outside domain/labels.py is a second copy."""
    keys = {"missed", "overdue_1", "t_minus_3", "liaison"}
    offenders = []
    for pkg in ("domain", "store", "activities", "workflows", "worker", "app"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "labels.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    ks = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                    vals = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
                    if ks & keys and any(any("\u4e00" <= ch <= "\u9fff" for ch in v) for v in vals):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_templates_take_labels_from_the_filter():
    """A template that tests a machine word (`{% if d.state == 'sent' %}`) shows its label through the
    `label` filter, never as literal text of its own; and every table the filter names exists."""
    import re

    from app.web import pages

    offenders = []
    for path in sorted((ROOT / "app" / "web" / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"==\s*['\"]([\w.]+)['\"]\s*%\}(.*?)\{%", text, re.S):
            key, shown = m.groups()
            for name, table in labels.tables().items():
                if key in table and table[key] in shown:
                    offenders.append(f"{path.relative_to(ROOT)}: {key} -> {table[key]} ({name})")
        for name in re.findall(r"label\(\s*['\"](\w+)['\"]\s*\)", text):
            if name not in labels.tables():
                offenders.append(f"{path.relative_to(ROOT)}: no label table {name!r}")
    assert not offenders, offenders
    label = pages.templates.env.filters["label"]
    assert label("intent", "delivery") == labels.DELIVERY_STATES["intent"]
    assert label("regulation", "document_kind") == "规章"
    assert label("unknown", "delivery") == "unknown"


def test_the_cli_and_the_item_page_name_delivery_states_alike():
    import inspect

    from app.cli import notify as cli_notify

    source = inspect.getsource(cli_notify)
    assert all(word not in source for word in ("待发送",)), "the CLI keeps its own delivery words"
    item = (ROOT / "app" / "web" / "templates" / "item.html").read_text(encoding="utf-8")
    assert all(v not in item for v in labels.DELIVERY_STATES.values())


def test_no_list_or_tuple_of_labels_outside_labels_py():
    """A list or tuple literal of label words (e.g. choices shown to users) outside domain/labels.py is a
    second copy: at least two of its strings equal labels of one table."""
    offenders = []
    for pkg in ("domain", "store", "activities", "workflows", "worker", "services", "app"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "labels.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.List | ast.Tuple | ast.Set):
                    words = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                    for name, table in labels.tables().items():
                        if len(words & set(table.values())) >= 2:
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} ({name})")
    assert not offenders, offenders
