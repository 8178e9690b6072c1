"""Configuration from the environment (and a `.env` file in the working directory).

Secrets are held as `SecretStr`, so they never show in a repr, a traceback or a log line.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigurationError

logger = logging.getLogger("keyrack.settings")

DEFAULT_SQLITE_FILE = "keyrack.db"
SECRET_FILE_NAME = "keyrack.secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 24


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEYRACK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default="", description="Tortoise URL; empty means ./keyrack.db")
    secret_key: SecretStr | None = None
    # Comma-separated secrets this one replaced, newest first: still honoured for lookups,
    # decryption, TOTP and the audit chain until `keyrack rotate-secret` has moved off them.
    previous_secret_keys: SecretStr | None = None
    session_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    # How long elevateSession lets a session act without a code where step-up is required.
    step_up_ttl_seconds: int = Field(default=15 * 60, ge=30, le=12 * 3600)
    # How long a request for a two-person approval stays open (app.approvals).
    approval_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Who may sign up through the API (app.accounts.signup): open, invite or closed.
    signup: Literal["open", "invite", "closed"] = "open"
    # Failed logins allowed per window before further attempts are refused.
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=50, ge=1)
    login_throttle_window_seconds: int = Field(default=900, ge=1)
    # Logins of any outcome allowed per window: a burst of right passwords is throttled too.
    login_attempts_per_account: int = Field(default=30, ge=1)
    login_attempts_per_address: int = Field(default=200, ge=1)
    # Live sessions per account; a new one ends the oldest beyond this.
    max_sessions_per_user: int = Field(default=50, ge=1)
    # Sign-ups (successful or not) allowed per address and window.
    signups_per_address: int = Field(default=20, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated
    # addresses or networks (uvicorn's forwarded_allow_ips). Empty: nobody's.
    trusted_proxies: str = ""
    # Requests per minute (per process, or shared: rate_limit_storage); 0 turns a limit off.
    verify_rate_limit: int = Field(default=600_000, ge=0)
    # Where the verification limits count: empty, each process's memory; a redis://,
    # rediss://, valkey:// or valkeys:// URL, one store shared by every process. A secret:
    # the URL may hold a password.
    rate_limit_storage: SecretStr = SecretStr("")
    # Unknown (or out-of-scope) keys, per verifier; failed verifier authentication, per address.
    verify_unknown_rate_limit: int = Field(default=1_200_000, ge=0)
    verify_address_rate_limit: int = Field(default=6_000, ge=0)
    verify_cache_ttl_seconds: float = Field(default=5.0, ge=0)
    usage_flush_seconds: float = Field(default=2.0, gt=0)
    # Verifications counted per key, hour, code and verifier (README "Usage and impact");
    # off only to measure what counting costs.
    usage_counting: bool = True
    usage_retention_days: int = Field(default=90, ge=1, le=3650)
    # Distinct client addresses kept per key and hour, per process; the rest count as "*".
    usage_max_addresses: int = Field(default=100, ge=1, le=10_000)
    # Revoking, disabling or regenerating without grace a key set used this recently
    # answers RECENTLY_USED unless acknowledged; 0 turns the check off.
    recent_use_seconds: int = Field(default=3600, ge=0)
    # How often each process retires keys whose idle window or grace period has ended
    # (regenerateKey's retireWhenIdleSeconds); the verify path refuses them before that.
    retirement_interval_seconds: float = Field(default=10.0, gt=0)
    # Traffic anomalies (app.anomalies): how often each process looks at the counts the
    # usage flush wrote, how far above its own hourly median a key set's volume (or its
    # refusals) must go, and the hourly counts below which neither ever alarms.
    anomaly_interval_seconds: float = Field(default=60.0, gt=0)
    anomaly_volume_multiple: float = Field(default=5.0, ge=1)
    anomaly_volume_floor: int = Field(default=100, ge=1)
    anomaly_refusal_floor: int = Field(default=50, ge=1)
    # How long one database statement (and a new connection) may take while serving.
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    graphiql: bool = True
    introspection: bool = True
    # Which documents /graphql runs from a documentId (app.graphql.trusted): off, allow or
    # require (browser cookie sessions must then name one), and the operators' manifests.
    trusted_documents: Literal["off", "allow", "require"] = "off"
    trusted_documents_manifests: str = ""
    max_query_depth: int = Field(default=12, ge=1)
    max_query_aliases: int = Field(default=30, ge=1)
    max_query_tokens: int = Field(default=2000, ge=1)
    max_query_cost: int = Field(default=20_000, ge=1)
    # Fields once every fragment spread is expanded: a fragment chain bomb is refused
    # before any other validation runs.
    max_query_fields: int = Field(default=5_000, ge=1)
    # Key values one request may reveal (each one an audited decryption).
    max_reveals_per_request: int = Field(default=10, ge=1)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    cors_origins: str = Field(default="", description="comma-separated origins allowed by CORS")
    # Expiry notifications by email; no SMTP host means none are sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "keyrack@localhost"
    # Mails per hour, counted across processes (app.notifications.mail): to one recipient,
    # caused by one account, caused from one client address; reset mails per account.
    mail_per_recipient_per_hour: int = Field(default=20, ge=1)
    mail_per_sender_per_hour: int = Field(default=20, ge=1)
    mail_per_address_per_hour: int = Field(default=30, ge=1)
    mail_resets_per_account_per_hour: int = Field(default=3, ge=1)
    expiry_notice_seconds: int = Field(default=2 * 24 * 3600, ge=60)
    notification_interval_seconds: float = Field(default=60.0, gt=0)
    # How often each organization's whole audit chain is recomputed in the background
    # (app.audit.full_checks): an incremental auditIntegrity cannot see older entries.
    audit_full_check_hours: float = Field(default=24.0, gt=0)
    # Webhooks: this process sends queued deliveries (and runs expiry rounds for them).
    webhook_delivery: bool = True
    webhook_interval_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Deliveries go to public addresses only, unless these open private ones (all of them,
    # or the comma-separated CIDRs listed).
    webhook_allow_private: bool = False
    webhook_allowed_networks: str = ""
    # POSTs in flight per process: in all, per organization, per endpoint.
    webhook_concurrency: int = Field(default=50, ge=1)
    webhook_organization_concurrency: int = Field(default=10, ge=1)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1)
    # How often organizations' signed audit checkpoints go to AUDIT_CHECKPOINT webhooks.
    audit_checkpoint_interval_seconds: float = Field(default=3600.0, gt=0)
    # Leak intake (app.leaks): GitHub's secret-scanning public keys, as GitHub publishes
    # them ({"public_keys": [{"key_identifier", "key", ...}]}) or {identifier: PEM}, inline
    # JSON or the path of a file holding it. Empty: POST /v1/leaks/github answers 404.
    leak_scanner_keys: str = ""
    # Scanner posts per client address and minute; reportLeak calls per user and hour.
    leak_address_rate_limit: int = Field(default=120, ge=1)
    leak_report_rate_limit: int = Field(default=20, ge=1)
    # Key hygiene digest mail to organization admins: "weekly" or "off".
    hygiene_digest: Literal["off", "weekly"] = "off"
    hygiene_digest_interval_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    log_level: str = "INFO"
    # /metrics is served only with this token set, and only to a caller that sends it.
    metrics_token: SecretStr | None = None
    # `json`: one JSON object per line, and one line per request (app.requestlog).
    log_format: Literal["text", "json"] = "text"
    # One line per request is a lot on the verification hot path; off unless asked for.
    access_log: bool = False

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # ValueError
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"KEYRACK_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters long"
            )
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _shared_store(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and url.partition("://")[0] not in ("redis", "rediss", "valkey", "valkeys"):
            raise ValueError(
                "KEYRACK_RATE_LIMIT_STORAGE must be a redis://, rediss://, valkey:// or "
                "valkeys:// URL (or empty, for limits per process)"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if entry and entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(
                        f"KEYRACK_TRUSTED_PROXIES: {entry[:60]!r} is not an address or network"
                    ) from None
        return value

    @property
    def trusted_document_manifests(self) -> list[Path]:
        return [Path(p.strip()) for p in self.trusted_documents_manifests.split(",") if p.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [e.strip() for e in self.trusted_proxies.split(",") if e.strip()]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite://{Path.cwd() / DEFAULT_SQLITE_FILE}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite://")


@dataclass(frozen=True, repr=False)
class Secret:
    """Holds the master secret; its repr never shows the value."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"


def sqlite_file(database_url: str) -> Path | None:
    """The file an SQLite URL names (its options after `?` left out); None for another
    database or an in-memory one."""
    if not database_url.startswith("sqlite://"):
        return None
    location = database_url.removeprefix("sqlite://").split("?", 1)[0]
    return None if location in ("", ":memory:") else Path(location)


def resolve_secret(settings: Settings) -> Secret:
    """The master secret: configured, or (SQLite only) generated once beside the database."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"KEYRACK_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long"
            )
        return Secret(value)
    if not settings.is_sqlite:
        raise ConfigurationError(
            "KEYRACK_SECRET_KEY is required when KEYRACK_DATABASE_URL is not SQLite"
        )
    db_path = sqlite_file(settings.resolved_database_url)
    if db_path is None:
        return Secret(secrets.token_urlsafe(48))
    secret_file = db_path.resolve().parent / SECRET_FILE_NAME
    if secret_file.exists():
        return Secret(secret_file.read_text(encoding="utf-8").strip())
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not each write a different secret.
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Secret(secret_file.read_text(encoding="utf-8").strip())
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    logger.warning(
        "KEYRACK_SECRET_KEY is not set: generated one into %s. Keep that file with the "
        "database; without it stored keys cannot be verified or revealed.",
        secret_file,
    )
    return Secret(value)


@dataclass(frozen=True, repr=False)
class MasterSecrets:
    """The current master secret and the ones it replaced (newest first); repr shows nothing."""

    current: str
    previous: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"MasterSecrets(<current>, <{len(self.previous)} previous>)"


def resolve_secrets(settings: Settings) -> MasterSecrets:
    """The current secret (see `resolve_secret`) and KEYRACK_PREVIOUS_SECRET_KEYS."""
    current = resolve_secret(settings).value
    previous: list[str] = []
    if settings.previous_secret_keys is not None:
        for value in settings.previous_secret_keys.get_secret_value().split(","):
            value = value.strip()
            if not value or value == current or value in previous:
                continue
            if len(value) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    "every KEYRACK_PREVIOUS_SECRET_KEYS entry must be at least "
                    f"{MIN_SECRET_LENGTH} characters long"
                )
            previous.append(value)
    return MasterSecrets(current, tuple(previous))
