"""Billing use cases (seed 004 HCMS), the billing module's public API: the service
catalogue, invoices generated from a completed consultation, their line items, and payments
that update the invoice in the same transaction.

Rules (HCMS 11.6-11.7 and 12 "Financial Validation"): line_total = quantity x unit_price;
subtotal = sum of line totals; total = subtotal + tax - discount; discount <= subtotal;
amount_paid = sum of payments; balance_due = total - amount_paid; a payment is positive and
at most the balance due; invoice numbers are unique and sequential (INV-YYYY-NNNNNN).
Every amount is a Decimal rounded half up to cents. The clock is ``_shared.today`` (tests
monkeypatch ``hms.billing.service._shared.today``).
"""

from hms.billing.service.catalog import (
    create_service,
    deactivate_service,
    get_service,
    list_services,
    update_service,
)
from hms.billing.service.invoices import (
    add_line_item,
    cancel_invoice,
    create_invoice,
    delete_line_item,
    get_invoice,
    get_line_item,
    invoice_details,
    issue_invoice,
    list_invoices,
    list_line_items,
    next_invoice_number,
    update_invoice,
    update_line_item,
)
from hms.billing.service.payments import (
    delete_payment,
    get_payment,
    list_payments,
    record_payment,
    update_payment,
)

__all__ = [
    "add_line_item", "cancel_invoice", "create_invoice", "create_service",
    "deactivate_service", "delete_line_item", "delete_payment", "get_invoice",
    "get_line_item", "get_payment", "get_service", "invoice_details", "issue_invoice",
    "list_invoices", "list_line_items", "list_payments", "list_services",
    "next_invoice_number", "record_payment", "update_invoice", "update_line_item",
    "update_payment", "update_service",
]
