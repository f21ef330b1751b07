"""Figures of the seed 004 report files over services, invoices, line items and payments.

Module-internal SQL for :mod:`hms.reports` (revenue, service_utilization, billing_summary).
Money is :class:`~decimal.Decimal` with 2 places, summed in Python from the stored NUMERIC
values (exact on both dialects). No patient data leaves this module.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hms.billing.models import Invoice, InvoiceLineItem, Payment, Service
from hms.billing.repository import effective_status

ZERO = Decimal("0.00")
#: Stored invoice statuses that are billed (not a draft, not cancelled).
BILLED = ("issued", "partially_paid", "paid")
#: Stored statuses with money still owed (``overdue`` is derived from these).
OPEN = ("issued", "partially_paid")


def _utc_day(value: datetime) -> date:
    """The UTC calendar day of a stored timestamp (naive values are UTC: SQLite)."""
    if value.tzinfo is None:
        return value.date()
    return value.astimezone(UTC).date()


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


async def revenue(session: AsyncSession, *, since: datetime, before: datetime
                  ) -> dict[str, Any]:
    """Payments received in ``[since, before)`` (``payment_date``).

    Returns:
        ``{"total": Decimal, "payments": n, "by_method": {method: {"count": n,
        "amount": Decimal}}, "by_day": {day: {method: {"count": n, "amount": Decimal}}}}``.
    """
    stmt = select(Payment.payment_date, Payment.payment_method, Payment.amount).where(
        Payment.payment_date >= since, Payment.payment_date < before)
    by_method: dict[str, dict[str, Any]] = {}
    by_day: dict[date, dict[str, dict[str, Any]]] = defaultdict(dict)
    total = ZERO
    count = 0
    for paid_at, method, amount in (await session.execute(stmt)).all():
        money = _money(amount)
        total += money
        count += 1
        for bucket in (by_method.setdefault(str(method), {"count": 0, "amount": ZERO}),
                       by_day[_utc_day(paid_at)].setdefault(str(method),
                                                            {"count": 0, "amount": ZERO})):
            bucket["count"] += 1
            bucket["amount"] += money
    return {"total": total, "payments": count, "by_method": by_method,
            "by_day": dict(sorted(by_day.items()))}


async def service_utilization(session: AsyncSession, *, start: date, end: date
                              ) -> list[dict[str, Any]]:
    """Line items of the invoices dated ``start``..``end`` that were billed (issued,
    partially paid, paid or overdue; drafts and cancelled invoices are left out), per
    catalogue service. Lines without a service are grouped under ``service_id`` None.

    Returns:
        ``[{"service_id": UUID | None, "service_name": str, "service_type": str | None,
        "line_items": n, "quantity": n, "revenue": Decimal}]``, highest revenue first.
    """
    stmt = (
        select(InvoiceLineItem.service_id, Service.name, Service.service_type,
               InvoiceLineItem.quantity, InvoiceLineItem.line_total)
        .join(Invoice, Invoice.id == InvoiceLineItem.invoice_id)
        .outerjoin(Service, Service.id == InvoiceLineItem.service_id)
        .where(Invoice.invoice_date >= start, Invoice.invoice_date <= end,
               Invoice.status.in_(BILLED))
    )
    rows: dict[uuid.UUID | None, dict[str, Any]] = {}
    for service_id, name, service_type, quantity, line_total in (
            await session.execute(stmt)).all():
        row = rows.setdefault(service_id, {
            "service_id": service_id,
            "service_name": name if service_id is not None else "(no catalogue service)",
            "service_type": service_type, "line_items": 0, "quantity": 0, "revenue": ZERO})
        row["line_items"] += 1
        row["quantity"] += int(quantity)
        row["revenue"] += _money(line_total)
    return sorted(rows.values(), key=lambda r: (-r["revenue"], r["service_name"]))


async def billing_summary(session: AsyncSession, *, start: date, end: date, today: date
                          ) -> dict[str, Any]:
    """Invoices dated ``start``..``end``, with the status a reader sees on ``today``
    (``overdue``: issued or partially paid, due before ``today``, balance left; HCMS 11.6).

    ``invoiced`` sums the totals of billed invoices (not drafts, not cancelled);
    ``collected`` their amounts paid; ``outstanding`` the balances of open ones (issued,
    partially paid, overdue); ``overdue`` the balances of the overdue ones.

    Returns:
        ``{"invoices": n, "by_status": {status: {"count": n, "total": Decimal}},
        "invoiced": Decimal, "collected": Decimal, "outstanding": Decimal,
        "overdue_count": n, "overdue": Decimal}``.
    """
    stmt = select(effective_status(today).label("status"), Invoice.status,
                  Invoice.total_amount, Invoice.amount_paid, Invoice.balance_due).where(
        Invoice.invoice_date >= start, Invoice.invoice_date <= end)
    by_status: dict[str, dict[str, Any]] = {}
    invoiced = collected = outstanding = overdue = ZERO
    count = overdue_count = 0
    for shown, stored, total, paid, balance in (await session.execute(stmt)).all():
        count += 1
        bucket = by_status.setdefault(str(shown), {"count": 0, "total": ZERO})
        bucket["count"] += 1
        bucket["total"] += _money(total)
        if stored in BILLED:
            invoiced += _money(total)
            collected += _money(paid)
        if stored in OPEN:
            outstanding += _money(balance)
        if shown == "overdue":
            overdue_count += 1
            overdue += _money(balance)
    return {"invoices": count, "by_status": by_status, "invoiced": invoiced,
            "collected": collected, "outstanding": outstanding,
            "overdue_count": overdue_count, "overdue": overdue}
