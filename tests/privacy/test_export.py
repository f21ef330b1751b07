"""``GET /patients/{patient_ssn}/export``: everything about a patient, as hms JSON and as a
FHIR R4 Bundle that re-parses; audited; admins only."""

from __future__ import annotations

import uuid
from collections import Counter

from fhir.resources.R4B.bundle import Bundle

from hms.audit import service as audit
from hms.core.permissions import Role
from tests.identity.factories import auth_headers
from tests.privacy.factories import clinical_day


def _url(ref: str, fmt: str = "json") -> str:
    return f"/api/v1/patients/{ref}/export?format={fmt}"


async def test_json_export_has_the_whole_record(client, session) -> None:
    day = await clinical_day(client, session)
    resp = await client.get(_url(day.patient["patient_number"]), headers=day.admin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["content-disposition"].startswith("attachment;")
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()

    assert body["export_format"] == "hms.patient-export"
    assert body["patient"]["id"] == day.patient["id"]
    assert body["patient"]["national_id"] == day.patient["national_id"]
    [visit] = body["visits"]
    assert visit["id"] == day.visit["id"]
    assert visit["diagnosis_icd10_code"] == "J18.9"
    assert [f["form_code"] for f in visit["forms"]] == ["SH.MR.FRM.05"]
    nursing = visit["nursing_assessment"]
    assert nursing["id"] == day.nursing["id"]
    assert nursing["vital_signs"]["pulse_bpm"] == 78
    assert nursing["fall_risk_assessment"]["total_score"] == 100
    assert nursing["pain_assessment"]["pain_score"] == 4
    [vitals] = visit["vital_signs"]
    assert vitals["bmi"] == 22.9 and vitals["blood_pressure_systolic"] == 122
    assert [d["code"] for d in visit["diagnoses"]] == ["J18.9"]
    [document] = visit["documents"]
    assert document["id"] == day.document["id"]
    assert document["content_type"] == "application/pdf"
    assert "content" not in document and "data" not in document  # metadata, no bytes
    assert body["vital_signs_without_visit"] == [] and body["diagnoses_without_visit"] == []
    assert body["legal_hold"] is None and body["erasure_requests"] == []

    # The accounting of disclosures: who touched the record, including this export.
    disclosures = body["disclosures"]
    assert body["disclosures_truncated"] is False
    actions = Counter(d["action"] for d in disclosures)
    assert actions["create"] >= 1 and actions["export"] == 1 and actions["read"] >= 1
    assert all("changes" not in d for d in disclosures)
    assert len({d["username"] for d in disclosures}) >= 3  # nurse, physician, admin


async def test_fhir_bundle_reparses_with_the_right_resources(client, session) -> None:
    day = await clinical_day(client, session)
    resp = await client.get(_url(day.patient["id"], "fhir"), headers=day.admin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate(resp.json())
    assert bundle.type == "collection"
    kinds = Counter(e.resource.get_resource_type() for e in bundle.entry)
    # 7 single-value vital signs (temperature, pulse, respiration, SpO2, weight, height,
    # BMI) and the blood-pressure panel.
    assert kinds == {"Patient": 1, "Encounter": 1, "Observation": 8, "Condition": 1,
                     "DocumentReference": 1}
    resources = {e.resource.get_resource_type(): e.resource for e in bundle.entry}
    observations = [e.resource for e in bundle.entry
                    if e.resource.get_resource_type() == "Observation"]
    codes = {o.code.coding[0].code for o in observations}
    assert codes == {"8310-5", "8867-4", "9279-1", "59408-5", "29463-7", "8302-2", "39156-5",
                     "85354-9"}
    panel = next(o for o in observations if o.code.coding[0].code == "85354-9")
    assert {(c.code.coding[0].code, c.valueQuantity.value) for c in panel.component} == {
        ("8480-6", 122), ("8462-4", 78)}
    assert all(o.category[0].coding[0].code == "vital-signs" for o in observations)
    patient = resources["Patient"]
    assert patient.id == day.patient["id"]
    encounter_url = f"urn:uuid:{day.visit['id']}"
    assert all(o.encounter.reference == encounter_url for o in observations)
    condition = resources["Condition"]
    assert condition.code.coding[0].system == "http://hl7.org/fhir/sid/icd-10"
    assert condition.code.coding[0].code == "J18.9"
    assert resources["Encounter"].status == "arrived"
    doc = resources["DocumentReference"]
    assert doc.content[0].attachment.contentType == "application/pdf"
    assert doc.content[0].attachment.data is None
    full_urls = {e.fullUrl for e in bundle.entry}
    assert f"urn:uuid:{day.patient['id']}" in full_urls and len(full_urls) == len(bundle.entry)


async def test_exports_are_audited(client, session) -> None:
    day = await clinical_day(client, session)
    for fmt in ("json", "fhir"):
        assert (await client.get(_url(day.patient["id"], fmt), headers=day.admin)
                ).status_code == 200
    events = await audit.list_events(session, action="export",
                                     patient_id=uuid.UUID(day.patient["id"]))
    assert sorted(e.changes["format"] for e in events) == ["fhir", "json"]
    assert all(e.changes["visits"] == 1 and e.changes["documents"] == 1 for e in events)


async def test_unknown_patient_and_bad_format(client, session) -> None:
    admin = await auth_headers(client, session, Role.ADMIN)
    assert (await client.get(_url(str(uuid.uuid4())), headers=admin)).status_code == 404
    day = await clinical_day(client, session)
    resp = await client.get(_url(day.patient["id"], "xml"), headers=day.admin)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "format"


async def test_clinical_staff_cannot_export(client, session) -> None:
    day = await clinical_day(client, session)
    for headers in (day.nurse, day.physician):
        assert (await client.get(_url(day.patient["id"]), headers=headers)).status_code == 403
