"""Run Alembic migrations programmatically (CLI ``hms migrate``, the demo and the tests)."""

from __future__ import annotations

import importlib

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from hms.db.base import Base

# Every module that owns tables; imported so the metadata is complete for autogenerate.
MODEL_MODULES = [
    "hms.organization.models",
    "hms.identity.models",
    "hms.audit.models",
    "hms.patients.models",
    "hms.visits.models",
    "hms.clinical.models",
    "hms.forms.models",
    "hms.documents.models",
    "hms.reports.models",
    "hms.privacy.models",
    "hms.scheduling.models",
    "hms.lab.models",
    "hms.billing.models",
]


def target_metadata() -> MetaData:
    """The metadata of every ORM class in hms."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at hms's migrations (``url`` overrides the settings)."""
    cfg = Config()
    cfg.set_main_option("script_location", "hms:migrations")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Downgrade the database at ``url`` to ``revision``."""
    command.downgrade(alembic_config(url), revision)
