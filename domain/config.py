"""Where configuration lives: $SHIXIAN_CONFIG_DIR or the repository's config/ directory."""
from __future__ import annotations

import os
from pathlib import Path

_REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def config_dir() -> Path:
    return Path(os.environ.get("SHIXIAN_CONFIG_DIR") or _REPO_CONFIG)
