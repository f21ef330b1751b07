"""``hms audit verify`` on committed data: concurrent requests keep one valid chain; the
command exits 0 with the tail, 1 naming the first broken row, 2 for a malformed anchor."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from hms.cli import app as cli
from tests.privacy.factories import clinical_day

pytestmark = pytest.mark.committed


async def _verify(*args: str) -> Result:
    # The command runs its own event loop: call it from a thread.
    return await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "verify", *args])


async def test_parallel_requests_keep_one_chain_and_the_cli_checks_it(committed_client, db):
    async with db.sessionmaker() as s:
        day = await clinical_day(committed_client, s)
    url = f"/api/v1/patients/{day.patient['id']}"
    responses = await asyncio.gather(*(
        committed_client.get(url, headers=day.nurse) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10

    ok = await _verify("--batch-size", "5")
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: ")
    tail = ok.output.strip().rsplit(" ", 1)[1]
    seq, digest = tail.split(":")
    assert len(digest) == 64
    async with db.engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM audit_log"))
        seqs = (await conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))).scalars()
        assert list(seqs) == list(range(1, count + 1))
    assert f"{count} audit rows verified" in ok.output and int(seq) == count

    assert (await _verify("--anchor", tail)).exit_code == 0
    assert (await _verify("--anchor", "12:nothex")).exit_code == 2

    async with db.engine.begin() as conn:  # an attacker who owns the table
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text(
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(text(
            "UPDATE audit_log SET entity_id = 'nothing-to-see' WHERE seq = 5"))
        if postgres:
            await conn.execute(text(
                "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    broken = await _verify()
    assert broken.exit_code == 1
    assert "FAILED: altered at row 5" in broken.output
    assert "4 rows before it are intact" in broken.output
