"""Audit schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field


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
    # Identity hardening (issue 3): lockout, password change, MFA, session revocation.
    LOGIN_LOCKED = "login_locked"
    PASSWORD_CHANGE = "password_change"
    MFA_ENROLL = "mfa_enroll"
    MFA_ENABLE = "mfa_enable"
    MFA_DISABLE = "mfa_disable"
    MFA_RECOVERY_USED = "mfa_recovery_used"
    SESSION_REVOKE = "session_revoke"
    DOWNLOAD = "download"
    #: A patient's identifying data erased (hms.privacy); the rows stay, the values go.
    ERASE = "erase"
    # A patient's full (unmasked) identifiers read through their own route (issue 3).
    READ_IDENTIFIERS = "read_identifiers"
    # Seed 004 (HCMS) workflow steps, each its own action so the trail reads like the day.
    STATUS_CHANGE = "status_change"
    CHECK_IN = "check_in"
    CANCEL = "cancel"
    COMPLETE = "complete"
    ISSUE = "issue"
    PAYMENT = "payment"
    DEACTIVATE = "deactivate"
    GENERATE = "generate"


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
    seq: int = Field(description="Position in the hash chain (1, 2, 3...)")
    prev_hash: str = Field(description="row_hash of the row before (64 zeros for row 1)")
    row_hash: str = Field(description="SHA-256 of this row's canonical JSON and prev_hash")

    @computed_field(  # type: ignore[prop-decorator]
        description="Values before the change (seed 004 audit_logs.old_values); "
                    "null for creates and reads")
    @property
    def old_values(self) -> dict[str, Any] | None:
        before = (self.changes or {}).get("before")
        return before if isinstance(before, dict) else None

    @computed_field(description="Values after the change (seed 004 audit_logs.new_values)")  # type: ignore[prop-decorator]
    @property
    def new_values(self) -> dict[str, Any] | None:
        after = (self.changes or {}).get("after")
        return after if isinstance(after, dict) else None

    @computed_field(description="Seed 004's name for occurred_at")  # type: ignore[prop-decorator]
    @property
    def created_at(self) -> datetime:
        return self.occurred_at


class AuditLogPage(BaseModel):
    """A page of audit rows, newest first. Pass ``next_cursor`` back as ``cursor`` for the
    next (older) page; it is null on the last page. No total: counting the trail is not
    free (STYLE 7)."""

    items: list[AuditEventRead]
    next_cursor: str | None


class ChainVerification(BaseModel):
    """Result of walking the audit hash chain (``hms audit verify``).

    ``ok`` is true when every row hashes to its ``row_hash``, links to the row before and
    ``seq`` has no gap (and the anchor, if given, matches). Otherwise ``kind``, ``seq`` and
    ``detail`` name the FIRST break found; ``checked`` rows before it are intact.
    """

    ok: bool
    checked: int = Field(description="Rows verified intact (the good prefix)")
    last_seq: int = Field(description="seq of the last intact row (0 when none)")
    last_hash: str = Field(description="row_hash of the last intact row (the tail when ok)")
    kind: str | None = Field(None, description="altered, inserted, deleted, anchor_mismatch")
    seq: int | None = Field(None, description="The first broken row")
    missing_from: int | None = None
    missing_to: int | None = None
    detail: str | None = None
