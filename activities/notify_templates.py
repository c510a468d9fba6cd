"""Notification texts: `config/templates/notify/{step}.j2` (a `templates/notify` directory in
$SHIXIAN_CONFIG_DIR overrides single files). The first line of the rendered text is the title, the rest the body."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from domain import config as _config


def _template_env(config_dir: Path | None = None):
    base = Path(config_dir) if config_dir else _config.config_dir()
    dirs = []
    for d in (base / "templates" / "notify", _config.REPO_CONFIG / "templates" / "notify"):
        if d.is_dir() and d not in dirs:
            dirs.append(d)
    return _environment(tuple(dirs))


@functools.lru_cache(maxsize=8)
def _environment(dirs: tuple[Path, ...]):
    """One Jinja environment per template directory list: templates compile once (auto_reload still
    picks up an edited file by its modification time)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader

    return Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d), encoding="utf-8") for d in dirs]),
        autoescape=False,  # plain-text bodies
        trim_blocks=False,
        keep_trailing_newline=False,
    )


def render(step: str, context: dict[str, Any], config_dir: Path | None = None) -> tuple[str, str]:
    """Render the template of `step`: (title, body). Any step of config/reminders.toml with a template."""
    from jinja2 import TemplateNotFound

    if not re.fullmatch(r"[a-z0-9_]+", step):
        raise ValueError(f"unknown notification step {step!r}")
    try:
        template = _template_env(config_dir).get_template(f"{step}.j2")
    except TemplateNotFound:
        raise ValueError(f"unknown notification step {step!r}: no template templates/notify/{step}.j2") from None
    text = template.render(**context)
    title, _, body = text.strip().partition("\n")
    body = re.sub(r"\n{3,}", "\n\n", body.strip("\n")).strip()
    return title.strip(), body
