"""Auth dependencies of the patients routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hms.core.auth import Principal, require
from hms.core.permissions import Perm
from hms.core.scoping import RowFilter
from hms.visits import service as visits_service

ReadPatients = Annotated[Principal, Depends(require(Perm.PATIENT_READ))]
WritePatients = Annotated[Principal, Depends(require(Perm.PATIENT_WRITE))]
DeletePatients = Annotated[Principal, Depends(require(Perm.PATIENT_DELETE))]
ReadIdentifiers = Annotated[Principal, Depends(require(Perm.PATIENT_READ_IDENTIFIERS))]


def readable_by(actor: Principal) -> RowFilter | None:
    """The patients ``actor`` may read under its ``patient:read`` scope, as a query
    predicate (``:department``: a visit in the actor's department; ``:own``: a visit the
    actor attends or opened); None for ``:all``. Patients outside it are not found (404).

    Source: HMS seed 003 section 4.3 (``patients:read:department``).
    """
    return visits_service.patient_filter(actor, Perm.PATIENT_READ)
