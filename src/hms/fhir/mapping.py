"""FHIR R4 resources -> hms records (pure functions, no database).

:func:`plan_import` turns a :class:`~hms.fhir.parser.ParsedBundle` into an
:class:`ImportPlan`: patients, visits, grouped vital signs and diagnoses with their source
identifiers, plus counted skips and warnings. The service then writes the plan.

Mapping (FHIR R4 -> hms):

* Patient -> patients: official (else first) HumanName, gender, birthDate,
  deceasedDateTime, telecom phone/email (an Egyptian mobile number goes to ``mobile``), the
  home (else first) address, maritalStatus; identifier type MR -> ``other_identifier``,
  PPN -> ``passport_number``. ``national_id`` stays empty (not an Egyptian national number).
* Encounter -> patient_visits: status finished -> closed, in-progress/onleave ->
  in_progress, planned/arrived/triaged -> open, cancelled -> cancelled (entered-in-error is
  skipped); class AMB/EMER/IMP/HH/VR -> outpatient/emergency/inpatient/home/virtual;
  period -> started_at/ended_at; reasonCode (else type) text -> chief_complaint; location
  (else serviceProvider) name -> department.
* Observation (category vital-signs, LOINC) -> vital_signs: see :mod:`hms.fhir.vitals`.
* Condition -> diagnoses: SNOMED CT or ICD-10 code and display, clinical status, onset and
  abatement dates, encounter -> visit.

Source: HL7 FHIR R4 (hl7.org/fhir/R4) Patient, Encounter, Condition; v3 ActCode encounter
classes; v2-0203 identifier types; v3 MaritalStatus.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference

from hms.clinical.schemas import DiagnosisImport
from hms.fhir.errors import InvalidBundle
from hms.fhir.parser import BundleEntry, ParsedBundle
from hms.fhir.plan import DiagnosisRecord, ImportPlan, PatientRecord, VisitRecord
from hms.fhir.values import (
    concept_text,
    first_code,
    to_date,
    to_utc,
    validated,
    visit_of,
)
from hms.fhir.vitals import map_vitals, wants_observation
from hms.patients.schemas import PatientCreate
from hms.visits.schemas import VisitImport, VisitStatus, VisitType

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
#: Used as source system when neither the Bundle nor the Patient names one.
DEFAULT_SOURCE_SYSTEM = "urn:hms:fhir-import"

SNOMED = "http://snomed.info/sct"
ICD10_SYSTEMS = {
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
}
CODE_SYSTEM_NAMES = {SNOMED: "SNOMED CT", **ICD10_SYSTEMS}
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

_ENCOUNTER_STATUS = {
    "planned": VisitStatus.OPEN,
    "arrived": VisitStatus.OPEN,
    "triaged": VisitStatus.OPEN,
    "in-progress": VisitStatus.IN_PROGRESS,
    "onleave": VisitStatus.IN_PROGRESS,
    "finished": VisitStatus.CLOSED,
    "cancelled": VisitStatus.CANCELLED,
}
_ENCOUNTER_CLASS = {
    "AMB": VisitType.OUTPATIENT,
    "OBSENC": VisitType.OUTPATIENT,
    "SS": VisitType.OUTPATIENT,
    "EMER": VisitType.EMERGENCY,
    "IMP": VisitType.INPATIENT,
    "ACUTE": VisitType.INPATIENT,
    "NONAC": VisitType.INPATIENT,
    "PRENC": VisitType.OUTPATIENT,
    "HH": VisitType.HOME,
    "VR": VisitType.VIRTUAL,
}
#: v3 MaritalStatus code -> hms word (I, P, T and UNK are left empty).
_MARITAL = {"A": "separated", "D": "divorced", "L": "separated", "M": "married",
            "S": "single", "U": "single", "W": "widowed"}
_EGYPT_MOBILE = re.compile(r"^01[0125][0-9]{8}$")


def plan_import(bundle: ParsedBundle) -> ImportPlan:
    """Map a validated bundle to the records to import.

    Raises:
        InvalidBundle (422): a reference the import needs (subject, encounter) points outside
            the bundle or to the wrong resource type.
    """
    plan = ImportPlan(source_system=source_system_of(bundle), resources=Counter(bundle.resources))
    for rtype, count in bundle.resources.items():
        if rtype not in ("Patient", "Encounter", "Observation", "Condition"):
            plan.skipped[rtype] += count
    for entry in bundle.of_type("Patient"):
        plan.patients.append(map_patient(entry, plan.warnings))
    patient_keys = {p.key for p in plan.patients}
    for entry in bundle.of_type("Encounter"):
        visit = _map_encounter(bundle, entry, plan)
        if visit is not None:
            plan.visits.append(visit)
    visit_keys = {v.key: v.patient_key for v in plan.visits}
    map_vitals(bundle, plan, patient_keys, visit_keys)
    for entry in bundle.of_type("Condition"):
        diagnosis = _map_condition(bundle, entry, plan, visit_keys)
        if diagnosis is not None:
            plan.diagnoses.append(diagnosis)
    return plan


def wants_resource(resource_type: str, raw: dict[str, Any]) -> bool:
    """Whether an entry will be imported, judged on its raw JSON before validation: every
    Patient, Encounter and Condition; an Observation only when it is a vital sign hms stores
    (see :func:`~hms.fhir.vitals.wants_observation`)."""
    return resource_type != "Observation" or wants_observation(raw)


def source_system_of(bundle: ParsedBundle) -> str:
    """The source system of a bundle's records: ``Bundle.identifier.system``, else Synthea's
    identifier system when a Patient carries it, else :data:`DEFAULT_SOURCE_SYSTEM`."""
    if bundle.identifier_system:
        return bundle.identifier_system[:200]
    for entry in bundle.of_type("Patient"):
        patient = entry.resource
        assert isinstance(patient, Patient)
        if any(i.system == SYNTHEA_SYSTEM for i in patient.identifier or []):
            return SYNTHEA_SYSTEM
    return DEFAULT_SOURCE_SYSTEM


# --- Patient ------------------------------------------------------------------------------

def map_patient(entry: BundleEntry, warnings: Counter[str]) -> PatientRecord:
    """Patient -> patients column values (see the module docstring)."""
    patient = entry.resource
    assert isinstance(patient, Patient) and entry.resource_id
    fields: dict[str, Any] = {}
    names = patient.name or []
    name = next((n for n in names if n.use == "official"), names[0] if names else None)
    if name is not None:
        given = " ".join(g.strip() for g in name.given or [] if g and g.strip()) or None
        family = (name.family or "").strip() or None
        full = " ".join(p for p in (given, family) if p) or (name.text or "").strip()
        fields.update(given_name=given, family_name=family, full_name=full or None)
    if not fields.get("full_name"):
        raise InvalidBundle(f"Patient entry {entry.position} has no name; hms needs one")
    fields["gender"] = patient.gender
    fields["date_of_birth"] = to_date(patient.birthDate)
    deceased_at = to_utc(patient.deceasedDateTime)
    if deceased_at is None and patient.deceasedBoolean:
        warnings["patient.deceased_without_date"] += 1
    for contact in patient.telecom or []:
        value = (contact.value or "").strip()
        if not value or contact.use == "old":
            continue
        if contact.system in ("phone", "sms"):
            digits = re.sub(r"[\s\-()]", "", value)
            if _EGYPT_MOBILE.match(digits) and "mobile" not in fields:
                fields["mobile"] = digits
            elif "phone" not in fields:
                fields["phone"] = value
        elif contact.system == "email" and "email" not in fields:
            fields["email"] = value
    addresses = patient.address or []
    address = next((a for a in addresses if a.use == "home"), addresses[0] if addresses else None)
    if address is not None:
        line = ", ".join(x.strip() for x in address.line or [] if x and x.strip())
        fields.update(address_line=line or None, city=address.city,
                      governorate=address.state or address.district,
                      postal_code=address.postalCode, country=address.country)
    marital = first_code(patient.maritalStatus)
    if marital is not None and marital[1] in _MARITAL:
        fields["marital_status"] = _MARITAL[marital[1]]
    for identifier in patient.identifier or []:
        kind = first_code(identifier.type, system=V2_0203)
        if kind is None or not identifier.value:
            continue
        if kind[1] == "MR" and "other_identifier" not in fields:
            fields["other_identifier"] = identifier.value
        elif kind[1] == "PPN" and "passport_number" not in fields:
            fields["passport_number"] = identifier.value
    cleaned = {k: v for k, v in fields.items() if v is not None}
    data = validated(PatientCreate, cleaned, "patient", f"Patient entry {entry.position}",
                      warnings)
    return PatientRecord(key=entry.key, source_id=entry.resource_id[:100], data=data,
                         deceased_at=deceased_at)


# --- Encounter ----------------------------------------------------------------------------

def _map_encounter(bundle: ParsedBundle, entry: BundleEntry,
                   plan: ImportPlan) -> VisitRecord | None:
    encounter = entry.resource
    assert isinstance(encounter, Encounter) and entry.resource_id
    where = f"Encounter entry {entry.position}"
    subject = bundle.resolve(encounter.subject, f"{where} subject")
    if subject is None or subject.resource_type != "Patient":
        plan.skipped["Encounter"] += 1
        plan.warnings["encounter.no_patient"] += 1
        return None
    status = _ENCOUNTER_STATUS.get(encounter.status or "")
    if encounter.status == "unknown":
        status = VisitStatus.CLOSED if encounter.period and encounter.period.end \
            else VisitStatus.OPEN
    if status is None:  # entered-in-error
        plan.skipped["Encounter"] += 1
        return None
    period = encounter.period
    started = to_utc(period.start) if period and period.start else None
    if started is None:
        plan.skipped["Encounter"] += 1
        plan.warnings["encounter.no_start"] += 1
        return None
    ended = to_utc(period.end) if period and period.end else None
    class_code = encounter.class_fhir.code if encounter.class_fhir else None
    visit_type = _ENCOUNTER_CLASS.get((class_code or "").upper())
    if visit_type is None:
        plan.warnings["encounter.class_unmapped"] += 1
        visit_type = VisitType.OUTPATIENT
    complaint = next((t for t in map(concept_text, encounter.reasonCode or []) if t), None) \
        or next((t for t in map(concept_text, encounter.type or []) if t), None)
    data = VisitImport(status=status, visit_type=visit_type,
                       department=_department(bundle, encounter),
                       chief_complaint=complaint, started_at=started, ended_at=ended)
    return VisitRecord(key=entry.key, source_id=entry.resource_id[:100],
                       patient_key=subject.key, data=data)


def _department(bundle: ParsedBundle, encounter: Encounter) -> str | None:
    """Location name, else the service provider's name (display or the bundle's
    Organization.name), trimmed to the 100 characters the column holds."""
    candidates: list[Reference | None] = [loc.location for loc in encounter.location or []]
    candidates.append(encounter.serviceProvider)
    for ref in candidates:
        if ref is None:
            continue
        name = ref.display
        if not name and ref.reference:
            target = bundle.lookup(ref.reference)
            name = target.raw.get("name") if target is not None else None
        if isinstance(name, str) and name.strip():
            return name.strip()[:100]
    return None


# --- Condition ----------------------------------------------------------------------------

def _map_condition(bundle: ParsedBundle, entry: BundleEntry, plan: ImportPlan,
                   visit_keys: dict[str, str]) -> DiagnosisRecord | None:
    condition = entry.resource
    assert isinstance(condition, Condition) and entry.resource_id
    where = f"Condition entry {entry.position}"
    verification = first_code(condition.verificationStatus)
    if verification is not None and verification[1] in ("entered-in-error", "refuted"):
        plan.skipped["Condition"] += 1
        return None
    subject = bundle.resolve(condition.subject, f"{where} subject")
    encounter = bundle.resolve(condition.encounter, f"{where} encounter", expected="Encounter")
    if subject is None or subject.resource_type != "Patient":
        plan.skipped["Condition"] += 1
        plan.warnings["diagnosis.no_patient"] += 1
        return None
    code, code_system, display = _condition_code(condition.code)
    if display is None:
        plan.skipped["Condition"] += 1
        plan.warnings["diagnosis.no_code_or_text"] += 1
        return None
    clinical = first_code(condition.clinicalStatus)
    abatement = to_date(condition.abatementDateTime) or (
        to_date(condition.abatementPeriod.start) if condition.abatementPeriod else None)
    status = clinical[1] if clinical else ("resolved" if abatement else "active")
    onset = to_date(condition.onsetDateTime) or (
        to_date(condition.onsetPeriod.start) if condition.onsetPeriod else None)
    data = validated(DiagnosisImport, dict(
        code=code, code_system=code_system, display=display[:2000], clinical_status=status,
        onset_date=onset, abatement_date=abatement), "diagnosis", where, plan.warnings)
    visit_key = visit_of(encounter, subject.key, visit_keys, "diagnosis", plan.warnings)
    return DiagnosisRecord(source_id=entry.resource_id[:100], patient_key=subject.key,
                           visit_key=visit_key, data=data)


def _condition_code(concept: CodeableConcept | None) -> tuple[str | None, str | None,
                                                              str | None]:
    """(code, code system name, display): ICD-10 preferred, then SNOMED CT, then any."""
    if concept is None:
        return None, None, None
    codings = [c for c in concept.coding or [] if c.code]
    ranked = sorted(codings, key=lambda c: (c.system not in ICD10_SYSTEMS, c.system != SNOMED))
    best = ranked[0] if ranked else None
    text = (concept.text or "").strip() or None
    if best is None:
        return None, None, text
    system = CODE_SYSTEM_NAMES.get(best.system or "", best.system)
    return best.code, system, (best.display or "").strip() or text or best.code
