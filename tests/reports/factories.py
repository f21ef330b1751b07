"""Builders for report tests: patients registered and visits started on chosen days.

Patients are registered through the patients service (tests/patients/factories.py), then
their registration time is moved to the day a test needs (the service always stamps "now").
Synthetic data only.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hms.core.auth import Principal
from hms.core.permissions import Role, permissions_for
from hms.patients.models import Patient
from hms.patients.schemas import PatientRead
from hms.reports import service as reports_service
from hms.reports.schemas import ExportFormat, ReportRange, ReportType
from hms.visits.models import Visit
from hms.visits.schemas import VisitRead
from tests.identity.factories import make_user
from tests.patients.factories import make_patient, national_id
from tests.visits.factories import make_visit

_seq = itertools.count(1)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` UTC."""
    return datetime.combine(day, time(hour, minute), UTC)


def utc_today() -> date:
    """Today's UTC calendar day (the reports' "today")."""
    return datetime.now(UTC).date()


def now_minus(days: int = 0, hours: int = 0) -> datetime:
    """The current instant minus ``days`` and ``hours`` (UTC)."""
    return datetime.now(UTC) - timedelta(days=days, hours=hours)


async def registered_patient(
    session: AsyncSession,
    *,
    registered_at: datetime | None = None,
    date_of_birth: date | None = None,
    gender: str | None = "male",
    active: bool = True,
) -> PatientRead:
    """A patient registered at ``registered_at`` (default now).

    Male and female patients with a birth date get a matching national ID; others (no birth
    date, gender other/unknown) get a passport number instead.
    """
    data: dict[str, Any] = {"gender": gender, "date_of_birth": date_of_birth}
    if gender in ("male", "female") and date_of_birth is not None:
        data["national_id"] = national_id(date_of_birth, gender=gender)
    else:
        data["national_id"] = None
        data["passport_number"] = f"RPT{next(_seq):07d}"
    patient = await make_patient(session, **data)
    values: dict[str, Any] = {}
    if registered_at is not None:
        values["created_at"] = registered_at
    if not active:
        values["is_active"] = False
    if values:
        await session.execute(update(Patient).where(Patient.id == patient.id).values(**values))
        await session.commit()
    return patient


async def visit_on(
    session: AsyncSession,
    started_at: datetime,
    *,
    status: str = "open",
    department: str | None = None,
    patient_id: uuid.UUID | None = None,
    ended_at: datetime | None = None,
) -> VisitRead:
    """A visit started at ``started_at`` (a new patient unless ``patient_id`` is given)."""
    if ended_at is None and status in ("closed", "cancelled"):
        ended_at = started_at + timedelta(hours=1)
    return await make_visit(session, patient_id, status=status, department=department,
                            started_at=started_at, ended_at=ended_at)


async def set_visit_status(session: AsyncSession, visit_id: uuid.UUID, status: str,
                           ended_at: datetime | None = None) -> None:
    """Move a visit to ``status`` (e.g. close it after its forms were filled)."""
    await session.execute(update(Visit).where(Visit.id == visit_id).values(
        status=status, ended_at=ended_at or datetime.now(UTC)))
    await session.commit()


async def queued_job(session: AsyncSession) -> uuid.UUID:
    """A job inserted through the service and never started."""
    user = await make_user(session, Role.ADMIN)
    actor = Principal(user_id=user.id, username=user.username, role=Role.ADMIN,
                      permissions=permissions_for(Role.ADMIN), session_id=uuid.uuid4(),
                      token_id="test")
    accepted = await reports_service.request_export(
        session, actor, ReportType.DASHBOARD, ExportFormat.CSV,
        ReportRange(start=date(2024, 1, 1), end=date(2024, 1, 31)))
    await session.commit()
    return accepted.job_id




# --- seed 004 report files: rows of the other modules, written directly --------------
# The figures of a report are computed from stored rows, so the tests write those rows as
# they would be after the workflows ran (times chosen by the test). Synthetic data only.

_inv_seq = itertools.count(1)


async def department(session: AsyncSession, name: str) -> uuid.UUID:
    """A department named ``name``."""
    from hms.organization.models import Department

    row = Department(name=name)
    session.add(row)
    await session.commit()
    return row.id


async def appointment_on(
    session: AsyncSession, *, patient_id: uuid.UUID, doctor_id: uuid.UUID,
    starts_at: datetime, status: str = "scheduled", appointment_type: str = "consultation",
    department_id: uuid.UUID | None = None, duration_minutes: int = 30,
    checked_in_at: datetime | None = None, consultation_started_at: datetime | None = None,
) -> uuid.UUID:
    """An appointment starting at ``starts_at`` (UTC) with the given status and times."""
    from hms.scheduling.models import Appointment

    row = Appointment(
        patient_id=patient_id, doctor_id=doctor_id, department_id=department_id,
        appointment_date=starts_at.date(), appointment_time=starts_at.time(),
        duration_minutes=duration_minutes, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=duration_minutes),
        appointment_type=appointment_type, status=status, checked_in_at=checked_in_at,
        consultation_started_at=consultation_started_at)
    session.add(row)
    await session.commit()
    return row.id


async def consultation_on(
    session: AsyncSession, *, patient_id: uuid.UUID, doctor_id: uuid.UUID, at_: datetime,
    status: str = "completed", appointment_id: uuid.UUID | None = None,
    prescriptions: int = 0,
) -> uuid.UUID:
    """A consultation held at ``at_`` with ``prescriptions`` prescriptions dated that day."""
    from hms.clinical.models import Consultation, Prescription

    row = Consultation(patient_id=patient_id, doctor_id=doctor_id, consultation_date=at_,
                       status=status, appointment_id=appointment_id,
                       completed_at=at_ if status == "completed" else None)
    session.add(row)
    await session.flush()
    for i in range(prescriptions):
        session.add(Prescription(
            consultation_id=row.id, patient_id=patient_id, doctor_id=doctor_id,
            medication_name=f"Drug{i}", dosage="1 tablet", frequency="daily",
            duration="5 days", quantity=5, prescribed_date=at_.date()))
    await session.commit()
    return row.id


async def lab_test_on(
    session: AsyncSession, *, patient_id: uuid.UUID, doctor_id: uuid.UUID,
    ordered_at: datetime, result_at: datetime | None = None, status: str = "ordered",
) -> uuid.UUID:
    """A lab test ordered at ``ordered_at``; completed at ``result_at`` when given."""
    from hms.lab.models import LabTest

    row = LabTest(patient_id=patient_id, ordered_by_doctor_id=doctor_id,
                  test_name="CBC", ordered_date=ordered_at, result_date=result_at,
                  sample_collected_date=ordered_at if result_at else None,
                  result_value="ok" if result_at else None,
                  status="completed" if result_at else status)
    session.add(row)
    await session.commit()
    return row.id


async def billing_service(session: AsyncSession, name: str, price: str,
                          service_type: str = "consultation") -> uuid.UUID:
    """A catalogue service."""
    from decimal import Decimal

    from hms.billing.models import Service

    row = Service(name=name, service_type=service_type, default_price=Decimal(price))
    session.add(row)
    await session.commit()
    return row.id


async def invoice_on(
    session: AsyncSession, *, patient_id: uuid.UUID, invoice_date: date,
    lines: list[tuple[uuid.UUID | None, int, str]], status: str = "issued",
    due_date: date | None = None, paid: list[tuple[datetime, str, str]] | None = None,
    tax: str = "0.00", discount: str = "0.00",
) -> uuid.UUID:
    """An invoice with ``lines`` ``(service_id, quantity, unit_price)`` and payments
    ``(paid_at, method, amount)``; totals and balance computed as billing does."""
    from decimal import Decimal

    from hms.billing.models import Invoice, InvoiceLineItem, Payment

    subtotal = sum((Decimal(p) * q for _, q, p in lines), Decimal("0.00"))
    total = subtotal + Decimal(tax) - Decimal(discount)
    amount_paid = sum((Decimal(a) for _, _, a in paid or []), Decimal("0.00"))
    row = Invoice(
        invoice_number=f"INV-T-{next(_inv_seq):06d}", patient_id=patient_id,
        invoice_date=invoice_date, due_date=due_date, subtotal=subtotal,
        tax_amount=Decimal(tax), discount_amount=Decimal(discount), total_amount=total,
        amount_paid=amount_paid, balance_due=total - amount_paid, status=status)
    session.add(row)
    await session.flush()
    for service_id, quantity, price in lines:
        session.add(InvoiceLineItem(
            invoice_id=row.id, service_id=service_id, description="line",
            quantity=quantity, unit_price=Decimal(price),
            line_total=Decimal(price) * quantity))
    for paid_at, method, amount in paid or []:
        session.add(Payment(invoice_id=row.id, patient_id=patient_id, payment_date=paid_at,
                            amount=Decimal(amount), payment_method=method))
    await session.commit()
    return row.id


__all__ = ["appointment_on", "at", "billing_service", "consultation_on", "department",
           "invoice_on", "lab_test_on", "now_minus", "queued_job", "registered_patient",
           "set_visit_status", "utc_today", "visit_on"]
