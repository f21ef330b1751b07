"""Settings read from ``HMS_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "hms-development-secret-change-me-in-production-0000"


class Settings(BaseSettings):
    """Runtime configuration.

    Every field maps to ``HMS_<NAME>`` (case-insensitive), e.g. ``HMS_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="HMS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default is SQLite at <data_dir>/hms.db",
    )
    db_pool_size: int = Field(default=10, ge=1, description=(
        "PostgreSQL connections each server process keeps open"))
    db_max_overflow: int = Field(default=0, ge=0, description=(
        "Extra PostgreSQL connections a process may open in a burst (closed when returned)"))
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, description=(
        "How long a request waits for a free pooled connection before a 503 database_busy"))
    dashboard_max_age_seconds: float = Field(
        default=30.0, ge=0,
        description="GET /reports/dashboard serves figures at most this old (its "
                    "generated_at says when they were computed); 0 computes on every call",
    )
    principal_cache_seconds: float = Field(
        default=60.0, ge=0,
        description="PostgreSQL: each worker answers a bearer token from memory for at most "
                    "this long, forgetting it at once on any change to the user, the login "
                    "session or a role (hms.identity.principal_cache); 0 reads the database "
                    "on every request. Not used on SQLite",
    )
    gc_freeze: bool = Field(
        default=True,
        description="At start-up each server process moves the objects alive then out of "
                    "the cyclic garbage collector's reach (hms.core.serving."
                    "freeze_startup_heap): no ~120 ms full-collection pauses under load",
    )
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_minutes: int = 30
    refresh_token_days: int = 7
    # Argon2id cost (RFC 9106; defaults = argon2-cffi's RFC "low memory" profile). Hashes made
    # with other parameters are upgraded at the next successful login.
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4_194_304)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)
    # Password policy and account protection (hms.identity.password_policy; NIST SP 800-63B
    # section 5.1.1.2; seed 003 NFR-SEC-001). 0 days disables password expiry.
    password_min_length: int = Field(default=12, ge=8, le=128)
    password_min_classes: int = Field(default=3, ge=1, le=4)
    password_max_age_days: int = Field(default=90, ge=0)
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1)
    # TOTP MFA (RFC 6238). The TOTP secrets are stored AES-256-GCM encrypted with a key
    # derived from mfa_encryption_key (unset: derived from jwt_secret; set it in production so
    # rotating the JWT key does not make the enrolled authenticators unreadable).
    mfa_encryption_key: str | None = None
    mfa_required_roles: list[str] = ["admin", "super_admin"]
    mfa_enforced: bool = Field(
        default=True, description="False relaxes the MFA enrolment requirement (hms demo)")
    upload_max_bytes: int = 20 * 1024 * 1024
    broker_url: str | None = None
    reports_queue: str = Field(default="hms-reports", description="Celery queue of exports")
    redis_url: str | None = None
    # Rate limits of the login, refresh and password routes (hms.core.ratelimit): "N/unit"
    # or "N/Munit" (s, m, h, d), e.g. "20/minute", "5/10s". Counters live in Redis when
    # redis_url is set (shared by every worker), in process memory otherwise. The login
    # limits also apply to change-password and the MFA routes (counted separately).
    rate_limit_enabled: bool = True
    rate_limit_login_per_ip: str = "20/minute"
    rate_limit_login_per_account: str = "10/minute"
    rate_limit_refresh_per_ip: str = "60/minute"
    rate_limit_refresh_per_account: str = "30/minute"
    rate_limit_key_prefix: str = "hms:rl"
    cors_origins: list[str] = []
    # Encryption at rest of patient identifiers (hms.core.crypto). Unset: development keys
    # derived from jwt_secret (refused in production). Keys are base64 of 32 random bytes.
    encryption_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"key_id": "base64 32-byte AES-256 key", ...}; old ids stay to decrypt',
    )
    encryption_active_key: str | None = Field(
        default=None, description="Id in encryption_keys that encrypts new values")
    blind_index_key: str | None = Field(
        default=None, description="base64 32-byte HMAC-SHA256 key of the search blind indexes")
    # Host header allow-list (Starlette TrustedHostMiddleware; "*.example.org" wildcards,
    # "*" disables the check). The default fits `hms demo`, `hms serve` on loopback and tests.
    trusted_hosts: list[str] = ["localhost", "127.0.0.1", "[::1]", "testserver", "*.localhost"]
    # Request bodies above this size get 413 (JSON and form routes; the document upload has
    # its own limit, upload_max_bytes).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Strict-Transport-Security max-age; sent in production and on every HTTPS request.
    hsts_seconds: int = Field(default=31_536_000, ge=0)
    # Medical records are kept this many years after the patient's last visit before an
    # erasure request can be honoured (seed 003 NFR-COMP-002 "retain medical records for
    # minimum 7 years"; hms.privacy).
    record_retention_years: int = Field(default=7, ge=1, le=100)
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("rate_limit_login_per_ip", "rate_limit_login_per_account",
                     "rate_limit_refresh_per_ip", "rate_limit_refresh_per_account")
    @classmethod
    def _rate(cls, value: str) -> str:
        from hms.core.ratelimit import Rate

        Rate.parse(value)  # ValueError -> a settings error naming the variable
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: ``HMS_DATABASE_URL`` or SQLite under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hms.db').resolve()}"

    @property
    def documents_dir(self) -> Path:
        """Folder that holds uploaded documents (outside any served folder)."""
        return self.data_dir / "documents"

    @property
    def exports_dir(self) -> Path:
        """Folder that holds generated report exports."""
        return self.data_dir / "exports"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
