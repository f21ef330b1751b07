"""Pydantic schemas of the billing module (seed 004 sections 6-7 field names).

Money is ``Decimal`` with two places: inputs with more places are refused (422), outputs are
strings such as ``"12.50"`` (DOMAIN.md: "money as strings with two decimals").
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

CENT = Decimal("0.01")
#: Largest value NUMERIC(12, 2) holds.
MAX_MONEY = Decimal("9999999999.99")


def quantize(value: Decimal) -> Decimal:
    """``value`` rounded to cents, half up (the rounding of every computed amount)."""
    # "+ 0" turns a negative zero ("-0.00" typed by a client) into "0.00".
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + 0


def _as_utc(value: datetime | None) -> datetime | None:
    """A naive timestamp is taken as UTC (HCMS 14.2: all timestamps are UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+05:00
        raise ValueError("timestamp out of range") from exc


def _money_str(value: Decimal) -> str:
    return str(quantize(Decimal(value)))


#: A timestamp; naive values are taken as UTC.
Timestamp = Annotated[datetime, AfterValidator(_as_utc)]
#: Money as answered: a string with exactly two decimals.
MoneyOut = Annotated[Decimal, PlainSerializer(_money_str, return_type=str, when_used="json")]
#: Money as accepted: at most 12 digits, 2 of them decimals, never negative.
MoneyIn = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]
#: A strictly positive amount (prices, payments).
PositiveMoney = Annotated[Decimal, Field(max_digits=12, decimal_places=2, gt=0)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LineText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=255)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=100)]
Quantity = Annotated[int, Field(ge=1, le=100_000, description="At least 1 (HCMS 12)")]


class _CaseInsensitive(StrEnum):
    """Accepts the seed's upper-case labels (``CREDIT_CARD``) as well as the values."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            key = value.strip().lower().replace(" ", "_").replace("-", "_")
            for member in cls:
                if member.value == key:
                    return member
        return None


class ServiceType(_CaseInsensitive):
    """HCMS 7 ServiceType."""

    CONSULTATION = "consultation"
    PROCEDURE = "procedure"
    LAB_TEST = "lab_test"
    IMAGING = "imaging"
    THERAPY = "therapy"
    SURGERY = "surgery"
    VACCINATION = "vaccination"
    OTHER = "other"


class InvoiceStatus(_CaseInsensitive):
    """HCMS 7 InvoiceStatus. ``overdue`` is derived: an issued or partially paid invoice
    whose due date has passed with a balance left (HCMS 11.6)."""

    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


class PaymentMethod(_CaseInsensitive):
    """HCMS 7 PaymentMethod."""

    CASH = "cash"
    CREDIT_CARD = "credit_card"
    DEBIT_CARD = "debit_card"
    INSURANCE = "insurance"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"
    OTHER = "other"


# -- services -------------------------------------------------------------------------------


class ServiceCreate(BaseModel):
    """Body of ``POST /services``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    description: Notes | None = None
    service_type: ServiceType
    default_price: PositiveMoney = Field(description="Positive, 2 decimals (HCMS 12)")
    default_duration_minutes: int | None = Field(None, ge=1, le=1440)
    department_id: uuid.UUID | None = None
    is_active: bool = True


class ServiceUpdate(BaseModel):
    """Body of ``PUT /services/{id}``; every field optional."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name | None = None
    description: Notes | None = None
    service_type: ServiceType | None = None
    default_price: PositiveMoney | None = None
    default_duration_minutes: int | None = Field(None, ge=1, le=1440)
    department_id: uuid.UUID | None = None
    is_active: bool | None = None


class ServiceRead(BaseModel):
    """A catalogue service."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    service_type: ServiceType
    default_price: MoneyOut
    default_duration_minutes: int | None
    department_id: uuid.UUID | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ServiceSort(StrEnum):
    """Sort keys of ``GET /services``."""

    NAME = "name"
    SERVICE_TYPE = "service_type"
    DEFAULT_PRICE = "default_price"
    CREATED_AT = "created_at"


# -- line items -----------------------------------------------------------------------------


class LineItemIn(BaseModel):
    """One line of an invoice body: ``description`` defaults to the service's name and
    ``unit_price`` to its ``default_price``; without a service both are required."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service_id: uuid.UUID | None = None
    description: LineText | None = None
    quantity: Quantity = 1
    unit_price: MoneyIn | None = Field(None, description="Not negative (HCMS 12)")

    @model_validator(mode="after")
    def _needs_service_or_text(self) -> LineItemIn:
        if self.service_id is None and (self.description is None or self.unit_price is None):
            raise ValueError("without service_id, description and unit_price are required")
        return self


class LineItemCreate(LineItemIn):
    """Body of ``POST /invoice-line-items``: a line added to a draft invoice."""

    invoice_id: uuid.UUID


class LineItemUpdate(BaseModel):
    """Body of ``PUT /invoice-line-items/{id}``; every field optional."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    service_id: uuid.UUID | None = None
    description: LineText | None = None
    quantity: Quantity | None = None
    unit_price: MoneyIn | None = None


class LineItemRead(BaseModel):
    """A line of an invoice."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    service_id: uuid.UUID | None
    description: str
    quantity: int
    unit_price: MoneyOut
    line_total: MoneyOut
    created_at: datetime
    updated_at: datetime


class LineItemSort(StrEnum):
    """Sort keys of ``GET /invoice-line-items``."""

    CREATED_AT = "created_at"
    LINE_TOTAL = "line_total"
    DESCRIPTION = "description"


# -- invoices -------------------------------------------------------------------------------


class InvoiceCreate(BaseModel):
    """Body of ``POST /invoices``. The consultation (or the appointment that leads to one)
    must be completed; the invoice's patient and appointment come from it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    consultation_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = Field(
        None, description="Optional; must be the consultation's patient when given")
    invoice_date: date | None = Field(None, description="Default: today (UTC)")
    due_date: date | None = None
    tax_amount: MoneyIn = Decimal("0.00")
    discount_amount: MoneyIn = Field(Decimal("0.00"), description="At most the subtotal")
    notes: Notes | None = None
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _needs_a_source(self) -> InvoiceCreate:
        if self.consultation_id is None and self.appointment_id is None:
            raise ValueError("consultation_id (or an appointment_id with a completed "
                             "consultation) is required")
        if self.due_date and self.invoice_date and self.due_date < self.invoice_date:
            raise ValueError("due_date must not be before invoice_date")
        return self


class InvoiceUpdate(BaseModel):
    """Body of ``PUT /invoices/{id}`` (draft invoices only); every field optional.
    ``line_items``, when given, replaces every line. ``version`` (or ``If-Match``) is
    optional; when given it must be the current version."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    invoice_date: date | None = None
    due_date: date | None = None
    tax_amount: MoneyIn | None = None
    discount_amount: MoneyIn | None = None
    notes: Notes | None = None
    line_items: list[LineItemIn] | None = Field(None, max_length=200)
    version: int | None = Field(None, ge=1)


class InvoiceRead(BaseModel):
    """An invoice. ``status`` is ``overdue`` when an issued or partially paid invoice is
    past its due date with a balance left."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_number: str
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    invoice_date: date
    due_date: date | None
    subtotal: MoneyOut
    tax_amount: MoneyOut
    discount_amount: MoneyOut
    total_amount: MoneyOut
    amount_paid: MoneyOut
    balance_due: MoneyOut
    status: InvoiceStatus
    notes: str | None
    created_by_user_id: uuid.UUID | None
    issued_at: datetime | None
    cancelled_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class InvoicePatient(BaseModel):
    """The patient on an invoice (no national ID: billing does not need it)."""

    id: uuid.UUID
    patient_number: str
    full_name: str
    date_of_birth: date | None
    is_active: bool


class InvoiceSort(StrEnum):
    """Sort keys of ``GET /invoices``."""

    INVOICE_DATE = "invoice_date"
    INVOICE_NUMBER = "invoice_number"
    DUE_DATE = "due_date"
    TOTAL_AMOUNT = "total_amount"
    BALANCE_DUE = "balance_due"
    CREATED_AT = "created_at"


# -- payments -------------------------------------------------------------------------------


class PaymentCreate(BaseModel):
    """Body of ``POST /payments`` and ``POST /payments/process``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    invoice_id: uuid.UUID
    amount: PositiveMoney = Field(description="Positive, at most the balance due")
    payment_method: PaymentMethod = Field(
        validation_alias=AliasChoices("payment_method", "method"))
    payment_date: Timestamp | None = Field(None, description="Default: now (UTC)")
    transaction_reference: Reference | None = None
    notes: Notes | None = None
    patient_id: uuid.UUID | None = Field(
        None, description="Optional; must be the invoice's patient when given")
    processed_by_user_id: uuid.UUID | None = Field(
        None, description="Optional; always the caller")


class PaymentUpdate(BaseModel):
    """Body of ``PUT /payments/{id}``: only method, reference and notes change; a different
    amount, invoice or date is refused (409 ``payment_immutable``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    payment_method: PaymentMethod | None = Field(
        None, validation_alias=AliasChoices("payment_method", "method"))
    transaction_reference: Reference | None = None
    notes: Notes | None = None
    amount: Annotated[Decimal, Field(max_digits=12, decimal_places=2)] | None = None
    invoice_id: uuid.UUID | None = None
    payment_date: Timestamp | None = None


class PaymentRead(BaseModel):
    """A payment."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    payment_date: datetime
    amount: MoneyOut
    payment_method: PaymentMethod
    transaction_reference: str | None
    notes: str | None
    processed_by_user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PaymentReceipt(PaymentRead):
    """A recorded payment with the invoice as it stands afterwards."""

    invoice: InvoiceRead


class PaymentSort(StrEnum):
    """Sort keys of ``GET /payments``."""

    PAYMENT_DATE = "payment_date"
    AMOUNT = "amount"
    CREATED_AT = "created_at"


class InvoiceDetails(InvoiceRead):
    """``GET /invoices/{id}/details``: the invoice with its patient, lines and payments."""

    patient: InvoicePatient | None
    line_items: list[LineItemRead]
    payments: list[PaymentRead]
