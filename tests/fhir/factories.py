"""Builders for small synthetic FHIR R4 Bundles (written to temporary files)."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hms.db.migrate import target_metadata
from hms.db.session import Database
from hms.fhir.service import demo_bundle_dir
from tests.conftest import delete_all_rows

LOINC = "http://loinc.org"
VITAL_SIGNS = [{"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "vital-signs"}]}]


def urn() -> str:
    """A fresh ``urn:uuid:`` fullUrl."""
    return f"urn:uuid:{uuid.uuid4()}"


def entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    """A transaction entry (POST) as Synthea writes them."""
    resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}


def bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    """A transaction Bundle."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def patient(**overrides: Any) -> dict[str, Any]:
    """A synthetic Patient with a Synthea-style MRN identifier."""
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": str(uuid.uuid4())},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "MR"}]},
             "system": "http://hospital.example", "value": f"MRN-{uuid.uuid4().hex[:8]}"},
        ],
        "name": [{"use": "official", "family": "Testfamily", "given": ["Testgiven"]}],
        "gender": "female",
        "birthDate": "1980-02-03",
        **overrides,
    }


def encounter(patient_url: str, **overrides: Any) -> dict[str, Any]:
    """A finished ambulatory Encounter."""
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"text": "Check-up"}],
        "subject": {"reference": patient_url},
        "period": {"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T10:30:00+02:00"},
        **overrides,
    }


def vital(patient_url: str, encounter_url: str, code: str, value: float, unit: str,
          when: str = "2020-01-01T10:05:00+02:00") -> dict[str, Any]:
    """A single-value vital-signs Observation (LOINC ``code``, UCUM ``unit``)."""
    return {
        "resourceType": "Observation", "status": "final", "category": VITAL_SIGNS,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": patient_url}, "encounter": {"reference": encounter_url},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }


def blood_pressure(patient_url: str, encounter_url: str, systolic: float, diastolic: float,
                   when: str = "2020-01-01T10:05:00+02:00") -> dict[str, Any]:
    """A blood-pressure panel (55284-4) with systolic and diastolic components."""
    def component(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": {"value": value, "unit": "mm[Hg]",
                                  "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}

    return {
        "resourceType": "Observation", "status": "final", "category": VITAL_SIGNS,
        "code": {"coding": [{"system": LOINC, "code": "55284-4"}]},
        "subject": {"reference": patient_url}, "encounter": {"reference": encounter_url},
        "effectiveDateTime": when,
        "component": [component("8480-6", systolic), component("8462-4", diastolic)],
    }


def condition(patient_url: str, encounter_url: str | None = None,
              **overrides: Any) -> dict[str, Any]:
    """An active SNOMED CT-coded Condition."""
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                             "display": "Hypertension"}]},
        "subject": {"reference": patient_url},
        "onsetDateTime": "2019-05-06T08:00:00+00:00",
        **overrides,
    }
    if encounter_url:
        resource["encounter"] = {"reference": encounter_url}
    return resource


def good_bundle() -> dict[str, Any]:
    """One patient, one encounter, a BP panel and a weight, one condition."""
    p, e = urn(), urn()
    return bundle(
        entry(p, patient()), entry(e, encounter(p)),
        entry(urn(), blood_pressure(p, e, 121.6, 79.2)),
        entry(urn(), vital(p, e, "29463-7", 70.0, "kg")),
        entry(urn(), condition(p, e)),
    )


def write(path: Path, content: dict[str, Any] | str) -> Path:
    """Write a bundle (dict -> JSON) or raw text to ``path``."""
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    return path


def demo_index() -> list[dict[str, str]]:
    """Rows of the demo bundles' ``index.tsv`` (expected values per file)."""
    with (demo_bundle_dir() / "index.tsv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


async def wipe(db: Database) -> None:
    """Delete every row of every hms table (the import commits for real)."""
    async with db.engine.begin() as conn:
        await delete_all_rows(conn)  # keeps the seeded roles; audit_log trigger handled


async def count_rows(db: Database, name: str,
                     where: Callable[[Any], Any] | None = None) -> int:
    """Rows in table ``name``; ``where`` gets the table's columns and returns a clause."""
    tbl = target_metadata().tables[name]
    stmt = select(func.count()).select_from(tbl)
    if where is not None:
        stmt = stmt.where(where(tbl.c))
    async with db.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def fetch_rows(db: Database, name: str,
                     where: Callable[[Any], Any] | None = None) -> list[dict[str, Any]]:
    """Rows of table ``name`` as dicts."""
    tbl = target_metadata().tables[name]
    stmt = select(tbl)
    if where is not None:
        stmt = stmt.where(where(tbl.c))
    async with db.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]
