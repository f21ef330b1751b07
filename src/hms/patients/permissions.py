"""Auth dependencies of the patients routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hms.core.auth import Principal, require
from hms.core.permissions import Perm

ReadPatients = Annotated[Principal, Depends(require(Perm.PATIENT_READ))]
WritePatients = Annotated[Principal, Depends(require(Perm.PATIENT_WRITE))]
