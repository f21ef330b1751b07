"""ORM classes of the organization module (private): departments and insurance providers
(seed 004 section 6)."""

from __future__ import annotations

import uuid

from sqlalchemy import Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hms.db.base import Base, TimestampMixin, new_id


class Department(TimestampMixin, Base):
    """An organizational unit of the facility [FHIR Organization] (seed 004 ``departments``).

    ``name`` is unique case-insensitively (a functional unique index on ``lower(name)``).
    Users, services and appointments reference it by id (foreign keys without cascade: a
    referenced department cannot be deleted, HCMS ``department_in_use``).
    """

    __tablename__ = "departments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(2000))


class InsuranceProvider(TimestampMixin, Base):
    """An insurance company the facility accepts [FHIR Organization, type ins]
    (seed 004 ``insurance_providers``). Patients reference it by id (no cascade: a
    referenced provider cannot be deleted, HCMS ``insurance_provider_in_use``)."""

    __tablename__ = "insurance_providers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    contact_person: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(500))
    coverage_policy: Mapped[str | None] = mapped_column(Text)


# Case-insensitive uniqueness of the names (both databases support expression indexes).
Index("uq_departments_lower_name", func.lower(Department.name), unique=True)
Index("uq_insurance_providers_lower_name", func.lower(InsuranceProvider.name), unique=True)
