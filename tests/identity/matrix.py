"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

#: user:manage
_ADMINS = frozenset({Role.SUPER_ADMIN, Role.ADMIN})
#: user:read — the staff directory (HCMS 11: every staff role of seed 004)
_READERS = _ADMINS | {Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST, Role.BILLING_OFFICER}

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/users"): _ADMINS,
    ("GET", "/api/v1/users"): _READERS,
    ("GET", "/api/v1/users/{id}"): _READERS,
    ("GET", "/api/v1/users/{id}/details"): _READERS,
    ("PUT", "/api/v1/users/{id}"): _ADMINS,
    ("DELETE", "/api/v1/users/{id}"): _ADMINS,
}
