"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
HCMS 11: administrators and billing officers only; doctors, nurses, receptionists, lab
staff get 403 on every billing route. The catalogue is configured by administrators
(service:manage) and read by billing officers (service:read).
"""

from __future__ import annotations

from hms.core.permissions import Role

ADMINS = frozenset({Role.SUPER_ADMIN, Role.ADMIN})
BILLING = ADMINS | {Role.BILLING_OFFICER}

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/services"): ADMINS,
    ("GET", "/api/v1/services"): BILLING,
    ("GET", "/api/v1/services/{id}"): BILLING,
    ("PUT", "/api/v1/services/{id}"): ADMINS,
    ("DELETE", "/api/v1/services/{id}"): ADMINS,
    ("POST", "/api/v1/invoices"): BILLING,
    ("GET", "/api/v1/invoices"): BILLING,
    ("GET", "/api/v1/invoices/{id}"): BILLING,
    ("GET", "/api/v1/invoices/{id}/details"): BILLING,
    ("PUT", "/api/v1/invoices/{id}"): BILLING,
    ("DELETE", "/api/v1/invoices/{id}"): BILLING,
    ("POST", "/api/v1/invoices/{id}/issue"): BILLING,
    ("POST", "/api/v1/invoice-line-items"): BILLING,
    ("GET", "/api/v1/invoice-line-items"): BILLING,
    ("GET", "/api/v1/invoice-line-items/{id}"): BILLING,
    ("PUT", "/api/v1/invoice-line-items/{id}"): BILLING,
    ("DELETE", "/api/v1/invoice-line-items/{id}"): BILLING,
    ("POST", "/api/v1/payments"): BILLING,
    ("POST", "/api/v1/payments/process"): BILLING,
    ("GET", "/api/v1/payments"): BILLING,
    ("GET", "/api/v1/payments/{id}"): BILLING,
    ("PUT", "/api/v1/payments/{id}"): BILLING,
    ("DELETE", "/api/v1/payments/{id}"): BILLING,
}
