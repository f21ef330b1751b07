"""Audit schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditAction(StrEnum):
    """What happened."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SEARCH = "search"
    EXPORT = "export"
    IMPORT = "import"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_REFRESH = "token_refresh"
    TOKEN_REUSE = "token_reuse"
    DOWNLOAD = "download"


class AuditEventRead(BaseModel):
    """One audit row as returned to auditors."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    user_id: uuid.UUID | None
    username: str | None
    action: str
    entity_type: str
    entity_id: str | None
    patient_id: uuid.UUID | None
    changes: dict[str, Any] | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
