"""Builders for lab tests (seed 004 ``lab_tests``). Synthetic data only.

Two kinds, for the lab tests and the lead's end-to-end day:

* :func:`make_lab_test` inserts a row directly in any status (dates filled consistently),
  creating the patient and doctor when not given;
* :func:`order_over_http` / :func:`advance_over_http` drive the real routes, so the rules
  apply (``advance_over_http(client, lab_headers, id, "completed")`` collects the sample,
  starts processing and enters a result).

:func:`make_consultation` inserts a bare consultation row (no appointment) to link tests to.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from hms.clinical.models import Consultation
from hms.clinical.schemas import ConsultationRead
from hms.lab.models import LabTest
from hms.lab.schemas import LabTestRead, LabTestStatus
from tests.identity.factories import make_doctor
from tests.patients.factories import make_patient

_seq = itertools.count(1)

#: The happy path, in order (seed 004 11.5).
PATH = (LabTestStatus.ORDERED, LabTestStatus.SAMPLE_COLLECTED, LabTestStatus.IN_PROGRESS,
        LabTestStatus.COMPLETED)


def lab_test_payload(patient_id: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    """A ``POST /lab-tests`` body (seed 004 field names)."""
    body: dict[str, Any] = {"patient_id": str(patient_id),
                            "test_name": f"Complete blood count {next(_seq)}",
                            "test_type": "hematology"}
    body.update(overrides)
    return body


async def make_consultation(session: AsyncSession, *, patient_id: uuid.UUID | None = None,
                            doctor_id: uuid.UUID | None = None,
                            **overrides: Any) -> ConsultationRead:
    """Insert a consultation row (status in_progress, no appointment) and commit to the
    test's savepoint; creates the patient and doctor when not given."""
    if patient_id is None:
        patient_id = (await make_patient(session)).id
    if doctor_id is None:
        doctor_id = (await make_doctor(session)).id
    values: dict[str, Any] = {"patient_id": patient_id, "doctor_id": doctor_id,
                              "consultation_date": datetime.now(UTC),
                              "follow_up_required": False, "status": "in_progress"}
    values.update(overrides)
    row = Consultation(**values)
    session.add(row)
    await session.flush()
    await session.commit()
    return ConsultationRead.model_validate(row)


async def make_lab_test(session: AsyncSession, *, patient_id: uuid.UUID | None = None,
                        doctor_id: uuid.UUID | None = None,
                        status: LabTestStatus | str = LabTestStatus.ORDERED,
                        ordered_date: datetime | None = None,
                        **overrides: Any) -> LabTestRead:
    """Insert a lab test in ``status`` (dates and a result filled to match: collected 1 h
    after the order, result 2 h after collection) and commit to the test's savepoint."""
    status = LabTestStatus(status)
    if patient_id is None:
        patient_id = (await make_patient(session)).id
    if doctor_id is None:
        doctor_id = (await make_doctor(session)).id
    ordered = ordered_date or datetime.now(UTC) - timedelta(hours=4)
    values: dict[str, Any] = {
        "patient_id": patient_id, "ordered_by_doctor_id": doctor_id,
        "test_name": f"Serum potassium {next(_seq)}", "test_type": "chemistry",
        "ordered_date": ordered, "status": status.value,
    }
    reached = PATH.index(status) if status in PATH else 0
    if reached >= 1:
        values["sample_collected_date"] = ordered + timedelta(hours=1)
    if reached >= 3:
        values.update(result_date=ordered + timedelta(hours=3), result_value="4.1",
                      result_unit="mmol/L", reference_range="3.5-5.1")
    values.update(overrides)
    row = LabTest(**values)
    session.add(row)
    await session.flush()
    await session.commit()
    return LabTestRead.model_validate(row)


async def order_over_http(client: AsyncClient, doctor_headers: dict[str, str],
                          patient_id: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    """``POST /lab-tests`` as a doctor; returns the created lab test (asserts 201)."""
    resp = await client.post("/api/v1/lab-tests", headers=doctor_headers,
                             json=lab_test_payload(patient_id, **overrides))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def advance_over_http(client: AsyncClient, lab_headers: dict[str, str],
                            lab_test_id: uuid.UUID | str,
                            to: LabTestStatus | str) -> dict[str, Any]:
    """Move a lab test along the machine up to ``to`` through the real routes
    (collect-sample, PUT status in_progress, enter-results); returns the last body."""
    target = LabTestStatus(to)
    url = f"/api/v1/lab-tests/{lab_test_id}"
    resp = await client.get(url, headers=lab_headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    while PATH.index(LabTestStatus(body["status"])) < PATH.index(target):
        current = LabTestStatus(body["status"])
        if current is LabTestStatus.ORDERED:
            resp = await client.post(f"{url}/collect-sample", headers=lab_headers)
        elif current is LabTestStatus.SAMPLE_COLLECTED:
            resp = await client.put(url, headers=lab_headers, json={"status": "in_progress"})
        else:
            resp = await client.post(f"{url}/enter-results", headers=lab_headers, json={
                "result_value": "13.5", "result_unit": "g/dL",
                "reference_range": "13.0-17.0"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
    return body


__all__ = ["PATH", "advance_over_http", "lab_test_payload", "make_consultation",
           "make_lab_test", "order_over_http"]
