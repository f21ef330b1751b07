"""The list of domain routers mounted by :func:`hms.main.create_app`.

Each domain module exposes ``router`` in its ``router.py``; keeping the list in one place
makes the route table easy to audit (the role-matrix test walks every route the app has).
"""

from __future__ import annotations

from fastapi import APIRouter


def domain_routers() -> list[APIRouter]:
    """Routers of the domain modules, in mount order."""
    from hms.audit.router import router as audit
    from hms.billing.router import router as billing
    from hms.clinical.router import router as clinical
    from hms.documents.router import router as documents
    from hms.fhir.router import router as fhir
    from hms.forms.router import router as forms
    from hms.lab.router import router as lab
    from hms.organization.router import router as organization
    from hms.patients.router import router as patients
    from hms.privacy.router import router as privacy
    from hms.records.router import router as records
    from hms.reports.router import router as reports
    from hms.scheduling.router import router as scheduling
    from hms.visits.router import router as visits

    return [organization, patients, records, scheduling, visits, clinical, lab, billing, forms,
            documents, reports, fhir, privacy, audit]
