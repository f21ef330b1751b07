"""The ``hms`` command line (Typer)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from hms.config import get_settings
from hms.core.permissions import Role

app = typer.Typer(help="hms hospital backend", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Start the HTTP server (uvicorn)."""
    import uvicorn

    uvicorn.run("hms.asgi:app", host=host, port=port, workers=workers, access_log=False,
                proxy_headers=False)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Upgrade the database schema to REVISION (default head)."""
    from hms.db.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url, revision)
    typer.echo(f"database at revision {revision}")


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[str, typer.Option(help="Initial password", prompt=True,
                                          hide_input=True)],
    role: Annotated[Role, typer.Option(help="Role")],
    full_name: Annotated[str | None, typer.Option(help="Display name")] = None,
) -> None:
    """Create a staff account (fails if the username exists)."""
    from hms.db.session import Database, unit_of_work
    from hms.identity import service
    from hms.identity.schemas import UserCreate

    async def run() -> None:
        db = Database(get_settings().effective_database_url)
        try:
            async with unit_of_work(db) as session:
                user = await service.create_user(
                    session,
                    UserCreate(username=username, password=password, role=role,
                               full_name=full_name),
                )
            typer.echo(f"created user {user.username} ({user.role}) id={user.id}")
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:  # a CLI answers with the reason, not a traceback
        typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(1) from exc


def main() -> None:
    """Entry point for ``python -m hms``."""
    os.environ.setdefault("PYTHONUTF8", "1")
    app()


if __name__ == "__main__":
    main()
