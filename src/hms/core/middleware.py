"""ASGI middleware: request context (id, IP, user agent), access log, baseline headers."""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms.core import context

log = structlog.get_logger("hms.access")

_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class RequestContextMiddleware:
    """Assigns a request id (or keeps a sane incoming ``X-Request-ID``), fills
    :mod:`hms.core.context`, adds baseline security headers and writes one access log line
    with the route template (never the raw path: it can hold a national ID)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                hdrs = list(message.get("headers", []))
                present = {k.lower() for k, _ in hdrs}
                hdrs.append((b"x-request-id", request_id.encode()))
                for key, value in _BASE_HEADERS:
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
