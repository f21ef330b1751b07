"""Domain errors of the billing module; each ``code`` names the seed 004 rule it enforces."""

from hms.core.errors import Conflict, RuleViolation


class ConsultationNotCompleted(RuleViolation):
    """422: an invoice is generated only after its consultation is completed (HCMS 11.6)."""

    code = "consultation_not_completed"


class ConsultationMismatch(RuleViolation):
    """422: the given patient or appointment is not the consultation's."""

    code = "consultation_mismatch"


class DiscountExceedsSubtotal(RuleViolation):
    """422: the discount is larger than the subtotal (HCMS 11.7, 12 financial)."""

    code = "discount_exceeds_subtotal"


class AmountOutOfRange(RuleViolation):
    """422: a computed amount does not fit NUMERIC(12, 2)."""

    code = "amount_out_of_range"


class ServiceInactive(RuleViolation):
    """422: a deactivated service cannot be put on an invoice."""

    code = "service_inactive"


class InvoiceNotDraft(Conflict):
    """409: only a draft invoice (and its line items) can be edited or issued."""

    code = "invoice_not_draft"


class InvoiceEmpty(RuleViolation):
    """422: an invoice is issued only with at least one line item and a total above zero."""

    code = "invoice_empty"


class InvoiceHasPayments(Conflict):
    """409: an invoice with payments cannot be cancelled (financial record)."""

    code = "invoice_has_payments"


class InvoiceNotPayable(Conflict):
    """409: payments are taken only on issued, partially paid or overdue invoices."""

    code = "invoice_not_payable"


class PaymentExceedsBalance(RuleViolation):
    """422: a payment larger than the invoice's balance due (HCMS 11.6, 12 financial)."""

    code = "payment_exceeds_balance"


class PaymentImmutable(Conflict):
    """409: a payment's amount, invoice and date are fixed once recorded."""

    code = "payment_immutable"


class PaymentRetention(Conflict):
    """409: payments are financial records and are never deleted."""

    code = "payment_retention"


class InvalidStatusTransition(Conflict):
    """409: the invoice's status does not allow this change (already cancelled...)."""

    code = "invalid_status_transition"
