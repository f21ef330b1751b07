"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

#: medical_record:read and medical_record:write: administrators and doctors (HCMS 11:
#: nurses, receptionists and billing officers do not see or change detailed records).
_RECORD_USERS = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.PHYSICIAN})

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("GET", "/api/v1/patients/{patient_ssn}/details"): _RECORD_USERS,
    ("POST", "/api/v1/medical-records"): _RECORD_USERS,
    ("GET", "/api/v1/medical-records"): _RECORD_USERS,
    ("GET", "/api/v1/medical-records/{id}"): _RECORD_USERS,
    ("PUT", "/api/v1/medical-records/{id}"): _RECORD_USERS,
    ("DELETE", "/api/v1/medical-records/{id}"): _RECORD_USERS,
}
