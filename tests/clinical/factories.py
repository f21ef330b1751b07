"""Builders for the seed 004 clinical flow (checked-in appointment -> vital signs ->
consultation -> completion), over HTTP so they follow the real rules. Synthetic data only.

Reusable by other tests (the lead's end-to-end day): every builder returns a :class:`Care`
holding the ids and the logged-in headers of the staff involved.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.permissions import Role
from hms.identity.schemas import UserRead
from hms.patients import service as patients_service
from hms.patients.schemas import MedicalRecordUpdate
from tests.identity.factories import login, make_doctor, make_user
from tests.patients.factories import make_patient

_seq = itertools.count(1)

VITALS_SEED_004: dict[str, Any] = {
    "systolic_bp": 120, "diastolic_bp": 80, "pulse_rate": 72, "temperature_celsius": 36.8,
    "respiratory_rate": 16, "oxygen_saturation": 98, "weight_kg": 70.0, "height_cm": 175.0,
}


@dataclass
class Care:
    """One patient's appointment and the staff around it."""

    patient_id: uuid.UUID
    doctor: UserRead
    doctor_headers: dict[str, str]
    nurse_headers: dict[str, str]
    reception_headers: dict[str, str]
    appointment: dict[str, Any]
    vitals: dict[str, Any] | None = None
    consultation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def appointment_id(self) -> str:
        return str(self.appointment["id"])

    @property
    def consultation_id(self) -> str:
        assert self.consultation is not None
        return str(self.consultation["id"])

    @property
    def consultation_date(self) -> str:
        """An instant on the appointment date (the appointment's start), ISO 8601 UTC."""
        return appointment_start(self.appointment).isoformat()


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def headers_for(client: AsyncClient, session: AsyncSession, role: Role
                      ) -> dict[str, str]:
    """Log in a new user of ``role``."""
    user = await make_user(session, role)
    return bearer(await login(client, user.username))


def appointment_start(appointment: dict[str, Any]) -> datetime:
    """The appointment's date and time as an aware UTC datetime."""
    day = appointment["appointment_date"]
    at = appointment["appointment_time"]
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=UTC)


async def set_allergies(session: AsyncSession, patient_id: uuid.UUID, allergies: str) -> None:
    """Write the ``allergies`` text of the patient's medical record (service call)."""
    record = await patients_service.get_medical_record(session, patient_id)
    await patients_service.update_medical_record(
        session, record.id, MedicalRecordUpdate(allergies=allergies, version=record.version),
        if_match=None, updated_by=None)
    await session.commit()


async def booked_appointment(client: AsyncClient, session: AsyncSession, *,
                             patient_id: uuid.UUID | None = None,
                             doctor: UserRead | None = None) -> Care:
    """A scheduled appointment (tomorrow, a distinct slot per call) of a new patient with a
    new doctor, booked by a receptionist."""
    doctor = doctor or await make_doctor(session)
    if patient_id is None:
        patient_id = (await make_patient(session)).id
    reception = await headers_for(client, session, Role.RECEPTIONIST)
    n = next(_seq)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0) + timedelta(minutes=30 * (n % 20))
    resp = await client.post("/api/v1/appointments", headers=reception, json={
        "patient_id": str(patient_id), "doctor_id": str(doctor.id),
        "appointment_date": start.date().isoformat(),
        "appointment_time": start.time().isoformat(), "duration_minutes": 30,
        "appointment_type": "consultation", "reason": "Cough for a week",
    })
    assert resp.status_code == 201, resp.text
    doctor_headers = bearer(await login(client, doctor.username))
    nurse = await headers_for(client, session, Role.NURSE)
    return Care(patient_id=patient_id, doctor=doctor, doctor_headers=doctor_headers,
                nurse_headers=nurse, reception_headers=reception, appointment=resp.json())


async def checked_in(client: AsyncClient, session: AsyncSession, **kwargs: Any) -> Care:
    """:func:`booked_appointment`, then checked in (which opens the visit)."""
    care = await booked_appointment(client, session, **kwargs)
    resp = await client.post(f"/api/v1/appointments/{care.appointment_id}/check-in",
                             headers=care.reception_headers)
    assert resp.status_code == 200, resp.text
    care.appointment = resp.json()
    return care


async def record_vitals(client: AsyncClient, care: Care, **overrides: Any) -> dict[str, Any]:
    """Vital signs for the appointment, recorded by the nurse (seed 004 field names)."""
    body = {"appointment_id": care.appointment_id, **VITALS_SEED_004, **overrides}
    resp = await client.post("/api/v1/vital-signs", headers=care.nurse_headers, json=body)
    assert resp.status_code == 201, resp.text
    care.vitals = resp.json()
    return care.vitals


async def in_consultation(client: AsyncClient, session: AsyncSession, **kwargs: Any) -> Care:
    """Checked in, vitals recorded, consultation started by the appointment's doctor."""
    care = await checked_in(client, session, **kwargs)
    await record_vitals(client, care)
    resp = await client.post("/api/v1/consultations", headers=care.doctor_headers, json={
        "appointment_id": care.appointment_id, "consultation_date": care.consultation_date,
        "chief_complaint": "Cough", "examination_findings": "Wheeze, no fever",
    })
    assert resp.status_code == 201, resp.text
    care.consultation = resp.json()
    return care


PRESCRIPTION = {"medication_name": "Salbutamol inhaler", "dosage": "100 mcg",
                "frequency": "2 puffs every 6 hours", "duration": "7 days", "quantity": 1,
                "route": "inhaled"}


async def completed(client: AsyncClient, session: AsyncSession, *,
                    prescriptions: list[dict[str, Any]] | None = None,
                    lab_tests: list[dict[str, Any]] | None = None, **kwargs: Any) -> Care:
    """:func:`in_consultation`, then completed with a diagnosis, the prescriptions (default
    one) and lab tests (default none)."""
    care = await in_consultation(client, session, **kwargs)
    resp = await client.post(
        f"/api/v1/consultations/{care.consultation_id}/complete", headers=care.doctor_headers,
        json={"diagnosis": "Acute bronchitis", "treatment_plan": "Inhaler, fluids",
              "prescriptions": [PRESCRIPTION] if prescriptions is None else prescriptions,
              "lab_tests": lab_tests or []})
    assert resp.status_code == 200, resp.text
    care.consultation = resp.json()
    return care
