"""Alembic environment: runs migrations over the async engine for the configured URL."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from hms.core.crypto import EncryptedString
from hms.db.base import UTCDateTime
from hms.db.migrate import target_metadata
from hms.db.session import create_engine

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from hms.config import get_settings

    return get_settings().effective_database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import app code that may change later: render our column types
    # as the plain SQLAlchemy types they store.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedString):
        return "sa.Text()"  # ciphertext (hms.core.crypto); the backfill encrypts, not the type
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        _sync_catalogue(connection)


def _sync_catalogue(connection: Connection) -> None:
    # At head, grant permissions the code added since the database was seeded to their
    # default roles (roles are data; see hms.identity.roles). Not on a partial upgrade or
    # a downgrade: the tables may not be there or may not match the code.
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(config).get_heads())
    if set(context.get_context().get_current_heads()) != heads:
        return
    from hms.identity.roles import sync_permission_catalogue

    sync_permission_catalogue(connection)


async def _run_async() -> None:
    engine = create_engine(_url(), pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
