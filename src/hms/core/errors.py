"""Domain errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://hms.example/problems/"


class HmsError(Exception):
    """Base of every error a service raises; rendered as problem+json with ``status_code``."""

    status_code = 500
    code = "internal_error"
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        commit: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        # Extension members of the problem document (RFC 9457 section 3.2), e.g. the
        # existing record a 409 collides with. Never patient data beyond identifiers.
        self.extra = extra
        # When True the request's transaction is committed before the error is answered:
        # used where the refusal itself must be recorded (failed login audit, refresh-token
        # reuse revoking its family).
        self.commit = commit


class BadRequest(HmsError):
    """400: the request cannot be understood."""

    status_code, code, title = 400, "bad_request", "Bad request"


class Unauthorized(HmsError):
    """401: missing, invalid, expired or revoked credentials."""

    status_code, code, title = 401, "unauthorized", "Not authenticated"


class Forbidden(HmsError):
    """403: authenticated but the role lacks the permission."""

    status_code, code, title = 403, "forbidden", "Forbidden"


class NotFound(HmsError):
    """404: the resource does not exist or is outside the caller's scope."""

    status_code, code, title = 404, "not_found", "Not found"


class Conflict(HmsError):
    """409: the write conflicts with the current state (duplicate, double booking...)."""

    status_code, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(HmsError):
    """412: the version the client read is stale (If-Match / ``version``)."""

    status_code, code, title = 412, "precondition_failed", "Precondition failed"


class PreconditionRequired(HmsError):
    """428: an update must say which version it read."""

    status_code, code, title = 428, "precondition_required", "Precondition required"


class PayloadTooLarge(HmsError):
    """413: the request body exceeds the configured limit."""

    status_code, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(HmsError):
    """415: the content type (decided from the bytes) is not accepted."""

    status_code, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(HmsError):
    """422: input is invalid; ``errors`` has one entry per field."""

    status_code, code, title = 422, "validation_error", "Invalid input"


class RuleViolation(HmsError):
    """422: valid input that breaks a clinical or business rule; ``code`` names the rule."""

    status_code, code, title = 422, "rule_violation", "Rule violation"


class TooManyRequests(HmsError):
    """429: rate limit reached."""

    status_code, code, title = 429, "too_many_requests", "Too many requests"


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an RFC 9457 problem document (``type``, ``title``, ``status``, ``detail``...).

    ``extra`` adds extension members; it never overrides the standard ones.
    """
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return body
