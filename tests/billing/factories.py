"""Builders for billing: catalogue services, completed consultations to bill, invoices
(optionally issued and partly paid). Synthetic data only."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hms.billing import service
from hms.billing.schemas import (
    InvoiceCreate,
    InvoiceRead,
    PaymentCreate,
    ServiceCreate,
    ServiceRead,
)
from hms.core.permissions import Role
from tests.identity.factories import make_user
from tests.patients.factories import make_patient

_seq = itertools.count(1)


@dataclass
class Actor:
    """The part of a Principal the billing services use (who did it)."""

    user_id: uuid.UUID


async def billing_actor(session: AsyncSession) -> Any:
    """A billing officer account, as an actor for direct service calls."""
    user = await make_user(session, Role.BILLING_OFFICER)
    return Actor(user_id=user.id)


async def make_service(session: AsyncSession, **overrides: Any) -> ServiceRead:
    """Add a catalogue service (default: consultation at 100.00)."""
    data: dict[str, Any] = {"name": f"Service {next(_seq)}", "service_type": "consultation",
                            "default_price": "100.00"}
    data.update(overrides)
    created = await service.create_service(session, None,  # type: ignore[arg-type]
                                           ServiceCreate.model_validate(data))
    await session.commit()
    return created


async def make_consultation(session: AsyncSession, patient_id: uuid.UUID | None = None, *,
                            status: str = "completed", **overrides: Any) -> Any:
    """A consultation row to bill (``ConsultationRead``), completed unless ``status`` says
    otherwise. Written directly: the full appointment -> check-in -> vitals -> consultation
    path belongs to the clinical and scheduling tests."""
    from hms.clinical import service as clinical_service
    from hms.clinical.models import Consultation

    if patient_id is None:
        patient_id = (await make_patient(session)).id
    doctor = await make_user(session, Role.PHYSICIAN)
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "patient_id": patient_id, "doctor_id": doctor.id, "consultation_date": now,
        "status": status, "completed_at": now if status == "completed" else None,
        "diagnosis": "Synthetic diagnosis",
    }
    values.update(overrides)
    row = Consultation(**values)
    session.add(row)
    await session.flush()
    await session.commit()
    return await clinical_service.get_consultation(session, row.id)


async def make_invoice(
    session: AsyncSession, *, consultation: Any = None, actor: Any = None,
    lines: list[tuple[str, int]] | None = None, tax: str = "0.00", discount: str = "0.00",
    issue: bool = False, due_date: date | None = None, invoice_date: date | None = None,
    payments: list[str] | None = None,
) -> InvoiceRead:
    """An invoice for a completed consultation.

    Args:
        lines: ``(unit_price, quantity)`` pairs; default one line of 100.00.
        issue: issue the invoice (needed for payments).
        payments: amounts paid in cash after issuing (implies ``issue``).
    """
    consultation = consultation or await make_consultation(session)
    actor = actor or await billing_actor(session)
    items = [{"description": f"Line {n}", "unit_price": price, "quantity": qty}
             for n, (price, qty) in enumerate(lines or [("100.00", 1)])]
    invoice = await service.create_invoice(session, actor, InvoiceCreate.model_validate({
        "consultation_id": str(consultation.id), "line_items": items, "tax_amount": tax,
        "discount_amount": discount, "due_date": due_date, "invoice_date": invoice_date}))
    if issue or payments:
        invoice = await service.issue_invoice(session, actor, invoice.id)
    for amount in payments or []:
        receipt = await service.record_payment(session, actor, PaymentCreate.model_validate(
            {"invoice_id": str(invoice.id), "amount": amount, "payment_method": "cash"}))
        invoice = receipt.invoice
    await session.commit()
    return invoice


def money(value: str) -> Decimal:
    """``Decimal`` of a money string, for comparisons."""
    return Decimal(value)
