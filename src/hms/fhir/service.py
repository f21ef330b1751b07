"""FHIR R4 Bundle import: files -> patients, visits, vital signs and diagnoses.

One transaction per file: a file is parsed and mapped completely before anything is written,
then written in its own :func:`~hms.db.session.unit_of_work`; any problem rolls that file
back and rejects it with a reason, and the next file goes on. Identity is the source system
plus the resource id, so importing the same file again creates nothing and reports every
record as already present. Each file leaves one ``import`` audit event (counts and the
file's SHA-256, no names).

The demo (``hms demo``) calls :func:`import_paths` on :func:`demo_bundle_dir`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.clinical import service as clinical_service
from hms.clinical.schemas import DiagnosisRead, VitalSignsRead
from hms.core import context
from hms.core.errors import HmsError
from hms.db.session import Database, unit_of_work
from hms.documents.schemas import DocumentRead
from hms.fhir import export
from hms.fhir.errors import DemoDataMissing, InvalidBundle
from hms.fhir.mapping import plan_import, wants_resource
from hms.fhir.parser import (
    BUNDLE_SUFFIXES,
    decode_json,
    find_bundle_files,
    gunzip,
    parse_bundle,
    read_bytes,
)
from hms.fhir.plan import ImportPlan
from hms.fhir.schemas import TARGETS, FileResult, FileStatus, ImportReport
from hms.patients import service as patients_service
from hms.patients.schemas import PatientRead
from hms.visits import service as visits_service
from hms.visits.schemas import VisitRead

#: Audit actor when no user is bound (the CLI and the demo).
IMPORT_ACTOR = "system:fhir-import"
AUDIT_ENTITY = "fhir_bundle"


@dataclass(slots=True)
class _Loaded:
    plan: ImportPlan
    sha256: str


def demo_bundle_dir() -> Path:
    """The repository's ``data/synthea`` folder: the demo patients (Synthea bundles).

    Located relative to this source file (``<repo>/src/hms/fhir/service.py``), so it is
    found from a fresh clone installed in editable mode (``uv sync``).

    Raises:
        DemoDataMissing (404): the folder is missing or holds no bundle.
    """
    folder = Path(__file__).resolve().parents[3] / "data" / "synthea"
    if not folder.is_dir() or not any(p.name.endswith(BUNDLE_SUFFIXES)
                                      for p in folder.iterdir()):
        raise DemoDataMissing(f"demo bundles not found: expected {folder} with *.json.gz "
                              "files (run from a clone of the hms repository)")
    return folder


async def import_paths(db: Database, paths: Sequence[Path]) -> ImportReport:
    """Import every bundle file under ``paths`` (files, or folders searched recursively for
    ``*.json`` and ``*.json.gz``), each in its own transaction.

    Args:
        db: the database to write to (must be migrated).
        paths: files and folders, in the order to import them.

    Returns:
        One :class:`FileResult` per file: created and already-present rows per table,
        skipped resources per FHIR type, warnings, or the rejection reason.

    A rejected file (unreadable, not JSON, not a Bundle, an entry that fails FHIR
    validation, a dangling reference, data the database refuses) imports nothing; the
    others are unaffected. Database outages are not the file's fault and propagate.
    """
    started = time.perf_counter()
    report = ImportReport()
    for path in find_bundle_files(paths):
        report.files.append(await import_file(db, path))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def import_file(db: Database, path: Path) -> FileResult:
    """Import one bundle file in one transaction (see :func:`import_paths`)."""
    started = time.perf_counter()
    try:
        loaded = await asyncio.to_thread(_load, path)
    except InvalidBundle as exc:
        result = _rejected(path, exc.detail, started)
        await _audit_rejection(db, result, sha256=None)
        return result
    plan = loaded.plan
    result = FileResult(path=str(path), status=FileStatus.UNCHANGED,
                        resources=dict(plan.resources), skipped=dict(plan.skipped),
                        warnings=dict(plan.warnings))
    try:
        async with unit_of_work(db) as session:
            created, present, patient_id = await write_plan(session, plan)
            result.created = {t: created[t] for t in TARGETS}
            result.already_present = {t: present[t] for t in TARGETS}
            if any(created.values()):
                result.status = FileStatus.IMPORTED
            await _audit_import(session, result, loaded.sha256, patient_id)
    except (IntegrityError, DataError, HmsError) as exc:
        if isinstance(exc, IntegrityError):
            reason = "conflicts with data already stored (e.g. an identifier another patient " \
                     "holds)"
        elif isinstance(exc, DataError):
            reason = "a value does not fit its database column"
        else:
            reason = exc.detail
        result = _rejected(path, reason, started, resources=dict(plan.resources))
        await _audit_rejection(db, result, sha256=loaded.sha256)
        return result
    result.seconds = round(time.perf_counter() - started, 3)
    return result


async def write_plan(session: AsyncSession, plan: ImportPlan
                     ) -> tuple[Counter[str], Counter[str], uuid.UUID | None]:
    """Write a mapped bundle through the owning modules' services (no commit).

    Returns:
        (created, already_present) row counts per target table, and the patient id when
        the bundle holds exactly one patient (for the audit event).

    Raises:
        HmsError: a service refused a record (the caller rolls the file back).
    """
    created: Counter[str] = Counter()
    present: Counter[str] = Counter()
    patient_ids, new_patients = await _write_patients(session, plan, created, present)
    visit_ids = await _write_visits(session, plan, patient_ids, new_patients, created,
                                    present)
    system = plan.source_system
    for vitals in plan.vitals:
        row = await clinical_service.import_vital_signs(
            session, patient_id=patient_ids[vitals.patient_key],
            visit_id=visit_ids.get(vitals.visit_key) if vitals.visit_key else None,
            data=vitals.data, recorded_at=vitals.recorded_at, source_system=system,
            source_id=vitals.source_id)
        (created if row is not None else present)["vital_signs"] += 1
    for diagnosis in plan.diagnoses:
        dx = await clinical_service.import_diagnosis(
            session, patient_id=patient_ids[diagnosis.patient_key],
            visit_id=visit_ids.get(diagnosis.visit_key) if diagnosis.visit_key else None,
            data=diagnosis.data, source_system=system, source_id=diagnosis.source_id)
        (created if dx is not None else present)["diagnoses"] += 1
    only = next(iter(patient_ids.values())) if len(patient_ids) == 1 else None
    return created, present, only


async def _write_patients(session: AsyncSession, plan: ImportPlan, created: Counter[str],
                          present: Counter[str]) -> tuple[dict[str, uuid.UUID], set[str]]:
    """Create the bundle's patients that are not there yet.

    Returns:
        Patient id per bundle key, and the keys of the patients created now.
    """
    ids: dict[str, uuid.UUID] = {}
    new: set[str] = set()
    for patient in plan.patients:
        found = await patients_service.find_by_source(session, plan.source_system,
                                                      patient.source_id)
        if found is not None:
            present["patients"] += 1
            ids[patient.key] = found.id
            continue
        summary = await patients_service.create_patient(
            session, patient.data, created_by=None, source_system=plan.source_system,
            source_id=patient.source_id, audit=False, deceased_at=patient.deceased_at)
        created["patients"] += 1
        ids[patient.key] = summary.id
        new.add(patient.key)
    return ids, new


async def _write_visits(session: AsyncSession, plan: ImportPlan,
                        patient_ids: dict[str, uuid.UUID], new_patients: set[str],
                        created: Counter[str], present: Counter[str]) -> dict[str, uuid.UUID]:
    """Create the bundle's visits that are not there yet; visit id per bundle key.

    A patient created in this transaction has no visits yet, so its visits skip the
    look-up (``import_visit`` still checks the source id itself).
    """
    system = plan.source_system
    ids: dict[str, uuid.UUID] = {}
    for visit in plan.visits:
        if visit.patient_key not in new_patients:
            existing = await visits_service.find_visit_by_source(session, system,
                                                                 visit.source_id)
            if existing is not None:
                present["visits"] += 1
                ids[visit.key] = existing.id
                continue
        new = await visits_service.import_visit(
            session, patient_id=patient_ids[visit.patient_key], data=visit.data,
            source_system=system, source_id=visit.source_id)
        if new is None:  # the source id is already stored (under another patient)
            new = await visits_service.find_visit_by_source(session, system, visit.source_id)
            assert new is not None
            present["visits"] += 1
        else:
            created["visits"] += 1
        ids[visit.key] = new.id
    return ids


# --- internals ----------------------------------------------------------------------------

def _load(path: Path) -> _Loaded:
    """Read, validate and map one file (CPU-bound; runs in a worker thread)."""
    text = gunzip(read_bytes(path))
    bundle = parse_bundle(decode_json(text), accept=wants_resource, text=text)
    return _Loaded(plan=plan_import(bundle), sha256=hashlib.sha256(text).hexdigest())


def _rejected(path: Path, reason: str, started: float, *,
              resources: dict[str, int] | None = None) -> FileResult:
    return FileResult(path=str(path), status=FileStatus.REJECTED, reason=reason,
                      resources=resources or {},
                      seconds=round(time.perf_counter() - started, 3))


def _audit_changes(result: FileResult, sha256: str | None) -> dict[str, object]:
    return {"after": {"status": result.status.value, "sha256": sha256,
                      "reason": result.reason, "created": result.created,
                      "already_present": result.already_present,
                      "skipped": result.skipped, "warnings": result.warnings}}


async def _audit_import(session: AsyncSession, result: FileResult, sha256: str,
                        patient_id: uuid.UUID | None) -> None:
    await audit.record(session, AuditAction.IMPORT, AUDIT_ENTITY, sha256,
                       patient_id=patient_id, changes=_audit_changes(result, sha256),
                       username=None if context.current().username else IMPORT_ACTOR)


async def _audit_rejection(db: Database, result: FileResult, sha256: str | None) -> None:
    """Record the refused import in its own transaction (the file's one was rolled back)."""
    async with unit_of_work(db) as session:
        await audit.record(session, AuditAction.IMPORT, AUDIT_ENTITY, sha256,
                           changes=_audit_changes(result, sha256),
                           username=None if context.current().username else IMPORT_ACTOR)


def patient_bundle(
    patient: PatientRead,
    visits: list[VisitRead],
    vital_signs: list[VitalSignsRead],
    diagnoses: list[DiagnosisRead],
    documents: list[DocumentRead],
    *,
    timestamp: datetime,
) -> dict[str, Any]:
    """A patient's records as a FHIR R4 Bundle of type ``collection`` (Patient, Encounter,
    vital-signs Observations, Condition, DocumentReference), for the patient's data export
    (hms.privacy). Pure: the caller reads and audits. See :mod:`hms.fhir.export` for the
    mapping and its sources."""
    return export.patient_bundle(patient, visits, vital_signs, diagnoses, documents,
                                 timestamp=timestamp)
