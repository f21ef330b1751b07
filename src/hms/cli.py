"""The ``hms`` command line (Typer)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hms.config import get_settings
from hms.core.permissions import Role

if TYPE_CHECKING:
    from hms.fhir.schemas import ImportReport

app = typer.Typer(help="hms hospital backend", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (one per core is usual)")] = 1,
) -> None:
    """Start the HTTP server (uvicorn). With several workers on Linux each has its own
    SO_REUSEPORT socket, so connections are spread evenly over them (hms.core.serving)."""
    from hms.core.serving import serve as run_server

    run_server("hms.asgi:app", host=host, port=port, workers=workers, access_log=False,
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


@app.command("import-fhir")
def import_fhir(
    paths: Annotated[list[Path], typer.Argument(
        metavar="PATH",
        help="FHIR R4 Bundle files (.json, .json.gz) or folders (searched recursively)")],
) -> None:
    """Import FHIR R4 Bundles (e.g. Synthea) into patients, visits, vital signs and
    diagnoses. Each file is one transaction: a malformed file is rejected with the reason
    and imports nothing. Re-importing a file creates nothing. Exits 1 if a file was
    rejected. Prints counts only, never patient data."""
    from hms.db.session import Database
    from hms.fhir.service import import_paths

    async def run() -> ImportReport:
        db = Database(get_settings().effective_database_url)
        try:
            return await import_paths(db, paths)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except Exception as exc:  # e.g. database unreachable or not migrated: no traceback
        reason = getattr(exc, "detail", None) or (
            "the database refused the import; is it reachable and migrated (hms migrate)?")
        typer.echo(f"error: {type(exc).__name__}: {reason}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


# -- rotate-keys (helper B) ------------------------------------------------------------------
@app.command("rotate-keys")
def rotate_keys(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000,
                                            help="Rows per batch (one transaction each)")] = 500,
) -> None:
    """Re-encrypt every encrypted value (patient identifiers, contact details) whose key id
    is not HMS_ENCRYPTION_ACTIVE_KEY, in batches; prints counts per column, never values.
    Idempotent: a second run re-encrypts nothing. Rotation: add the new key to
    HMS_ENCRYPTION_KEYS, make it HMS_ENCRYPTION_ACTIVE_KEY, restart the app, run this, then
    remove the old key. The blind-index key (HMS_BLIND_INDEX_KEY) is not rotated here: a new
    index key means recomputing every index from the plaintext (a full re-index)."""
    from hms.db.key_rotation import RotationReport
    from hms.db.key_rotation import rotate_keys as rotate
    from hms.db.session import Database, unit_of_work

    async def run() -> RotationReport:
        db = Database(get_settings().effective_database_url)
        try:
            return await rotate(lambda: unit_of_work(db), batch_size=batch_size)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except Exception as exc:  # wrong keys, database unreachable: the reason, no traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines():
        typer.echo(line)


# -- end rotate-keys


# -- audit verify (helper C) -----------------------------------------------------------------
audit_app = typer.Typer(help="The audit trail", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000,
                                            help="Rows read per query")] = 1000,
    anchor: Annotated[str | None, typer.Option(
        metavar="SEQ:HASH",
        help="A tail printed by an earlier verify and kept elsewhere: the row must still "
             "have that hash (catches rows deleted from the end and a re-hashed history)",
    )] = None,
) -> None:
    """Walk the audit hash chain in seq order and report OK with the row count and the
    tail (keep it: it is the next --anchor), or the FIRST altered, inserted or deleted row.
    Exits 1 when the chain is broken. Read-only; prints row numbers and ids, never audited
    values."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from hms.audit import service as audit_service
    from hms.audit.schemas import ChainVerification
    from hms.db.session import Database

    pin: tuple[int, str] | None = None
    if anchor is not None:
        seq_text, _, digest = anchor.partition(":")
        if not (seq_text.isdigit() and len(digest) == 64
                and all(c in "0123456789abcdefABCDEF" for c in digest)):
            typer.echo("error: --anchor must be SEQ:HASH (a row number and 64 hex digits)",
                       err=True)
            raise typer.Exit(2)
        pin = (int(seq_text), digest.lower())

    async def run() -> ChainVerification:
        db = Database(get_settings().effective_database_url)
        try:
            async with db.engine.connect() as conn:
                # Plain BEGIN (not IMMEDIATE) on SQLite: the walk never blocks writers.
                conn = await conn.execution_options(hms_read_only=True)
                async with AsyncSession(bind=conn) as session:
                    return await audit_service.verify_chain(session, batch_size=batch_size,
                                                            anchor=pin)
        finally:
            await db.dispose()

    try:
        result = asyncio.run(run())
    except Exception as exc:  # database unreachable or not migrated: the reason, no traceback
        typer.echo(f"error: {type(exc).__name__}: the audit trail could not be read; is the "
                   "database reachable and migrated (hms migrate)?", err=True)
        raise typer.Exit(1) from exc
    if result.ok:
        typer.echo(f"OK: {result.checked} audit rows verified; tail "
                   f"{result.last_seq}:{result.last_hash}")
        return
    typer.echo(f"FAILED: {result.kind} at row {result.seq}: {result.detail}", err=True)
    typer.echo(f"{result.checked} rows before it are intact (last good row {result.last_seq})",
               err=True)
    raise typer.Exit(1)


# -- end audit verify


# -- generate (issue 5) ----------------------------------------------------------------------
@app.command()
def generate(
    patients: Annotated[int, typer.Option(min=1, help="Number of patients")],
    visits_per_patient: Annotated[int, typer.Option(min=0, max=100,
                                                    help="Visits per patient")] = 3,
    seed: Annotated[int, typer.Option(help="Same seed, same population")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000,
                                            help="Patients per transaction")] = 5000,
) -> None:
    """Bulk-load a synthetic population (COPY on PostgreSQL): patients with Egyptian names,
    national IDs and mobiles (encrypted and blind-indexed like registrations), a medical
    record each, visits over the last two years (mostly closed, recent ones open), and a
    SH.MR.FRM.05 nursing assessment with vital signs on most visits. Patient numbers are
    reserved on the registration days' counters, so the API's next numbers do not collide.
    For staging and benchmarks only: it writes one audit event for the run, not per row.
    Prints rows/s per table, never patient data."""
    from hms.db.bulk import refresh_statistics
    from hms.db.session import Database, unit_of_work
    from hms.synthetic.service import GenerationReport, generate_population

    def progress(report: GenerationReport) -> None:
        typer.echo(f"  {report.rows['patients']:,} / {patients:,} patients", err=True)

    async def run() -> GenerationReport:
        db = Database(get_settings().effective_database_url)
        try:
            report = await generate_population(
                lambda: unit_of_work(db), patients=patients,
                visits_per_patient=visits_per_patient, seed=seed, batch_size=batch_size,
                progress=progress)
            t0 = time.perf_counter()
            await refresh_statistics(db.engine)
            typer.echo(f"  planner statistics refreshed in {time.perf_counter() - t0:.1f} s",
                       err=True)
            return report
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except Exception as exc:  # database unreachable or not migrated: the reason, no traceback
        typer.echo(f"error: {type(exc).__name__}: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines():
        typer.echo(line)


# -- end generate


DEMO_ROLES = [Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST,
              Role.LAB_TECHNICIAN, Role.BILLING_OFFICER, Role.SUPER_ADMIN]
#: Where the demo staff work (seed 004 users have a department).
DEMO_DEPARTMENTS = {Role.PHYSICIAN: "Internal Medicine", Role.NURSE: "Internal Medicine",
                    Role.RECEPTIONIST: "Internal Medicine", Role.LAB_TECHNICIAN: "Laboratory"}


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve",
                                              help="Start the server afterwards")] = True,
) -> None:
    """Migrate, create the demo departments, insurer and service catalogue, one demo user
    per role (printing the passwords), import the demo patients (Synthea FHIR bundles
    shipped in data/synthea), then serve."""
    from hms.db.migrate import upgrade
    from hms.db.session import Database, unit_of_work
    from hms.fhir import service as fhir_service
    from hms.identity import service as identity_service
    from hms.identity.schemas import UserUpdate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    typer.echo(f"database: {settings.effective_database_url}")

    async def prepare() -> list[tuple[str, str, str]]:
        from hms.demo import ensure_reference_data

        db = Database(settings.effective_database_url)
        accounts = []
        try:
            async with unit_of_work(db) as session:
                departments = await ensure_reference_data(session)
            async with unit_of_work(db) as session:
                for role in DEMO_ROLES:
                    username = f"demo_{role.value}"
                    password = identity_service.generate_password()
                    user, created = await identity_service.ensure_user(
                        session, username, password, role, f"Demo {role.value.replace('_', ' ')}")
                    if not created:  # new password each run: it is printed only once
                        await identity_service.update_user(
                            session, user.id,
                            UserUpdate(password=password, is_active=True, unlock=True,
                                       reset_mfa=True))
                        await identity_service.clear_password_change(session, user.id)
                    if role in DEMO_DEPARTMENTS:
                        await identity_service.update_user(session, user.id, UserUpdate(
                            department_id=departments[DEMO_DEPARTMENTS[role]]))
                    accounts.append((role.value, username, password))
            report = await fhir_service.import_paths(db, [fhir_service.demo_bundle_dir()])
            typer.echo(report.summary())
        finally:
            await db.dispose()
        return accounts

    accounts = asyncio.run(prepare())
    typer.echo("\nDemo accounts (passwords are new on every run of `hms demo`):")
    for role, username, password in accounts:
        typer.echo(f"  {role:<16} {username:<22} {password}")
    typer.echo(f"\nAPI docs: http://{host}:{port}/docs")
    if serve_after:
        # The demo admins have no authenticator app: relax the MFA enrolment requirement
        # for this server process only, and say so.
        os.environ["HMS_MFA_ENFORCED"] = "false"
        get_settings.cache_clear()
        typer.echo("\nMFA enforcement is RELAXED for this demo server (HMS_MFA_ENFORCED=false):"
                   " admin and super_admin may work without enrolling MFA. `hms serve` "
                   "enforces it.")
        serve(host=host, port=port, workers=1)
    else:
        typer.echo("\nNote: `hms serve` enforces MFA enrolment for "
                   f"{', '.join(get_settings().mfa_required_roles)} (restricted sessions "
                   "until enrolled) unless HMS_MFA_ENFORCED=false.")


def main() -> None:
    """Entry point for ``python -m hms``."""
    os.environ.setdefault("PYTHONUTF8", "1")
    app()


if __name__ == "__main__":
    main()
