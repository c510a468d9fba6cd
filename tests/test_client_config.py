"""worker/client.py: TEMPORAL_* settings become Client.connect's arguments through the SDK's envconfig."""

from __future__ import annotations

import pytest
from temporalio.service import TLSConfig

from worker.client import connect_config

VARS = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in (*VARS, "TEMPORAL_TLS_CA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHIXIAN_TEMPORAL_PORT", "7999")


def test_embedded_server_without_tls():
    config = connect_config()
    assert config["target_host"] == "127.0.0.1:7999"
    assert config["namespace"] == "default"
    assert "tls" not in config and "api_key" not in config


def test_arguments_override_the_settings(monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    assert connect_config()["target_host"] == "temporal.example:7233"
    config = connect_config("other:7233", "ns")
    assert (config["target_host"], config["namespace"]) == ("other:7233", "ns")


def test_an_api_key_implies_tls(monkeypatch):
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret")
    config = connect_config()
    assert config["api_key"] == "secret"
    assert config["tls"] is True


def test_mtls_files_are_read(monkeypatch, tmp_path):
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_bytes(name.encode())
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "cert"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "key"))
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(tmp_path / "ca"))
    tls = connect_config()["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"cert", b"key", b"ca")


def test_a_certificate_without_its_key_is_refused(monkeypatch, tmp_path):
    (tmp_path / "cert").write_bytes(b"cert")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "cert"))
    with pytest.raises(RuntimeError, match="TEMPORAL_TLS_KEY"):
        connect_config()


def test_a_missing_file_names_its_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(tmp_path / "absent"))
    with pytest.raises(RuntimeError, match="TEMPORAL_TLS_CA"):
        connect_config()
