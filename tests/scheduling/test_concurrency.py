"""Double booking under real concurrency (real commits, both databases): of twenty
overlapping bookings for one doctor exactly one wins and nineteen get 409
``appointment_overlap``; two reschedules into the same slot: one wins.

SQLite: BEGIN IMMEDIATE serialises the writers, so the service's check-then-insert holds.
PostgreSQL: the exclusion constraint ``ex_appointments_doctor_no_overlap`` decides.
"""

from __future__ import annotations

import asyncio
from datetime import time

import pytest
from sqlalchemy import func, select

from hms.core.permissions import Role
from hms.scheduling.models import Appointment
from tests.identity.factories import login, make_doctor, make_user
from tests.patients.factories import make_patient
from tests.scheduling.factories import booking_payload, future_slot, make_appointment

URL = "/api/v1/appointments"

pytestmark = pytest.mark.committed


async def _desk(committed_client, db) -> dict[str, str]:
    async with db.sessionmaker() as s:
        user = await make_user(s, Role.RECEPTIONIST)
    tokens = await login(committed_client, user.username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


class TestConcurrentBooking:
    async def test_twenty_overlapping_bookings_one_wins(self, committed_client, db):
        headers = await _desk(committed_client, db)
        async with db.sessionmaker() as s:
            doctor = await make_doctor(s)
            patients = [await make_patient(s) for _ in range(20)]
        day, _ = future_slot(days=2)
        # Starts 10:00, 10:01 ... 10:19, one hour each: every pair overlaps.
        responses = await asyncio.gather(*[
            committed_client.post(URL, headers=headers, json=booking_payload(
                p.id, doctor.id, appointment_date=day.isoformat(),
                appointment_time=time(10, i).isoformat(), duration_minutes=60))
            for i, p in enumerate(patients)
        ])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 19, [r.text for r in responses
                                                if r.status_code not in (201, 409)]
        for r in responses:
            if r.status_code == 409:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "appointment_overlap"
        async with db.sessionmaker() as s:
            stored = await s.scalar(select(func.count()).select_from(Appointment)
                                    .where(Appointment.doctor_id == doctor.id))
        assert stored == 1

    async def test_two_reschedules_into_one_slot_one_wins(self, committed_client, db):
        headers = await _desk(committed_client, db)
        day, _ = future_slot(days=3)
        async with db.sessionmaker() as s:
            doctor = await make_doctor(s)
            a = await make_appointment(s, doctor_id=doctor.id, appointment_date=day,
                                       appointment_time=time(8))
            b = await make_appointment(s, doctor_id=doctor.id, appointment_date=day,
                                       appointment_time=time(9))
        responses = await asyncio.gather(*[
            committed_client.put(f"{URL}/{x.id}", headers=headers,
                                 json={"appointment_time": t})
            for x, t in ((a, "14:00:00"), (b, "14:10:00"))
        ])
        assert sorted(r.status_code for r in responses) == [200, 409], [
            r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["code"] == "appointment_overlap"
