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
    db_pool_size: int = 10
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_minutes: int = 30
    refresh_token_days: int = 7
    # Argon2id cost (RFC 9106; defaults = argon2-cffi's RFC "low memory" profile). Hashes made
    # with other parameters are upgraded at the next successful login.
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4_194_304)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)
    upload_max_bytes: int = 20 * 1024 * 1024
    broker_url: str | None = None
    reports_queue: str = Field(default="hms-reports", description="Celery queue of exports")
    redis_url: str | None = None
    cors_origins: list[str] = []
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

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
