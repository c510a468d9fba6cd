"""One settings class reads the environment; the README documents every variable it reads."""

import ast
import re
from pathlib import Path

from domain.settings import Settings, env_names, get_settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "store", "services", "activities", "workflows", "worker", "app")


def test_readme_lists_every_variable():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    missing = [name for name in env_names() if name not in documented]
    assert not missing, f"README's environment table lacks {missing}"


def test_only_the_settings_module_reads_the_environment():
    offenders = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).exists() else []:
            if path == ROOT / "domain" / "settings.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("environ", "getenv", "putenv")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"os.environ read outside domain/settings.py: {offenders}"


def test_cli_and_embedded_server_agree_on_the_temporal_port(monkeypatch):
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    monkeypatch.setenv("SHIXIAN_TEMPORAL_PORT", "17999")
    from worker.client import temporal_address

    assert temporal_address() == "127.0.0.1:17999"
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    assert temporal_address() == "temporal.example:7233"


def test_values_are_typed(monkeypatch):
    monkeypatch.setenv("SHIXIAN_TEMPORAL_UI", "0")
    monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "https://gk.example.gov.cn/")
    s = get_settings()
    assert s.temporal_ui is False
    assert s.public_base == "https://gk.example.gov.cn"
    assert isinstance(Settings.model_fields["data_dir"].default, Path)


def test_links_default_to_the_web_servers_own_address(monkeypatch):
    """Without SHIXIAN_PUBLIC_URL an invite or notice link points at the address `shixian up` serves on."""
    from domain.settings import Settings

    monkeypatch.delenv("SHIXIAN_PUBLIC_URL", raising=False)
    monkeypatch.setenv("SHIXIAN_HTTP", "127.0.0.1:18123")
    assert Settings().public_base == "http://127.0.0.1:18123"
    monkeypatch.setenv("SHIXIAN_HTTP", "0.0.0.0:8080")
    assert Settings().public_base == "http://127.0.0.1:8080"
    monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "https://gk.example.gov.cn/")
    assert Settings().public_base == "https://gk.example.gov.cn"
