"""Reference data for ``hms demo``: the departments, an insurer and the price catalogue a
seed 004 client needs before its first booking (synthetic; prices in the facility's
currency, 2 decimals). Idempotent: rows that exist by name are left as they are."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from hms.billing import service as billing_service
from hms.billing.schemas import ServiceCreate, ServiceType
from hms.core.auth import Principal
from hms.core.pagination import PageParams
from hms.core.permissions import Role, permissions_for
from hms.organization import service as organization_service
from hms.organization.schemas import DepartmentCreate, InsuranceProviderCreate

DEPARTMENTS = {
    "Internal Medicine": "Adult outpatient clinics and admissions",
    "Radiology": "Imaging: X-ray, CT, MRI, ultrasound",
    "Emergency": "24-hour emergency department",
    "Pediatrics": "Children's clinics",
    "Laboratory": "Clinical chemistry, hematology, microbiology",
}

#: (name, type, price, minutes, department)
SERVICES = [
    ("Outpatient consultation", ServiceType.CONSULTATION, "350.00", 30, "Internal Medicine"),
    ("Follow-up consultation", ServiceType.CONSULTATION, "200.00", 15, "Internal Medicine"),
    ("Complete blood count", ServiceType.LAB_TEST, "120.50", None, "Laboratory"),
    ("C-reactive protein", ServiceType.LAB_TEST, "95.00", None, "Laboratory"),
    ("Chest X-ray", ServiceType.IMAGING, "300.00", 15, "Radiology"),
    ("CT head without contrast", ServiceType.IMAGING, "1450.00", 30, "Radiology"),
    ("Wound dressing", ServiceType.PROCEDURE, "80.00", 15, "Emergency"),
    ("Influenza vaccination", ServiceType.VACCINATION, "250.00", 10, "Pediatrics"),
]


def _system_actor() -> Principal:
    return Principal(user_id=uuid.UUID(int=0), username="hms-demo", role=Role.ADMIN,
                     permissions=permissions_for(Role.ADMIN), session_id=uuid.UUID(int=0),
                     token_id="hms-demo")


async def ensure_reference_data(session: AsyncSession) -> dict[str, uuid.UUID]:
    """Create the demo departments, one insurer and the service catalogue when missing.

    Returns:
        Department name -> id (to place the demo staff in a department).
    """
    departments: dict[str, uuid.UUID] = {}
    for name, description in DEPARTMENTS.items():
        found = await organization_service.department_by_name(session, name)
        if found is None:
            found = await organization_service.create_department(
                session, DepartmentCreate(name=name, description=description))
        departments[name] = found.id
    insurers = await organization_service.list_insurance_providers(
        session, PageParams(page=1, page_size=5), q="Nile Health")
    if insurers.total == 0:
        await organization_service.create_insurance_provider(session, InsuranceProviderCreate(
            name="Nile Health Insurance (demo)", contact_person="Claims desk",
            phone="0223456789", email="claims@nile-health.example",
            coverage_policy="80% of outpatient services; imaging needs pre-approval"))
    actor = _system_actor()
    for name, kind, price, minutes, department in SERVICES:
        existing = await billing_service.list_services(
            session, PageParams(page=1, page_size=5), q=name)
        if any(s.name == name for s in existing.items):
            continue
        await billing_service.create_service(session, actor, ServiceCreate(
            name=name, service_type=kind, default_price=Decimal(price),
            default_duration_minutes=minutes, department_id=departments[department]))
    return departments
