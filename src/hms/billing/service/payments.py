"""Payments that update their invoice in the same transaction (seed 004 section 10
"Payment Processing", 11.6, 12)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.billing.errors import (
    InvoiceNotPayable,
    PaymentExceedsBalance,
    PaymentImmutable,
    PaymentRetention,
)
from hms.billing.models import Payment
from hms.billing.repository import (
    InvoiceRepository,
    PaymentFilters,
    PaymentRepository,
)
from hms.billing.schemas import (
    InvoiceStatus,
    PaymentCreate,
    PaymentMethod,
    PaymentRead,
    PaymentReceipt,
    PaymentSort,
    PaymentUpdate,
    quantize,
)
from hms.billing.service._shared import (
    PAYABLE,
    PAYMENT_DATE_SKEW,
    _day_start,
    _field_error,
    _flush_invoice,
    _invoice_snapshot,
    _read,
)
from hms.core.auth import Principal
from hms.core.errors import NotFound
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.db.base import utcnow


async def record_payment(session: AsyncSession, actor: Principal, data: PaymentCreate
                         ) -> PaymentReceipt:
    """Record a payment and update the invoice in one transaction (HCMS 10 "Payment
    Processing"): amount_paid = sum of payments, balance_due = total - amount_paid, status
    ``paid`` at zero balance, else ``partially_paid``.

    The invoice row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` serialises writers), so concurrent payments are checked one after
    the other against the balance each leaves: together they never exceed the total.

    Raises:
        ValidationFailed (422): unknown invoice, patient_id or processed_by_user_id not the
            invoice's patient / the caller, payment_date in the future.
        InvoiceNotPayable (409): the invoice is a draft, cancelled or already paid.
        PaymentExceedsBalance (422): amount above the balance due.

    Source: seed 004 sections 10, 11.6 and 12 (financial validation).
    """
    repo = InvoiceRepository(session)
    invoice = await repo.get(data.invoice_id, for_update=True)
    if invoice is None:
        raise _field_error("invoice_id", "unknown invoice")
    if data.patient_id is not None and data.patient_id != invoice.patient_id:
        raise _field_error("patient_id", "not the invoice's patient")
    if data.processed_by_user_id is not None and data.processed_by_user_id != actor.user_id:
        raise _field_error("processed_by_user_id", "payments are recorded as the caller")
    now = utcnow()
    paid_at = data.payment_date or now
    if paid_at > now + PAYMENT_DATE_SKEW:
        raise _field_error("payment_date", "must not be in the future")
    if invoice.status not in PAYABLE:
        raise InvoiceNotPayable(
            f"The invoice is {invoice.status}; payments are taken on issued, partially paid "
            "or overdue invoices only")
    amount = quantize(data.amount)
    if amount > invoice.balance_due:
        raise PaymentExceedsBalance(
            f"The payment of {amount} exceeds the balance due of "
            f"{quantize(invoice.balance_due)} (seed 004: payment amount cannot exceed the "
            "invoice balance_due)", extra={"balance_due": str(quantize(invoice.balance_due))})
    before = _invoice_snapshot(invoice)
    payment = await PaymentRepository(session).add(Payment(
        invoice_id=invoice.id, patient_id=invoice.patient_id, payment_date=paid_at,
        amount=amount, payment_method=data.payment_method.value,
        transaction_reference=data.transaction_reference, notes=data.notes,
        processed_by_user_id=actor.user_id))
    paid = quantize(await PaymentRepository(session).total_for(invoice.id))
    invoice.amount_paid = paid
    invoice.balance_due = quantize(invoice.total_amount - paid)
    invoice.status = (InvoiceStatus.PAID if invoice.balance_due == 0
                      else InvoiceStatus.PARTIALLY_PAID).value
    await _flush_invoice(session)
    await audit.record(session, AuditAction.PAYMENT, "payment", payment.id,
                       patient_id=invoice.patient_id,
                       changes={"after": {"invoice_id": invoice.id, "amount": amount,
                                          "payment_method": payment.payment_method}})
    await audit.record(session, AuditAction.UPDATE, "invoice", invoice.id,
                       patient_id=invoice.patient_id,
                       changes=audit.diff(before, _invoice_snapshot(invoice)))
    return PaymentReceipt(**PaymentRead.model_validate(payment).model_dump(),
                          invoice=_read(invoice))


async def _payment_row(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    payment = await PaymentRepository(session).get(payment_id)
    if payment is None:
        raise NotFound("Payment not found")
    return payment


async def get_payment(session: AsyncSession, actor: Principal, payment_id: uuid.UUID
                      ) -> PaymentRead:
    """A payment, audited as a read of patient data.

    Raises:
        NotFound (404): no such payment.
    """
    payment = await _payment_row(session, payment_id)
    await audit.record(session, AuditAction.READ, "payment", payment.id,
                       patient_id=payment.patient_id)
    return PaymentRead.model_validate(payment)


async def list_payments(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    invoice_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
    methods: list[PaymentMethod] | None = None, date_from: date | None = None,
    date_to: date | None = None, sort: str | None = None,
) -> Page[PaymentRead]:
    """A page of payments (default newest first); each row read is audited.

    Args:
        date_from, date_to: inclusive range of UTC dates on ``payment_date``.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, PaymentSort, [("payment_date", True)])
    rows, total = await PaymentRepository(session).page(
        PaymentFilters(invoice_id=invoice_id, patient_id=patient_id,
                       methods=tuple(m.value for m in methods or ()),
                       paid_from=_day_start(date_from) if date_from else None,
                       paid_to=(_day_start(date_to) + timedelta(days=1)
                                if date_to and date_to < date.max else None)),
        offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "payment", [(p.id, p.patient_id) for p in rows])
    return Page[PaymentRead](items=[PaymentRead.model_validate(p) for p in rows], total=total,
                             page=page.page, page_size=page.page_size)


async def update_payment(session: AsyncSession, actor: Principal, payment_id: uuid.UUID,
                         data: PaymentUpdate) -> PaymentRead:
    """Correct a payment's method, transaction reference or notes.

    Raises:
        NotFound (404): no such payment.
        PaymentImmutable (409): a different amount, invoice or payment date (a recorded
            payment's money is fixed; reversing it needs a refund, out of scope).
    """
    payment = await _payment_row(session, payment_id)
    fields = data.model_dump(exclude_unset=True)
    if fields.get("amount") is not None and quantize(fields["amount"]) != payment.amount:
        raise PaymentImmutable("A payment's amount cannot be changed once recorded")
    if fields.get("invoice_id") is not None and fields["invoice_id"] != payment.invoice_id:
        raise PaymentImmutable("A payment cannot be moved to another invoice")
    if (fields.get("payment_date") is not None
            and fields["payment_date"] != payment.payment_date):
        raise PaymentImmutable("A payment's date cannot be changed once recorded")
    if "payment_method" in fields and fields["payment_method"] is None:
        raise _field_error("payment_method", "may not be null", "missing")
    keys = ("payment_method", "transaction_reference", "notes")
    before = {k: getattr(payment, k) for k in keys}
    for key in keys:
        if key in fields:
            value = fields[key]
            setattr(payment, key, value.value if isinstance(value, PaymentMethod) else value)
    await session.flush()
    await audit.record(session, AuditAction.UPDATE, "payment", payment.id,
                       patient_id=payment.patient_id,
                       changes=audit.diff(before, {k: getattr(payment, k) for k in keys}))
    return PaymentRead.model_validate(payment)


async def delete_payment(session: AsyncSession, actor: Principal, payment_id: uuid.UUID
                         ) -> None:
    """``DELETE /payments/{id}`` is always refused: payments are financial records.

    Raises:
        NotFound (404): no such payment.
        PaymentRetention (409): otherwise (reversal by refund is out of scope).
    """
    await _payment_row(session, payment_id)
    raise PaymentRetention(
        "Payments are financial records and are never deleted; reversing a payment needs "
        "a refund, which is out of scope (seed 004 14.7)")
