"""FHIR R4 Bundle import (``hms import-fhir``) on the real database."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

from hms.db.session import Database
from hms.fhir.mapping import SYNTHEA_SYSTEM
from hms.fhir.schemas import FileResult, FileStatus, ImportReport
from hms.fhir.service import demo_bundle_dir, import_paths
from tests.fhir import factories as f


def _by_file(report: ImportReport) -> dict[str, FileResult]:
    return {Path(r.path).name: r for r in report.files}


class TestImportDemoBundles:
    """The repository's Synthea bundles land in patients, visits, vital signs, diagnoses."""

    async def test_every_file_is_imported_with_the_index_counts(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, report = demo_import
        index = f.demo_index()
        assert report.ok
        assert len(report.files) == len(index) >= 8
        results = _by_file(report)
        for row in index:
            result = results[row["file"]]
            assert result.status is FileStatus.IMPORTED
            assert result.created["patients"] == int(row["Patient"])
            assert result.created["visits"] == int(row["Encounter"])
            assert result.created["diagnoses"] == int(row["Condition"])
            assert result.created["vital_signs"] > 0
            assert result.resources["Observation"] == int(row["Observation"])
            assert result.skipped["Claim"] == int(row["Claim"])
        assert await f.count_rows(db, "patients") == sum(int(r["Patient"]) for r in index)
        assert await f.count_rows(db, "patient_visits") == sum(int(r["Encounter"])
                                                               for r in index)
        assert await f.count_rows(db, "diagnoses") == sum(int(r["Condition"]) for r in index)
        assert await f.count_rows(db, "vital_signs") == report.total("created")["vital_signs"]

    async def test_patients_keep_source_identifiers_and_demographics(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, _ = demo_import
        for row in f.demo_index():
            (patient,) = await f.fetch_rows(db, "patients",
                                            lambda c, pid=row["patient_id"]: c.source_id == pid)
            assert patient["source_system"] == SYNTHEA_SYSTEM
            assert patient["national_id"] is None
            assert patient["other_identifier"]  # the Synthea MRN
            assert patient["gender"] == row["gender"]
            assert patient["date_of_birth"] == date.fromisoformat(row["birth_date"])
            assert patient["given_name"] == row["given"]
            assert patient["family_name"] == row["family"]
            assert patient["patient_number"].startswith("PT-")
            if row["deceased"]:
                assert patient["deceased_at"] == datetime.fromisoformat(row["deceased"])
            else:
                assert patient["deceased_at"] is None

    async def test_blood_pressure_panels_become_systolic_and_diastolic(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, _ = demo_import
        row = next(r for r in f.demo_index() if r["given"] == "Hassan")
        raw = json.loads(gzip.decompress((demo_bundle_dir() / row["file"]).read_bytes()))
        panel = next(e["resource"] for e in raw["entry"]
                     if e["resource"]["resourceType"] == "Observation"
                     and e["resource"]["code"]["coding"][0]["code"] == "55284-4")
        values = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                  for c in panel["component"]}
        (patient,) = await f.fetch_rows(db, "patients",
                                        lambda c: c.source_id == row["patient_id"])
        when = datetime.fromisoformat(panel["effectiveDateTime"]).astimezone(UTC)
        (vitals,) = await f.fetch_rows(
            db, "vital_signs",
            lambda c: (c.patient_id == patient["id"]) & (c.recorded_at == when))
        assert vitals["blood_pressure_systolic"] == round(values["8480-6"])
        assert vitals["blood_pressure_diastolic"] == round(values["8462-4"])
        assert vitals["visit_id"] is not None
        assert await f.count_rows(db, "vital_signs", lambda c: (
            c.blood_pressure_systolic.is_not(None) & c.blood_pressure_diastolic.is_not(None)
        )) > 0
        assert await f.count_rows(db, "vital_signs", lambda c: c.bmi.is_not(None)) > 0

    async def test_encounters_become_closed_visits_and_conditions_snomed_diagnoses(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, _ = demo_import
        visits = await f.fetch_rows(db, "patient_visits")
        assert {v["status"] for v in visits} == {"closed"}
        assert {"outpatient", "emergency"} <= {v["visit_type"] for v in visits}
        assert all(v["started_at"] <= v["ended_at"] for v in visits)
        assert all(v["chief_complaint"] and v["department"] for v in visits)
        diagnoses = await f.fetch_rows(db, "diagnoses")
        assert {d["code_system"] for d in diagnoses} == {"SNOMED CT"}
        assert {d["clinical_status"] for d in diagnoses} <= {"active", "resolved"}
        assert all(d["visit_id"] is not None for d in diagnoses)

    async def test_one_import_audit_event_per_file_without_names(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, report = demo_import
        events = await f.fetch_rows(db, "audit_log", lambda c: c.action == "import")
        assert len(events) == len(report.files)
        assert all(e["entity_type"] == "fhir_bundle" and len(e["entity_id"]) == 64
                   and e["patient_id"] is not None for e in events)
        dumped = json.dumps([e["changes"] for e in events])
        for row in f.demo_index():
            assert row["family"] not in dumped
            assert row["given"] not in dumped

    async def test_reimport_creates_nothing_and_says_so(
        self, demo_import: tuple[Database, ImportReport]
    ) -> None:
        db, first = demo_import
        before = {t: await f.count_rows(db, t)
                  for t in ("patients", "patient_visits", "vital_signs", "diagnoses")}
        again = await import_paths(db, [demo_bundle_dir()])
        assert again.ok
        assert {r.status for r in again.files} == {FileStatus.UNCHANGED}
        assert sum(again.total("created").values()) == 0
        assert again.total("already_present") == first.total("created")
        assert {t: await f.count_rows(db, t) for t in before} == before
        assert "8 unchanged" in again.summary()


class TestReimportChangedBundle:
    """Identity is the source system plus the resource id, record by record."""

    async def test_a_grown_bundle_adds_only_the_new_records(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        bundle = f.good_bundle()
        path = f.write(tmp_path / "b.json", bundle)
        await import_paths(clean_db, [path])
        p = bundle["entry"][0]["fullUrl"]
        e2 = f.urn()
        bundle["entry"] += [
            f.entry(e2, f.encounter(p, period={"start": "2021-06-01T09:00:00Z"})),
            f.entry(f.urn(), f.blood_pressure(p, e2, 130, 85, when="2021-06-01T09:10:00Z")),
        ]
        f.write(path, bundle)

        report = await import_paths(clean_db, [path])

        (result,) = report.files
        assert result.status is FileStatus.IMPORTED
        assert result.created == {"patients": 0, "visits": 1, "vital_signs": 1,
                                  "diagnoses": 0}
        assert result.already_present == {"patients": 1, "visits": 1, "vital_signs": 1,
                                          "diagnoses": 1}
        assert await f.count_rows(clean_db, "patient_visits") == 2
        (new_visit,) = await f.fetch_rows(clean_db, "patient_visits",
                                           lambda c: c.ended_at.is_(None))
        assert new_visit["status"] == "closed"  # finished, though no end time was given

    async def test_a_record_pointing_at_another_patients_encounter_loses_the_link(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        p1, p2, e1 = f.urn(), f.urn(), f.urn()
        bundle = f.bundle(f.entry(p1, f.patient()), f.entry(p2, f.patient()),
                          f.entry(e1, f.encounter(p1)),
                          f.entry(f.urn(), f.condition(p2, e1)))

        report = await import_paths(clean_db, [f.write(tmp_path / "x.json", bundle)])

        assert report.files[0].warnings == {"diagnosis.encounter_of_another_patient": 1}
        (row,) = await f.fetch_rows(clean_db, "diagnoses")
        assert row["visit_id"] is None


class TestMalformedBundles:
    """A bad file is rejected with its reason and imports nothing; the others go on."""

    async def test_bad_files_are_rejected_and_a_good_one_imports(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        bad_gender = f.good_bundle()
        bad_gender["entry"][0]["resource"]["gender"] = "robot"
        bad_date = f.good_bundle()
        bad_date["entry"][0]["resource"]["birthDate"] = "1980-13-45"
        dangling = f.good_bundle()
        dangling["entry"][2]["resource"]["encounter"]["reference"] = f.urn()
        nameless = f.good_bundle()
        nameless["entry"][0]["resource"]["name"] = [{"family": "X"}]
        files = {
            "a_broken.json": f.write(tmp_path / "a_broken.json",
                                     '{"resourceType": "Bundle", "entry": ['),
            "b_gender.json": f.write(tmp_path / "b_gender.json", bad_gender),
            "c_date.json": f.write(tmp_path / "c_date.json", bad_date),
            "d_reference.json": f.write(tmp_path / "d_reference.json", dangling),
            "e_not_bundle.json": f.write(tmp_path / "e_not_bundle.json", f.patient()),
            "f_nameless.json": f.write(tmp_path / "f_nameless.json", nameless),
        }
        sub = tmp_path / "sub"
        sub.mkdir()
        (sub / "good.json.gz").write_bytes(gzip.compress(json.dumps(f.good_bundle()).encode()))
        (sub / "notes.txt").write_text("not a bundle, not picked up from a folder")

        report = await import_paths(clean_db, [*files.values(), tmp_path / "missing.json",
                                               sub])

        results = _by_file(report)
        assert not report.ok
        expected = {
            "a_broken.json": "invalid JSON at line 1",
            "b_gender.json": "Patient entry 1: gender is not an AdministrativeGender code",
            "c_date.json": "Patient entry 1 is not a valid FHIR R4 Patient: birthDate",
            "d_reference.json": "Observation entry 3: reference urn:uuid:",
            "e_not_bundle.json": "not a FHIR Bundle (Patient)",
            "f_nameless.json": "Patient entry 1: hms cannot store it (invalid full_name)",
            "missing.json": "file not found",
        }
        for name, reason in expected.items():
            result = results[name]
            assert result.status is FileStatus.REJECTED, name
            assert reason in result.reason, (name, result.reason)
        assert "robot" not in results["b_gender.json"].reason
        assert "notes.txt" not in results
        good = results["good.json.gz"]
        assert good.status is FileStatus.IMPORTED
        assert good.created == {"patients": 1, "visits": 1, "vital_signs": 1,
                                "diagnoses": 1}
        for table in ("patients", "patient_visits", "vital_signs", "diagnoses"):
            assert await f.count_rows(clean_db, table) == 1, table
        events = await f.fetch_rows(clean_db, "audit_log", lambda c: c.action == "import")
        assert sorted(e["changes"]["after"]["status"] for e in events) == \
            ["imported"] + ["rejected"] * len(expected)


class TestMapping:
    """Field-level mapping: units, ranges, encounter status and class, condition codes."""

    async def test_units_are_converted_and_out_of_range_values_left_out(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        p, e = f.urn(), f.urn()
        later = "2020-01-01T11:00:00+00:00"
        bundle = f.bundle(
            f.entry(p, f.patient()), f.entry(e, f.encounter(p)),
            f.entry(f.urn(), f.vital(p, e, "8310-5", 98.6, "[degF]")),
            f.entry(f.urn(), f.vital(p, e, "29463-7", 150, "[lb_av]")),
            f.entry(f.urn(), f.vital(p, e, "8302-2", 70, "[in_i]")),
            f.entry(f.urn(), f.vital(p, e, "8867-4", 500, "/min")),
            f.entry(f.urn(), f.vital(p, e, "2708-6", 97, "%")),
            f.entry(f.urn(), f.vital(p, e, "9279-1", 16, "/min")),
            f.entry(f.urn(), f.vital(p, e, "39156-5", 21.7, "kg/m2")),
            f.entry(f.urn(), f.blood_pressure(p, e, 80, 120, when=later)),
            f.entry(f.urn(), f.vital(p, e, "72514-3", 3, "{score}")),
        )
        report = await import_paths(clean_db, [f.write(tmp_path / "v.json", bundle)])

        (result,) = report.files
        assert result.status is FileStatus.IMPORTED
        assert result.warnings == {"vital_signs.pulse_bpm.out_of_range": 1,
                                   "vital_signs.blood_pressure.inconsistent": 1,
                                   "vital_signs.nothing_to_store": 1}
        assert result.skipped == {"Observation": 1}  # the pain score
        (row,) = await f.fetch_rows(clean_db, "vital_signs")
        assert row["temperature_celsius"] == 37.0
        assert row["weight_kg"] == 68.04
        assert row["height_cm"] == 177.8
        assert row["pulse_bpm"] is None
        assert row["oxygen_saturation_percent"] == 97.0
        assert row["respiratory_rate_per_min"] == 16
        assert row["bmi"] == 21.5
        assert row["recorded_at"] == datetime(2020, 1, 1, 8, 5, tzinfo=UTC)

    async def test_encounter_status_class_reason_and_provider(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        p = f.urn()
        org = f.urn()
        cases = [
            ("in-progress", "EMER", "in_progress", "emergency"),
            ("planned", "AMB", "open", "outpatient"),
            ("cancelled", "IMP", "cancelled", "inpatient"),
            ("arrived", "VR", "open", "virtual"),
        ]
        entries = [f.entry(p, f.patient()),
                   f.entry(org, {"resourceType": "Organization", "name": "Cardiology"})]
        for status, cls, *_ in cases:
            entries.append(f.entry(f.urn(), f.encounter(
                p, status=status, **{"class": {"code": cls}},
                reasonCode=[{"coding": [{"display": f"reason {status}"}]}],
                serviceProvider={"reference": org})))
        entries.append(f.entry(f.urn(), f.encounter(p, status="entered-in-error")))
        report = await import_paths(clean_db, [f.write(tmp_path / "e.json",
                                                       f.bundle(*entries))])

        (result,) = report.files
        assert result.created["visits"] == len(cases)
        assert result.skipped == {"Organization": 1, "Encounter": 1}
        visits = {v["chief_complaint"]: v for v in await f.fetch_rows(clean_db,
                                                                      "patient_visits")}
        for status, _, hms_status, visit_type in cases:
            visit = visits[f"reason {status}"]
            assert (visit["status"], visit["visit_type"]) == (hms_status, visit_type)
            assert visit["department"] == "Cardiology"

    async def test_condition_codes_status_dates_and_visit(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        p, e = f.urn(), f.urn()
        icd = f.condition(p, e, code={"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes"},
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9",
             "display": "Type 2 diabetes mellitus without complications"}]},
            clinicalStatus={"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "resolved"}]},
            abatementDateTime="2021-03-04")
        refuted = f.condition(p, verificationStatus={"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "refuted"}]})
        bundle = f.bundle(f.entry(p, f.patient()), f.entry(e, f.encounter(p)),
                          f.entry(f.urn(), icd), f.entry(f.urn(), f.condition(p)),
                          f.entry(f.urn(), refuted))
        report = await import_paths(clean_db, [f.write(tmp_path / "c.json", bundle)])

        assert report.files[0].created["diagnoses"] == 2
        rows = {r["code"]: r for r in await f.fetch_rows(clean_db, "diagnoses")}
        assert rows["E11.9"]["code_system"] == "ICD-10-CM"
        assert rows["E11.9"]["clinical_status"] == "resolved"
        assert rows["E11.9"]["onset_date"] == date(2019, 5, 6)
        assert rows["E11.9"]["abatement_date"] == date(2021, 3, 4)
        assert rows["E11.9"]["visit_id"] is not None
        assert rows["38341003"]["display"] == "Hypertension"
        assert rows["38341003"]["visit_id"] is None

    async def test_deceased_patient_and_contact_details(
        self, clean_db: Database, tmp_path: Path
    ) -> None:
        resource = f.patient(
            deceasedDateTime="2019-07-08T09:10:11-04:00",
            telecom=[{"system": "phone", "value": "+20 1012345678"},
                     {"system": "phone", "value": "01012345678"},
                     {"system": "email", "value": "someone@example.org"}],
            address=[{"use": "home", "line": ["1 Nile St", "Flat 2"], "city": "Giza",
                      "state": "Giza", "postalCode": "12511", "country": "EG"}],
            maritalStatus={"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                "code": "W"}]})
        bundle = f.bundle(f.entry(f.urn(), resource))
        await import_paths(clean_db, [f.write(tmp_path / "p.json", copy.deepcopy(bundle))])

        (row,) = await f.fetch_rows(clean_db, "patients")
        assert row["deceased_at"] == datetime(2019, 7, 8, 13, 10, 11, tzinfo=UTC)
        assert row["phone"] == "+20 1012345678"
        assert row["mobile"] == "01012345678"
        assert row["email"] == "someone@example.org"
        assert (row["address_line"], row["city"], row["country"]) == \
            ("1 Nile St, Flat 2", "Giza", "EG")
        assert row["marital_status"] == "widowed"


def test_demo_bundle_dir_holds_the_indexed_files() -> None:
    folder = demo_bundle_dir()
    names = {p.name for p in folder.glob("*.json.gz")}
    assert names == {r["file"] for r in f.demo_index()}
    assert (folder / "README.md").is_file()
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2_000_000
