"""The list of domain routers mounted by :func:`hms.main.create_app`.

Each domain module adds its router here; keeping the list in one place makes the route
table easy to audit (the role-matrix test walks every route the app has).
"""

from __future__ import annotations

from fastapi import APIRouter


def domain_routers() -> list[APIRouter]:
    """Routers of the domain modules, in mount order."""
    routers: list[APIRouter] = []
    return routers
