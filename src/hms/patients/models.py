"""ORM classes of the patients module (private)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id


class Patient(TimestampMixin, Base):
    """A patient. ``patient_number`` is the MRN (the visit archive's "medical number");
    ``national_id`` is the 14-digit Egyptian national number (the visit archive's "SSN")."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("source_system", "source_id", name="uq_patients_source"),
        Index("ix_patients_name_search", "name_search"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_number: Mapped[str] = mapped_column(String(32), unique=True)
    national_id: Mapped[str | None] = mapped_column(String(14), unique=True)
    passport_number: Mapped[str | None] = mapped_column(String(32), index=True)
    other_identifier: Mapped[str | None] = mapped_column(String(64))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    # Lower-case, accent-stripped full name, for case- and accent-insensitive search.
    name_search: Mapped[str] = mapped_column(String(255))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    mobile: Mapped[str | None] = mapped_column(String(11), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    address_line: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    governorate: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    blood_type: Mapped[str | None] = mapped_column(String(3))
    marital_status: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str | None] = mapped_column(String(100))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(255))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(32))
    emergency_contact_relation: Mapped[str | None] = mapped_column(String(50))
    deceased_at: Mapped[datetime | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_system: Mapped[str | None] = mapped_column(String(200))
    source_id: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class PatientNumberCounter(Base):
    """Last sequence number handed out per registration day (PT-YYYYMMDD-NNNN)."""

    __tablename__ = "patient_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
