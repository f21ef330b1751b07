"""Role-matrix rows of this module's seed 004 routes (merged by tests/test_role_matrix.py).

Each key is (METHOD, OpenAPI path); each value the roles that may call it, or "public".
"""

from __future__ import annotations

from hms.core.permissions import Role

SA, AD, PH, LT = Role.SUPER_ADMIN, Role.ADMIN, Role.PHYSICIAN, Role.LAB_TECHNICIAN
#: lab_test:read and lab_test:process: administrators, doctors, lab staff.
LAB = frozenset({SA, AD, PH, LT})
#: lab_test:order: doctors only (seed 004 11.3; not in the admin bundles).
ORDER = frozenset({PH})

ROWS: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/lab-tests"): ORDER,
    ("GET", "/api/v1/lab-tests"): LAB,
    ("GET", "/api/v1/lab-tests/{id}"): LAB,
    ("PUT", "/api/v1/lab-tests/{id}"): LAB,
    ("DELETE", "/api/v1/lab-tests/{id}"): LAB,
    ("POST", "/api/v1/lab-tests/{id}/collect-sample"): LAB,
    ("POST", "/api/v1/lab-tests/{id}/enter-results"): LAB,
}
