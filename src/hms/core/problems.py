"""Exception handlers: every error leaves as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from hms.core.errors import PROBLEM_JSON, HmsError, problem

log = structlog.get_logger("hms.errors")

_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
    for status, text in [
        (400, "Bad request"),
        (401, "Not authenticated"),
        (403, "Forbidden for this role"),
        (404, "Not found"),
        (409, "Conflict"),
        (412, "Stale version"),
        (413, "Payload too large"),
        (415, "Unsupported media type"),
        (422, "Invalid input or broken rule"),
        (428, "Version required"),
        (429, "Too many requests"),
    ]
}

_TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict",
    412: "Precondition failed", 413: "Payload too large", 415: "Unsupported media type",
    422: "Invalid input", 429: "Too many requests",
}


def route_template(request: Request) -> str:
    """The matched route's template (``/api/v1/patients/{patient_ssn}``), never the raw path,
    which can carry a national ID."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """One ``{field, message, type, in}`` entry per invalid field (input values left out:
    they may be patient data)."""
    out = []
    for err in exc.errors():
        loc = err.get("loc", ())
        out.append(
            {
                "field": _loc(loc),
                "in": str(loc[0]) if loc and loc[0] in ("body", "query", "path", "header")
                else "body",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return out


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
              ) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(HmsError)
    async def _hms(request: Request, exc: HmsError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        # Errors may carry response headers of their own (429's Retry-After).
        headers.update(getattr(exc, "headers", None) or {})
        return _response(
            exc.status_code,
            problem(exc.status_code, exc.title, exc.detail, exc.code, errors=exc.errors,
                    instance=route_template(request), extra=getattr(exc, "extra", None)),
            headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return _response(
            422,
            problem(422, "Invalid input", f"Invalid fields: {fields}", "validation_error",
                    errors=errors, instance=route_template(request)),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        title = _TITLES.get(status, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        code = title.lower().replace(" ", "_")
        return _response(status, problem(status, title, detail, code,
                                         instance=route_template(request)),
                         dict(exc.headers) if exc.headers else None)

    def _retry_soon(request: Request, detail: str, code: str) -> JSONResponse:
        """503 problem+json with ``Retry-After: 1``: nothing was saved, retrying is safe."""
        return _response(503, problem(503, "Service unavailable", detail, code,
                                      instance=route_template(request)),
                         {"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # The database dropped a connection in use (restart, failover): SQLAlchemy has
        # invalidated the pool and the transaction was rolled back, so nothing was written
        # and the client may safely retry.
        if exc.connection_invalidated:
            log.warning("database_connection_lost", route=route_template(request))
            return _retry_soon(request, "The database connection was lost; nothing was "
                               "saved. Retry the request.", "database_unavailable")
        return await _unhandled(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for HMS_DB_POOL_TIMEOUT_SECONDS: nothing was
        # read or written for this request; the client may retry shortly.
        log.warning("database_pool_exhausted", route=route_template(request))
        return _retry_soon(request, "The server is busy; nothing was saved. Retry the "
                           "request.", "database_busy")

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error_type=type(exc).__name__,
                  route=route_template(request))
        return _response(500, problem(500, "Internal error",
                                      "The server could not complete the request",
                                      "internal_error"))
