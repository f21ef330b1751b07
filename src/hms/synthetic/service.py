"""Load a synthetic population (``hms generate``) through each module's bulk loader."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.forms import service as forms_service
from hms.patients import service as patients_service
from hms.synthetic.generator import Batch, PopulationGenerator
from hms.visits import service as visits_service

SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]

TABLES = ("patients", "visits", "vital_signs", "nursing_assessments")


@dataclass
class GenerationReport:
    """Rows written per table and the seconds spent loading them (database time, including
    encryption and blind indexes for patients), plus the generation time in Python."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TABLES, 0.0))
    generate_seconds: float = 0.0
    total_seconds: float = 0.0

    def lines(self) -> list[str]:
        """One line per loader (forms and rows written, rows/s) and the overall rate;
        counts only. A patient is 2 rows (``patients`` + ``medical_records``), a nursing
        assessment 4 (submission, assessment, pain, fall risk)."""
        out = []
        for table in TABLES:
            n, s = self.rows[table], self.seconds[table]
            written = n * _ROWS_PER_ITEM.get(table, 1)
            rate = f"{written / s:,.0f} rows/s" if s > 0 else "-"
            out.append(f"{_LABELS.get(table, table):<28} {n:>10,}  {written:>10,} rows "
                       f"{s:8.1f} s  {rate}")
        total = self.rows_written
        out.append(f"{'generation (python)':<28} {'':>10}  {'':>10}      "
                   f"{self.generate_seconds:8.1f} s")
        out.append(f"{'total':<28} {'':>10}  {total:>10,} rows {self.total_seconds:8.1f} s  "
                   f"{total / max(self.total_seconds, 1e-9):,.0f} rows/s")
        return out

    @property
    def rows_written(self) -> int:
        """Database rows written (all tables)."""
        return sum(n * _ROWS_PER_ITEM.get(t, 1) for t, n in self.rows.items())


_ROWS_PER_ITEM = {"patients": 2, "nursing_assessments": 4}
_LABELS = {"patients": "patients (+medical_records)",
           "nursing_assessments": "nursing_assessments (FRM.05)"}


async def generate_population(
    scope: SessionScope,
    *,
    patients: int,
    visits_per_patient: int,
    seed: int = 0,
    batch_size: int = 5000,
    today: date | None = None,
    progress: Callable[[GenerationReport], None] | None = None,
) -> GenerationReport:
    """Generate and bulk-load a synthetic population, one transaction per batch.

    Patient numbers are reserved first on the counters of their (past) registration days,
    so later registrations through the API never collide; national IDs already present in
    the database are replaced by fresh ones. One ``import`` audit event records the run
    (entity ``synthetic_population``, counts only).

    Args:
        scope: opens one transaction (``lambda: unit_of_work(db)``; tests pass their own
            session).
        patients: number of patients (each with a medical record).
        visits_per_patient: visits per patient over the last two years.
        seed: same seed, same population (values; row ids and ciphertexts are random).
        batch_size: patients per transaction.
        today: end of the history (exclusive); default today in UTC.
        progress: called after each batch with the running report.

    Returns:
        Rows and load seconds per table.
    """
    started = time.perf_counter()
    report = GenerationReport()
    generator = PopulationGenerator(patients=patients, visits_per_patient=visits_per_patient,
                                    seed=seed, today=today)
    async with scope() as session:
        first = await patients_service.reserve_patient_numbers(
            session, generator.registration_counts())
    batches = generator.batches(first, batch_size)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        report.generate_seconds += time.perf_counter() - t0
        if batch is None:
            break
        async with scope() as session:
            await _replace_taken_national_ids(session, generator, batch)
            await _load(session, batch, report)
        if progress is not None:
            progress(report)
    async with scope() as session:
        await audit.record(session, AuditAction.IMPORT, "synthetic_population", None, changes={
            "after": {**report.rows, "seed": seed, "visits_per_patient": visits_per_patient,
                      "batch_size": batch_size}})
    report.total_seconds = time.perf_counter() - started
    return report


async def _replace_taken_national_ids(session: AsyncSession, generator: PopulationGenerator,
                                      batch: Batch) -> None:
    # Unique within a run by construction; another run (other seed) may have used one.
    while True:
        taken = await patients_service.taken_national_ids(
            session, [p["national_id"] for p in batch.patients])
        if not taken:
            return
        for patient in batch.patients:
            if patient["national_id"] in taken:
                governorate = patient["national_id"][7:9]
                patient["national_id"] = generator.national_id(
                    patient["date_of_birth"], governorate, patient["gender"])


async def _load(session: AsyncSession, batch: Batch, report: GenerationReport) -> None:
    steps = (
        ("patients", patients_service.bulk_load, batch.patients),
        ("visits", visits_service.bulk_load, batch.visits),
        ("vital_signs", clinical_service.bulk_load_vital_signs, batch.vital_signs),
        ("nursing_assessments", forms_service.bulk_load_nursing_assessments,
         batch.nursing_assessments),
    )
    for table, load, rows in steps:
        t0 = time.perf_counter()
        report.rows[table] += await load(session, rows)
        report.seconds[table] += time.perf_counter() - t0
