"""Builders for patients and patient payloads. Synthetic data only."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.patients import service
from hms.patients.schemas import PatientCreate, PatientRead

_seq = itertools.count(1)


def national_id(
    born: date = date(1990, 1, 1), *, governorate: str = "01", gender: str = "male",
    n: int | None = None,
) -> str:
    """A structurally valid, synthetic Egyptian national ID, unique per call.

    ``C YYMMDD GG SSS P K``: P (the 13th digit) is odd for male, even for female; K is an
    arbitrary check digit (its algorithm is not published and not verified).
    """
    n = next(_seq) if n is None else n
    century = "2" if born.year < 2000 else "3"
    parity = ("13579" if gender == "male" else "02468")[(n // 1000) % 5]
    return (f"{century}{born:%y%m%d}{governorate}{n % 1000:03d}{parity}"
            f"{(n // 5000) % 10}")


def mobile(prefix: str = "010") -> str:
    """A synthetic 11-digit Egyptian mobile number, unique per call."""
    return f"{prefix}{next(_seq) % 100_000_000:08d}"


def seed_payload(**overrides: Any) -> dict[str, Any]:
    """A ``POST /patients`` body using seed 000's field names."""
    body: dict[str, Any] = {
        "ssn": national_id(),
        "mobile_number": mobile(),
        "full_name": f"Testy Patient{next(_seq)} Example",
        "gender": "male",
    }
    body.update(overrides)
    return body


async def make_patient(session: AsyncSession, **overrides: Any) -> PatientRead:
    """Register a patient through the service (not audited) and commit to the test's
    savepoint. Keyword overrides use canonical or seed field names."""
    data: dict[str, Any] = {
        "national_id": national_id(),
        "full_name": f"Sample Person{next(_seq)}",
        "gender": "male",
        "mobile": mobile(),
    }
    data.update(overrides)
    patient = await service.create_patient(session, PatientCreate.model_validate(data),
                                           created_by=None, audit=False)
    await session.commit()
    return patient


__all__ = ["make_patient", "mobile", "national_id", "seed_payload"]
