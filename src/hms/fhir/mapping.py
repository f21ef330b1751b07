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
* Observation (category vital-signs, LOINC) -> vital_signs, one row per patient, encounter
  and effective time; units converted to the column's unit.
* Condition -> diagnoses: SNOMED CT or ICD-10 code and display, clinical status, onset and
  abatement dates, encounter -> visit.

Source: HL7 FHIR R4 (hl7.org/fhir/R4) Patient, Encounter, Observation (vital-signs profile,
observation-vitalsigns.html), Condition; v3 ActCode encounter classes; UCUM units.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from pydantic import BaseModel, ValidationError

from hms.clinical.schemas import DiagnosisImport, VitalSignsInput
from hms.fhir.errors import InvalidBundle
from hms.fhir.parser import BundleEntry, ParsedBundle
from hms.patients.schemas import PatientCreate
from hms.visits.schemas import VisitImport, VisitStatus, VisitType

M = TypeVar("M", bound=BaseModel)

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
#: Used as source system when neither the Bundle nor the Patient names one.
DEFAULT_SOURCE_SYSTEM = "urn:hms:fhir-import"

LOINC = "http://loinc.org"
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


# --- vital-sign codes and units -----------------------------------------------------------

def _identity(x: float) -> float:
    return x


#: UCUM unit -> converter into the column's unit, per vital-signs field.
_UNITS: dict[str, dict[str, Callable[[float], float]]] = {
    "temperature_celsius": {"Cel": _identity, "[degF]": lambda f: (f - 32.0) * 5.0 / 9.0,
                            "K": lambda k: k - 273.15},
    "pulse_bpm": {"/min": _identity, "{beats}/min": _identity, "1/min": _identity},
    "respiratory_rate_per_min": {"/min": _identity, "{breaths}/min": _identity,
                                 "1/min": _identity},
    "oxygen_saturation_percent": {"%": _identity},
    "weight_kg": {"kg": _identity, "g": lambda g: g / 1000.0,
                  "[lb_av]": lambda lb: lb * 0.45359237,
                  "[oz_av]": lambda oz: oz * 0.028349523125},
    "height_cm": {"cm": _identity, "m": lambda m: m * 100.0, "mm": lambda mm: mm / 10.0,
                  "[in_i]": lambda i: i * 2.54, "[ft_i]": lambda ft: ft * 30.48},
    "blood_pressure_systolic": {"mm[Hg]": _identity},
    "blood_pressure_diastolic": {"mm[Hg]": _identity},
}
#: Decimal places kept per field (0 = stored as an integer).
_DECIMALS = {"temperature_celsius": 1, "pulse_bpm": 0, "respiratory_rate_per_min": 0,
             "oxygen_saturation_percent": 1, "weight_kg": 2, "height_cm": 1,
             "blood_pressure_systolic": 0, "blood_pressure_diastolic": 0}

#: LOINC code -> vital-signs field. Source: FHIR R4 vital-signs profile table; 8331-1 (oral
#: temperature) and 55284-4 (blood pressure, as Synthea files it) from the Synthea data.
LOINC_FIELDS = {
    "8310-5": "temperature_celsius",
    "8331-1": "temperature_celsius",
    "8867-4": "pulse_bpm",
    "9279-1": "respiratory_rate_per_min",
    "59408-5": "oxygen_saturation_percent",
    "2708-6": "oxygen_saturation_percent",
    "29463-7": "weight_kg",
    "8302-2": "height_cm",
    "8480-6": "blood_pressure_systolic",
    "8462-4": "blood_pressure_diastolic",
}
BP_PANELS = frozenset({"55284-4", "85354-9"})
#: Codes that are read but not stored: BMI is derived by the server from weight and height.
DERIVED_CODES = frozenset({"39156-5"})
_STORED_CODES = frozenset(LOINC_FIELDS) | BP_PANELS | DERIVED_CODES


# --- the plan ------------------------------------------------------------------------------

@dataclass(slots=True)
class PatientRecord:
    """A Patient mapped to a validated PatientCreate, with its bundle key."""

    key: str
    source_id: str
    data: PatientCreate
    deceased_at: datetime | None = None


@dataclass(slots=True)
class VisitRecord:
    """An Encounter mapped to a visit."""

    key: str
    source_id: str
    patient_key: str
    data: VisitImport


@dataclass(slots=True)
class VitalsRecord:
    """Vital-sign Observations of one patient, encounter and time, as one row."""

    source_id: str
    patient_key: str
    visit_key: str | None
    recorded_at: datetime
    data: VitalSignsInput


@dataclass(slots=True)
class DiagnosisRecord:
    """A Condition mapped to a diagnosis."""

    source_id: str
    patient_key: str
    visit_key: str | None
    data: DiagnosisImport


@dataclass(slots=True)
class ImportPlan:
    """Everything to write for one bundle, in dependency order, plus counted skips/warnings.

    ``source_system`` identifies where the records come from; with each record's
    ``source_id`` it is the identity that makes re-imports idempotent.
    """

    source_system: str
    patients: list[PatientRecord] = field(default_factory=list)
    visits: list[VisitRecord] = field(default_factory=list)
    vitals: list[VitalsRecord] = field(default_factory=list)
    diagnoses: list[DiagnosisRecord] = field(default_factory=list)
    resources: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)


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
    _map_vitals(bundle, plan, patient_keys, visit_keys)
    for entry in bundle.of_type("Condition"):
        diagnosis = _map_condition(bundle, entry, plan, visit_keys)
        if diagnosis is not None:
            plan.diagnoses.append(diagnosis)
    return plan


def wants_resource(resource_type: str, raw: dict[str, Any]) -> bool:
    """Whether an entry will be imported, judged on its raw JSON before validation: every
    Patient, Encounter and Condition; an Observation only when it is in the vital-signs
    category with a LOINC code hms stores (the others are skipped unvalidated)."""
    if resource_type != "Observation":
        return True
    try:
        categories = {c.get("code") for cat in raw.get("category") or []
                      for c in cat.get("coding") or []}
        codes = {c.get("code") for c in (raw.get("code") or {}).get("coding") or []
                 if c.get("system") == LOINC}
    except AttributeError:  # malformed: let validation report it
        return True
    return "vital-signs" in categories and bool(codes & _STORED_CODES)


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
    marital = _first_code(patient.maritalStatus)
    if marital is not None and marital[1] in _MARITAL:
        fields["marital_status"] = _MARITAL[marital[1]]
    for identifier in patient.identifier or []:
        kind = _first_code(identifier.type, system=V2_0203)
        if kind is None or not identifier.value:
            continue
        if kind[1] == "MR" and "other_identifier" not in fields:
            fields["other_identifier"] = identifier.value
        elif kind[1] == "PPN" and "passport_number" not in fields:
            fields["passport_number"] = identifier.value
    cleaned = {k: v for k, v in fields.items() if v is not None}
    data = _validated(PatientCreate, cleaned, "patient", f"Patient entry {entry.position}",
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
    complaint = next((t for t in map(_concept_text, encounter.reasonCode or []) if t), None) \
        or next((t for t in map(_concept_text, encounter.type or []) if t), None)
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


# --- Observation -> vital signs -----------------------------------------------------------

def _map_vitals(bundle: ParsedBundle, plan: ImportPlan, patient_keys: set[str],
                visit_keys: dict[str, str]) -> None:
    groups: dict[tuple[str, str | None, datetime], dict[str, float]] = {}
    for entry in bundle.of_type("Observation"):
        obs = entry.resource
        if obs is None:  # not a stored vital sign (see wants_resource): not validated
            plan.skipped["Observation"] += 1
            continue
        assert isinstance(obs, Observation)
        where = f"Observation entry {entry.position}"
        values = _vital_values(obs, plan.warnings)
        if values is None:
            plan.skipped["Observation"] += 1
            continue
        subject = bundle.resolve(obs.subject, f"{where} subject")
        encounter = bundle.resolve(obs.encounter, f"{where} encounter", expected="Encounter")
        when = to_utc(obs.effectiveDateTime or (obs.effectivePeriod.start if obs.effectivePeriod
                                                else None) or obs.effectiveInstant or obs.issued)
        if subject is None or subject.key not in patient_keys or when is None:
            plan.skipped["Observation"] += 1
            plan.warnings["vital_signs.no_patient_or_time"] += 1
            continue
        visit_key = _visit_of(encounter, subject.key, visit_keys, "vital_signs", plan.warnings)
        group = groups.setdefault((subject.key, visit_key, when), {})
        for name, value in values.items():
            if name in group:
                plan.warnings[f"vital_signs.{name}.duplicate"] += 1
            else:
                group[name] = value
    anchors = {p.key: p.source_id for p in plan.patients}
    anchors.update({v.key: v.source_id for v in plan.visits})
    for (patient_key, visit_key, recorded_at), values in groups.items():
        data = _valid_vitals(values, plan.warnings)
        if data is None:
            plan.warnings["vital_signs.nothing_to_store"] += 1
            continue
        anchor = anchors[visit_key or patient_key]
        source_id = f"{anchor}@{recorded_at:%Y%m%dT%H%M%SZ}"
        plan.vitals.append(VitalsRecord(source_id=source_id[:100], patient_key=patient_key,
                                        visit_key=visit_key, recorded_at=recorded_at,
                                        data=data))


def _vital_values(obs: Observation, warnings: Counter[str]) -> dict[str, float] | None:
    """Field -> value (column units) of a vital-signs Observation; None when it is not one
    hms stores (other category or code, cancelled or entered in error)."""
    if obs.status in ("cancelled", "entered-in-error"):
        return None
    if not any(c.code == "vital-signs" for cat in obs.category or [] for c in cat.coding or []):
        return None
    codes = _loinc_codes(obs.code)
    values: dict[str, float] = {}
    if codes & DERIVED_CODES:
        return values
    if codes & BP_PANELS:
        for component in obs.component or []:
            for code in _loinc_codes(component.code):
                name = LOINC_FIELDS.get(code)
                if name in ("blood_pressure_systolic", "blood_pressure_diastolic"):
                    value = _convert(name, component.valueQuantity, warnings)
                    if value is not None:
                        values[name] = value
        return values
    name = next((LOINC_FIELDS[c] for c in codes if c in LOINC_FIELDS), None)
    if name is None:
        return None
    value = _convert(name, obs.valueQuantity, warnings)
    if value is not None:
        values[name] = value
    return values


def _convert(name: str, quantity: Quantity | None, warnings: Counter[str]) -> float | None:
    if quantity is None or quantity.value is None:
        warnings[f"vital_signs.{name}.no_value"] += 1
        return None
    unit = quantity.code or quantity.unit
    convert = _UNITS[name].get(unit or "")
    if convert is None:
        warnings[f"vital_signs.{name}.unit_unsupported"] += 1
        return None
    value = convert(float(quantity.value))
    digits = _DECIMALS[name]
    return float(round(value)) if digits == 0 else round(value, digits)


def _valid_vitals(values: dict[str, float], warnings: Counter[str]) -> VitalSignsInput | None:
    """The values as a VitalSignsInput; a value outside the API's range is left out with a
    counted warning (``vital_signs.<field>.out_of_range``). None when nothing is left."""
    data = {k: (int(v) if _DECIMALS[k] == 0 else v) for k, v in values.items()}
    while data:
        try:
            return VitalSignsInput.model_validate(data)
        except ValidationError as exc:
            dropped = False
            for err in exc.errors(include_input=False):
                loc = err["loc"]
                if loc and loc[0] in data:
                    data.pop(str(loc[0]))
                    warnings[f"vital_signs.{loc[0]}.out_of_range"] += 1
                    dropped = True
            if not dropped:  # a cross-field rule (systolic must exceed diastolic)
                data.pop("blood_pressure_systolic", None)
                data.pop("blood_pressure_diastolic", None)
                warnings["vital_signs.blood_pressure.inconsistent"] += 1
    return None


# --- Condition ----------------------------------------------------------------------------

def _map_condition(bundle: ParsedBundle, entry: BundleEntry, plan: ImportPlan,
                   visit_keys: dict[str, str]) -> DiagnosisRecord | None:
    condition = entry.resource
    assert isinstance(condition, Condition) and entry.resource_id
    where = f"Condition entry {entry.position}"
    verification = _first_code(condition.verificationStatus)
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
    clinical = _first_code(condition.clinicalStatus)
    abatement = to_date(condition.abatementDateTime) or (
        to_date(condition.abatementPeriod.start) if condition.abatementPeriod else None)
    status = clinical[1] if clinical else ("resolved" if abatement else "active")
    onset = to_date(condition.onsetDateTime) or (
        to_date(condition.onsetPeriod.start) if condition.onsetPeriod else None)
    data = _validated(DiagnosisImport, dict(
        code=code, code_system=code_system, display=display[:2000], clinical_status=status,
        onset_date=onset, abatement_date=abatement), "diagnosis", where, plan.warnings)
    visit_key = _visit_of(encounter, subject.key, visit_keys, "diagnosis", plan.warnings)
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


# --- helpers -------------------------------------------------------------------------------

def _visit_of(encounter: BundleEntry | None, patient_key: str, visit_keys: dict[str, str],
              kind: str, warnings: Counter[str]) -> str | None:
    """The visit key a record links to: its encounter, when that encounter is imported and
    belongs to the same patient (else no visit, with a counted warning)."""
    if encounter is None or encounter.key not in visit_keys:
        return None
    if visit_keys[encounter.key] != patient_key:
        warnings[f"{kind}.encounter_of_another_patient"] += 1
        return None
    return encounter.key


def _validated(model: type[M], values: dict[str, Any], kind: str, where: str,
               warnings: Counter[str]) -> M:
    """Validate ``values``; an optional field that fails is left out with a counted
    warning ``<kind>.<field>.invalid``.

    Raises:
        InvalidBundle (422): a required field (or the record as a whole) is invalid.
    """
    data = dict(values)
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]}
            droppable = {name for name in bad if name in data
                         and not model.model_fields[name].is_required()}
            if not droppable or droppable != bad:
                names = ", ".join(sorted(bad)) or "record"
                raise InvalidBundle(f"{where}: hms cannot store it (invalid {names})") \
                    from None
            for name in droppable:
                data.pop(name)
                warnings[f"{kind}.{name}.invalid"] += 1


def _first_code(concept: CodeableConcept | None, *,
                system: str | None = None) -> tuple[str | None, str] | None:
    for coding in (concept.coding or []) if concept is not None else []:
        if coding.code and (system is None or coding.system == system):
            return coding.system, coding.code
    return None


def _loinc_codes(concept: CodeableConcept | None) -> set[str]:
    return {c.code for c in (concept.coding or []) if c.system == LOINC and c.code} \
        if concept is not None else set()


def _concept_text(concept: CodeableConcept) -> str | None:
    text = (concept.text or "").strip()
    if text:
        return text
    return next(((c.display or "").strip() for c in concept.coding or []
                 if (c.display or "").strip()), None)


def to_utc(value: datetime | date | str | Decimal | None) -> datetime | None:
    """A FHIR dateTime as an aware UTC datetime: a date (or partial date ``YYYY``,
    ``YYYY-MM``) becomes midnight UTC of its first day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    day = to_date(value)
    return datetime.combine(day, time(0), tzinfo=UTC) if day else None


def to_date(value: datetime | date | str | Decimal | None) -> date | None:
    """A FHIR date/dateTime as a date (partial dates: the first day of the year/month)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parts = str(value).split("-")
    try:
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, 1)
    except (ValueError, IndexError):
        return None

