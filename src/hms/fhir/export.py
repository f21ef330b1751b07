"""hms records -> a FHIR R4 Bundle (pure functions, no database): the mirror of
:mod:`hms.fhir.mapping` for a patient's data export (hms.privacy).

Mapping (hms -> FHIR R4):

* patients -> Patient: patient number (identifier type MR), national ID (NI), passport (PPN),
  other identifier; official HumanName; telecom (mobile, phone, email); home address;
  gender, birthDate, deceasedDateTime, maritalStatus (v3), active.
* patient_visits -> Encounter: open -> arrived, in_progress -> in-progress, closed ->
  finished, cancelled -> cancelled; outpatient/emergency/inpatient/home/virtual -> v3 ActCode
  AMB/EMER/IMP/HH/VR; started_at/ended_at -> period; chief complaint -> reasonCode.text;
  department -> location display.
* vital_signs -> Observation (category vital-signs), one per value, LOINC coded with UCUM
  units: 8310-5 body temperature (Cel), 8867-4 heart rate (/min), 9279-1 respiratory rate
  (/min), 59408-5 SpO2 by pulse oximetry (%), 29463-7 body weight (kg), 8302-2 body height
  (cm), 39156-5 BMI (kg/m2); blood pressure as the 85354-9 panel with components 8480-6
  (systolic) and 8462-4 (diastolic), mm[Hg].
* diagnoses -> Condition: ICD-10 / ICD-10-CM / SNOMED CT coding, clinicalStatus, category
  encounter-diagnosis (with a visit) or problem-list-item, onset, abatement, recordedDate.
* visit_documents -> DocumentReference: metadata only (no bytes): content type, size,
  title, creation time, encounter.

Resource ids are the hms UUIDs (an Observation's id is a UUIDv5 of its vital-signs row and
LOINC code), fullUrls ``urn:uuid:<id>``, references point at those fullUrls.

Source: HL7 FHIR R4 (hl7.org/fhir/R4): Patient, Encounter, Observation vital-signs profile
(observation-vitalsigns.html, LOINC codes and UCUM units), Condition, DocumentReference;
v2-0203 identifier types; v3 ActCode and MaritalStatus.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

from hms.clinical.schemas import DiagnosisRead, VitalSignsRead
from hms.documents.schemas import DocumentRead
from hms.patients.schemas import PatientRead
from hms.visits.schemas import VisitRead

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
#: Identifier systems of hms's own identifiers.
PATIENT_NUMBER_SYSTEM = "urn:hms:patient-number"
NATIONAL_ID_SYSTEM = "urn:hms:egypt-national-id"
PASSPORT_SYSTEM = "urn:hms:passport"
OTHER_ID_SYSTEM = "urn:hms:other-identifier"

#: Vital-signs field -> (LOINC code, display, UCUM unit).
VITAL_CODES: dict[str, tuple[str, str, str]] = {
    "temperature_celsius": ("8310-5", "Body temperature", "Cel"),
    "pulse_bpm": ("8867-4", "Heart rate", "/min"),
    "respiratory_rate_per_min": ("9279-1", "Respiratory rate", "/min"),
    "oxygen_saturation_percent": (
        "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "weight_kg": ("29463-7", "Body weight", "kg"),
    "height_cm": ("8302-2", "Body height", "cm"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_SYSTOLIC = ("8480-6", "Systolic blood pressure")
BP_DIASTOLIC = ("8462-4", "Diastolic blood pressure")

_ENCOUNTER_STATUS = {"open": "arrived", "in_progress": "in-progress", "closed": "finished",
                     "cancelled": "cancelled"}
_ENCOUNTER_CLASS = {"outpatient": ("AMB", "ambulatory"), "emergency": ("EMER", "emergency"),
                    "inpatient": ("IMP", "inpatient encounter"), "home": ("HH", "home health"),
                    "virtual": ("VR", "virtual")}
_MARITAL = {"single": "S", "married": "M", "divorced": "D", "widowed": "W", "separated": "L",
            "unknown": "UNK"}
_CODE_SYSTEMS = {"ICD-10": "http://hl7.org/fhir/sid/icd-10",
                 "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
                 "SNOMED CT": "http://snomed.info/sct"}
_CLINICAL_STATUS = {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}


def _url(resource_id: uuid.UUID) -> str:
    return f"urn:uuid:{resource_id}"


def _ref(resource_id: uuid.UUID | None) -> dict[str, str] | None:
    return {"reference": _url(resource_id)} if resource_id is not None else None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def patient_resource(p: PatientRead) -> Patient:
    """patients row -> Patient."""
    identifiers = [{"use": "usual", "type": {"coding": [_coding(V2_0203, "MR",
                                                                "Medical record number")]},
                    "system": PATIENT_NUMBER_SYSTEM, "value": p.patient_number}]
    if p.national_id:
        identifiers.append({"use": "official", "type": {"coding": [_coding(
            V2_0203, "NI", "National unique individual identifier")]},
            "system": NATIONAL_ID_SYSTEM, "value": p.national_id})
    if p.passport_number:
        identifiers.append({"type": {"coding": [_coding(V2_0203, "PPN", "Passport number")]},
                            "system": PASSPORT_SYSTEM, "value": p.passport_number})
    if p.other_identifier:
        identifiers.append({"system": OTHER_ID_SYSTEM, "value": p.other_identifier})
    telecom = [
        {"system": "phone", "use": "mobile", "value": p.mobile} if p.mobile else None,
        {"system": "phone", "use": "home", "value": p.phone} if p.phone else None,
        {"system": "email", "value": p.email} if p.email else None,
    ]
    address = None
    if any((p.address_line, p.city, p.governorate, p.postal_code, p.country)):
        address = [{"use": "home", "line": [p.address_line] if p.address_line else None,
                    "city": p.city, "state": p.governorate, "postalCode": p.postal_code,
                    "country": p.country}]
    marital = _MARITAL.get(p.marital_status or "")
    data = {
        "resourceType": "Patient",
        "id": str(p.id),
        "identifier": identifiers,
        "active": p.is_active,
        "name": [{"use": "official", "text": p.full_name, "family": p.family_name,
                  "given": p.given_name.split() if p.given_name else None}],
        "telecom": [t for t in telecom if t],
        "gender": p.gender if p.gender in ("male", "female", "other", "unknown") else None,
        "birthDate": p.date_of_birth.isoformat() if p.date_of_birth else None,
        "deceasedDateTime": _when(p.deceased_at),
        "address": address,
        "maritalStatus": {"coding": [_coding(V3_MARITAL, marital)]} if marital else None,
    }
    return Patient.model_validate(_drop_none(data))


def encounter_resource(v: VisitRead) -> Encounter:
    """patient_visits row -> Encounter."""
    code, display = _ENCOUNTER_CLASS.get(v.visit_type.value, ("AMB", "ambulatory"))
    data = {
        "resourceType": "Encounter",
        "id": str(v.id),
        "status": _ENCOUNTER_STATUS.get(v.status.value, "unknown"),
        "class": _coding(V3_ACT_CODE, code, display),
        "subject": _ref(v.patient_id),
        "period": {"start": _when(v.started_at), "end": _when(v.ended_at)},
        "reasonCode": [{"text": v.chief_complaint}] if v.chief_complaint else None,
        "location": [{"location": {"display": v.department}}] if v.department else None,
    }
    return Encounter.model_validate(_drop_none(data))


def _observation(row: VitalSignsRead, code: str, display: str, **value: Any) -> Observation:
    data = {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(row.id, code)),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]}],
        "code": {"coding": [_coding(LOINC, code, display)], "text": display},
        "subject": _ref(row.patient_id),
        "encounter": _ref(row.visit_id),
        "effectiveDateTime": _when(row.recorded_at),
        **value,
    }
    return Observation.model_validate(_drop_none(data))


def _quantity(value: float | int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def observation_resources(row: VitalSignsRead) -> list[Observation]:
    """One vital_signs row -> one Observation per recorded value (blood pressure as one
    panel with its two components)."""
    out = []
    for field, (code, display, unit) in VITAL_CODES.items():
        value = getattr(row, field)
        if value is not None:
            out.append(_observation(row, code, display, valueQuantity=_quantity(value, unit)))
    systolic, diastolic = row.blood_pressure_systolic, row.blood_pressure_diastolic
    if systolic is not None or diastolic is not None:
        components = [
            {"code": {"coding": [_coding(LOINC, code, display)]},
             "valueQuantity": _quantity(value, "mm[Hg]")}
            for (code, display), value in ((BP_SYSTOLIC, systolic), (BP_DIASTOLIC, diastolic))
            if value is not None
        ]
        out.append(_observation(row, BP_PANEL[0], BP_PANEL[1], component=components))
    return out


def condition_resource(d: DiagnosisRead) -> Condition:
    """diagnoses row -> Condition."""
    coding = None
    if d.code:
        system = _CODE_SYSTEMS.get(d.code_system or "", d.code_system)
        coding = [_coding(system, d.code, d.display) if system and ":" in system
                  else {"code": d.code, "display": d.display}]
    category = "encounter-diagnosis" if d.visit_id else "problem-list-item"
    data = {
        "resourceType": "Condition",
        "id": str(d.id),
        "clinicalStatus": ({"coding": [_coding(CONDITION_CLINICAL, d.clinical_status)]}
                           if d.clinical_status in _CLINICAL_STATUS else None),
        "category": [{"coding": [_coding(CONDITION_CATEGORY, category)]}],
        "code": {"coding": coding, "text": d.display},
        "subject": _ref(d.patient_id),
        "encounter": _ref(d.visit_id),
        "onsetDateTime": d.onset_date.isoformat() if d.onset_date else None,
        "abatementDateTime": d.abatement_date.isoformat() if d.abatement_date else None,
        "recordedDate": _when(d.recorded_at),
    }
    return Condition.model_validate(_drop_none(data))


def document_reference_resource(doc: DocumentRead) -> DocumentReference:
    """visit_documents row -> DocumentReference (metadata; the file is not embedded)."""
    data = {
        "resourceType": "DocumentReference",
        "id": str(doc.id),
        "status": "current",
        "docStatus": "final",
        "type": {"text": doc.document_type.value},
        "subject": _ref(doc.patient_id),
        "date": _when(doc.uploaded_at),
        "description": doc.description,
        "content": [{"attachment": {"contentType": doc.content_type, "size": doc.size_bytes,
                                    "title": doc.original_filename,
                                    "creation": _when(doc.uploaded_at)}}],
        "context": {"encounter": [_ref(doc.visit_id)]},
    }
    return DocumentReference.model_validate(_drop_none(data))


def patient_bundle(
    patient: PatientRead,
    visits: list[VisitRead],
    vital_signs: list[VitalSignsRead],
    diagnoses: list[DiagnosisRead],
    documents: list[DocumentRead],
    *,
    timestamp: datetime,
) -> dict[str, Any]:
    """A FHIR R4 Bundle (type ``collection``) of everything above, as JSON-ready data.

    Every resource is built through ``fhir.resources.R4B`` (so validated); the result
    re-parses with ``Bundle.model_validate``.
    """
    resources: list[Resource] = [patient_resource(patient)]
    resources += [encounter_resource(v) for v in visits]
    for row in vital_signs:
        resources += observation_resources(row)
    resources += [condition_resource(d) for d in diagnoses]
    resources += [document_reference_resource(doc) for doc in documents]
    bundle = Bundle.model_validate({
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timestamp.isoformat(),
        "entry": [BundleEntry.model_validate({"fullUrl": f"urn:uuid:{r.id}", "resource": r})
                  for r in resources],
    })
    result: dict[str, Any] = json.loads(bundle.model_dump_json())
    return result
