"""Invoices generated from a completed consultation and their line items (seed 004
sections 10 "Invoice Generation", 11.6, 11.7, 12)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.billing.errors import (
    ConsultationMismatch,
    ConsultationNotCompleted,
    InvalidStatusTransition,
    InvoiceEmpty,
    InvoiceHasPayments,
)
from hms.billing.models import Invoice, InvoiceLineItem
from hms.billing.repository import (
    InvoiceFilters,
    InvoiceRepository,
)
from hms.billing.schemas import (
    InvoiceCreate,
    InvoiceDetails,
    InvoicePatient,
    InvoiceRead,
    InvoiceSort,
    InvoiceStatus,
    InvoiceUpdate,
    LineItemCreate,
    LineItemIn,
    LineItemRead,
    LineItemSort,
    LineItemUpdate,
    PaymentRead,
)
from hms.billing.service import _shared
from hms.billing.service._shared import (
    ZERO,
    _apply_totals,
    _build_lines,
    _field_error,
    _flush_invoice,
    _invoice_row,
    _invoice_snapshot,
    _read,
    _require_draft,
)
from hms.clinical import service as clinical_service
from hms.clinical.schemas import ConsultationRead
from hms.core.auth import Principal
from hms.core.errors import NotFound, PreconditionFailed
from hms.core.pagination import Page, PageParams
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.patients import service as patients_service


async def _completed_consultation(session: AsyncSession, data: InvoiceCreate
                                  ) -> ConsultationRead:
    """The consultation the invoice bills, which must be completed (HCMS 11.6)."""
    found: ConsultationRead | None
    if data.consultation_id is not None:
        try:
            found = await clinical_service.get_consultation(session, data.consultation_id)
        except NotFound as exc:
            raise _field_error("consultation_id", "unknown consultation") from exc
    else:
        assert data.appointment_id is not None  # the schema requires one of the two
        found = await clinical_service.consultation_for_appointment(
            session, data.appointment_id)
    if found is None:
        raise ConsultationNotCompleted(
            "The appointment has no consultation; an invoice can only be generated "
            "after the consultation is completed (seed 004 11.6)")
    consultation = found
    if consultation.status != "completed":
        raise ConsultationNotCompleted(
            "The consultation is not completed; an invoice can only be generated after the "
            "consultation is completed (seed 004 11.6)")
    if data.appointment_id is not None and data.appointment_id != consultation.appointment_id:
        raise ConsultationMismatch("appointment_id is not the consultation's appointment")
    if data.patient_id is not None and data.patient_id != consultation.patient_id:
        raise ConsultationMismatch("patient_id is not the consultation's patient")
    return consultation


async def next_invoice_number(session: AsyncSession) -> str:
    """The next invoice number, ``INV-YYYY-NNNNNN`` (UTC year, per-year sequence from 1).

    Taken from a counter row incremented in the caller's transaction (row lock held to its
    end), so concurrent invoices get distinct consecutive numbers (HCMS 11.1 "unique and
    sequential").
    """
    year = f"{utcnow().year:04d}"
    seq = await InvoiceRepository(session).next_number_sequence(year)
    return f"INV-{year}-{seq:06d}"


async def create_invoice(session: AsyncSession, actor: Principal, data: InvoiceCreate
                         ) -> InvoiceRead:
    """Generate a draft invoice for a completed consultation (HCMS 10 "Invoice Generation").

    Args:
        data: ``consultation_id``, or ``appointment_id`` of an appointment whose
            consultation is completed; ``line_items`` with quantity >= 1 and unit_price >= 0
            (description and price default to the service's); tax and discount >= 0.

    Returns:
        The invoice, status ``draft``, with its number and computed totals.

    Raises:
        ValidationFailed (422): unknown consultation or service.
        ConsultationNotCompleted (422): no consultation, or not completed.
        ConsultationMismatch (422): ``patient_id``/``appointment_id`` not the consultation's.
        ServiceInactive (422): a line names a deactivated service.
        DiscountExceedsSubtotal (422), AmountOutOfRange (422).

    Source: seed 004 sections 10 (Invoice Generation Workflow), 11.6, 11.7, 12.
    """
    consultation = await _completed_consultation(session, data)
    lines = await _build_lines(session, data.line_items, field="line_items")
    invoice = Invoice(
        patient_id=consultation.patient_id, appointment_id=consultation.appointment_id,
        consultation_id=consultation.id, invoice_date=data.invoice_date or _shared.today(),
        due_date=data.due_date, tax_amount=data.tax_amount,
        discount_amount=data.discount_amount, amount_paid=ZERO,
        status=InvoiceStatus.DRAFT.value, notes=data.notes, created_by_user_id=actor.user_id,
    )
    if invoice.due_date is not None and invoice.due_date < invoice.invoice_date:
        raise _field_error("due_date", "must not be before invoice_date")
    _apply_totals(invoice, sum((line.line_total for line in lines), ZERO))
    # The number is taken last, after every check, so a refused request holds the counter
    # row for as short a time as possible (and gives its number back on rollback).
    invoice.invoice_number = await next_invoice_number(session)
    invoice.line_items = lines
    await InvoiceRepository(session).add(invoice)
    await audit.record(session, AuditAction.CREATE, "invoice", invoice.id,
                       patient_id=invoice.patient_id,
                       changes={"after": {**_invoice_snapshot(invoice),
                                          "invoice_number": invoice.invoice_number,
                                          "lines": len(lines)}})
    return _read(invoice)


async def get_invoice(session: AsyncSession, actor: Principal, invoice_id: uuid.UUID
                      ) -> InvoiceRead:
    """An invoice, audited as a read of patient data.

    Raises:
        NotFound (404): no such invoice.
    """
    invoice = await _invoice_row(session, invoice_id)
    await audit.record(session, AuditAction.READ, "invoice", invoice.id,
                       patient_id=invoice.patient_id)
    return _read(invoice)


async def invoice_details(session: AsyncSession, actor: Principal, invoice_id: uuid.UUID
                          ) -> InvoiceDetails:
    """``GET /invoices/{id}/details``: the invoice with its patient, line items and
    payments, in a fixed number of queries whatever the number of lines and payments.

    Raises:
        NotFound (404): no such invoice.
    """
    invoice = await InvoiceRepository(session).get_details(invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found")
    try:
        summary = await patients_service.get_summary(session, invoice.patient_id)
        patient: InvoicePatient | None = InvoicePatient(
            id=summary.id, patient_number=summary.patient_number,
            full_name=summary.full_name, date_of_birth=summary.date_of_birth,
            is_active=summary.is_active)
    except NotFound:
        patient = None
    await audit.record(session, AuditAction.READ, "invoice", invoice.id,
                       patient_id=invoice.patient_id)
    return InvoiceDetails(
        **_read(invoice).model_dump(), patient=patient,
        line_items=[LineItemRead.model_validate(li) for li in invoice.line_items],
        payments=[PaymentRead.model_validate(p) for p in invoice.payments])


async def list_invoices(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    statuses: list[InvoiceStatus] | None = None, patient_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None, appointment_id: uuid.UUID | None = None,
    invoice_number: str | None = None, date_from: date | None = None,
    date_to: date | None = None, sort: str | None = None,
) -> Page[InvoiceRead]:
    """A page of invoices (default newest invoice date first); each row read is audited.

    Args:
        statuses: effective statuses; ``overdue`` finds issued or partially paid invoices
            past their due date with a balance left.
        date_from, date_to: inclusive range on ``invoice_date``.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, InvoiceSort, [("invoice_date", True), ("invoice_number", True)])
    rows, total = await InvoiceRepository(session).page(
        InvoiceFilters(today=_shared.today(), statuses=tuple(s.value for s in statuses or ()),
                       patient_id=patient_id, consultation_id=consultation_id,
                       appointment_id=appointment_id, invoice_number=invoice_number,
                       date_from=date_from, date_to=date_to),
        offset=page.offset, limit=page.page_size, order=order)
    await audit.record_reads(session, "invoice", [(i.id, i.patient_id) for i in rows])
    return Page[InvoiceRead](items=[_read(i) for i in rows], total=total, page=page.page,
                             page_size=page.page_size)


async def update_invoice(session: AsyncSession, actor: Principal, invoice_id: uuid.UUID,
                         data: InvoiceUpdate, if_match: int | None = None) -> InvoiceRead:
    """Edit a draft invoice and recompute its totals; ``line_items``, when given, replaces
    every line.

    Raises:
        NotFound (404): no such invoice.
        PreconditionFailed (412): ``version``/``If-Match`` given and stale.
        InvoiceNotDraft (409): the invoice is issued, paid or cancelled.
        ValidationFailed (422), ServiceInactive (422), DiscountExceedsSubtotal (422).
    """
    repo = InvoiceRepository(session)
    invoice = await _invoice_row(session, invoice_id, for_update=True)
    expected = data.version if data.version is not None else if_match
    if expected is not None and expected != invoice.version:
        raise PreconditionFailed(
            f"Invoice changed since version {expected}; current version is {invoice.version}")
    _require_draft(invoice)
    fields = data.model_dump(exclude_unset=True, exclude={"version", "line_items"})
    for required in ("invoice_date", "tax_amount", "discount_amount"):
        if required in fields and fields[required] is None:
            raise _field_error(required, "may not be null", "missing")
    before = _invoice_snapshot(invoice)
    replaced = data.line_items is not None
    if data.line_items is not None:
        new_lines = await _build_lines(session, data.line_items, field="line_items")
        await repo.delete_lines(await repo.lines_of(invoice.id))
        for line in new_lines:
            line.invoice_id = invoice.id
        await repo.add_lines(new_lines)
    # Sum the lines before touching the invoice row: the query would autoflush it, and the
    # database's CHECK (discount <= subtotal) must only ever see consistent totals.
    subtotal = await repo.line_totals(invoice.id)
    for key, value in fields.items():
        setattr(invoice, key, value)
    if invoice.due_date is not None and invoice.due_date < invoice.invoice_date:
        raise _field_error("due_date", "must not be before invoice_date")
    _apply_totals(invoice, subtotal)
    await _flush_invoice(session)
    changes = audit.diff(before, _invoice_snapshot(invoice))
    if replaced:
        changes["after"]["lines_replaced"] = True
    await audit.record(session, AuditAction.UPDATE, "invoice", invoice.id,
                       patient_id=invoice.patient_id, changes=changes)
    return _read(invoice)


async def issue_invoice(session: AsyncSession, actor: Principal, invoice_id: uuid.UUID
                        ) -> InvoiceRead:
    """Issue a draft invoice to the patient (draft -> issued); it can then be paid but no
    longer edited.

    Raises:
        NotFound (404): no such invoice.
        InvoiceNotDraft (409): already issued, paid or cancelled.
        InvoiceEmpty (422): no line items, or a total of zero.

    Source: seed 004 section 10 (Invoice Generation Workflow step 6).
    """
    invoice = await _invoice_row(session, invoice_id, for_update=True)
    _require_draft(invoice)
    if await InvoiceRepository(session).line_count(invoice.id) == 0:
        raise InvoiceEmpty("An invoice needs at least one line item to be issued")
    if invoice.total_amount <= 0:
        raise InvoiceEmpty("An invoice with a total of zero cannot be issued")
    invoice.status = InvoiceStatus.ISSUED.value
    invoice.issued_at = utcnow()
    await _flush_invoice(session)
    await audit.record(session, AuditAction.ISSUE, "invoice", invoice.id,
                       patient_id=invoice.patient_id,
                       changes=audit.diff({"status": "draft"}, {"status": invoice.status}))
    return _read(invoice)


async def cancel_invoice(session: AsyncSession, actor: Principal, invoice_id: uuid.UUID
                         ) -> InvoiceRead:
    """``DELETE /invoices/{id}``: cancel a draft or issued invoice that has no payments
    (soft: the row stays, status ``cancelled``).

    Raises:
        NotFound (404): no such invoice.
        InvoiceHasPayments (409): partially paid or paid (a financial record).
        InvalidStatusTransition (409): already cancelled.
    """
    invoice = await _invoice_row(session, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.CANCELLED.value:
        raise InvalidStatusTransition("The invoice is already cancelled")
    if invoice.amount_paid > 0:
        raise InvoiceHasPayments(
            "The invoice has payments and cannot be cancelled; payments are financial "
            "records (refunds are out of scope)")
    before = invoice.status
    invoice.status = InvoiceStatus.CANCELLED.value
    invoice.cancelled_at = utcnow()
    await _flush_invoice(session)
    await audit.record(session, AuditAction.CANCEL, "invoice", invoice.id,
                       patient_id=invoice.patient_id,
                       changes=audit.diff({"status": before}, {"status": invoice.status}))
    return _read(invoice)


async def add_line_item(session: AsyncSession, actor: Principal, data: LineItemCreate
                        ) -> LineItemRead:
    """Add a line to a draft invoice and recompute the invoice's totals in the same
    transaction.

    Raises:
        ValidationFailed (422): unknown invoice or service.
        InvoiceNotDraft (409): the invoice is no longer a draft.
        ServiceInactive (422), DiscountExceedsSubtotal (422), AmountOutOfRange (422).
    """
    repo = InvoiceRepository(session)
    invoice = await repo.get(data.invoice_id, for_update=True)
    if invoice is None:
        raise _field_error("invoice_id", "unknown invoice")
    _require_draft(invoice)
    (line,) = await _build_lines(session, [LineItemIn.model_validate(
        data.model_dump(exclude={"invoice_id"}))], field="")
    line.invoice_id = invoice.id
    await repo.add_lines([line])
    _apply_totals(invoice, await repo.line_totals(invoice.id))
    await _flush_invoice(session)
    await audit.record(session, AuditAction.CREATE, "invoice_line_item", line.id,
                       patient_id=invoice.patient_id,
                       changes={"after": {"invoice_id": invoice.id,
                                          "quantity": line.quantity,
                                          "unit_price": line.unit_price,
                                          "line_total": line.line_total}})
    return LineItemRead.model_validate(line)


async def _line_row(session: AsyncSession, line_id: uuid.UUID) -> InvoiceLineItem:
    line = await InvoiceRepository(session).get_line(line_id)
    if line is None:
        raise NotFound("Invoice line item not found")
    return line


async def _locked_line(session: AsyncSession, line_id: uuid.UUID
                       ) -> tuple[InvoiceLineItem, Invoice]:
    """A line and its invoice, the invoice row locked first and the line then read again:
    lines change only under their invoice's lock, so what is read is current."""
    line = await _line_row(session, line_id)
    invoice = await _invoice_row(session, line.invoice_id, for_update=True)
    fresh = await InvoiceRepository(session).get_line(line_id, fresh=True)
    if fresh is None:
        raise NotFound("Invoice line item not found")
    return fresh, invoice


async def get_line_item(session: AsyncSession, actor: Principal, line_id: uuid.UUID
                        ) -> LineItemRead:
    """A line item, audited as a read of the invoice's patient's data.

    Raises:
        NotFound (404): no such line item.
    """
    line = await _line_row(session, line_id)
    invoice = await _invoice_row(session, line.invoice_id)
    await audit.record(session, AuditAction.READ, "invoice_line_item", line.id,
                       patient_id=invoice.patient_id)
    return LineItemRead.model_validate(line)


async def list_line_items(
    session: AsyncSession, actor: Principal, page: PageParams, *,
    invoice_id: uuid.UUID | None = None, service_id: uuid.UUID | None = None,
    sort: str | None = None,
) -> Page[LineItemRead]:
    """A page of line items (default oldest first); each row read is audited.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, LineItemSort, [("created_at", False)])
    rows, total = await InvoiceRepository(session).page_lines(
        invoice_id=invoice_id, service_id=service_id, offset=page.offset,
        limit=page.page_size, order=order)
    await audit.record_reads(session, "invoice_line_item",
                             [(line.id, patient_id) for line, patient_id in rows])
    return Page[LineItemRead](items=[LineItemRead.model_validate(line) for line, _ in rows],
                              total=total, page=page.page, page_size=page.page_size)


async def update_line_item(session: AsyncSession, actor: Principal, line_id: uuid.UUID,
                           data: LineItemUpdate) -> LineItemRead:
    """Change a line of a draft invoice and recompute the invoice's totals. A new
    ``service_id`` without ``description``/``unit_price`` takes the service's.

    Raises:
        NotFound (404): no such line item.
        InvoiceNotDraft (409): the invoice is no longer a draft.
        ValidationFailed (422), ServiceInactive (422), DiscountExceedsSubtotal (422).
    """
    repo = InvoiceRepository(session)
    line, invoice = await _locked_line(session, line_id)
    _require_draft(invoice)
    fields = data.model_dump(exclude_unset=True)
    if "quantity" in fields and fields["quantity"] is None:
        raise _field_error("quantity", "may not be null", "missing")
    before = {k: getattr(line, k) for k in ("service_id", "description", "quantity",
                                             "unit_price", "line_total")}
    new_service = fields.get("service_id", line.service_id)
    # A different service brings its own name and price unless the body gives them.
    from_service = new_service is not None and new_service != line.service_id
    merged = LineItemIn(
        service_id=new_service,
        description=fields.get("description") or (None if from_service else line.description),
        quantity=fields.get("quantity") or line.quantity,
        unit_price=fields["unit_price"] if fields.get("unit_price") is not None else (
            None if from_service else line.unit_price),
    )
    (built,) = await _build_lines(session, [merged], field="")
    for key in ("service_id", "description", "quantity", "unit_price", "line_total"):
        setattr(line, key, getattr(built, key))
    await session.flush()
    _apply_totals(invoice, await repo.line_totals(invoice.id))
    await _flush_invoice(session)
    after = {k: getattr(line, k) for k in before}
    await audit.record(session, AuditAction.UPDATE, "invoice_line_item", line.id,
                       patient_id=invoice.patient_id, changes=audit.diff(before, after))
    return LineItemRead.model_validate(line)


async def delete_line_item(session: AsyncSession, actor: Principal, line_id: uuid.UUID
                           ) -> InvoiceRead:
    """Remove a line from a draft invoice (a draft is not yet a financial record, so the
    line is deleted) and recompute the invoice's totals.

    Returns:
        The invoice with its new totals.

    Raises:
        NotFound (404): no such line item.
        InvoiceNotDraft (409): the invoice is issued, paid or cancelled: its lines stay.
        DiscountExceedsSubtotal (422): the remaining lines no longer cover the discount.
    """
    repo = InvoiceRepository(session)
    line, invoice = await _locked_line(session, line_id)
    _require_draft(invoice)
    gone = {"service_id": line.service_id, "description": line.description,
            "quantity": line.quantity, "line_total": line.line_total}
    await repo.delete_lines([line])
    _apply_totals(invoice, await repo.line_totals(invoice.id))
    await _flush_invoice(session)
    await audit.record(session, AuditAction.DELETE, "invoice_line_item", line_id,
                       patient_id=invoice.patient_id, changes={"before": gone})
    return _read(invoice)
