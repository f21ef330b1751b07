"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
``report:generate`` (administrators) or ``report:generate_billing`` (billing officer) opens
every route; the billing officer is then limited to the billing report types and to the
reports they generated (tests/reports/test_hcms_reports.py).
"""

from __future__ import annotations

from hms.core.permissions import Role

_REPORT_USERS = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.BILLING_OFFICER})

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/reports"): _REPORT_USERS,
    ("POST", "/api/v1/reports/generate"): _REPORT_USERS,
    ("GET", "/api/v1/reports"): _REPORT_USERS,
    ("GET", "/api/v1/reports/{id}"): _REPORT_USERS,
    ("GET", "/api/v1/reports/{id}/download"): _REPORT_USERS,
    ("PUT", "/api/v1/reports/{id}"): _REPORT_USERS,
    ("DELETE", "/api/v1/reports/{id}"): _REPORT_USERS,
}
