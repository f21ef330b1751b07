"""Rate limits of the credential routes: login, token refresh, password change and MFA.

Each attempt counts against two budgets: the client's IP address (the ASGI peer; a
forwarded header is not trusted, see hms.core.middleware) and the account it targets: the
username or e-mail of the login body (lower-cased), the subject of the refresh token, or
the subject of the bearer token on the password and MFA routes. Spreading attempts over
many IPs therefore still exhausts the account's budget, and one noisy IP does not lock out
anybody else. Over a limit: 429 problem+json with ``Retry-After``.

Applied as a dependency of the whole ``/api/v1/auth`` router and matched by path, so
routes added there later (``/auth/mfa/...``) are covered without opting in.

Source: OWASP Authentication Cheat Sheet ("Login Throttling"); NIST SP 800-63B 5.2.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import FastAPI, Request

from hms.config import Settings
from hms.core.ratelimit import Check, Rate, RateLimiter, create_limiter

LOGIN_PATH = "/api/v1/auth/login"
REFRESH_PATH = "/api/v1/auth/refresh"
#: Password and MFA routes (prefix match): each checks a secret, so each is a guessing target.
PASSWORD_PREFIXES = ("/api/v1/auth/change-password", "/api/v1/auth/mfa/")


@dataclass(frozen=True, slots=True)
class _Limits:
    login_ip: Rate
    login_account: Rate
    refresh_ip: Rate
    refresh_account: Rate

    @classmethod
    def of(cls, settings: Settings) -> _Limits:
        return cls(
            login_ip=Rate.parse(settings.rate_limit_login_per_ip),
            login_account=Rate.parse(settings.rate_limit_login_per_account),
            refresh_ip=Rate.parse(settings.rate_limit_refresh_per_ip),
            refresh_account=Rate.parse(settings.rate_limit_refresh_per_account),
        )


@dataclass(slots=True)
class _State:
    limiter: RateLimiter
    limits: _Limits


def _state(app: FastAPI) -> _State:
    state: _State | None = getattr(app.state, "auth_rate_limits", None)
    if state is None:
        settings: Settings = app.state.settings
        state = _State(
            limiter=create_limiter(settings.redis_url, prefix=settings.rate_limit_key_prefix),
            limits=_Limits.of(settings),
        )
        app.state.auth_rate_limits = state
    return state


async def aclose(app: FastAPI) -> None:
    """Release the limiter's connections (app shutdown)."""
    state: _State | None = getattr(app.state, "auth_rate_limits", None)
    if state is not None:
        app.state.auth_rate_limits = None
        await state.limiter.aclose()


def _subject(settings: Settings, token: object) -> str | None:
    """The ``sub`` of a token we signed (any type), or None. The signature is verified, so
    nobody can spend another account's budget with a forged subject."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            token, settings.jwt_secret, algorithms=[settings.jwt_algorithm], issuer="hms",
            options={"verify_exp": False, "require": ["sub"]},
        )
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


async def _body_fields(request: Request) -> dict[str, Any]:
    """The JSON object or form fields of the body (empty when unreadable). Starlette caches
    what it parsed, so the route reads the same body again."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            payload = await request.json()
            return payload if isinstance(payload, dict) else {}
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return {k: v for k, v in form.items() if isinstance(v, str)}
    except Exception:  # malformed bodies are the route's to refuse (422), not ours
        return {}
    return {}


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def throttle_credentials(request: Request) -> None:
    """Dependency of the ``/api/v1/auth`` router: count this attempt and refuse it when
    its IP or its account is over the limit (``HMS_RATE_LIMIT_*``); other routes of the
    router pass untouched.

    Raises:
        RateLimited (429): with ``Retry-After`` in seconds.
    """
    settings: Settings = request.app.state.settings
    if not settings.rate_limit_enabled or request.method != "POST":
        return
    path = request.url.path
    if path == LOGIN_PATH:
        kind = "login"
    elif path == REFRESH_PATH:
        kind = "refresh"
    elif path.startswith(PASSWORD_PREFIXES):
        kind = "password"
    else:
        return
    state = _state(request.app)
    limits = state.limits
    ip = request.client.host if request.client else "unknown"
    per_ip, per_account = ((limits.refresh_ip, limits.refresh_account) if kind == "refresh"
                           else (limits.login_ip, limits.login_account))
    checks = [Check(f"{kind}:ip", ip, per_ip)]
    fields = await _body_fields(request)
    account: str | None = None
    if kind == "login":
        username = fields.get("username")
        if isinstance(username, str) and username.strip():
            account = username.strip().lower()[:254]
    elif kind == "refresh":
        account = _subject(settings, fields.get("refresh_token"))
    else:
        account = _subject(settings, _bearer(request))
        if account is None and isinstance(fields.get("username"), str):
            account = fields["username"].strip().lower()[:254] or None
    if account:
        checks.append(Check(f"{kind}:account", account, per_account))
    await state.limiter.enforce(checks)
