"""ORM classes of the billing module (private): the service catalogue, invoices, their line
items, payments, and the invoice number counter (seed 004 section 6)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hms.db.base import Base, TimestampMixin, new_id, utcnow

#: NUMERIC(12, 2): money (DOMAIN.md: Decimal with 2 places, never float).
Money = Numeric(12, 2, asdecimal=True)


class Service(TimestampMixin, Base):
    """A billable service of the catalogue; deactivated, never deleted."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("default_price > 0", name="default_price_positive"),
        Index("ix_services_service_type_is_active", "service_type", "is_active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    service_type: Mapped[str] = mapped_column(String(20))
    default_price: Mapped[Decimal] = mapped_column(Money)
    default_duration_minutes: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("departments.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class InvoiceNumberCounter(Base):
    """Last sequence number handed out per year (INV-YYYY-NNNNNN)."""

    __tablename__ = "invoice_number_counters"

    year: Mapped[str] = mapped_column(String(4), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(TimestampMixin, Base):
    """An invoice. Stored status: draft -> issued -> partially_paid -> paid, or cancelled;
    ``overdue`` is derived when read (due date passed with a balance left)."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("subtotal >= 0", name="subtotal_not_negative"),
        CheckConstraint("tax_amount >= 0", name="tax_amount_not_negative"),
        CheckConstraint("discount_amount >= 0 AND discount_amount <= subtotal",
                        name="discount_within_subtotal"),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= total_amount",
                        name="amount_paid_within_total"),
        CheckConstraint("balance_due >= 0", name="balance_due_not_negative"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        Index("ix_invoices_patient_id_invoice_date", "patient_id", "invoice_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    invoice_number: Mapped[str] = mapped_column(String(20), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), index=True)
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consultations.id"), index=True)
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    tax_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    discount_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    balance_due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    line_items: Mapped[list[InvoiceLineItem]] = relationship(
        back_populates="invoice", lazy="raise", order_by="InvoiceLineItem.created_at")
    payments: Mapped[list[Payment]] = relationship(
        back_populates="invoice", lazy="raise", order_by="Payment.payment_date")

    __mapper_args__ = {"version_id_col": version}


class InvoiceLineItem(TimestampMixin, Base):
    """One line of an invoice: ``line_total = quantity x unit_price``."""

    __tablename__ = "invoice_line_items"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id"), index=True)
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    line_total: Mapped[Decimal] = mapped_column(Money)

    invoice: Mapped[Invoice] = relationship(back_populates="line_items", lazy="raise")


class Payment(TimestampMixin, Base):
    """A payment against an invoice; a financial record, never deleted."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payments_patient_id_payment_date", "patient_id", "payment_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    payment_date: Mapped[datetime] = mapped_column(default=utcnow)
    amount: Mapped[Decimal] = mapped_column(Money)
    payment_method: Mapped[str] = mapped_column(String(20))
    transaction_reference: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    processed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="payments", lazy="raise")
