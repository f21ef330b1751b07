"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

_ALL = frozenset(Role)
#: department:manage, insurance_provider:manage
_ADMINS = frozenset({Role.SUPER_ADMIN, Role.ADMIN})
#: insurance_provider:read (the front desk and billing see the insurer list)
_PROVIDER_READERS = _ADMINS | {Role.RECEPTIONIST, Role.BILLING_OFFICER}

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/departments"): _ADMINS,
    ("GET", "/api/v1/departments"): _ALL,  # any signed-in user
    ("GET", "/api/v1/departments/{id}"): _ALL,
    ("PUT", "/api/v1/departments/{id}"): _ADMINS,
    ("DELETE", "/api/v1/departments/{id}"): _ADMINS,
    ("POST", "/api/v1/insurance-providers"): _ADMINS,
    ("GET", "/api/v1/insurance-providers"): _PROVIDER_READERS,
    ("GET", "/api/v1/insurance-providers/{id}"): _PROVIDER_READERS,
    ("PUT", "/api/v1/insurance-providers/{id}"): _ADMINS,
    ("DELETE", "/api/v1/insurance-providers/{id}"): _ADMINS,
}
