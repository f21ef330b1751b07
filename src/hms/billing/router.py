"""HTTP routes of the billing module (seed 004 section 9: services, invoices, invoice line
items, payments). Successful DELETEs answer 200 with the soft-deleted (or, for a line item,
the recomputed parent) resource."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from hms.billing import service
from hms.billing.schemas import (
    InvoiceCreate,
    InvoiceDetails,
    InvoiceRead,
    InvoiceStatus,
    InvoiceUpdate,
    LineItemCreate,
    LineItemRead,
    LineItemUpdate,
    PaymentCreate,
    PaymentMethod,
    PaymentRead,
    PaymentReceipt,
    PaymentUpdate,
    ServiceCreate,
    ServiceRead,
    ServiceType,
    ServiceUpdate,
)
from hms.core.auth import DbSession, Principal, require
from hms.core.etag import etag, parse_if_match
from hms.core.pagination import Page, Pagination
from hms.core.permissions import Perm
from hms.core.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["billing"])

ReadServices = Annotated[Principal, Depends(require(Perm.SERVICE_READ))]
ManageServices = Annotated[Principal, Depends(require(Perm.SERVICE_MANAGE))]
ReadInvoices = Annotated[Principal, Depends(require(Perm.INVOICE_READ))]
WriteInvoices = Annotated[Principal, Depends(require(Perm.INVOICE_WRITE))]
ReadPayments = Annotated[Principal, Depends(require(Perm.PAYMENT_READ))]
WritePayments = Annotated[Principal, Depends(require(Perm.PAYMENT_WRITE))]

Sort = Annotated[str | None, Query(max_length=100, pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
                                   description="Comma list of keys; '-' for descending")]


# -- services -------------------------------------------------------------------------------


@router.post("/services", summary="Add a service to the catalogue", response_model=ServiceRead,
             status_code=201, responses=PROBLEM_RESPONSES)
async def create_service(body: ServiceCreate, actor: ManageServices, session: DbSession,
                         response: Response) -> ServiceRead:
    created = await service.create_service(session, actor, body)
    response.headers["Location"] = f"/api/v1/services/{created.id}"
    return created


@router.get("/services", summary="List catalogue services", response_model=Page[ServiceRead],
            responses=PROBLEM_RESPONSES)
async def list_services(
    actor: ReadServices, session: DbSession, page: Pagination,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
    service_type: Annotated[list[ServiceType] | None, Query(description="Repeatable")
                            ] = None,
    department_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    sort: Sort = None,
) -> Page[ServiceRead]:
    return await service.list_services(session, page, q=q, service_types=service_type,
                                       department_id=department_id, is_active=is_active,
                                       sort=sort)


@router.get("/services/{id}", summary="Read a catalogue service", response_model=ServiceRead,
            responses=PROBLEM_RESPONSES)
async def get_service(id: uuid.UUID, actor: ReadServices, session: DbSession) -> ServiceRead:
    return await service.get_service(session, id)


@router.put("/services/{id}", summary="Update a catalogue service",
            response_model=ServiceRead, responses=PROBLEM_RESPONSES)
async def update_service(id: uuid.UUID, body: ServiceUpdate, actor: ManageServices,
                         session: DbSession) -> ServiceRead:
    return await service.update_service(session, actor, id, body)


@router.delete("/services/{id}", summary="Deactivate a catalogue service (soft delete)",
               response_model=ServiceRead, responses=PROBLEM_RESPONSES)
async def delete_service(id: uuid.UUID, actor: ManageServices, session: DbSession
                         ) -> ServiceRead:
    return await service.deactivate_service(session, actor, id)


# -- invoices -------------------------------------------------------------------------------


@router.post("/invoices", summary="Generate a draft invoice for a completed consultation",
             response_model=InvoiceRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_invoice(body: InvoiceCreate, actor: WriteInvoices, session: DbSession,
                         response: Response) -> InvoiceRead:
    invoice = await service.create_invoice(session, actor, body)
    response.headers["Location"] = f"/api/v1/invoices/{invoice.id}"
    response.headers["ETag"] = etag(invoice.version)
    return invoice


@router.get("/invoices", summary="List invoices", response_model=Page[InvoiceRead],
            responses=PROBLEM_RESPONSES)
async def list_invoices(
    actor: ReadInvoices, session: DbSession, page: Pagination,
    status: Annotated[list[InvoiceStatus] | None, Query(description="Repeatable; overdue "
                                                        "is derived from the due date")
                      ] = None,
    patient_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    appointment_id: uuid.UUID | None = None,
    invoice_number: Annotated[str | None, Query(max_length=20)] = None,
    date_from: Annotated[date | None, Query(description="invoice_date on or after")] = None,
    date_to: Annotated[date | None, Query(description="invoice_date on or before")] = None,
    sort: Sort = None,
) -> Page[InvoiceRead]:
    return await service.list_invoices(
        session, actor, page, statuses=status, patient_id=patient_id,
        consultation_id=consultation_id, appointment_id=appointment_id,
        invoice_number=invoice_number, date_from=date_from, date_to=date_to, sort=sort)


@router.get("/invoices/{id}", summary="Read an invoice", response_model=InvoiceRead,
            responses=PROBLEM_RESPONSES)
async def get_invoice(id: uuid.UUID, actor: ReadInvoices, session: DbSession,
                      response: Response) -> InvoiceRead:
    invoice = await service.get_invoice(session, actor, id)
    response.headers["ETag"] = etag(invoice.version)
    return invoice


@router.get("/invoices/{id}/details",
            summary="Read an invoice with its patient, line items and payments",
            response_model=InvoiceDetails, responses=PROBLEM_RESPONSES)
async def get_invoice_details(id: uuid.UUID, actor: ReadInvoices, session: DbSession
                              ) -> InvoiceDetails:
    return await service.invoice_details(session, actor, id)


@router.put("/invoices/{id}", summary="Update a draft invoice (totals recomputed)",
            response_model=InvoiceRead, responses=PROBLEM_RESPONSES)
async def update_invoice(
    id: uuid.UUID, body: InvoiceUpdate, actor: WriteInvoices, session: DbSession,
    response: Response, if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> InvoiceRead:
    invoice = await service.update_invoice(session, actor, id, body, parse_if_match(if_match))
    response.headers["ETag"] = etag(invoice.version)
    return invoice


@router.delete("/invoices/{id}", summary="Cancel an unpaid invoice (soft delete)",
               response_model=InvoiceRead, responses=PROBLEM_RESPONSES)
async def delete_invoice(id: uuid.UUID, actor: WriteInvoices, session: DbSession
                         ) -> InvoiceRead:
    return await service.cancel_invoice(session, actor, id)


@router.post("/invoices/{id}/issue", summary="Issue a draft invoice to the patient",
             response_model=InvoiceRead, responses=PROBLEM_RESPONSES)
async def issue_invoice(id: uuid.UUID, actor: WriteInvoices, session: DbSession
                        ) -> InvoiceRead:
    return await service.issue_invoice(session, actor, id)


# -- line items -----------------------------------------------------------------------------


@router.post("/invoice-line-items", summary="Add a line to a draft invoice",
             response_model=LineItemRead, status_code=201, responses=PROBLEM_RESPONSES)
async def create_line_item(body: LineItemCreate, actor: WriteInvoices, session: DbSession,
                           response: Response) -> LineItemRead:
    line = await service.add_line_item(session, actor, body)
    response.headers["Location"] = f"/api/v1/invoice-line-items/{line.id}"
    return line


@router.get("/invoice-line-items", summary="List invoice line items",
            response_model=Page[LineItemRead], responses=PROBLEM_RESPONSES)
async def list_line_items(
    actor: ReadInvoices, session: DbSession, page: Pagination,
    invoice_id: uuid.UUID | None = None, service_id: uuid.UUID | None = None,
    sort: Sort = None,
) -> Page[LineItemRead]:
    return await service.list_line_items(session, actor, page, invoice_id=invoice_id,
                                         service_id=service_id, sort=sort)


@router.get("/invoice-line-items/{id}", summary="Read an invoice line item",
            response_model=LineItemRead, responses=PROBLEM_RESPONSES)
async def get_line_item(id: uuid.UUID, actor: ReadInvoices, session: DbSession
                        ) -> LineItemRead:
    return await service.get_line_item(session, actor, id)


@router.put("/invoice-line-items/{id}", summary="Update a line of a draft invoice",
            response_model=LineItemRead, responses=PROBLEM_RESPONSES)
async def update_line_item(id: uuid.UUID, body: LineItemUpdate, actor: WriteInvoices,
                           session: DbSession) -> LineItemRead:
    return await service.update_line_item(session, actor, id, body)


@router.delete("/invoice-line-items/{id}",
               summary="Remove a line from a draft invoice; answers the recomputed invoice",
               response_model=InvoiceRead, responses=PROBLEM_RESPONSES)
async def delete_line_item(id: uuid.UUID, actor: WriteInvoices, session: DbSession
                           ) -> InvoiceRead:
    return await service.delete_line_item(session, actor, id)


# -- payments -------------------------------------------------------------------------------


@router.post("/payments", summary="Record a payment (updates the invoice)",
             response_model=PaymentReceipt, status_code=201, responses=PROBLEM_RESPONSES)
@router.post("/payments/process", summary="Process a payment and update the invoice",
             response_model=PaymentReceipt, status_code=201, responses=PROBLEM_RESPONSES)
async def record_payment(body: PaymentCreate, actor: WritePayments, session: DbSession,
                         response: Response) -> PaymentReceipt:
    receipt = await service.record_payment(session, actor, body)
    response.headers["Location"] = f"/api/v1/payments/{receipt.id}"
    return receipt


@router.get("/payments", summary="List payments", response_model=Page[PaymentRead],
            responses=PROBLEM_RESPONSES)
async def list_payments(
    actor: ReadPayments, session: DbSession, page: Pagination,
    invoice_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
    payment_method: Annotated[list[PaymentMethod] | None, Query(description="Repeatable")
                              ] = None,
    method: Annotated[list[PaymentMethod] | None, Query(description="Alias of payment_method")
                      ] = None,
    date_from: Annotated[date | None, Query(description="Paid on or after (UTC)")] = None,
    date_to: Annotated[date | None, Query(description="Paid on or before (UTC)")] = None,
    sort: Sort = None,
) -> Page[PaymentRead]:
    return await service.list_payments(session, actor, page, invoice_id=invoice_id,
                                       patient_id=patient_id,
                                       methods=(payment_method or []) + (method or []),
                                       date_from=date_from, date_to=date_to, sort=sort)


@router.get("/payments/{id}", summary="Read a payment", response_model=PaymentRead,
            responses=PROBLEM_RESPONSES)
async def get_payment(id: uuid.UUID, actor: ReadPayments, session: DbSession) -> PaymentRead:
    return await service.get_payment(session, actor, id)


@router.put("/payments/{id}",
            summary="Correct a payment's method, reference or notes (amount is fixed)",
            response_model=PaymentRead, responses=PROBLEM_RESPONSES)
async def update_payment(id: uuid.UUID, body: PaymentUpdate, actor: WritePayments,
                         session: DbSession) -> PaymentRead:
    return await service.update_payment(session, actor, id, body)


@router.delete("/payments/{id}",
               summary="Refused: payments are financial records and are never deleted",
               status_code=204, response_class=Response, responses=PROBLEM_RESPONSES)
async def delete_payment(id: uuid.UUID, actor: WritePayments, session: DbSession) -> None:
    await service.delete_payment(session, actor, id)
