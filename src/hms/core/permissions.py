"""Roles and permission strings ``resource:action[:scope]`` (HMS seed 4.3).

Roles are bundles of permissions. The unified role set is DOMAIN.md's; the visit archive's
nurse / physician / admin have their rights here, the other roles get theirs in later work.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Unified staff roles (DOMAIN.md). ``doctor`` and ``accountant`` are accepted aliases."""

    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    PHYSICIAN = "physician"
    NURSE = "nurse"
    RECEPTIONIST = "receptionist"
    PHARMACIST = "pharmacist"
    LAB_TECHNICIAN = "lab_technician"
    BILLING_OFFICER = "billing_officer"
    PATIENT = "patient"

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        aliases = {
            "doctor": cls.PHYSICIAN,
            "accountant": cls.BILLING_OFFICER,
            "administrator": cls.ADMIN,
            "hospital_admin": cls.ADMIN,
        }
        if isinstance(value, str):
            lowered = value.lower()
            if lowered in aliases:
                return aliases[lowered]
            for member in cls:
                if member.value == lowered:
                    return member
        return None


class Perm(StrEnum):
    """Every permission a route can require."""

    PATIENT_READ = "patient:read"
    PATIENT_WRITE = "patient:write"
    VISIT_READ = "visit:read"
    VISIT_CREATE = "visit:create"
    VISIT_UPDATE = "visit:update"
    DIAGNOSIS_WRITE = "diagnosis:write"
    FORM_READ = "form:read"
    NURSING_ASSESSMENT_WRITE = "nursing_assessment:write"
    RADIOLOGY_ASSESSMENT_WRITE = "radiology_assessment:write"
    DOCUMENT_READ = "document:read"
    DOCUMENT_WRITE = "document:write"
    REPORT_READ = "report:read"
    USER_MANAGE = "user:manage"
    AUDIT_READ = "audit:read"


_CLINICAL_READ = {Perm.PATIENT_READ, Perm.VISIT_READ, Perm.FORM_READ, Perm.DOCUMENT_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.SUPER_ADMIN: frozenset(Perm),
    # Seed 000: "Admins: Full system access, user management, generate reports".
    Role.ADMIN: frozenset(Perm),
    # Seed 000: "Nurses: Create patients, create visits, fill nursing assessments, upload
    # documents".
    Role.NURSE: frozenset(
        _CLINICAL_READ
        | {
            Perm.PATIENT_WRITE,
            Perm.VISIT_CREATE,
            Perm.VISIT_UPDATE,
            Perm.NURSING_ASSESSMENT_WRITE,
            Perm.DOCUMENT_WRITE,
        }
    ),
    # Seed 000: "Physicians: View open visits, complete radiology forms, update diagnoses".
    Role.PHYSICIAN: frozenset(
        _CLINICAL_READ
        | {Perm.VISIT_UPDATE, Perm.DIAGNOSIS_WRITE, Perm.RADIOLOGY_ASSESSMENT_WRITE}
    ),
    Role.RECEPTIONIST: frozenset(),
    Role.PHARMACIST: frozenset(),
    Role.LAB_TECHNICIAN: frozenset(),
    Role.BILLING_OFFICER: frozenset(),
    Role.PATIENT: frozenset(),
}


def permissions_for(role: Role) -> frozenset[Perm]:
    """The permissions a role grants."""
    return ROLE_PERMISSIONS.get(role, frozenset())
