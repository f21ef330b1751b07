"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

_ADMINS = frozenset({Role.SUPER_ADMIN, Role.ADMIN})
#: appointment:read — admins, doctors, nurses (HCMS 11 "view appointments"), front desk.
_READERS = _ADMINS | {Role.PHYSICIAN, Role.NURSE, Role.RECEPTIONIST}
#: appointment:write — the front desk manages appointments (HCMS 11 Receptionist).
_WRITERS = _ADMINS | {Role.RECEPTIONIST}
#: appointment:check_in
_CHECK_IN = _ADMINS | {Role.RECEPTIONIST}
#: appointment:complete — the doctor who saw the patient (and administrators).
_COMPLETE = _ADMINS | {Role.PHYSICIAN}

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/appointments"): _WRITERS,
    ("GET", "/api/v1/appointments"): _READERS,
    ("GET", "/api/v1/appointments/{id}"): _READERS,
    ("GET", "/api/v1/appointments/{id}/details"): _READERS,
    ("PUT", "/api/v1/appointments/{id}"): _WRITERS,
    ("DELETE", "/api/v1/appointments/{id}"): _WRITERS,
    ("POST", "/api/v1/appointments/{id}/check-in"): _CHECK_IN,
    ("POST", "/api/v1/appointments/{id}/cancel"): _WRITERS,
    ("POST", "/api/v1/appointments/{id}/complete"): _COMPLETE,
}
