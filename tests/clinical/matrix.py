"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
HCMS 11: nurses record vital signs; doctors view and edit consultations and prescriptions;
administrators read everything but do not prescribe ("Only doctors can create prescriptions",
hms.core.permissions.PRESCRIBER_ONLY); receptionists, billing officers and lab staff have no
clinical access here.
"""

from __future__ import annotations

from hms.core.permissions import Role

SA, AD, PH, NU = Role.SUPER_ADMIN, Role.ADMIN, Role.PHYSICIAN, Role.NURSE
ADMINS = frozenset({SA, AD})
VITALS_READ = ADMINS | {PH, NU}  # vital_sign:read
VITALS_WRITE = ADMINS | {NU}  # vital_sign:write
CLINICAL_READ = ADMINS | {PH}  # consultation:read, prescription:read
DOCTORS = frozenset({PH})  # consultation:write, prescription:write

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/vital-signs"): VITALS_WRITE,
    ("GET", "/api/v1/vital-signs"): VITALS_READ,
    ("GET", "/api/v1/vital-signs/{id}"): VITALS_READ,
    ("PUT", "/api/v1/vital-signs/{id}"): VITALS_WRITE,
    ("DELETE", "/api/v1/vital-signs/{id}"): VITALS_WRITE,
    ("POST", "/api/v1/consultations"): DOCTORS,
    ("GET", "/api/v1/consultations"): CLINICAL_READ,
    ("GET", "/api/v1/consultations/{id}"): CLINICAL_READ,
    ("GET", "/api/v1/consultations/{id}/details"): CLINICAL_READ,
    ("PUT", "/api/v1/consultations/{id}"): DOCTORS,
    ("DELETE", "/api/v1/consultations/{id}"): DOCTORS,
    ("POST", "/api/v1/consultations/{id}/complete"): DOCTORS,
    ("POST", "/api/v1/prescriptions"): DOCTORS,
    ("GET", "/api/v1/prescriptions"): CLINICAL_READ,
    ("GET", "/api/v1/prescriptions/{id}"): CLINICAL_READ,
    ("PUT", "/api/v1/prescriptions/{id}"): DOCTORS,
    ("DELETE", "/api/v1/prescriptions/{id}"): DOCTORS,
    ("GET", "/api/v1/patients/{id}/current-medications"): CLINICAL_READ,
}
