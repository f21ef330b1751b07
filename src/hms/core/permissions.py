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
    #: Full national ID, passport, phones, email and address of a patient; without it
    #: responses carry masked identifiers (seed 003's example response).
    PATIENT_READ_IDENTIFIERS = "patient:read_identifiers"
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
    #: Change the permission strings of roles (seed 003 4.4 "roles:*").
    ROLE_MANAGE = "role:manage"
    AUDIT_READ = "audit:read"
    #: Export all of a patient's data, JSON or FHIR R4 (seed 003 NFR-SEC-002, 8.2 GDPR
    #: right to access and portability).
    PATIENT_EXPORT = "patient:export"
    #: Request the erasure of a patient's identifying data, honouring retention and legal
    #: hold (seed 003 8.2 right to erasure, NFR-COMP-002).
    PATIENT_ERASE = "patient:erase"
    #: Place or lift a legal hold on a patient's records (seed 003 NFR-COMP-002).
    PATIENT_LEGAL_HOLD = "patient:legal_hold"


_CLINICAL_READ = {Perm.PATIENT_READ, Perm.VISIT_READ, Perm.FORM_READ, Perm.DOCUMENT_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.SUPER_ADMIN: frozenset(Perm),
    # Seed 000: "Admins: Full system access, user management, generate reports".
    Role.ADMIN: frozenset(Perm),
    # Seed 000: "Nurses: Create patients, create visits, fill nursing assessments, upload
    # documents". The nurse desk registers patients and checks their identity papers, so it
    # reads full identifiers (patient:read_identifiers).
    Role.NURSE: frozenset(
        _CLINICAL_READ
        | {
            Perm.PATIENT_WRITE,
            Perm.PATIENT_READ_IDENTIFIERS,
            Perm.VISIT_CREATE,
            Perm.VISIT_UPDATE,
            Perm.NURSING_ASSESSMENT_WRITE,
            Perm.DOCUMENT_WRITE,
        }
    ),
    # Seed 000: "Physicians: View open visits, complete radiology forms, update diagnoses".
    # No patient:read_identifiers: treating a patient needs the record, not the full national
    # ID, passport or phone numbers (HIPAA minimum necessary, 45 CFR 164.502(b)); physicians
    # see them masked (last digits only).
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


# -- permission strings with scopes (seed 003 4.3: ``resource:action[:scope]``) ------------


class Scope(StrEnum):
    """Row scope of a permission: which records of the resource the holder may reach.

    ``all`` (the same as no suffix): every record. ``department``: records of the holder's
    department. ``own``: records the holder is attached to (for a visit: its attending
    physician or the user who opened it).
    """

    ALL = "all"
    DEPARTMENT = "department"
    OWN = "own"


#: Permissions whose scope is enforced in queries, and the scopes each accepts. Any other
#: permission takes no suffix (or ``:all``): a scope nobody enforces would be a false promise.
SCOPABLE: dict[Perm, frozenset[Scope]] = {
    Perm.PATIENT_READ: frozenset(Scope),
    Perm.VISIT_READ: frozenset(Scope),
}


class InvalidGrant(ValueError):
    """A permission string that is not ``resource:action[:scope]`` of a known permission."""


def parse_grant(text: str) -> tuple[Perm, Scope]:
    """Split a permission string into its permission and scope.

    Args:
        text: ``resource:action`` or ``resource:action:scope`` (case-insensitive), e.g.
            ``visit:read:department``; no suffix means ``all``.

    Returns:
        ``(Perm, Scope)``.

    Raises:
        InvalidGrant: unknown ``resource:action``, unknown scope, or a scope on a
            permission that does not take one.

    Source: HMS seed 003 section 4.3 (permission format).
    """
    parts = text.strip().lower().split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidGrant(f"'{text}' is not resource:action[:scope]")
    try:
        perm = Perm(":".join(parts[:2]))
    except ValueError:
        raise InvalidGrant(f"unknown permission '{':'.join(parts[:2])}'") from None
    if len(parts) == 2:
        return perm, Scope.ALL
    try:
        scope = Scope(parts[2])
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise InvalidGrant(f"unknown scope '{parts[2]}' (one of: {allowed})") from None
    if scope is not Scope.ALL and scope not in SCOPABLE.get(perm, frozenset()):
        raise InvalidGrant(f"'{perm.value}' takes no scope")
    return perm, scope


def format_grant(perm: Perm, scope: Scope = Scope.ALL) -> str:
    """The canonical string of a grant: scopable permissions always carry their scope
    (``visit:read:all``), the others never do (``user:manage``)."""
    return f"{perm.value}:{scope.value}" if perm in SCOPABLE else perm.value


def default_grants(role: Role) -> list[str]:
    """The permission strings a role starts with (its :data:`ROLE_PERMISSIONS` bundle,
    scopable permissions at ``:all``), sorted. Roles are data: the database holds the
    live lists; these are what a new database is seeded with."""
    return sorted(format_grant(p) for p in permissions_for(role))
