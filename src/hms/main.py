"""Application factory: routers, exception handlers, middleware, lifespan."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import hms
from hms.config import Settings, get_settings
from hms.core import logging as hms_logging
from hms.core import problems, serving
from hms.core.middleware import (
    BodySizeLimitMiddleware,
    NulCharacterGuard,
    RequestContextMiddleware,
    TrustedHostMiddleware,
    docs_csp,
)
from hms.core.production import check_production_settings
from hms.core.routing import skip_unreachable_routers
from hms.db.session import Database
from hms.identity import principal_cache, throttling
from hms.identity import service as identity_service
from hms.identity.router import admin_router, auth_router
from hms.routers import domain_routers

DESCRIPTION = """One hospital backend: the patient-visit archive (SH.MR.FRM.05 nursing and
SH.MR.FRM.04 radiology forms), and in later releases the HMS, the HCMS spec and the assistant
backend, on one patient, one user, one visit and one audit trail. Errors are RFC 9457
problem+json."""

#: Routes that stream a large body under their own limit (``HMS_UPLOAD_MAX_BYTES``) instead
#: of the general request body limit (``HMS_MAX_BODY_BYTES``).
BODY_LIMIT_EXEMPT = [("POST", r"/api/v1/visits/[^/]+/documents")]


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the ASGI app.

    Args:
        settings: defaults to :func:`hms.config.get_settings`.
        db: an existing :class:`Database` (tests); otherwise one is created from settings
            at start-up and disposed at shutdown.

    Raises:
        InsecureConfiguration: ``HMS_ENVIRONMENT=production`` with a development or short
            JWT key or the development encryption keys.
    """
    settings = settings or get_settings()
    check_production_settings(settings)
    hms_logging.configure(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = db is None
        app.state.db = db or Database(settings.effective_database_url,
                                      pool_size=settings.db_pool_size,
                                      max_overflow=settings.db_max_overflow,
                                      pool_timeout=settings.db_pool_timeout_seconds)
        listener = None
        if not app.state.db.is_sqlite and settings.principal_cache_seconds > 0:
            cache = principal_cache.PrincipalCache(settings.principal_cache_seconds)
            listener = principal_cache.PrincipalListener(cache, app.state.db.url)
            await listener.start()
            app.state.authenticator = principal_cache.CachedAuthenticator(cache)
        if settings.gc_freeze:
            serving.freeze_startup_heap()
        try:
            yield
        finally:
            if listener is not None:
                await listener.stop()
                app.state.authenticator = identity_service.authenticate
            await throttling.aclose(app)  # the rate limiter's Redis pool, if any
            if own:
                await app.state.db.dispose()

    app = FastAPI(
        title="hms",
        version=hms.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if db is not None:
        app.state.db = db
    app.state.settings = settings
    app.state.authenticator = identity_service.authenticate
    problems.install(app)
    # add_middleware wraps: the last one added is the outermost.
    app.add_middleware(NulCharacterGuard)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       exempt=BODY_LIMIT_EXEMPT)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Location", "Retry-After"],
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    app.add_middleware(RequestContextMiddleware, hsts_seconds=settings.hsts_seconds,
                       hsts_always=settings.environment == "production")

    static_dir = resources.files("hms") / "static" / "swagger-ui"
    app.mount("/static/swagger-ui", StaticFiles(directory=str(static_dir)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="hms API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=None,
            # No call to the public validator.swagger.io: the CSP allows 'self' only.
            swagger_ui_parameters={"validatorUrl": None},
        )
        # The page's one inline script (SwaggerUIBundle init) runs by this response's nonce.
        nonce = secrets.token_urlsafe(16)
        html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
        return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(nonce)})

    @app.get("/health/live", tags=["health"], summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], summary="The database answers",
             responses={503: {"description": "Database unreachable"}})
    async def ready() -> JSONResponse:
        try:
            async with app.state.db.engine.connect() as conn:
                conn = await conn.execution_options(hms_read_only=True)
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    app.include_router(auth_router)
    app.include_router(admin_router)
    for router in domain_routers():
        app.include_router(router)
    skip_unreachable_routers(app)
    return app
