"""Temporal client for the worker, the CLI and the web app.

Environment:
  TEMPORAL_ADDRESS    host:port of the frontend (default 127.0.0.1:7233)
  TEMPORAL_NAMESPACE  namespace (default "default")
  TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY  client certificate and key files (mTLS)
  TEMPORAL_TLS_CA     server CA file (TLS with a private CA)
  TEMPORAL_API_KEY    API key (Temporal Cloud); implies TLS
Payloads always use the pydantic data converter (dates travel inside pydantic models).
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

TASK_QUEUE = "shixian"
DEFAULT_ADDRESS = "127.0.0.1:7233"


def temporal_address() -> str:
    return os.environ.get("TEMPORAL_ADDRESS") or DEFAULT_ADDRESS


def temporal_namespace() -> str:
    return os.environ.get("TEMPORAL_NAMESPACE") or "default"


def _read(var: str) -> bytes | None:
    path = os.environ.get(var)
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise RuntimeError(f"无法读取 {var}={path} / cannot read {var}={path}: {exc}") from exc


def tls_config() -> TLSConfig | bool:
    cert, key, ca = _read("TEMPORAL_TLS_CERT"), _read("TEMPORAL_TLS_KEY"), _read("TEMPORAL_TLS_CA")
    if (cert is None) != (key is None):
        raise RuntimeError(
            "TEMPORAL_TLS_CERT 与 TEMPORAL_TLS_KEY 须同时设置 / set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"
        )
    if cert or ca:
        return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    return bool(os.environ.get("TEMPORAL_API_KEY"))


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    *,
    connect_timeout: timedelta | None = timedelta(seconds=10),
) -> Client:
    """Connect to Temporal (address/namespace arguments override the environment)."""
    return await Client.connect(
        address or temporal_address(),
        namespace=namespace or temporal_namespace(),
        api_key=os.environ.get("TEMPORAL_API_KEY") or None,
        tls=tls_config(),
        data_converter=pydantic_data_converter,
        connect_timeout=connect_timeout,
    )
