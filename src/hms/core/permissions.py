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

    # -- seed 004 (HCMS) resources ------------------------------------------------------
    #: Deactivate (soft-delete) a patient registration (HCMS DELETE /patients/{id}).
    PATIENT_DELETE = "patient:delete"
    #: The staff directory (HCMS GET /users): names, roles, departments; no secrets.
    USER_READ = "user:read"
    DEPARTMENT_MANAGE = "department:manage"
    INSURANCE_PROVIDER_READ = "insurance_provider:read"
    INSURANCE_PROVIDER_MANAGE = "insurance_provider:manage"
    #: The detailed medical record (allergies, chronic conditions, histories). HCMS 11:
    #: nurses and receptionists "cannot view detailed medical records".
    MEDICAL_RECORD_READ = "medical_record:read"
    MEDICAL_RECORD_WRITE = "medical_record:write"
    APPOINTMENT_READ = "appointment:read"
    #: Book, reschedule, cancel, delete appointments (receptionist, HCMS 11).
    APPOINTMENT_WRITE = "appointment:write"
    APPOINTMENT_CHECK_IN = "appointment:check_in"
    #: Mark an appointment completed (the doctor who saw the patient).
    APPOINTMENT_COMPLETE = "appointment:complete"
    VITAL_SIGN_READ = "vital_sign:read"
    VITAL_SIGN_WRITE = "vital_sign:write"
    CONSULTATION_READ = "consultation:read"
    #: HCMS 11: "Only doctors can create prescriptions and order lab tests"; consultations
    #: are the doctor's note. Not part of the admin bundles.
    CONSULTATION_WRITE = "consultation:write"
    PRESCRIPTION_READ = "prescription:read"
    PRESCRIPTION_WRITE = "prescription:write"
    LAB_TEST_READ = "lab_test:read"
    LAB_TEST_ORDER = "lab_test:order"
    #: Collect the sample, start processing, enter results (lab staff, HCMS 10).
    LAB_TEST_PROCESS = "lab_test:process"
    SERVICE_READ = "service:read"
    SERVICE_MANAGE = "service:manage"
    INVOICE_READ = "invoice:read"
    INVOICE_WRITE = "invoice:write"
    PAYMENT_READ = "payment:read"
    PAYMENT_WRITE = "payment:write"
    #: Generate, list and download generated report files of every type (HCMS reports).
    REPORT_GENERATE = "report:generate"
    #: Generate, list and download the billing report types only (revenue,
    #: billing_summary): HCMS 11 "Billing Officer: generate billing reports".
    REPORT_GENERATE_BILLING = "report:generate_billing"


_CLINICAL_READ = {Perm.PATIENT_READ, Perm.VISIT_READ, Perm.FORM_READ, Perm.DOCUMENT_READ}

#: HCMS 11 "Only doctors can create prescriptions and order lab tests": these stay out of
#: the administrators' bundles (an admin account is not a prescriber).
PRESCRIBER_ONLY = frozenset(
    {Perm.CONSULTATION_WRITE, Perm.PRESCRIPTION_WRITE, Perm.LAB_TEST_ORDER}
)
_ALL_BUT_PRESCRIBING = frozenset(Perm) - PRESCRIBER_ONLY

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.SUPER_ADMIN: _ALL_BUT_PRESCRIBING,
    # Seed 000: "Admins: Full system access, user management, generate reports"; HCMS 11
    # Administrator: full access, users, departments, services, all reports and audit logs.
    Role.ADMIN: _ALL_BUT_PRESCRIBING,
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
            # HCMS 11 Nurse: record vital signs, view appointments and basic patient
            # information; no detailed medical record, no prescriptions or consultations.
            Perm.USER_READ,
            Perm.APPOINTMENT_READ,
            Perm.VITAL_SIGN_READ,
            Perm.VITAL_SIGN_WRITE,
        }
    ),
    # Seed 000: "Physicians: View open visits, complete radiology forms, update diagnoses".
    # No patient:read_identifiers: treating a patient needs the record, not the full national
    # ID, passport or phone numbers (HIPAA minimum necessary, 45 CFR 164.502(b)); physicians
    # see them masked (last digits only).
    Role.PHYSICIAN: frozenset(
        _CLINICAL_READ
        | {Perm.VISIT_UPDATE, Perm.DIAGNOSIS_WRITE, Perm.RADIOLOGY_ASSESSMENT_WRITE}
        # HCMS 11 Doctor: view and edit consultations, prescriptions, lab tests; view
        # patient medical records; no billing, no user accounts.
        | {
            Perm.USER_READ,
            Perm.MEDICAL_RECORD_READ,
            Perm.MEDICAL_RECORD_WRITE,
            Perm.APPOINTMENT_READ,
            Perm.APPOINTMENT_COMPLETE,
            Perm.VITAL_SIGN_READ,
            Perm.CONSULTATION_READ,
            Perm.CONSULTATION_WRITE,
            Perm.PRESCRIPTION_READ,
            Perm.PRESCRIPTION_WRITE,
            Perm.LAB_TEST_READ,
            Perm.LAB_TEST_ORDER,
            Perm.LAB_TEST_PROCESS,
        }
    ),
    # HCMS 11 Receptionist: manage appointments and patient registration, check in
    # patients; no detailed medical records, no billing information.
    Role.RECEPTIONIST: frozenset(
        {
            Perm.PATIENT_READ,
            Perm.PATIENT_WRITE,
            Perm.PATIENT_READ_IDENTIFIERS,
            Perm.PATIENT_DELETE,
            Perm.USER_READ,
            Perm.INSURANCE_PROVIDER_READ,
            Perm.APPOINTMENT_READ,
            Perm.APPOINTMENT_WRITE,
            Perm.APPOINTMENT_CHECK_IN,
        }
    ),
    Role.PHARMACIST: frozenset(),
    # HCMS 10 "Lab staff" collect samples and enter results.
    Role.LAB_TECHNICIAN: frozenset(
        {Perm.PATIENT_READ, Perm.LAB_TEST_READ, Perm.LAB_TEST_PROCESS}
    ),
    # HCMS 11 Billing Officer: create invoices, process payments, generate billing
    # reports; no medical record changes, no prescriptions or consultations.
    Role.BILLING_OFFICER: frozenset(
        {
            Perm.PATIENT_READ,
            Perm.USER_READ,
            Perm.INSURANCE_PROVIDER_READ,
            Perm.SERVICE_READ,
            Perm.INVOICE_READ,
            Perm.INVOICE_WRITE,
            Perm.PAYMENT_READ,
            Perm.PAYMENT_WRITE,
            Perm.REPORT_GENERATE_BILLING,
        }
    ),
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
