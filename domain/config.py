"""Where the engine reads its data: $SHIXIAN_CONFIG_DIR, else the repository's config/."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


class ConfigError(ValueError):
    """Bad configuration data; the message names the file and the entry."""


def config_dir() -> Path:
    from domain.settings import get_settings

    configured = get_settings().config_dir
    return configured.resolve() if configured else REPO_CONFIG


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: 文件不存在 (file not found)") from None
    except tomllib.TOMLDecodeError as exc:  # message carries "(at line N, column M)"
        raise ConfigError(f"{path}: TOML 格式错误：{exc}") from None
