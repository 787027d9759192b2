"""All configuration, from the environment (prefix ``SEQTRACK_``) or secret files."""

from __future__ import annotations

import ipaddress
import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

ENV_PREFIX = "SEQTRACK_"
MIN_SECRET_LENGTH = 32
# OWASP's floor for argon2id memory (19 MiB); tests may go lower, production may not.
PRODUCTION_MIN_HASH_MEMORY_KIB = 19 * 1024

# Values people paste from tutorials; production must never run with one of them.
KNOWN_WEAK_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "supersecret",
        "password",
        "development",
        "dev",
        "test",
        "insecure",
        "default",
        "seqtrack",
        "your-secret-key",
        "replace-me",
    }
)

# A wait, an interval or a timeout: more than no time at all.
Seconds = Annotated[float, Field(gt=0)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        validate_default=True,
    )

    environment: Literal["development", "production"] = "development"

    host: str = "127.0.0.1"
    port: Port = 8000
    workers: int = Field(default=1, ge=1, le=64)

    data_dir: Path = Path("var")
    # Uploaded submission files and generated reports; default data_dir/files.
    files_dir: Path | None = None
    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    event_bus_url: str | None = None

    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # Keys for personal data at rest (platform/crypto.py); without them, derived from the secret key.
    pii_keys: SecretStr | None = None
    pii_keys_file: Path | None = None
    # Keys the audit chain (HMAC). Kept out of the database so that whoever can write to it
    # cannot re-seal an edited trail. Derived from the secret key when unset.
    audit_key: SecretStr | None = None

    # NoDecode: the comma-separated form reaches the validator instead of failing as JSON.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For / -Proto are believed.
    # None by default: otherwise any client could name its own address and dodge per-IP limits.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    request_timeout_seconds: Seconds = 30.0

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    db_pool_size: int = Field(default=15, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: Seconds = 30.0
    db_pool_recycle_seconds: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = False
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)

    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    web_session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # How long an e-mailed "forgot password" link works (it works once).
    password_reset_minutes: int = Field(default=30, ge=5, le=24 * 60)
    # argon2id cost; the defaults are RFC 9106's "low memory" profile (64 MiB, 3 passes, 4 lanes).
    password_hash_memory_kib: int = Field(default=65536, ge=1024)
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    # How long an api process may reuse a resolved caller before asking the database again.
    # Changes to an account drop its callers at once (through Redis across processes);
    # without Redis the lifetime is capped at one second. 0 turns the cache off.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # `limits` notation; the per-account limit also covers e-mails that have no account.
    login_rate_limit_per_ip: str = "30/minute"
    login_rate_limit_per_account: str = "10/minute"
    # Every authenticated API request counts against its API key, else its user, else the client
    # address, per class of route. Generous: they stop runaway scripts, not people (`make bench`
    # raises them). Shared through Redis when SEQTRACK_REDIS_URL is set.
    rate_limit_reads: str = "6000/minute"
    rate_limit_writes: str = "1200/minute"
    rate_limit_exports: str = "60/minute"

    tracing_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None

    # Background jobs. The huey queue name keeps deployments (and test runs) sharing
    # one Redis apart; the embedded default keeps its queue in data_dir/jobs.db.
    queue_name: str = Field(default="seqtrack", pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    embedded_worker: Literal["auto", "on", "off"] = "auto"
    extra_task_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    job_lease_seconds: Seconds = 60.0
    job_max_attempts: int = Field(default=5, ge=1, le=100)
    job_timeout_seconds: Seconds = 300.0
    job_retry_base_seconds: Seconds = 2.0
    job_retry_max_seconds: Seconds = 900.0
    job_poll_interval_seconds: Seconds = 0.2
    job_sweep_interval_seconds: Seconds = 5.0
    job_concurrency: int = Field(default=4, ge=1, le=256)
    # A worker has no HTTP API; set a port to let Prometheus scrape its job and relay metrics.
    worker_metrics_port: Port | None = None

    # Events leaving the process: the outbox relay, the bus and the live feed.
    event_bus_prefix: str = Field(default="seqtrack", pattern=r"^[A-Za-z0-9_-]{1,60}$")
    relay_poll_interval_seconds: Seconds = 0.3
    relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    feed_poll_interval_seconds: Seconds = 2.0
    feed_gap_grace_seconds: float = Field(default=60.0, ge=0)
    feed_keepalive_seconds: Seconds = 15.0

    # Outbound HTTP (webhooks). Private and loopback destinations are refused
    # unless allowed: a tenant must not make the server call its own network.
    http_timeout_seconds: Seconds = 10.0
    webhook_allow_private_networks: bool = False
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_breaker_threshold: int = Field(default=5, ge=1)
    webhook_breaker_cooldown_seconds: float = Field(default=60.0, ge=0)
    webhook_disable_after_failures: int = Field(default=10, ge=1)

    # The address people open SeqTrack at (https://lims.example.org): links in e-mails point here.
    # Never taken from a request's Host header, which whoever asks for a reset link could forge.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # E-mail: "file" writes .eml files under data_dir/mail for development.
    mail_backend: Literal["file", "smtp"] = "file"
    mail_from: str = "seqtrack@localhost"
    smtp_host: str = "localhost"
    smtp_port: Port = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: Seconds = 15.0

    # Intake: submitted files. Larger files than intake_background_bytes are read by a job.
    intake_max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    intake_background_bytes: int = Field(default=2 * 1024 * 1024, ge=0)
    intake_background_rows: int = Field(default=20_000, ge=1)
    intake_confidence_threshold: float = Field(default=0.7, ge=0, le=1)
    # The optional LLM extractor for PDF forms: an Ollama-compatible /api/generate.
    llm_url: str | None = None
    llm_model: str = "llama3.1:8b"
    llm_timeout_seconds: Seconds = 20.0
    llm_retries: int = Field(default=1, ge=0, le=5)
    llm_breaker_threshold: int = Field(default=3, ge=1)
    llm_breaker_cooldown_seconds: float = Field(default=60.0, ge=0)

    # Backups: `seqtrack backup` and the nightly job write here (default data_dir/backups);
    # the job keeps the newest backup of each of the last N days and of the last M weeks.
    backup_dir: Path | None = None
    backup_keep_daily: int = Field(default=7, ge=1, le=366)
    backup_keep_weekly: int = Field(default=4, ge=0, le=520)
    backup_nightly: bool = True

    @property
    def site_url(self) -> str:
        """Where links in e-mails point: ``public_url``, else the address this server listens on."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @field_validator("cors_origins", "trusted_proxies", "extra_task_modules", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        # Operators write "https://a,https://b" far more often than JSON lists.
        return _split_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator(
        "login_rate_limit_per_ip",
        "login_rate_limit_per_account",
        "rate_limit_reads",
        "rate_limit_writes",
        "rate_limit_exports",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '600/minute'") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        try:
            drivername = make_url(url).drivername
        except Exception as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        allowed = {"sqlite+aiosqlite", "postgresql+asyncpg"}
        if drivername in {"sqlite", "postgresql", "postgres"}:
            # Accept the plain forms and pick the async driver the app runs on.
            url = url.replace("postgres://", "postgresql://", 1)
            url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
            url = url.replace("sqlite://", "sqlite+aiosqlite://", 1)
            return SecretStr(url)
        if drivername not in allowed:
            raise ValueError(f"unsupported driver {drivername!r}; use sqlite or postgresql")
        return value

    @model_validator(mode="after")
    def _refuse_weak_production_secret(self) -> Settings:
        if self.secret_key is None and self.secret_key_file is not None:
            try:
                text = self.secret_key_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"SEQTRACK_SECRET_KEY_FILE cannot be read: {exc}") from None
            self.secret_key = SecretStr(text)
        if self.environment == "production":
            if self.password_hash_memory_kib < PRODUCTION_MIN_HASH_MEMORY_KIB:
                raise ValueError(
                    f"SEQTRACK_PASSWORD_HASH_MEMORY_KIB below {PRODUCTION_MIN_HASH_MEMORY_KIB} "
                    "is too cheap for production"
                )
            problem = weak_secret_reason(self.secret_key)
            if problem:
                raise ValueError(
                    f"SEQTRACK_SECRET_KEY {problem}; production refuses to start. "
                    "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def database_dsn(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'seqtrack.db').resolve()}"

    @property
    def file_store(self) -> Path:
        return self.files_dir if self.files_dir is not None else self.data_dir / "files"

    @property
    def backups(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def is_sqlite(self) -> bool:
        return self.database_dsn.startswith("sqlite")

    @property
    def runs_embedded_worker(self) -> bool:
        """Whether ``seqtrack serve`` also works the queue (one command is enough on one machine)."""
        if self.embedded_worker == "auto":
            return self.redis_url is None
        return self.embedded_worker == "on"

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.is_production
        return self.log_format == "json"

    def signing_key(self) -> str:
        """The secret for tokens and signatures.

        Development without a configured secret gets a random one kept in the data
        directory, so sessions survive a restart but no two installs share a key.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key


def _split_list(value: object) -> object:
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def weak_secret_reason(secret: SecretStr | None) -> str | None:
    if secret is None or not secret.get_secret_value().strip():
        return "is not set"
    value = secret.get_secret_value().strip()
    if value.lower() in KNOWN_WEAK_SECRETS:
        return "is a well-known default value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 8:
        return "has too little variety to be random"
    return None


def describe_validation_error(error: ValidationError) -> str:
    """Name each bad setting by the environment variable an operator sets."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        variable = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        lines.append(f"{variable}: {item['msg'].removeprefix('Value error, ')}")
    return "Invalid configuration:\n  " + "\n  ".join(lines)


@lru_cache
def get_settings() -> Settings:
    return Settings()
