"""ORM classes of the patients module (private).

Identifiers and contact details are encrypted at rest (:class:`hms.core.crypto.
EncryptedString`, AES-256-GCM, each value bound to its column). The ones people search by
have a keyed blind index beside them (``*_bidx``, HMAC-SHA256 of the normalised value),
kept in step on every write (an attribute validator on :class:`Patient`, and
:func:`with_blind_indexes` for ``UPDATE`` statements); exact search and the national ID's
uniqueness go through those columns (btree indexes: lookups stay O(log n)). Names stay
plaintext so that partial, accent-insensitive name search keeps working (``name_search``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from hms.core.crypto import EncryptedString, Normalisation, blind_index
from hms.db.base import Base, TimestampMixin, new_id

#: Encrypted column -> (its blind-index column, HMAC purpose, normalisation).
BLIND_INDEXES: dict[str, tuple[str, str, Normalisation]] = {
    "national_id": ("national_id_bidx", "patients.national_id", "digits"),
    "mobile": ("mobile_bidx", "patients.mobile", "digits"),
    "phone": ("phone_bidx", "patients.phone", "digits"),
    "passport_number": ("passport_number_bidx", "patients.passport_number", "alphanumeric"),
}


def search_token(column: str, value: str) -> str:
    """The blind-index value of ``value`` for ``column`` (a key of :data:`BLIND_INDEXES`)."""
    _, purpose, normalisation = BLIND_INDEXES[column]
    return blind_index(value, purpose, normalisation)


def with_blind_indexes(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` plus the blind index of every indexed column among them (None for None),
    for writes that bypass the ORM attributes (``UPDATE ... SET``)."""
    out = dict(values)
    for column, (index_column, _, _) in BLIND_INDEXES.items():
        if column in values:
            value = values[column]
            out[index_column] = search_token(column, value) if value is not None else None
    return out


class Patient(TimestampMixin, Base):
    """A patient. ``patient_number`` is the MRN (the visit archive's "medical number");
    ``national_id`` is the 14-digit Egyptian national number (the visit archive's "SSN")."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_patients_source"),
        Index("ix_patients_name_search", "name_search", "id"),
        Index("ix_patients_is_active_created_at", "is_active", "created_at"),
        Index("ix_patients_full_name_id", "full_name", "id"),
        Index("ix_patients_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_number: Mapped[str] = mapped_column(String(32), unique=True)
    national_id: Mapped[str | None] = mapped_column(EncryptedString("patients.national_id"))
    # UNIQUE: one patient per national ID, enforced on the blind index.
    national_id_bidx: Mapped[str | None] = mapped_column(String(64), unique=True)
    passport_number: Mapped[str | None] = mapped_column(
        EncryptedString("patients.passport_number"))
    passport_number_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    other_identifier: Mapped[str | None] = mapped_column(
        EncryptedString("patients.other_identifier"))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    # Lower-case, accent-stripped full name, for case- and accent-insensitive search.
    name_search: Mapped[str] = mapped_column(String(255))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    mobile: Mapped[str | None] = mapped_column(EncryptedString("patients.mobile"))
    mobile_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString("patients.phone"))
    phone_bidx: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(EncryptedString("patients.email"))
    address_line: Mapped[str | None] = mapped_column(EncryptedString("patients.address_line"))
    city: Mapped[str | None] = mapped_column(String(100))
    governorate: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    blood_type: Mapped[str | None] = mapped_column(String(3))
    marital_status: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str | None] = mapped_column(String(100))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(255))
    emergency_contact_phone: Mapped[str | None] = mapped_column(
        EncryptedString("patients.emergency_contact_phone"))
    emergency_contact_relation: Mapped[str | None] = mapped_column(String(50))
    # Seed 004 section 6: primary insurer (hms.organization) and the policy number (an
    # identifier: encrypted at rest like the others).
    insurance_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("insurance_providers.id"), index=True)
    insurance_policy_number: Mapped[str | None] = mapped_column(
        EncryptedString("patients.insurance_policy_number"))
    deceased_at: Mapped[datetime | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when the patient's identifying data was erased (hms.privacy, patients.service.
    # erase_patient): the row stays so clinical records keep their patient.
    erased_at: Mapped[datetime | None] = mapped_column()
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    @validates(*BLIND_INDEXES)
    def _index(self, key: str, value: str | None) -> str | None:
        # Setting an indexed identifier sets its blind index too (constructor included).
        index_column = BLIND_INDEXES[key][0]
        setattr(self, index_column, search_token(key, value) if value is not None else None)
        return value


class PatientNameWord(Base):
    """One word used in some patient's folded name (``name_search``): the dictionary that
    typo-tolerant name search matches query words against (see
    :mod:`hms.patients.name_search`). Words are added as names are written; a word no
    patient uses any more is removed when a patient is erased."""

    __tablename__ = "patient_name_words"

    word: Mapped[str] = mapped_column(String(255), primary_key=True)


class PatientNumberCounter(Base):
    """Last sequence number handed out per registration day (PT-YYYYMMDD-NNNN)."""

    __tablename__ = "patient_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class MedicalRecord(TimestampMixin, Base):
    """A patient's medical record (seed 004 section 6 ``medical_records``): one per patient,
    created in the same transaction as the patient, never deleted (seed 004 14.7).

    The history fields are free text as in the seed; ``allergies`` is read by the
    prescription allergy check (``patients.service.allergies_of``). ``notes`` grows by one
    dated line per completed consultation (``append_to_medical_record``). ``version``
    guards updates (optimistic concurrency, seed 004 14.8).
    """

    __tablename__ = "medical_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), unique=True)
    blood_type: Mapped[str | None] = mapped_column(String(3))
    allergies: Mapped[str | None] = mapped_column(Text)
    chronic_conditions: Mapped[str | None] = mapped_column(Text)
    family_medical_history: Mapped[str | None] = mapped_column(Text)
    surgical_history: Mapped[str | None] = mapped_column(Text)
    immunization_history: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
