"""SQL on the billing module's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from hms.billing.models import (
    Invoice,
    InvoiceLineItem,
    InvoiceNumberCounter,
    Payment,
    Service,
)

#: Stored statuses an invoice can be overdue from (HCMS 11.6).
OPEN_STATUSES = ("issued", "partially_paid")

T = TypeVar("T")


def is_overdue(today: date) -> ColumnElement[bool]:
    """SQL: the invoice is issued or partially paid, its due date is before ``today`` and a
    balance is left (HCMS 11.6 "balance_due > 0 and due_date < today: overdue")."""
    return and_(Invoice.status.in_(OPEN_STATUSES), Invoice.due_date.is_not(None),
                Invoice.due_date < today, Invoice.balance_due > 0)


def effective_status(today: date) -> ColumnElement[str]:
    """SQL expression of the status a reader sees: ``overdue`` per :func:`is_overdue`,
    else the stored status. Reports use it so their figures match ``GET /invoices``."""
    return case((is_overdue(today), "overdue"), else_=Invoice.status)


def _ordered(stmt: Any, model: type[Any], order: list[tuple[str, bool]]
             ) -> Select[Any]:
    clauses = []
    for column, descending in order:
        col = getattr(model, column)
        clauses.append(col.desc() if descending else col.asc())
    clauses.append(model.id)
    return stmt.order_by(*clauses)


async def _page(session: AsyncSession, stmt: Select[Any], model: type[Any],
                order: list[tuple[str, bool]], offset: int, limit: int
                ) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.scalars(_ordered(stmt, model, order).offset(offset).limit(limit))
    return list(rows), int(total or 0)


# -- services -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceFilters:
    """Filters of ``GET /services``; every given filter must hold."""

    q: str | None = None
    service_types: tuple[str, ...] = ()
    department_id: uuid.UUID | None = None
    is_active: bool | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ServiceRepository:
    """The service catalogue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, service_id: uuid.UUID) -> Service | None:
        """Service by id."""
        return await self.session.get(Service, service_id)

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Service]:
        """Services by id, in one query."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(Service).where(Service.id.in_(set(ids))))
        return {s.id: s for s in rows}

    async def add(self, service: Service) -> Service:
        """Insert a service."""
        self.session.add(service)
        await self.session.flush()
        return service

    async def page(self, f: ServiceFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[Service], int]:
        """A page of services and the total."""
        stmt = select(Service)
        if f.q:
            stmt = stmt.where(func.lower(Service.name).like(
                "%" + _escape_like(f.q.lower()) + "%", escape="\\"))
        if f.service_types:
            stmt = stmt.where(Service.service_type.in_(f.service_types))
        if f.department_id:
            stmt = stmt.where(Service.department_id == f.department_id)
        if f.is_active is not None:
            stmt = stmt.where(Service.is_active.is_(f.is_active))
        return await _page(self.session, stmt, Service, order, offset, limit)


# -- invoices -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceFilters:
    """Filters of ``GET /invoices``; ``statuses`` are effective statuses (``overdue``
    included), compared as of ``today``."""

    today: date
    statuses: tuple[str, ...] = ()
    patient_id: uuid.UUID | None = None
    consultation_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    invoice_number: str | None = None
    date_from: date | None = None
    date_to: date | None = None


class InvoiceRepository:
    """Invoices, their line items and the invoice number counter."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, invoice_id: uuid.UUID, *, for_update: bool = False
                  ) -> Invoice | None:
        """Invoice by id; ``for_update`` locks the row until the transaction ends
        (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
        serialises writers) and reads it fresh."""
        if not for_update:
            return await self.session.get(Invoice, invoice_id)
        stmt = (select(Invoice).where(Invoice.id == invoice_id).with_for_update()
                .execution_options(populate_existing=True))
        return (await self.session.scalars(stmt)).first()

    async def get_details(self, invoice_id: uuid.UUID) -> Invoice | None:
        """Invoice with its line items and payments loaded (two extra SELECTs, whatever
        their number)."""
        stmt = (select(Invoice).where(Invoice.id == invoice_id)
                .options(selectinload(Invoice.line_items), selectinload(Invoice.payments))
                .execution_options(populate_existing=True))
        return (await self.session.scalars(stmt)).first()

    async def add(self, invoice: Invoice) -> Invoice:
        """Insert an invoice (and any line items added to the session with it)."""
        self.session.add(invoice)
        await self.session.flush()
        return invoice

    async def next_number_sequence(self, year: str) -> int:
        """Atomically increment and return the invoice counter of ``year`` (``YYYY``).

        One statement, ``INSERT ... ON CONFLICT (year) DO UPDATE SET last_value =
        last_value + 1 RETURNING last_value``: the row lock is held until the transaction
        ends, so concurrent invoices get distinct consecutive values, and a rolled-back
        invoice gives its number back (no gaps).
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        upsert = insert(InvoiceNumberCounter).values(year=year, last_value=1)
        stmt = upsert.on_conflict_do_update(
            index_elements=[InvoiceNumberCounter.year],
            set_={"last_value": InvoiceNumberCounter.last_value + 1},
        ).returning(InvoiceNumberCounter.last_value)
        return int((await self.session.execute(stmt)).scalar_one())

    async def page(self, f: InvoiceFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[Invoice], int]:
        """A page of invoices and the total."""
        stmt = select(Invoice)
        if f.statuses:
            overdue = is_overdue(f.today)
            wanted = [s for s in f.statuses if s != "overdue"]
            clauses: list[ColumnElement[bool]] = []
            if wanted:
                clauses.append(and_(Invoice.status.in_(wanted), not_(overdue)))
            if "overdue" in f.statuses:
                clauses.append(overdue)
            stmt = stmt.where(or_(*clauses))
        if f.patient_id:
            stmt = stmt.where(Invoice.patient_id == f.patient_id)
        if f.consultation_id:
            stmt = stmt.where(Invoice.consultation_id == f.consultation_id)
        if f.appointment_id:
            stmt = stmt.where(Invoice.appointment_id == f.appointment_id)
        if f.invoice_number:
            stmt = stmt.where(Invoice.invoice_number == f.invoice_number.strip().upper())
        if f.date_from:
            stmt = stmt.where(Invoice.invoice_date >= f.date_from)
        if f.date_to:
            stmt = stmt.where(Invoice.invoice_date <= f.date_to)
        return await _page(self.session, stmt, Invoice, order, offset, limit)

    async def line_totals(self, invoice_id: uuid.UUID) -> Decimal:
        """Sum of the invoice's line totals (0 without lines)."""
        # Summed in Python: SQLite keeps NUMERIC as binary floats, so SUM() could be off by
        # a fraction of a cent; the column type hands back exact 2-place Decimals.
        values = await self.session.scalars(
            select(InvoiceLineItem.line_total).where(InvoiceLineItem.invoice_id == invoice_id))
        return sum(values, Decimal("0.00"))

    async def line_count(self, invoice_id: uuid.UUID) -> int:
        """Number of lines on the invoice."""
        return int(await self.session.scalar(
            select(func.count()).select_from(InvoiceLineItem)
            .where(InvoiceLineItem.invoice_id == invoice_id)) or 0)

    async def lines_of(self, invoice_id: uuid.UUID) -> list[InvoiceLineItem]:
        """The invoice's lines, oldest first."""
        return list(await self.session.scalars(
            select(InvoiceLineItem).where(InvoiceLineItem.invoice_id == invoice_id)
            .order_by(InvoiceLineItem.created_at, InvoiceLineItem.id)))

    async def get_line(self, line_id: uuid.UUID, *, fresh: bool = False
                       ) -> InvoiceLineItem | None:
        """Line item by id; ``fresh`` reads it again from the database (after the caller
        locked its invoice, to see a concurrent change or deletion)."""
        if not fresh:
            return await self.session.get(InvoiceLineItem, line_id)
        stmt = (select(InvoiceLineItem).where(InvoiceLineItem.id == line_id)
                .execution_options(populate_existing=True))
        return (await self.session.scalars(stmt)).first()

    async def add_lines(self, lines: Sequence[InvoiceLineItem]) -> None:
        """Insert line items."""
        self.session.add_all(lines)
        await self.session.flush()

    async def delete_lines(self, lines: Sequence[InvoiceLineItem]) -> None:
        """Delete line items of a draft invoice (a draft is not a financial record yet)."""
        for line in lines:
            await self.session.delete(line)
        await self.session.flush()

    async def page_lines(self, *, invoice_id: uuid.UUID | None, service_id: uuid.UUID | None,
                         offset: int, limit: int, order: list[tuple[str, bool]]
                         ) -> tuple[list[tuple[InvoiceLineItem, uuid.UUID]], int]:
        """A page of line items, each with its invoice's patient id, and the total."""
        stmt = select(InvoiceLineItem, Invoice.patient_id).join(
            Invoice, Invoice.id == InvoiceLineItem.invoice_id)
        if invoice_id:
            stmt = stmt.where(InvoiceLineItem.invoice_id == invoice_id)
        if service_id:
            stmt = stmt.where(InvoiceLineItem.service_id == service_id)
        total = await self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await self.session.execute(
            _ordered(stmt, InvoiceLineItem, order).offset(offset).limit(limit))
        return [(row[0], row[1]) for row in rows.all()], int(total or 0)


# -- payments -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    """Filters of ``GET /payments``; every given filter must hold."""

    invoice_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    methods: tuple[str, ...] = ()
    paid_from: datetime | None = None
    paid_to: datetime | None = None


class PaymentRepository:
    """Payments."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        """Payment by id."""
        return await self.session.get(Payment, payment_id)

    async def add(self, payment: Payment) -> Payment:
        """Insert a payment."""
        self.session.add(payment)
        await self.session.flush()
        return payment

    async def total_for(self, invoice_id: uuid.UUID) -> Decimal:
        """Sum of the invoice's payments (0 without any)."""
        values = await self.session.scalars(
            select(Payment.amount).where(Payment.invoice_id == invoice_id))
        return sum(values, Decimal("0.00"))

    async def page(self, f: PaymentFilters, *, offset: int, limit: int,
                   order: list[tuple[str, bool]]) -> tuple[list[Payment], int]:
        """A page of payments and the total."""
        stmt = select(Payment)
        if f.invoice_id:
            stmt = stmt.where(Payment.invoice_id == f.invoice_id)
        if f.patient_id:
            stmt = stmt.where(Payment.patient_id == f.patient_id)
        if f.methods:
            stmt = stmt.where(Payment.payment_method.in_(f.methods))
        if f.paid_from:
            stmt = stmt.where(Payment.payment_date >= f.paid_from)
        if f.paid_to:
            stmt = stmt.where(Payment.payment_date < f.paid_to)
        return await _page(self.session, stmt, Payment, order, offset, limit)
