"""督办单 of the three-colour practice: the colour by how overdue an item is when urged, the number text.
Pure; the thresholds and prefixes come from config/urge.toml (`Engine.urge`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from domain.config import ConfigError, read_toml

COLOURS = ("blue", "orange", "red")  # mild to severe; names: domain.labels.URGE_COLOURS


@dataclass(frozen=True)
class UrgeConfig:
    orange_from: int = 1
    red_from: int = 10
    escalate_repeat: bool = True
    prefix: str = "督办"
    prefixes: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def colour(self, overdue_working_days: int | None, previous: str | None = None) -> str:
        """The colour of an urge given the item's overdue working days (None or <= 0: not overdue) and the
        colour of the item's previous urge (escalated one step when `escalate_repeat`)."""
        days = overdue_working_days or 0
        level = 2 if days >= self.red_from else 1 if days >= self.orange_from else 0
        if self.escalate_repeat and previous in COLOURS:
            level = max(level, min(COLOURS.index(previous) + 1, len(COLOURS) - 1))
        return COLOURS[level]

    def number_text(self, jurisdiction: str | None, year: int | None, number: int | None) -> str:
        """督办〔2026〕第12号; "" for an urge stored before urges were numbered."""
        if year is None or number is None:
            return ""
        prefix = self.prefixes.get(jurisdiction or "", self.prefix)
        return f"{prefix}〔{year}〕第{number}号"


def load_urge_config(root: Path) -> UrgeConfig:
    path = root / "urge.toml"
    if not path.exists():
        return UrgeConfig()
    raw = read_toml(path)
    colours, numbering = raw.get("colours", {}), raw.get("numbering", {})
    try:
        cfg = UrgeConfig(
            orange_from=int(colours.get("orange_from", 1)),
            red_from=int(colours.get("red_from", 10)),
            escalate_repeat=bool(colours.get("escalate_repeat", True)),
            prefix=str(numbering.get("prefix", "督办")),
            prefixes={str(k): str(v) for k, v in (numbering.get("prefixes") or {}).items()},
            source=str(raw.get("source", "")),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path.name}: 无效的设置（{exc}）") from None
    if not 0 <= cfg.orange_from <= cfg.red_from:
        raise ConfigError(f"{path.name}: 需要 0 ≤ orange_from ≤ red_from")
    return cfg
