"""Pydantic schemas of the patients module.

Request bodies accept seed 000's field names as aliases of the canonical ones (DOMAIN.md):
``ssn`` -> ``national_id``, ``mobile_number`` -> ``mobile``, ``phone_number`` -> ``phone``,
``medical_number`` -> ``patient_number``; and seed 004's: ``first_name`` -> ``given_name``,
``last_name`` -> ``family_name``, ``address`` -> ``address_line``, ``state`` ->
``governorate``, ``emergency_contact_relationship`` -> ``emergency_contact_relation``.
Unknown fields are refused (422). ``full_name`` alone is split into given name (first
token) and family name (the rest). Responses always use the canonical names.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hms.patients import validators as v


class Gender(StrEnum):
    """Administrative gender (FHIR AdministrativeGender)."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> Gender | None:
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return None


class BloodType(StrEnum):
    """ABO group and RhD."""

    A_POS = "A+"
    A_NEG = "A-"
    B_POS = "B+"
    B_NEG = "B-"
    AB_POS = "AB+"
    AB_NEG = "AB-"
    O_POS = "O+"
    O_NEG = "O-"

    @classmethod
    def _missing_(cls, value: object) -> BloodType | None:
        if isinstance(value, str):
            upper = value.replace(" ", "").upper()
            for member in cls:
                if member.value == upper:
                    return member
        return None


class MaritalStatus(StrEnum):
    """Marital status (subset of FHIR v3 MaritalStatus, as words)."""

    SINGLE = "single"
    MARRIED = "married"
    DIVORCED = "divorced"
    WIDOWED = "widowed"
    SEPARATED = "separated"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> MaritalStatus | None:
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return None


#: Seed 000 and seed 004 (HCMS) name -> canonical name.
FIELD_ALIASES: dict[str, str] = {
    "ssn": "national_id",
    "mobile_number": "mobile",
    "phone_number": "phone",
    "medical_number": "patient_number",
    # Seed 004 section 6 ``patients``.
    "first_name": "given_name",
    "last_name": "family_name",
    "address": "address_line",
    "state": "governorate",
    "emergency_contact_relationship": "emergency_contact_relation",
}

_ALIASED = tuple(FIELD_ALIASES.values())
_PHONES = ("phone", "emergency_contact_phone")
_NAMES = ("given_name", "family_name", "full_name", "emergency_contact_name")

Text100 = Annotated[str, StringConstraints(max_length=100)]
Text255 = Annotated[str, StringConstraints(max_length=255)]


class _AliasConflict:
    """Placeholder put in a canonical field when its alias carried a different value, so the
    error is reported against that field."""

    def __init__(self, alias: str) -> None:
        self.alias = alias


def _prepare(data: Any, *, compose_full_name: bool) -> Any:
    """Map aliases to canonical names, blank strings to None, and split or compose names."""
    if not isinstance(data, dict):
        return data
    out = {k: (None if isinstance(val, str) and not val.strip() else val)
           for k, val in data.items()}
    for alias, canonical in FIELD_ALIASES.items():
        if alias not in out:
            continue
        value = out.pop(alias)
        if canonical in out and out[canonical] != value:
            out[canonical] = _AliasConflict(alias)
        else:
            out[canonical] = value
    full = out.get("full_name")
    if isinstance(full, str) and out.get("given_name") is None \
            and out.get("family_name") is None:
        out["given_name"], out["family_name"] = v.split_full_name(full)
    elif compose_full_name and full is None:
        given, family = out.get("given_name"), out.get("family_name")
        if isinstance(given, str | None) and isinstance(family, str | None) \
                and (given or family):
            out["full_name"] = v.compose_full_name(given, family)
    return out


def _alias_doc(schema: dict[str, Any]) -> None:
    """Document the seed 000 aliases in the OpenAPI schema."""
    props = schema.setdefault("properties", {})
    for alias, canonical in FIELD_ALIASES.items():
        if canonical in props:
            props[alias] = {
                **{k: val for k, val in props[canonical].items() if k != "description"},
                "title": alias,
                "description": f"Alias of `{canonical}` (seed 000 / seed 004 name).",
            }


def _raise(exc: v.InvalidValue) -> PydanticCustomError:
    return PydanticCustomError(exc.reason, exc.message)


class _PatientFields(BaseModel):
    """Fields shared by create and update, with their validators.

    ``date_of_birth`` and ``gender`` are declared before ``national_id`` on purpose: fields
    validate in order, and the national ID is checked against both.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra=_alias_doc)

    date_of_birth: date | None = Field(None, description="ISO date; not in the future")
    gender: Gender | None = None
    national_id: str | None = Field(
        None,
        description="14-digit Egyptian national ID (seed 000: `ssn`). Required unless "
        "passport_number or other_identifier is given.",
        examples=["29001010100015"],
    )
    passport_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    other_identifier: Annotated[str, StringConstraints(max_length=64)] | None = None
    patient_number: str | None = Field(
        None,
        description="Medical record number (seed 000: `medical_number`). Generated as "
        "PT-YYYYMMDD-NNNN when absent.",
    )
    full_name: Annotated[str, StringConstraints(min_length=2, max_length=255)] | None = None
    given_name: Text255 | None = None
    family_name: Text255 | None = None
    mobile: str | None = Field(
        None,
        description="Egyptian mobile, 11 digits `01[0125]xxxxxxxx` (seed 000: "
        "`mobile_number`); +20/0020 forms are accepted and stored as 11 digits.",
        examples=["01012345678"],
    )
    phone: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        None, description="Other phone (seed 000: `phone_number`)"
    )
    email: EmailStr | None = None
    address_line: Text255 | None = None
    city: Text100 | None = None
    governorate: Text100 | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Text100 | None = None
    blood_type: BloodType | None = None
    marital_status: MaritalStatus | None = None
    occupation: Text100 | None = None
    emergency_contact_name: Text255 | None = None
    emergency_contact_phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    emergency_contact_relation: Annotated[str, StringConstraints(max_length=50)] | None = None
    insurance_provider_id: uuid.UUID | None = Field(
        None, description="Primary insurance provider (seed 004); must exist")
    insurance_policy_number: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="Policy number with that provider (encrypted at rest)")

    @field_validator("*")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        # NUL and other control characters cannot be stored (PostgreSQL refuses NUL in text)
        # and have no place in a name, identifier or address.
        if isinstance(value, str) and v.has_control_characters(value):
            raise PydanticCustomError("control_characters",
                                      "must not contain control characters")
        return value

    @field_validator(*_ALIASED, "emergency_contact_phone", mode="before")
    @classmethod
    def _no_alias_conflict(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, _AliasConflict):
            raise PydanticCustomError(
                "alias_conflict",
                "given twice with different values, as {alias} and {field}",
                {"alias": value.alias, "field": info.field_name},
            )
        return value

    @field_validator("date_of_birth")
    @classmethod
    def _dob_in_past(cls, value: date | None) -> date | None:
        if value is not None and value > v.today_utc():
            raise PydanticCustomError("date_of_birth_future", "date_of_birth is in the future")
        if value is not None and value.year < 1880:
            raise PydanticCustomError("date_of_birth_too_old", "date_of_birth is before 1880")
        return value

    @field_validator("national_id")
    @classmethod
    def _national_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            v.check_national_id(value, date_of_birth=info.data.get("date_of_birth"),
                                gender=info.data.get("gender"))
        except v.InvalidValue as exc:
            raise _raise(exc) from None
        return value

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return v.normalize_mobile(value)
        except v.InvalidValue as exc:
            raise _raise(exc) from None

    @field_validator(*_PHONES)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return v.check_phone(value)
        except v.InvalidValue as exc:
            raise _raise(exc) from None

    @field_validator("patient_number")
    @classmethod
    def _patient_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return v.normalize_patient_number(value)
        except v.InvalidValue as exc:
            raise _raise(exc) from None

    @field_validator(*_NAMES)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return v.clean_name(value) if value is not None else None


class PatientCreate(_PatientFields):
    """Body of ``POST /patients``.

    Give ``full_name`` (split into given and family name) or ``given_name`` and
    ``family_name`` (joined into ``full_name``). When ``date_of_birth`` is absent it is
    taken from the national ID.
    """

    full_name: Annotated[str, StringConstraints(min_length=2, max_length=255)] = Field(
        description="Full name; or give given_name and family_name"
    )

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        return _prepare(data, compose_full_name=True)

    @model_validator(mode="after")
    def _derive_date_of_birth(self) -> PatientCreate:
        if self.national_id is not None and self.date_of_birth is None:
            self.date_of_birth = v.parse_national_id(self.national_id).birth_date
        return self


class PatientUpdate(_PatientFields):
    """Body of ``PUT /patients/{patient_ssn}``: every field optional, only the fields sent
    change (``null`` clears an optional field). Send the version you read in ``version`` or
    in an ``If-Match`` header."""

    version: int | None = Field(None, ge=1, le=2_000_000_000,
                                description="Version read (or send If-Match)")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        return _prepare(data, compose_full_name=False)


class IdentifierAccess(StrEnum):
    """How a response shows a patient's identifiers and contact details."""

    #: As stored: the caller holds ``patient:read_identifiers``.
    FULL = "full"
    #: National ID, passport and other identifier show their last digits only, phone
    #: numbers their last three digits, e-mail ``m***@domain``, the address line ``***``.
    MASKED = "masked"


#: Fields masked in :attr:`IdentifierAccess.MASKED` responses.
MASKED_FIELDS = ("national_id", "passport_number", "other_identifier", "mobile", "phone",
                 "email", "address_line", "emergency_contact_phone",
                 "insurance_policy_number")


class PatientRead(BaseModel):
    """A patient as returned by the API (canonical field names).

    Roles without ``patient:read_identifiers`` get the identifiers and contact details
    masked (``identifiers`` says which); ``GET /patients/{ref}/identifiers`` gives the full
    values to those who hold it.
    """

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_number: str
    national_id: str | None
    passport_number: str | None
    other_identifier: str | None
    given_name: str | None
    family_name: str | None
    full_name: str
    date_of_birth: date | None
    gender: str | None
    mobile: str | None
    phone: str | None
    email: str | None
    address_line: str | None
    city: str | None
    governorate: str | None
    postal_code: str | None
    country: str | None
    blood_type: str | None
    marital_status: str | None
    occupation: str | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    emergency_contact_relation: str | None
    insurance_provider_id: uuid.UUID | None = None
    insurance_policy_number: str | None = None
    deceased_at: datetime | None
    is_active: bool
    erased_at: datetime | None = Field(
        None, description="When the identifying data was erased (right to erasure)")
    source_system: str | None
    source_id: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    identifiers: IdentifierAccess = Field(
        IdentifierAccess.FULL,
        description="`masked`: national_id, passport_number and other_identifier show their "
        "last digits only (e.g. `**********0015`), phone numbers their last three digits, "
        "email `m***@domain`, address_line `***`. `full`: as stored.")


class PatientIdentifiers(BaseModel):
    """A patient's full identifiers and contact details (``GET /patients/{ref}/identifiers``,
    permission ``patient:read_identifiers``; every read is audited)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_number: str
    national_id: str | None
    passport_number: str | None
    other_identifier: str | None
    mobile: str | None
    phone: str | None
    email: str | None
    address_line: str | None
    emergency_contact_phone: str | None
    insurance_policy_number: str | None = None


class PatientSummary(BaseModel):
    """What other modules need to know about a patient."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_number: str
    national_id: str | None
    full_name: str
    date_of_birth: date | None
    gender: str | None
    insurance_provider_id: uuid.UUID | None = None
    deceased_at: datetime | None
    is_active: bool
    erased_at: datetime | None = Field(
        None, description="When the identifying data was erased (right to erasure)")


# --- Medical records (seed 004 section 6 ``medical_records``) ---------------------------

#: Longest text accepted in one medical-record history field (characters).
RECORD_TEXT_MAX = 10_000
RecordText = Annotated[str, StringConstraints(max_length=RECORD_TEXT_MAX)]
_RECORD_TEXT_FIELDS = ("allergies", "chronic_conditions", "family_medical_history",
                       "surgical_history", "immunization_history", "notes")


class _MedicalRecordFields(BaseModel):
    """Fields of a medical record a client writes (free text as in the seed; line breaks and
    tabs allowed, other control characters refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              populate_by_name=True)

    blood_type: BloodType | None = None
    allergies: RecordText | None = Field(
        None, description="Known allergies, separated by commas, semicolons or new lines "
        "(read by the prescription allergy check)", examples=["Penicillin; peanuts"])
    chronic_conditions: RecordText | None = None
    family_medical_history: RecordText | None = None
    surgical_history: RecordText | None = None
    immunization_history: RecordText | None = None
    notes: RecordText | None = None

    @field_validator(*_RECORD_TEXT_FIELDS)
    @classmethod
    def _printable_text(cls, value: str | None) -> str | None:
        if value is not None and v.has_control_characters(
                value.replace("\n", "").replace("\r", "").replace("\t", "")):
            raise PydanticCustomError("control_characters",
                                      "must not contain control characters")
        return value or None


class MedicalRecordCreate(_MedicalRecordFields):
    """Body of ``POST /medical-records``: a record for a patient who has none (every patient
    registered through the API already has one: 409 ``medical_record_exists``)."""

    patient_id: uuid.UUID


class MedicalRecordUpdate(_MedicalRecordFields):
    """Body of ``PUT /medical-records/{id}``: only the fields sent change (``null`` clears).
    Send the version you read in ``version`` or in an ``If-Match`` header."""

    version: int | None = Field(None, ge=1, le=2_000_000_000,
                                description="Version read (or send If-Match)")


class MedicalRecordRead(BaseModel):
    """A patient's medical record."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    blood_type: str | None
    allergies: str | None
    chronic_conditions: str | None
    family_medical_history: str | None
    surgical_history: str | None
    immunization_history: str | None
    notes: str | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
