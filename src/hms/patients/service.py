"""Patient use cases: registration, lookup, search and update.

Public API for other modules: :func:`resolve`, :func:`get_summary`, :func:`create_patient`,
:func:`find_by_source`, :func:`generate_patient_number`, :func:`identifier_access` and
:func:`present_summary`. They return schemas, never ORM objects. Every read and write of
patient data records an audit event in the caller's transaction.

Identifiers and contact details are encrypted at rest (see ``models``); responses show them
in full only to callers holding ``patient:read_identifiers`` and masked to the others
(:class:`IdentifierAccess`), and each READ event records which (``identifiers``). Audit
snapshots of a patient carry those fields masked, so the audit trail holds no plaintext
identifier either.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hms.audit import service as audit_service
from hms.audit.schemas import AuditAction
from hms.core.auth import Principal
from hms.core.errors import (
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Perm
from hms.core.scoping import RowFilter
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.db.session import Database, create_engine
from hms.organization import service as organization_service
from hms.patients import validators as v
from hms.patients.bulk import bulk_load as bulk_load  # public: hms generate
from hms.patients.bulk import reserve_patient_numbers as reserve_patient_numbers
from hms.patients.bulk import taken_national_ids as taken_national_ids
from hms.patients.errors import (
    DuplicatePatient,
    MedicalRecordExists,
    MedicalRecordNotFound,
    MedicalRecordRetention,
    PatientNotActive,
    PatientNotFound,
)
from hms.patients.models import MedicalRecord, Patient
from hms.patients.name_search import NameQuery
from hms.patients.repository import (
    MedicalRecordRepository,
    NameWordRepository,
    PatientRepository,
    SearchCriteria,
    values_by_ref_in,
)
from hms.patients.schemas import (
    MASKED_FIELDS,
    IdentifierAccess,
    MedicalRecordCreate,
    MedicalRecordRead,
    MedicalRecordUpdate,
    PatientCreate,
    PatientIdentifiers,
    PatientRead,
    PatientSummary,
    PatientUpdate,
)

ENTITY = "patient"

#: Columns a client can write; the audited snapshot of a patient.
_WRITABLE = (
    "national_id", "passport_number", "other_identifier", "patient_number", "given_name",
    "family_name", "full_name", "date_of_birth", "gender", "mobile", "phone", "email",
    "address_line", "city", "governorate", "postal_code", "country", "blood_type",
    "marital_status", "occupation", "emergency_contact_name", "emergency_contact_phone",
    "emergency_contact_relation", "insurance_provider_id", "insurance_policy_number",
)

#: How many times a generated patient number is re-drawn when a client-chosen number
#: already took it.
_NUMBER_ATTEMPTS = 5


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


_MASKS = {
    "national_id": v.mask_national_id,
    "passport_number": lambda value: v.mask_tail(value, 3),
    "other_identifier": lambda value: v.mask_tail(value, 3),
    "mobile": v.mask_phone,
    "phone": v.mask_phone,
    "emergency_contact_phone": v.mask_phone,
    "email": v.mask_email,
    "address_line": lambda _: v.MASKED_TEXT,
    "insurance_policy_number": lambda value: v.mask_tail(value, 3),
}
assert set(_MASKS) == set(MASKED_FIELDS)


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with each identifier or contact field masked (None stays None)."""
    return {k: (_MASKS[k](val) if k in _MASKS and val is not None else val)
            for k, val in values.items()}


def _snapshot(patient: Patient) -> dict[str, Any]:
    """The audited picture of a patient: writable fields, identifiers masked (the audit
    trail must not become a plaintext copy of what is encrypted at rest)."""
    return _masked({name: getattr(patient, name) for name in _WRITABLE})


def _masked_diff(before: dict[str, Any], patient: Patient) -> dict[str, Any]:
    """The UPDATE audit payload: fields whose plaintext changed, with masked values (so a
    changed national ID is listed even when its last digits stay the same)."""
    changed = audit_service.diff(before, {name: getattr(patient, name) for name in _WRITABLE})
    return {side: _masked(values) for side, values in changed.items()}


#: The fields of :class:`PatientRead` read from the patient (``identifiers`` says how they
#: are shown).
_READ_FIELDS = tuple(name for name in PatientRead.model_fields if name != "identifiers")


def _present(patient: Patient, access: IdentifierAccess) -> PatientRead:
    """``patient`` as the caller may see it: identifiers and contact details masked unless
    ``access`` is FULL.

    Reads the values the ORM loaded (its instance dict; an attribute not loaded through the
    ORM), masks them and validates once, from a dict: 22 us a patient against 55 us for
    validating from attributes and copying the model to mask it (a search page presents
    20; measured 2026-12-07 on the bench machine)."""
    loaded = inspect(patient).dict
    return _present_values({name: loaded[name] if name in loaded else getattr(patient, name)
                            for name in _READ_FIELDS}, access)


def _present_values(values: Mapping[str, Any], access: IdentifierAccess) -> PatientRead:
    """As :func:`_present`, from a patient's column values by attribute name (at least
    every field of :class:`PatientRead`; other keys are ignored)."""
    shown = {name: values[name] for name in _READ_FIELDS}
    if access is not IdentifierAccess.FULL:
        shown = _masked(shown)
    shown["identifiers"] = access
    return PatientRead.model_validate(shown)


def identifier_access(actor: Principal) -> IdentifierAccess:
    """Whether ``actor`` sees full identifiers (``patient:read_identifiers``) or masked ones.

    Source: HIPAA minimum necessary standard, 45 CFR 164.502(b) and 164.514(d).
    """
    return (IdentifierAccess.FULL if actor.can(Perm.PATIENT_READ_IDENTIFIERS)
            else IdentifierAccess.MASKED)


def present_summary(summary: PatientSummary, access: IdentifierAccess) -> PatientSummary:
    """``summary`` as a caller with ``access`` may see it (national ID masked unless
    :attr:`IdentifierAccess.FULL`), for modules that put a patient summary in a response."""
    if access is IdentifierAccess.FULL or summary.national_id is None:
        return summary
    return summary.model_copy(update={"national_id": v.mask_national_id(summary.national_id)})


def _field_error(field: str, message: str, kind: str) -> list[dict[str, Any]]:
    return [{"field": field, "in": "body", "message": message, "type": kind}]


def _search_key(full_name: str) -> str:
    # Folding can lengthen a string (ligatures, sharp s); the column holds 255 characters.
    return v.fold_name(full_name)[:255]


_IDENTIFIER_REQUIRED = ("national_id is required unless passport_number or other_identifier "
                        "is given, or first and last name with date_of_birth (seed 004)")


def _identifiable(values: Any) -> bool:
    """Whether a registration identifies its patient: a national ID, passport number or
    other identifier (seed 000), or, as seed 004 section 6 registers patients, given and
    family name with the date of birth (the generated patient number then identifies the
    record). ``values``: a mapping or an object with those attributes."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k, None)
    return bool(get("national_id") or get("passport_number") or get("other_identifier")
                or (get("given_name") and get("family_name") and get("date_of_birth")))


async def _lookup(session: AsyncSession, ref: str | uuid.UUID,
                  within: RowFilter | None = None) -> Patient:
    patient = await PatientRepository(session).by_ref(str(ref), within=within)
    if patient is None:
        raise PatientNotFound()
    return patient


async def resolve(session: AsyncSession, ref: str | uuid.UUID, *,
                  within: RowFilter | None = None) -> PatientSummary:
    """Find a patient by any reference: UUID, patient number (PT-YYYYMMDD-NNNN, any case) or
    14-digit national ID. Not audited: the caller audits what it does with the patient.

    Args:
        ref: the reference as given by a client (path segment or body field).
        within: the caller's row scope on patients (see :data:`hms.core.scoping.RowFilter`),
            applied in the query; None for every patient.

    Returns:
        The patient's summary.

    Raises:
        PatientNotFound (404): no patient has that reference (within the scope).
    """
    return PatientSummary.model_validate(await _lookup(session, ref, within))


async def get_summary(session: AsyncSession, patient_id: uuid.UUID) -> PatientSummary:
    """Patient by id (not audited; see :func:`resolve`).

    Raises:
        PatientNotFound (404): no such patient.
    """
    patient = await PatientRepository(session).get(patient_id)
    if patient is None:
        raise PatientNotFound()
    return PatientSummary.model_validate(patient)


async def find_by_source(
    session: AsyncSession, source_system: str, source_id: str
) -> PatientSummary | None:
    """The patient imported from ``source_system`` with identifier ``source_id`` (e.g. a
    FHIR Patient's fullUrl system and id), or None. Lets importers be idempotent."""
    patient = await PatientRepository(session).by_source(source_system, source_id)
    return PatientSummary.model_validate(patient) if patient else None


async def get_patient(session: AsyncSession, ref: str | uuid.UUID, *,
                      access: IdentifierAccess,
                      within: RowFilter | None = None) -> PatientRead:
    """Read one patient's record by UUID, patient number or national ID; audited as READ
    with ``{"identifiers": "full" | "masked"}``.

    Args:
        access: how identifiers are shown (see :func:`identifier_access`).
        within: the caller's row scope on patients (``patient:read:department``...),
            applied in the query.

    Raises:
        PatientNotFound (404): no patient has that reference, or none in the scope.
    """
    values = await PatientRepository(session).values_by_ref(str(ref), within=within)
    if values is None:
        raise PatientNotFound()
    await audit_service.record(session, AuditAction.READ, ENTITY, values["id"],
                               patient_id=values["id"],
                               changes={"identifiers": access.value})
    return _present_values(values, access)


async def read_patient(db: Database, ref: str, *, access: IdentifierAccess) -> PatientRead:
    """:func:`get_patient` for a caller whose ``patient:read`` reaches every patient, with
    no session, on PostgreSQL (:func:`hms.db.session.sessionless_reads`; issue 5: an
    audited read at half the requests/s of a bare asyncpg read): the SELECT on a pooled
    connection of ``db.read_engine``, given back before the READ audit row
    (``{"identifiers": "full" | "masked"}``) joins the read trail's group commit, which
    knows of the read from before its SELECT (:func:`hms.audit.service.read_announced`);
    returns once that row is committed, as :func:`get_patient` does.

    Raises:
        PatientNotFound (404): no patient has that reference (no audit row then, as in
            :func:`get_patient`).
        sqlalchemy.exc.DBAPIError: the database failed the read or the audit append (a
            5xx; no answer without its audit row).
    """
    with audit_service.read_announced(db.read_engine) as audit:
        values = await values_by_ref_in(db.read_engine, str(ref))
        if values is None:
            raise PatientNotFound()
        await audit.record(ENTITY, values["id"], patient_id=values["id"],
                           changes={"identifiers": access.value})
    return _present_values(values, access)


async def get_identifiers(session: AsyncSession, ref: str | uuid.UUID, *,
                          within: RowFilter | None = None) -> PatientIdentifiers:
    """A patient's full identifiers and contact details (decrypted); audited as
    READ_IDENTIFIERS. The caller must hold ``patient:read_identifiers`` (checked by the
    route).

    Raises:
        PatientNotFound (404): no patient has that reference (within ``within``, the
            caller's row scope).
    """
    patient = await _lookup(session, ref, within)
    await audit_service.record(session, AuditAction.READ_IDENTIFIERS, ENTITY, patient.id,
                               patient_id=patient.id, changes={"identifiers": "full"})
    return PatientIdentifiers.model_validate(patient)


#: Small engines for the patient-number counter's own transactions, per database URL. Not
#: the request's pool: a request holding one of its connections must never wait for a
#: second one from the same pool (a full pool would then wait on itself).
_counter_engines: dict[URL, AsyncEngine] = {}


def _counter_engine(bind: AsyncEngine) -> AsyncEngine:
    engine = _counter_engines.get(bind.url)
    if engine is None:
        # Autocommit: the upsert is one atomic statement, so no BEGIN/COMMIT round trips.
        engine = _counter_engines[bind.url] = create_engine(
            bind.url.render_as_string(hide_password=False), pool_size=2,
        ).execution_options(isolation_level="AUTOCOMMIT")
    return engine


async def generate_patient_number(session: AsyncSession, day: date | None = None) -> str:
    """Hand out the next patient number of ``day``: ``PT-YYYYMMDD-NNNN``.

    The day's counter row is incremented with one atomic upsert, so concurrent
    registrations (other requests, the FHIR importer) never receive the same number.

    On PostgreSQL, when ``session`` is bound to the engine (a request's session), the
    increment commits in a transaction of its own: the counter row's lock then lasts one
    statement instead of the whole registration, which otherwise serialised every
    registration of the day behind the slowest (measured: registrations + visits capped at
    ~70/s, p95 0.6 s under 16 clients). A registration that then fails leaves a gap in the
    day's numbers; numbers identify, they do not count. Elsewhere (SQLite, whose writers
    are serialised anyway, or a session bound to a connection) the counter lives in the
    caller's transaction and a rolled-back registration gives its number back.

    Args:
        day: registration day; default today in UTC.

    Returns:
        e.g. ``PT-20250920-0007``; past 9,999 registrations a day the sequence has 5 digits.
    """
    day = day or v.today_utc()
    key = f"{day:%Y%m%d}"
    bind = session.bind
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        async with AsyncSession(_counter_engine(bind)) as own:
            sequence = await PatientRepository(own).next_number_sequence(key)
            await own.commit()
    else:
        sequence = await PatientRepository(session).next_number_sequence(key)
    return v.format_patient_number(day, sequence)


async def _duplicate_of(
    repo: PatientRepository,
    *,
    exclude: uuid.UUID | None,
    national_id: str | None = None,
    patient_number: str | None = None,
    source: tuple[str, str] | None = None,
) -> DuplicatePatient | None:
    """The conflict error for the first identifier another patient already holds."""
    checks: list[tuple[str, Patient | None]] = []
    if national_id:
        checks.append(("national_id", await repo.by_national_id(national_id)))
    if patient_number:
        checks.append(("patient_number", await repo.by_patient_number(patient_number)))
    if source:
        checks.append(("source", await repo.by_source(*source)))
    for field, other in checks:
        if other is not None and other.id != exclude:
            return DuplicatePatient(field, other.id, other.patient_number)
    return None


async def create_patient(
    session: AsyncSession,
    data: PatientCreate,
    *,
    created_by: uuid.UUID | None,
    source_system: str | None = None,
    source_id: str | None = None,
    audit: bool = True,
    deceased_at: datetime | None = None,
    access: IdentifierAccess = IdentifierAccess.FULL,
) -> PatientRead:
    """Register a patient.

    The patient number is the one given (if unique) or a new ``PT-YYYYMMDD-NNNN`` (see
    :func:`generate_patient_number`). Uniqueness of the national ID and patient number holds
    under concurrency: the insert runs in a SAVEPOINT and a unique violation becomes 409.

    Args:
        data: validated registration data (national ID already checked against date of
            birth and gender by the schema).
        created_by: the staff user registering the patient; None for imports.
        source_system, source_id: origin of an imported record (e.g. a FHIR server and the
            Patient id); an imported record need not carry a national ID.
        audit: record a CREATE audit event (importers that audit in bulk pass False).
        deceased_at: time of death (UTC-aware) for an imported record of a deceased patient.
        access: how the returned record shows identifiers (the HTTP route passes the
            caller's; importers keep the default, full).

    Returns:
        The stored patient; ``version`` is 1.

    Raises:
        ValidationFailed (422): no national ID, passport number or other identifier, nor
            given and family name with date of birth (and not an imported record); the
            error names ``national_id``.
        DuplicatePatient (409): the national ID, patient number or source record is already
            registered; ``existing_patient`` names the patient holding it.
    """
    if (source_system and len(source_system) > 200) or (source_id and len(source_id) > 100):
        raise ValidationFailed("Source identifiers too long", errors=_field_error(
            "source_id", "source_system is at most 200 and source_id 100 characters",
            "string_too_long"))
    if not (_identifiable(data) or source_id):
        raise ValidationFailed(
            "A national ID is required",
            errors=_field_error("national_id", _IDENTIFIER_REQUIRED, "missing"),
        )
    if data.insurance_provider_id is not None:
        await organization_service.require_insurance_provider(session,
                                                              data.insurance_provider_id)
    repo = PatientRepository(session)
    source = (source_system or "", source_id) if source_id else None
    duplicate = await _duplicate_of(repo, exclude=None, national_id=data.national_id,
                                    patient_number=data.patient_number, source=source)
    if duplicate is not None:
        raise duplicate
    values = {name: _plain(getattr(data, name)) for name in _WRITABLE}
    values["email"] = str(data.email) if data.email else None
    today = v.today_utc()
    for _ in range(_NUMBER_ATTEMPTS):
        # Drawn outside the savepoint: if the insert fails the counter stays incremented,
        # so a retry draws a new number.
        number = data.patient_number or await generate_patient_number(session, today)
        patient = Patient(
            **{**values, "patient_number": number},
            name_search=_search_key(data.full_name),
            is_active=True,
            created_by=created_by,
            source_system=source_system,
            source_id=source_id,
            deceased_at=deceased_at,
            version=1,
        )
        try:
            async with session.begin_nested():
                await repo.add(patient)
                await NameWordRepository(session).add([patient.name_search])
        except IntegrityError as exc:
            duplicate = await _duplicate_of(
                repo, exclude=None, national_id=data.national_id,
                patient_number=number if data.patient_number else None, source=source,
            )
            if duplicate is not None:
                raise duplicate from exc
            if data.patient_number is None and await repo.by_patient_number(number):
                continue  # a client-chosen number took the generated one; draw again
            raise Conflict("The patient could not be registered; retry") from exc
        break
    else:
        raise Conflict("Could not allocate a patient number; retry")
    # Seed 004 section 10 "Auto-Create Medical Record": same transaction as the patient.
    record = await _new_medical_record(session, patient.id, created_by=created_by,
                                       new_patient=True)
    if audit:
        await audit_service.record(session, AuditAction.CREATE, ENTITY, patient.id,
                                   patient_id=patient.id,
                                   changes={"after": _snapshot(patient),
                                            "medical_record_id": str(record.id)})
    return _present(patient, access)


async def update_patient(
    session: AsyncSession,
    ref: str | uuid.UUID,
    data: PatientUpdate,
    *,
    if_match: int | None,
    access: IdentifierAccess,
    within: RowFilter | None = None,
) -> PatientRead:
    """Change a patient's record, guarded by the version the client read.

    Only the fields sent change; ``null`` clears an optional field. The national ID is
    re-checked against the resulting date of birth and gender. The write is a compare-and-set
    on ``version`` (``UPDATE ... WHERE id = :id AND version = :v``), so of two clients
    holding the same version exactly one succeeds; ``version`` then goes up by one.

    Args:
        ref: UUID, patient number or national ID.
        data: the changes, optionally with ``version``.
        if_match: version from the ``If-Match`` header, if sent.
        access: how the returned record shows identifiers; with ``masked``, a field sent
            back equal to its masked form is left unchanged.

    Returns:
        The updated patient with its new ``version``. The UPDATE event's ``before`` and
        ``after`` carry identifiers masked.

    Raises:
        PatientNotFound (404): no patient has that reference.
        PreconditionRequired (428): neither ``If-Match`` nor ``version`` given.
        PreconditionFailed (412): the record changed since that version (or the two
            disagree).
        ValidationFailed (422): the merged record breaks a rule (national ID vs date of
            birth or gender, no identifier left, empty name); the error names the field.
        DuplicatePatient (409): the new national ID or patient number belongs to another
            patient.
    """
    repo = PatientRepository(session)
    patient = await _lookup(session, ref, within)  # out of the caller's scope: 404
    if data.version is not None and if_match is not None and data.version != if_match:
        raise PreconditionFailed("If-Match and version disagree")
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send If-Match or version with the version you read")
    if patient.version != expected:
        raise PreconditionFailed(
            f"Patient changed since version {expected}; current version is {patient.version}")

    sent = {k: _plain(val) for k, val in data.model_dump(exclude_unset=True,
                                                           exclude={"version"}).items()}
    if "email" in sent and sent["email"] is not None:
        sent["email"] = str(sent["email"])
    before = {name: getattr(patient, name) for name in _WRITABLE}
    if access is IdentifierAccess.MASKED:
        # A caller who sees masked values and sends one back unchanged (a client echoing
        # the record it read) is not changing it: never store "m***@example.org".
        sent = {k: val for k, val in sent.items()
                if not (k in _MASKS and val is not None and before[k] is not None
                        and val == _MASKS[k](before[k]))}
    merged = {**before, **sent}
    if "full_name" not in sent and ("given_name" in sent or "family_name" in sent):
        merged["full_name"] = v.compose_full_name(merged["given_name"], merged["family_name"])
    if not merged["full_name"] or len(merged["full_name"]) < 2:
        raise ValidationFailed("A name is required",
                               errors=_field_error("full_name", "a name is required", "missing"))
    if not (_identifiable(merged) or patient.source_id):
        raise ValidationFailed("A national ID is required", errors=_field_error(
            "national_id", _IDENTIFIER_REQUIRED, "missing"))
    if merged["national_id"]:
        try:
            info = v.check_national_id(merged["national_id"],
                                       date_of_birth=merged["date_of_birth"],
                                       gender=merged["gender"])
        except v.InvalidValue as exc:
            raise ValidationFailed(exc.message, errors=_field_error(
                "national_id", exc.message, exc.reason)) from None
        if merged["date_of_birth"] is None:
            merged["date_of_birth"] = info.birth_date

    changes = {k: val for k, val in merged.items() if before[k] != val}
    if changes.get("insurance_provider_id") is not None:
        await organization_service.require_insurance_provider(
            session, changes["insurance_provider_id"])
    if not changes:
        await audit_service.record(session, AuditAction.READ, ENTITY, patient.id,
                                   patient_id=patient.id,
                                   changes={"identifiers": access.value})
        return _present(patient, access)
    duplicate = await _duplicate_of(repo, exclude=patient.id,
                                    national_id=changes.get("national_id"),
                                    patient_number=changes.get("patient_number"))
    if duplicate is not None:
        raise duplicate
    if "full_name" in changes:
        changes["name_search"] = _search_key(changes["full_name"])
        await NameWordRepository(session).add([changes["name_search"]])
    try:
        async with session.begin_nested():
            updated = await repo.update_if_version(patient.id, expected,
                                                   {**changes, "updated_at": utcnow()})
    except IntegrityError as exc:
        duplicate = await _duplicate_of(repo, exclude=patient.id,
                                        national_id=changes.get("national_id"),
                                        patient_number=changes.get("patient_number"))
        raise (duplicate or Conflict("The patient could not be updated; retry")) from exc
    if not updated:
        raise PreconditionFailed("Patient changed since the version you read")
    await repo.refresh(patient)
    await audit_service.record(session, AuditAction.UPDATE, ENTITY, patient.id,
                               patient_id=patient.id,
                               changes=_masked_diff(before, patient))
    return _present(patient, access)


def _criteria(
    *, ssn: str | None, mobile: str | None, medical_number: str | None, name: str | None,
    q: str | None, passport: str | None = None,
) -> SearchCriteria:
    """Normalise search parameters.

    Raises:
        ValidationFailed (422): ``mobile`` is not an Egyptian mobile number.
    """
    national_ids = [ssn.strip()] if ssn else []
    try:
        mobiles = [v.normalize_mobile(mobile)] if mobile else []
    except v.InvalidValue as exc:
        raise ValidationFailed(exc.message, errors=[
            {"field": "mobile", "in": "query", "message": exc.message, "type": exc.reason}
        ]) from None
    number = medical_number.strip().upper() if medical_number else None
    name_query = NameQuery.parse(v.fold_name(name)) if name else None
    tokens: tuple[str, ...] = ()
    prefix: str | None = None
    identifier: str | None = None
    query = (q or "").strip()
    if query:
        compact = "".join(query.split())
        if compact.isascii() and compact.isdigit() and len(compact) == 14:
            national_ids.append(compact)
        elif v.looks_like_mobile(query):
            mobiles.append(v.normalize_mobile(query))
        elif query.upper().startswith("PT-"):
            prefix = query.upper()
        elif v.fold_name(query):
            if name_query is None:
                name_query = NameQuery.parse(v.fold_name(query))
                identifier = query.upper()
            else:  # ``name`` ranks; ``q`` beside it only filters
                tokens = tuple(v.fold_name(query).split())
    return SearchCriteria(
        national_ids=tuple(national_ids), mobiles=tuple(mobiles),
        passports=(passport.strip(),) if passport and passport.strip() else (),
        patient_number=number,
        patient_number_prefix=prefix, name_tokens=tokens, name_query=name_query,
        q_identifier=identifier,
    )


async def search_patients(
    session: AsyncSession,
    page: PageParams,
    *,
    ssn: str | None = None,
    mobile: str | None = None,
    medical_number: str | None = None,
    name: str | None = None,
    q: str | None = None,
    passport: str | None = None,
    access: IdentifierAccess,
    within: RowFilter | None = None,
) -> Page[PatientRead]:
    """Find patients; every criterion given must match (AND).

    National ID, mobile, passport and phone are matched through their blind indexes
    (indexed equality on an HMAC of the normalised value; the encrypted columns are never
    compared), so these lookups stay O(log n).

    Args:
        ssn: exact 14-digit national ID.
        mobile: Egyptian mobile in any accepted form (normalised to 11 digits).
        medical_number: exact patient number, any case.
        name: the name or its start, case- and accent-insensitive, typo-tolerant: every
            word must start a word of the name or be a close spelling of one (see
            :mod:`hms.patients.name_search` for the relevance order).
        q: any of the above: 14 digits -> national ID, a mobile number -> mobile,
            ``PT-...`` -> patient number prefix, otherwise a name or an exact custom
            patient number, passport number or phone number (holders of that number
            first).
        passport: exact passport number (case, spaces and dashes ignored).
        access: how identifiers are shown (see :func:`identifier_access`).
        within: the caller's row scope on patients; patients outside it are neither
            returned nor counted.

    Returns:
        A page. With a name: in relevance order, ``total`` counted up to 100
        (``total_exact`` false beyond) and pages reaching the first 1,000 matches.
        Otherwise ordered by full name, exact total.

    The search is audited as one SEARCH event listing the criteria used (names only, not
    values), the total and the returned patient ids, plus one READ per returned patient
    with ``identifiers`` ``full`` or ``masked``.
    """
    criteria = _criteria(ssn=ssn, mobile=mobile, medical_number=medical_number, name=name, q=q,
                         passport=passport)
    rows, total, exact = await PatientRepository(session).search(
        criteria, offset=page.offset, limit=page.page_size, within=within)
    items = [_present_values(p, access) for p in rows]
    used = [k for k, val in {"ssn": ssn, "mobile": mobile, "medical_number": medical_number,
                             "name": name, "q": q, "passport": passport}.items() if val]
    await audit_service.record(session, AuditAction.SEARCH, ENTITY, None, changes={
        "criteria": used, "total": total, "page": page.page,
        "patient_ids": [str(p.id) for p in items],
    })
    # Each returned patient's data was disclosed: one READ per patient keeps "who saw
    # patient X" answerable from the patient_id column alone.
    for p in items:
        await audit_service.record(session, AuditAction.READ, ENTITY, p.id, patient_id=p.id,
                                   changes={"via": "search", "identifiers": access.value})
    return Page[PatientRead](items=items, total=total, page=page.page,
                             page_size=page.page_size, total_exact=exact)


#: Fields :func:`erase_patient` clears: every identifier, contact detail and demographic
#: that points at the person. Gender and blood type stay (clinical data).
_ERASED_FIELDS = (
    "national_id", "passport_number", "other_identifier", "given_name", "family_name",
    "date_of_birth", "mobile", "phone", "email", "address_line", "city", "governorate",
    "postal_code", "country", "marital_status", "occupation", "emergency_contact_name",
    "emergency_contact_phone", "emergency_contact_relation", "source_system", "source_id",
    "insurance_policy_number",
)
ERASED_NAME = "Erased patient"


async def erase_patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientRead:
    """De-identify a patient for an honoured erasure request (hms.privacy decides whether
    the request may be honoured: retention and legal hold).

    The row stays, so visits, forms, vital signs, diagnoses and documents keep their patient
    and the audit trail (which references ids) stays intact: names become
    :data:`ERASED_NAME`, the patient number becomes ``ERASED-<24 hex of the id>``, every
    identifier, contact detail, demographic and import source in :data:`_ERASED_FIELDS` is
    set to None through the ORM path the encrypted columns use (their blind indexes are
    cleared with them), ``is_active`` becomes false and ``erased_at`` is set. Records an
    ``erase`` audit event naming the cleared fields (never their values).

    Args:
        patient_id: the patient's id.

    Returns:
        The de-identified patient (``version`` bumped).

    Raises:
        PatientNotFound (404): no such patient.
        Conflict (409): the patient was changed concurrently; retry.
    """
    repo = PatientRepository(session)
    patient = await repo.get(patient_id)
    if patient is None:
        raise PatientNotFound()
    now = utcnow()
    values: dict[str, Any] = {name: None for name in _ERASED_FIELDS}
    values.update(
        full_name=ERASED_NAME, name_search=_search_key(ERASED_NAME),
        patient_number=f"ERASED-{patient.id.hex[:24]}", is_active=False, erased_at=now,
        updated_at=now,
    )
    old_words = patient.name_search.split()
    if not await repo.update_if_version(patient.id, patient.version, values):
        raise Conflict("The patient changed during the erasure; retry")
    words = NameWordRepository(session)
    await words.add([values["name_search"]])
    await words.forget_unused(set(old_words) - set(values["name_search"].split()))
    await repo.refresh(patient)
    await audit_service.record(session, AuditAction.ERASE, ENTITY, patient.id,
                               patient_id=patient.id,
                               changes={"fields": [*_ERASED_FIELDS, "full_name",
                                                   "patient_number"]})
    return PatientRead.model_validate(patient)



# --- Seed 004 (HCMS): cross-module contract ---------------------------------------------

async def require_active_patient(session: AsyncSession, patient_id: uuid.UUID, *,
                                 field: str = "patient_id") -> PatientSummary:
    """The patient, if it may be scheduled or treated (seed 004 section 11: "only active
    users and patients can be scheduled"). Not audited (the caller audits its write).

    Args:
        field: the request field named in the error.

    Raises:
        PatientNotActive (422 ``patient_not_active``): no such patient, or it is inactive,
            deceased or erased; ``errors`` names ``field``.
    """
    patient = await PatientRepository(session).get(patient_id)
    if patient is None:
        raise PatientNotActive(field, "does not exist")
    if patient.erased_at is not None:
        raise PatientNotActive(field, "was erased")
    if patient.deceased_at is not None:
        raise PatientNotActive(field, "is deceased")
    if not patient.is_active:
        raise PatientNotActive(field, "is inactive")
    return PatientSummary.model_validate(patient)


async def patients_by_ids(session: AsyncSession,
                          ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PatientSummary]:
    """Summaries of these patients in one query (unknown ids are left out). Not audited:
    the caller audits the read it serves."""
    rows = await PatientRepository(session).by_ids(list(set(ids)))
    return {p.id: PatientSummary.model_validate(p) for p in rows}


async def get_medical_record(session: AsyncSession,
                             patient_id: uuid.UUID) -> MedicalRecordRead:
    """The patient's medical record (seed 004 ``medical_records``). Not audited: the caller
    audits what it serves (see :func:`read_medical_record` for the audited route read).

    Raises:
        MedicalRecordNotFound (404): the patient has no record (unknown patient).
    """
    record = await MedicalRecordRepository(session).by_patient(patient_id)
    if record is None:
        raise MedicalRecordNotFound("The patient has no medical record")
    return MedicalRecordRead.model_validate(record)


async def medical_records_by_patients(
        session: AsyncSession, patient_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, MedicalRecordRead]:
    """The records of these patients, keyed by patient id, in one query (not audited)."""
    rows = await MedicalRecordRepository(session).by_patients(list(set(patient_ids)))
    return {r.patient_id: MedicalRecordRead.model_validate(r) for r in rows}


_ALLERGY_SPLIT = re.compile(r"[,;\n\r]+")


def split_allergies(text: str | None) -> list[str]:
    """``text`` split on commas, semicolons and line breaks; entries stripped, empty ones
    dropped, order kept, duplicates (case-insensitive) dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for part in _ALLERGY_SPLIT.split(text or ""):
        entry = part.strip()
        if entry and entry.casefold() not in seen:
            seen.add(entry.casefold())
            out.append(entry)
    return out


async def allergies_of(session: AsyncSession, patient_id: uuid.UUID) -> list[str]:
    """The patient's recorded allergies (the medical record's ``allergies`` text, see
    :func:`split_allergies`); ``[]`` when none are recorded or the patient has no record.
    Used by the prescription allergy check (seed 004 sections 10-11)."""
    record = await MedicalRecordRepository(session).by_patient(patient_id)
    return split_allergies(record.allergies if record else None)


#: Longest note :func:`append_to_medical_record` accepts (characters).
APPEND_NOTE_MAX = 4000


async def append_to_medical_record(session: AsyncSession, patient_id: uuid.UUID, *,
                                   note: str, actor_id: uuid.UUID | None = None) -> None:
    """Append ``"YYYY-MM-DD: <note>"`` (UTC date) as a new line of the record's ``notes``
    (seed 004 section 10, consultation workflow step 8 "Update Medical Record"); one
    atomic UPDATE (``version`` + 1), audited as UPDATE with the appended line. Creates the
    record first if the patient has none. Flushes, never commits.

    Args:
        note: the text to add (line breaks folded into spaces; cut to
            :data:`APPEND_NOTE_MAX` characters).
        actor_id: the user the change is attributed to (``updated_by``); default the
            request's user (as the audit row records it).

    Raises:
        PatientNotFound (404): no such patient.
    """
    text = " ".join(note.split())[:APPEND_NOTE_MAX]
    if not text:
        return
    line = f"{v.today_utc():%Y-%m-%d}: {text}"
    repo = MedicalRecordRepository(session)
    values: dict[str, Any] = {"updated_at": utcnow(), "updated_by": actor_id}
    record_id = await repo.append_note(patient_id, line, values)
    if record_id is None:
        if await PatientRepository(session).get(patient_id) is None:
            raise PatientNotFound()
        await _new_medical_record(session, patient_id, created_by=actor_id)
        record_id = await repo.append_note(patient_id, line, values)
    assert record_id is not None
    await audit_service.record(session, AuditAction.UPDATE, RECORD_ENTITY, record_id,
                               patient_id=patient_id,
                               changes={"appended": {"notes": line}})


RECORD_ENTITY = "medical_record"
_RECORD_FIELDS = ("blood_type", "allergies", "chronic_conditions", "family_medical_history",
                  "surgical_history", "immunization_history", "notes")


def _record_snapshot(record: MedicalRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


async def _new_medical_record(session: AsyncSession, patient_id: uuid.UUID, *,
                              created_by: uuid.UUID | None,
                              values: dict[str, Any] | None = None,
                              new_patient: bool = False) -> MedicalRecord:
    """Insert a record in a SAVEPOINT; a concurrent insert for the same patient (unique
    ``patient_id``) becomes :class:`MedicalRecordExists`. ``new_patient``: the patient was
    inserted by this transaction, so no other can hold a record for it yet and the
    savepoint (two round trips) is skipped."""
    repo = MedicalRecordRepository(session)
    record = MedicalRecord(patient_id=patient_id, created_by=created_by, updated_by=created_by,
                           version=1, **(values or {}))
    if new_patient:
        await repo.add(record)
        return record
    try:
        async with session.begin_nested():
            await repo.add(record)
    except IntegrityError as exc:
        existing = await repo.by_patient(patient_id)
        if existing is not None:
            raise MedicalRecordExists(existing.id) from exc
        raise Conflict("The medical record could not be created; retry") from exc
    return record


async def create_medical_record(session: AsyncSession, data: MedicalRecordCreate, *,
                                created_by: uuid.UUID | None,
                                within: RowFilter | None = None) -> MedicalRecordRead:
    """``POST /medical-records``: a record for a patient who has none; audited CREATE.

    Raises:
        ValidationFailed (422): ``patient_id`` names no patient (within the caller's scope).
        MedicalRecordExists (409 ``medical_record_exists``): the patient has a record
            (seed 004 section 6: ``patient_id`` unique, one record per patient).
    """
    patient = await PatientRepository(session).by_ref(str(data.patient_id), within=within)
    if patient is None:
        raise ValidationFailed("Unknown patient", errors=_field_error(
            "patient_id", "no such patient", "not_found"))
    repo = MedicalRecordRepository(session)
    existing = await repo.by_patient(patient.id)
    if existing is not None:
        raise MedicalRecordExists(existing.id)
    values = {k: _plain(val) for k, val in data.model_dump(exclude={"patient_id"}).items()}
    record = await _new_medical_record(session, patient.id, created_by=created_by,
                                       values=values)
    await audit_service.record(session, AuditAction.CREATE, RECORD_ENTITY, record.id,
                               patient_id=patient.id,
                               changes={"after": _record_snapshot(record)})
    return MedicalRecordRead.model_validate(record)


async def _record_lookup(session: AsyncSession, record_id: uuid.UUID,
                         within: RowFilter | None) -> MedicalRecord:
    record = await MedicalRecordRepository(session).get(record_id)
    if record is None:
        raise MedicalRecordNotFound()
    if within is not None and await PatientRepository(session).by_ref(
            str(record.patient_id), within=within) is None:
        raise MedicalRecordNotFound()
    return record


async def read_medical_record(session: AsyncSession, record_id: uuid.UUID, *,
                              within: RowFilter | None = None) -> MedicalRecordRead:
    """``GET /medical-records/{id}``; audited READ.

    Raises:
        MedicalRecordNotFound (404): no such record (or its patient is outside ``within``).
    """
    record = await _record_lookup(session, record_id, within)
    await audit_service.record(session, AuditAction.READ, RECORD_ENTITY, record.id,
                               patient_id=record.patient_id)
    return MedicalRecordRead.model_validate(record)


class MedicalRecordSort(StrEnum):
    """Sort fields of ``GET /medical-records``."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


async def list_medical_records(
    session: AsyncSession, page: PageParams, *, patient_id: uuid.UUID | None,
    sort: str | None = None, within: RowFilter | None = None,
) -> Page[MedicalRecordRead]:
    """``GET /medical-records``: a page (filter ``patient_id``; sort by created/updated
    time, newest update first by default); one READ audit event per returned record.

    Args:
        sort: ``"-updated_at,created_at"`` (keys of :class:`MedicalRecordSort`).

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    columns = {MedicalRecordSort.CREATED_AT.value: MedicalRecord.created_at,
               MedicalRecordSort.UPDATED_AT.value: MedicalRecord.updated_at}
    keys = parse_sort(sort, MedicalRecordSort, [("updated_at", True)])
    order = [columns[f].desc() if desc else columns[f].asc() for f, desc in keys]
    rows, total = await MedicalRecordRepository(session).page(
        patient_id=patient_id, offset=page.offset, limit=page.page_size, order=order,
        within=within)
    for r in rows:
        await audit_service.record(session, AuditAction.READ, RECORD_ENTITY, r.id,
                                   patient_id=r.patient_id, changes={"via": "list"})
    return Page[MedicalRecordRead](items=[MedicalRecordRead.model_validate(r) for r in rows],
                                   total=total, page=page.page, page_size=page.page_size)


async def update_medical_record(
    session: AsyncSession, record_id: uuid.UUID, data: MedicalRecordUpdate, *,
    if_match: int | None, updated_by: uuid.UUID | None, within: RowFilter | None = None,
) -> MedicalRecordRead:
    """``PUT /medical-records/{id}``: change the fields sent (``null`` clears), guarded by
    the version read (If-Match or ``version``; compare-and-set, seed 004 14.8 optimistic
    locking); audited UPDATE with old and new values; ``version`` + 1, ``updated_at`` set.

    Raises:
        MedicalRecordNotFound (404), PreconditionRequired (428): no version given,
        PreconditionFailed (412): stale version (or If-Match and version disagree).
    """
    repo = MedicalRecordRepository(session)
    record = await _record_lookup(session, record_id, within)
    if data.version is not None and if_match is not None and data.version != if_match:
        raise PreconditionFailed("If-Match and version disagree")
    expected = data.version if data.version is not None else if_match
    if expected is None:
        raise PreconditionRequired("Send If-Match or version with the version you read")
    if record.version != expected:
        raise PreconditionFailed(
            f"Medical record changed since version {expected}; current version is "
            f"{record.version}")
    sent = {k: _plain(val) for k, val in data.model_dump(exclude_unset=True,
                                                           exclude={"version"}).items()}
    before = _record_snapshot(record)
    changes = {k: val for k, val in sent.items() if before[k] != val}
    if not changes:
        await audit_service.record(session, AuditAction.READ, RECORD_ENTITY, record.id,
                                   patient_id=record.patient_id)
        return MedicalRecordRead.model_validate(record)
    if not await repo.update_if_version(record.id, expected, {
            **changes, "updated_at": utcnow(), "updated_by": updated_by}):
        raise PreconditionFailed("Medical record changed since the version you read")
    await repo.refresh(record)
    await audit_service.record(session, AuditAction.UPDATE, RECORD_ENTITY, record.id,
                               patient_id=record.patient_id,
                               changes=audit_service.diff(before, _record_snapshot(record)))
    return MedicalRecordRead.model_validate(record)


async def delete_medical_record(session: AsyncSession, record_id: uuid.UUID, *,
                                within: RowFilter | None = None) -> None:
    """``DELETE /medical-records/{id}``: always refused, the row stays.

    Raises:
        MedicalRecordNotFound (404): no such record.
        MedicalRecordRetention (409 ``medical_record_retention``): medical records are
            never deleted (seed 004 14.7).
    """
    await _record_lookup(session, record_id, within)
    raise MedicalRecordRetention()


class PatientSort(StrEnum):
    """Sort fields of ``GET /patients``."""

    FULL_NAME = "full_name"
    FAMILY_NAME = "family_name"
    PATIENT_NUMBER = "patient_number"
    DATE_OF_BIRTH = "date_of_birth"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


async def list_patients(
    session: AsyncSession,
    page: PageParams,
    *,
    q: str | None = None,
    name: str | None = None,
    gender: str | None = None,
    is_active: bool | None = None,
    insurance_provider_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str | None = None,
    access: IdentifierAccess,
    within: RowFilter | None = None,
) -> Page[PatientRead]:
    """``GET /patients`` (seed 004): a filtered, sorted page of patients.

    Args:
        q, name: as in :func:`search_patients` (``q``: national ID, mobile, PT- prefix or
            name; ``name``: every word occurs, case- and accent-insensitive).
        gender: ``male`` / ``female`` / ``other`` / ``unknown``.
        is_active: only active (or only inactive) patients.
        insurance_provider_id: patients covered by this provider.
        date_from, date_to: registration (``created_at``) date range, inclusive, UTC days.
        sort: comma list of :class:`PatientSort` keys, ``-`` for descending; default
            ``full_name``.
        access: how identifiers are shown; within: the caller's row scope.

    Audited like a search: one SEARCH event (criteria names, total) and one READ per
    returned patient.

    Raises:
        ValidationFailed (422): unknown sort key, invalid mobile, or ``date_from`` after
            ``date_to``.
    """
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("date_from is after date_to", errors=[
            {"field": "date_from", "in": "query", "message": "must not be after date_to",
             "type": "invalid_date_range"}])
    keys = parse_sort(sort, PatientSort, [("full_name", False)])
    criteria = _criteria(ssn=None, mobile=None, medical_number=None, name=name, q=q)
    rows, total = await PatientRepository(session).filtered(
        criteria, gender=gender, is_active=is_active,
        insurance_provider_id=insurance_provider_id, date_from=date_from, date_to=date_to,
        order=keys, offset=page.offset, limit=page.page_size, within=within)
    items = [_present(p, access) for p in rows]
    used = [k for k, val in {"q": q, "name": name, "gender": gender, "is_active": is_active,
                             "insurance_provider_id": insurance_provider_id,
                             "date_from": date_from, "date_to": date_to}.items()
            if val is not None]
    await audit_service.record(session, AuditAction.SEARCH, ENTITY, None, changes={
        "criteria": used, "total": total, "page": page.page,
        "patient_ids": [str(p.id) for p in items],
    })
    for p in items:
        await audit_service.record(session, AuditAction.READ, ENTITY, p.id, patient_id=p.id,
                                   changes={"via": "list", "identifiers": access.value})
    return Page[PatientRead](items=items, total=total, page=page.page,
                             page_size=page.page_size)


async def deactivate_patient(session: AsyncSession, ref: str | uuid.UUID, *,
                             access: IdentifierAccess,
                             within: RowFilter | None = None) -> PatientRead:
    """``DELETE /patients/{ref}`` (seed 004 14.7 soft delete): ``is_active`` becomes false
    (``version`` + 1), audited DEACTIVATE. The row, its medical record and every clinical
    record stay; an inactive patient can no longer be booked
    (:func:`require_active_patient`). Deactivating an inactive patient changes nothing
    (idempotent, no new event).

    Raises:
        PatientNotFound (404): no such patient (within the caller's scope).
        Conflict (409): changed concurrently; retry.
    """
    repo = PatientRepository(session)
    patient = await _lookup(session, ref, within)
    if not patient.is_active:
        return _present(patient, access)
    if not await repo.update_if_version(patient.id, patient.version,
                                        {"is_active": False, "updated_at": utcnow()}):
        raise Conflict("The patient changed concurrently; retry")
    await repo.refresh(patient)
    await audit_service.record(session, AuditAction.DEACTIVATE, ENTITY, patient.id,
                               patient_id=patient.id,
                               changes={"before": {"is_active": True},
                                        "after": {"is_active": False}})
    return _present(patient, access)
