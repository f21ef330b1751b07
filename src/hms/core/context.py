"""Per-request context (request id, client IP, user agent, actor) kept in contextvars.

The audit trail reads it so services need not pass HTTP details around.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the audit trail records about where a call came from."""

    request_id: str = ""
    ip: str | None = None
    user_agent: str | None = None
    user_id: uuid.UUID | None = None
    username: str | None = None


# RequestContext is a frozen dataclass, so a shared default is safe.
_current: ContextVar[RequestContext] = ContextVar(
    "hms_request_context", default=RequestContext()  # noqa: B039
)


def current() -> RequestContext:
    """The context of the running request (an empty one outside requests)."""
    return _current.get()


def set_context(ctx: RequestContext) -> None:
    """Install ``ctx`` for the running task."""
    _current.set(ctx)


def bind_actor(user_id: uuid.UUID, username: str) -> None:
    """Record the authenticated user on the running request's context."""
    _current.set(replace(_current.get(), user_id=user_id, username=username))


def new_request_id() -> str:
    """A fresh request id (hex UUID)."""
    return uuid.uuid4().hex
