"""Ceiling apps: what the same machine, uvicorn and event loop do with no application
code. Run exactly the way ``hms serve`` runs hms (``hms.core.serving.serve``: uvicorn with an
import string, ``access_log=False``, ``proxy_headers=False``, N workers each with its own
``SO_REUSEPORT`` socket on Linux).

(a) ``json``: bare FastAPI returning a small JSON object.
(b) ``pk``: bare FastAPI + an asyncpg pool reading one row by primary key from a table
    ``bench_ceiling`` that the command creates and fills before uvicorn starts.

    python -m bench.ceilings json --port 9001 --workers 2
    python -m bench.ceilings pk --port 9002 --workers 2 --dsn postgresql://... --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException

ROWS_ENV = "BENCH_CEILING_ROWS"
DSN_ENV = "BENCH_CEILING_DSN"
TABLE_ENV = "BENCH_CEILING_TABLE"

json_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@json_app.get("/ping")
async def ping() -> dict[str, object]:
    return {"status": "ok", "service": "ceiling-json", "items": [1, 2, 3]}


@asynccontextmanager
async def _pool(app: FastAPI) -> AsyncIterator[None]:
    import asyncpg

    app.state.pool = await asyncpg.create_pool(os.environ[DSN_ENV], min_size=2, max_size=10)
    app.state.rows = int(os.environ.get(ROWS_ENV, "100000"))
    table = os.environ.get(TABLE_ENV, "bench_ceiling")
    app.state.sql = f"SELECT id, name, mobile, created_at FROM {table} WHERE id = $1"
    try:
        yield
    finally:
        await app.state.pool.close()


pk_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=_pool)


@pk_app.get("/row")
async def row(id: int | None = None) -> dict[str, object]:
    key = id if id is not None else random.randint(1, pk_app.state.rows)
    rec = await pk_app.state.pool.fetchrow(pk_app.state.sql, key)
    if rec is None:
        raise HTTPException(404)
    return {"id": rec["id"], "name": rec["name"], "mobile": rec["mobile"],
            "created_at": rec["created_at"].isoformat()}


async def fill_table(dsn: str, rows: int, table: str = "bench_ceiling") -> None:
    """(Re)create ``table`` with ``rows`` rows (ids 1..rows), COPY-loaded."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, name text "
                           "NOT NULL, mobile text NOT NULL, created_at timestamptz NOT NULL "
                           "DEFAULT now())")
        await conn.copy_records_to_table(
            table, columns=["id", "name", "mobile"],
            records=((i, f"Patient {i}", f"010{i:08d}") for i in range(1, rows + 1)))
        await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    from hms.core.serving import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=["json", "pk"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dsn", default=os.environ.get(DSN_ENV))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--table", default="bench_ceiling",
                        type=lambda t: t if t.isidentifier() else parser.error("bad table"))
    args = parser.parse_args(argv)
    if args.app == "pk":
        if not args.dsn:
            parser.error("pk needs --dsn")
        asyncio.run(fill_table(args.dsn, args.rows, args.table))
        os.environ[TABLE_ENV] = args.table
        os.environ[DSN_ENV] = args.dsn
        os.environ[ROWS_ENV] = str(args.rows)
    serve(f"bench.ceilings:{args.app}_app", host=args.host, port=args.port,
          workers=args.workers, access_log=False, proxy_headers=False)


if __name__ == "__main__":
    main()
