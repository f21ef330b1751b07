"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

#: patient:read (seed 004 adds the front desk, billing and the laboratory).
_PATIENT_READERS = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.PHYSICIAN, Role.NURSE,
                              Role.RECEPTIONIST, Role.BILLING_OFFICER, Role.LAB_TECHNICIAN})
#: patient:delete (deactivate): administrators and the receptionist (HCMS 11).
_DEACTIVATORS = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.RECEPTIONIST})

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/api/v1/patients"): _PATIENT_READERS,
    ("DELETE", "/api/v1/patients/{patient_ssn}"): _DEACTIVATORS,
}
