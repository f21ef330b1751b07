"""ASGI middleware: request context (id, IP, user agent), access log, security headers,
trusted hosts and the request body size limit.

Order in :func:`hms.main.create_app` (outermost first): :class:`RequestContextMiddleware`
(so every answer, refusals included, carries the request id and the security headers),
:class:`TrustedHostMiddleware`, CORS, :class:`BodySizeLimitMiddleware`,
:class:`NulCharacterGuard`, the app.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware as StarletteTrustedHost
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms.core import context
from hms.core.errors import PROBLEM_JSON, problem

log = structlog.get_logger("hms.access")

#: Content-Security-Policy of every API answer: JSON needs no script, style, frame or form.
#: Source: OWASP REST Security Cheat Sheet ("Security headers").
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: Features no page of an API should use (W3C Permissions Policy).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)

_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", API_CSP.encode()),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def docs_csp(nonce: str) -> str:
    """Content-Security-Policy of the ``/docs`` page (Swagger UI served from the package).

    Scripts: the packaged bundle (``'self'``) and the one inline init script FastAPI's
    ``get_swagger_ui_html`` writes, allowed by a per-response nonce (no ``'unsafe-inline'``
    for scripts). Styles: the packaged CSS. Images: the favicon and the CSS's ``data:``
    icons. ``connect-src 'self'`` lets the page fetch ``/openapi.json`` and try requests.

    Args:
        nonce: fresh random value of this response (``secrets.token_urlsafe(16)``).

    Source: W3C Content Security Policy Level 3, section 7.2 (nonces).
    """
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _problem_response(status: int, title: str, detail: str, code: str) -> JSONResponse:
    return JSONResponse(problem(status, title, detail, code), status_code=status,
                        media_type=PROBLEM_JSON)


class RequestContextMiddleware:
    """Assigns a request id (or keeps a sane incoming ``X-Request-ID``), fills
    :mod:`hms.core.context`, adds the security headers and writes one access log line
    with the route template (never the raw path: it can hold a national ID).

    Headers a response sets itself (the ``/docs`` page's CSP, a download's
    ``Cache-Control``) win over the defaults.

    Args:
        app: the wrapped ASGI app.
        hsts_seconds: ``Strict-Transport-Security`` max-age.
        hsts_always: send HSTS on plain-HTTP requests too (production, where TLS ends at a
            proxy in front of the app); otherwise it is sent on HTTPS requests only.
    """

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 31_536_000,
                 hsts_always: bool = False) -> None:
        self.app = app
        self.hsts_always = hsts_always
        self.hsts = (f"max-age={hsts_seconds}; includeSubDomains".encode()
                     if hsts_seconds > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        request_id = (incoming if incoming.isalnum() and len(incoming) <= 64
                      else context.new_request_id())
        client = scope.get("client")
        # X-Forwarded-For is not trusted: a client could forge the audited IP. Behind a proxy,
        # run uvicorn with --proxy-headers and the proxy's address in --forwarded-allow-ips.
        ip = client[0] if client else None
        context.set_context(context.RequestContext(
            request_id=request_id, ip=ip, user_agent=headers.get("user-agent")))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status: dict[str, Any] = {"code": 500}
        start = time.perf_counter()
        extra: list[tuple[bytes, bytes]] = list(_BASE_HEADERS)
        if self.hsts and (self.hsts_always or scope.get("scheme") == "https"):
            extra.append((b"strict-transport-security", self.hsts))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                hdrs = list(message.get("headers", []))
                present = {k.lower() for k, _ in hdrs}
                hdrs.append((b"x-request-id", request_id.encode()))
                for key, value in extra:
                    if key not in present:
                        hdrs.append((key, value))
                message["headers"] = hdrs
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            log.info(
                "request",
                method=scope.get("method"),
                route=getattr(route, "path", "<unmatched>"),
                status=status["code"],
                duration_ms=round((time.perf_counter() - start) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


class TrustedHostMiddleware:
    """Starlette's ``TrustedHostMiddleware`` (same host patterns, no ``www`` redirect)
    answering a Host header outside the allow-list with a 400 problem+json instead of
    Starlette's plain-text body.

    Guards against Host-header injection (poisoned absolute URLs, cache poisoning, DNS
    rebinding against a server bound to loopback).

    Args:
        app: the wrapped ASGI app.
        allowed_hosts: ``settings.trusted_hosts`` (``"*.example.org"`` wildcards; ``"*"``
            allows any host).

    Source: OWASP Web Security Testing Guide WSTG-INPV-17 (Host header injection).
    """

    _PASSED = "hms.trusted_host"

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self._check = StarletteTrustedHost(self._pass, allowed_hosts=list(allowed_hosts),
                                           www_redirect=False)

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[self._PASSED] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._check(scope, receive, send)
            return

        async def refuse(message: Message) -> None:
            # Only reached when Starlette answers itself, i.e. the host was refused.
            if message["type"] == "http.response.start":
                response = _problem_response(
                    400, "Bad request", "The Host header is not one this server answers to",
                    "invalid_host")
                await response(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            if scope.get(self._PASSED):
                await send(message)
            else:
                await refuse(message)

        await self._check(scope, receive, guarded_send)


class RequestBodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when the streamed body passes the limit; FastAPI re-raises
    HTTP exceptions from body parsing, so the problem handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes")


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413 problem+json.

    A declared ``Content-Length`` above the limit is refused before anything is read; a
    chunked body is counted as it streams and cut off the moment it passes the limit.
    Exempt routes (the document upload, which streams to disk under its own limit) pass
    untouched.

    Args:
        app: the wrapped ASGI app.
        max_bytes: ``settings.max_body_bytes`` (default 1 MiB).
        exempt: ``(method, path regex)`` pairs left to their own limit.

    Source: OWASP API Security Top 10 2023, API4 (unrestricted resource consumption).
    """

    def __init__(self, app: ASGIApp, max_bytes: int,
                 exempt: Sequence[tuple[str, str]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = [(method.upper(), re.compile(pattern)) for method, pattern in exempt]

    def _is_exempt(self, scope: Scope) -> bool:
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method == m and p.fullmatch(path) for m, p in self.exempt)

    def _too_large(self) -> JSONResponse:
        return _problem_response(
            413, "Payload too large",
            f"The request body exceeds the limit of {self.max_bytes} bytes",
            "payload_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestBodyTooLarge:
            if started:
                raise
            await self._too_large()(scope, receive, send)


NUL_MESSAGE = "NUL characters (U+0000) are not accepted"
_JSON_NUL = re.compile(rb"\\u0000", re.IGNORECASE)
_FORM_NUL = re.compile(rb"%00|\x00")


def _nul_fields(value: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the strings (keys included) holding U+0000 in a decoded JSON value."""
    out: list[str] = []
    if isinstance(value, str):
        if "\x00" in value:
            out.append(prefix or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "\x00" in str(key):
                out.append(path.replace("\x00", ""))
            out += _nul_fields(item, path.replace("\x00", ""))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _nul_fields(item, f"{prefix}.{index}" if prefix else str(index))
    return out


class NulCharacterGuard:
    """Refuse U+0000 in the query string and JSON or form bodies with 422 problem+json
    naming the fields; a path holding it names nothing that exists: 404.

    PostgreSQL text cannot hold NUL (the driver raises, which would be a 500) while SQLite
    stores it silently; refusing it at the edge gives one answer on both databases. JSON and
    form bodies are buffered to be checked (they are already bounded by
    :class:`BodySizeLimitMiddleware`); other bodies (the streamed multipart upload, which
    strips control characters itself) pass untouched.

    Source: PostgreSQL documentation 8.3 ("the character with code zero cannot be stored").
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _refuse(errors: list[dict[str, str]]) -> JSONResponse:
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return JSONResponse(
            problem(422, "Invalid input", f"Invalid fields: {fields}", "validation_error",
                    errors=errors),
            status_code=422, media_type=PROBLEM_JSON)

    @staticmethod
    def _error(field: str, where: str) -> dict[str, str]:
        # Field names come from the client: keep them short and printable in the answer.
        shown = "".join(ch for ch in field if ch.isprintable())[:64] or where
        return {"field": shown, "in": where, "message": NUL_MESSAGE, "type": "nul_character"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            response = _problem_response(404, "Not found", "Not Found", "not_found")
            await response(scope, receive, send)
            return
        errors: list[dict[str, str]] = []
        query = scope.get("query_string", b"").decode("latin-1")
        if "%00" in query or "\x00" in query:
            for key, value in parse_qsl(query, keep_blank_values=True):
                if "\x00" in key or "\x00" in value:
                    errors.append(self._error(key.replace("\x00", "") or "query", "query"))
        if errors:
            await self._refuse(errors)(scope, receive, send)
            return
        media_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        is_json = media_type == "application/json" or media_type.endswith("+json")
        is_form = media_type == "application/x-www-form-urlencoded"
        if not (is_json or is_form):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if is_json and _JSON_NUL.search(body):
            try:
                decoded = json.loads(body)
            except (ValueError, RecursionError):  # not JSON: the app answers it itself
                decoded = None
            try:
                fields = _nul_fields(decoded)
            except RecursionError:  # nested too deep to walk: name the body
                fields = ["body"]
            errors = [self._error(field, "body") for field in fields]
        elif is_form and _FORM_NUL.search(body):
            errors = [self._error(key.replace("\x00", "") or "body", "body")
                      for key, value in parse_qsl(body.decode("latin-1"),
                                                  keep_blank_values=True)
                      if "\x00" in key or "\x00" in value]
        if errors:
            await self._refuse(errors)(scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
