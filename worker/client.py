"""Temporal client for the worker, the CLI and the web app.

Where Temporal is (domain.settings): TEMPORAL_ADDRESS, else the embedded server on 127.0.0.1 at
SHIXIAN_TEMPORAL_PORT, so every command reaches the server `shixian up` started. TLS/mTLS and API keys from
TEMPORAL_TLS_CERT / _KEY / _CA and TEMPORAL_API_KEY, turned into Client.connect's arguments by the SDK's
`temporalio.envconfig` (ClientConfigProfile.to_client_connect_config).
Payloads always use the pydantic data converter (dates travel inside pydantic models).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, ClientConnectConfig
from temporalio.runtime import Runtime

from domain.settings import get_settings


def task_queue_name() -> str:
    """The task queue, read per call: the same value in every process of a deployment (SHIXIAN_TASK_QUEUE)."""
    return get_settings().task_queue


def temporal_address() -> str:
    return get_settings().temporal_target


def temporal_namespace() -> str:
    return get_settings().temporal_namespace or "default"


def _read(var: str, path: Path | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise RuntimeError(f"无法读取 {var}={path} / cannot read {var}={path}: {exc}") from exc


def _api_key() -> str | None:
    key = get_settings().temporal_api_key
    return key.get_secret_value() if key else None


def client_profile() -> ClientConfigProfile:
    """This deployment's connection as the SDK's envconfig profile, from domain.settings (the one place that
    reads TEMPORAL_*): the SDK then maps it to Client.connect's arguments (an API key implies TLS; a CA or a
    client certificate gives a TLSConfig). Files are read here, so a missing one names its variable."""
    s = get_settings()
    cert = _read("TEMPORAL_TLS_CERT", s.temporal_tls_cert)
    key = _read("TEMPORAL_TLS_KEY", s.temporal_tls_key)
    ca = _read("TEMPORAL_TLS_CA", s.temporal_tls_ca)
    if (cert is None) != (key is None):
        raise RuntimeError(
            "TEMPORAL_TLS_CERT 与 TEMPORAL_TLS_KEY 须同时设置 / set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"
        )
    tls = ClientConfigTLS(server_root_ca_cert=ca, client_cert=cert, client_private_key=key) if cert or ca else None
    return ClientConfigProfile(address=temporal_address(), namespace=temporal_namespace(), api_key=_api_key(), tls=tls)


def connect_config(address: str | None = None, namespace: str | None = None) -> ClientConnectConfig:
    """Client.connect's target, namespace, API key and TLS (arguments override the settings)."""
    config = client_profile().to_client_connect_config()
    if address:
        config["target_host"] = address
    if namespace:
        config["namespace"] = namespace
    return config


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    *,
    connect_timeout: timedelta | None = timedelta(seconds=10),
    runtime: Runtime | None = None,
) -> Client:
    """Connect to Temporal (address/namespace arguments override the environment)."""
    from worker.metrics import temporal_runtime

    return await Client.connect(
        **connect_config(address, namespace),
        runtime=runtime or temporal_runtime(),  # None: the default runtime (no SDK metrics)
        data_converter=pydantic_data_converter,
        connect_timeout=connect_timeout,
    )


def stderr_runtime() -> Runtime:
    """A Temporal runtime whose own log lines (core warnings) go to Python logging, i.e. stderr, never to
    stdout: a command's machine-readable output (--json) stays pure JSON."""
    import logging

    from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryConfig, TelemetryFilter

    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )
