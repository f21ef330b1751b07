"""Helpers shared by the billing use cases: the clock, invoice arithmetic (HCMS 11.7),
the derived overdue status (HCMS 11.6), row loading with locks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hms.billing.errors import (
    AmountOutOfRange,
    DiscountExceedsSubtotal,
    InvoiceNotDraft,
    ServiceInactive,
)
from hms.billing.models import Invoice, InvoiceLineItem
from hms.billing.repository import (
    InvoiceRepository,
    ServiceRepository,
)
from hms.billing.schemas import (
    MAX_MONEY,
    InvoiceRead,
    InvoiceStatus,
    LineItemIn,
    quantize,
)
from hms.core.errors import NotFound, PreconditionFailed, ValidationFailed
from hms.db.base import utcnow

ZERO = Decimal("0.00")
#: Stored statuses that take payments (``overdue`` is one of them, derived when read).
PAYABLE = {InvoiceStatus.ISSUED.value, InvoiceStatus.PARTIALLY_PAID.value}
#: How far in the future a payment_date may be (clock skew of the paying terminal).
PAYMENT_DATE_SKEW = timedelta(minutes=5)


def today() -> date:
    """Today's date in UTC (HCMS 14.1: server time is UTC). Tests monkeypatch this."""
    return utcnow().date()


def _field_error(field: str, message: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed(f"Invalid field: {field}", errors=[
        {"field": field, "in": "body", "message": message, "type": kind}])


def _check_range(**amounts: Decimal) -> None:
    for name, value in amounts.items():
        if value > MAX_MONEY:
            raise AmountOutOfRange(
                f"{name} would exceed the largest amount an invoice holds ({MAX_MONEY})")


async def _build_lines(session: AsyncSession, items: list[LineItemIn], *, field: str
                       ) -> list[InvoiceLineItem]:
    """Line rows for ``items`` (not yet attached to an invoice); services resolved in one
    query, their name and default price filling what the item leaves out."""
    services = await ServiceRepository(session).by_ids(
        [i.service_id for i in items if i.service_id is not None])
    lines = []
    for n, item in enumerate(items):
        where = f"{field}.{n}.service_id" if field else "service_id"
        service = services.get(item.service_id) if item.service_id else None
        if item.service_id is not None and service is None:
            raise _field_error(where, "unknown service")
        if service is not None and not service.is_active:
            raise ServiceInactive(f"{where}: the service is inactive and cannot be billed")
        description = item.description or (service.name if service else "")
        unit_price = item.unit_price if item.unit_price is not None else (
            service.default_price if service else ZERO)
        line_total = quantize(Decimal(item.quantity) * unit_price)
        _check_range(line_total=line_total)
        lines.append(InvoiceLineItem(
            service_id=item.service_id, description=description[:255],
            quantity=item.quantity, unit_price=quantize(unit_price), line_total=line_total))
    return lines


def _apply_totals(invoice: Invoice, subtotal: Decimal) -> None:
    """Set subtotal, total and balance from ``subtotal`` and the invoice's tax, discount and
    payments (HCMS 11.7).

    Raises:
        DiscountExceedsSubtotal (422), AmountOutOfRange (422).
    """
    subtotal = quantize(subtotal)
    tax = quantize(invoice.tax_amount)
    discount = quantize(invoice.discount_amount)
    if discount > subtotal:
        raise DiscountExceedsSubtotal(
            f"discount_amount {discount} exceeds the subtotal {subtotal} "
            "(seed 004: discount cannot exceed subtotal amount)")
    total = quantize(subtotal + tax - discount)
    _check_range(subtotal=subtotal, total_amount=total)
    invoice.subtotal = subtotal
    invoice.total_amount = total
    invoice.balance_due = quantize(total - invoice.amount_paid)


def _status_of(invoice: Invoice, on: date) -> InvoiceStatus:
    if (invoice.status in PAYABLE and invoice.due_date is not None and invoice.due_date < on
            and invoice.balance_due > 0):
        return InvoiceStatus.OVERDUE
    return InvoiceStatus(invoice.status)


def _read(invoice: Invoice) -> InvoiceRead:
    read = InvoiceRead.model_validate(invoice)
    read.status = _status_of(invoice, today())
    return read


def _invoice_snapshot(i: Invoice) -> dict[str, Any]:
    return {k: getattr(i, k) for k in (
        "status", "invoice_date", "due_date", "subtotal", "tax_amount", "discount_amount",
        "total_amount", "amount_paid", "balance_due", "notes")}


async def _invoice_row(session: AsyncSession, invoice_id: uuid.UUID, *,
                       for_update: bool = False) -> Invoice:
    invoice = await InvoiceRepository(session).get(invoice_id, for_update=for_update)
    if invoice is None:
        raise NotFound("Invoice not found")
    return invoice


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT.value:
        raise InvoiceNotDraft(
            f"The invoice is {invoice.status}; only a draft invoice can be changed")


async def _flush_invoice(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("Invoice changed by another user; reload and retry") from exc


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)
