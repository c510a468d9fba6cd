"""requirements.lock pins every dependency pyproject.toml declares (regenerate with scripts/lock)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"]) + [d for ds in project["optional-dependencies"].values() for d in ds]
    names = {_norm(re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0]) for d in declared}
    pinned = {
        _norm(m.group(1))
        for m in re.finditer(
            r"^([A-Za-z0-9_.\-]+)==", (ROOT / "requirements.lock").read_text(encoding="utf-8"), flags=re.M
        )
    }
    missing = sorted(names - pinned)
    assert not missing, f"requirements.lock lacks {missing}: run scripts/lock"
