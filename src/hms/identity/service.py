"""Identity use cases: login (password policy, lockout, expiry, TOTP MFA), token refresh with
rotation, logout and session management, user management, and the per-request authenticator
installed on the app.

Sources: NIST SP 800-63B (5.1.1.2 memorized secrets, 5.2.2 rate limiting / lockout,
5.1.4.2 OTP replay), RFC 6238 (TOTP), seed 003 NFR-SEC-001.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hms.audit import service as audit
from hms.audit.schemas import AuditAction
from hms.config import Settings, get_settings
from hms.core import context
from hms.core.auth import Principal
from hms.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from hms.core.pagination import Page, PageParams
from hms.core.permissions import Role
from hms.core.sorting import parse_sort
from hms.db.base import utcnow
from hms.identity import mfa, password_policy, roles, tokens
from hms.identity.errors import (
    CannotDeactivateSelf,
    DoctorNotActive,
    EmailTaken,
    MfaInvalid,
    MfaRequired,
    UsernameTaken,
)
from hms.identity.models import AuthSession, RefreshToken, User
from hms.identity.passwords import dummy_hash, hash_password, verify_password
from hms.identity.repository import RoleRepository, UserRepository
from hms.identity.schemas import (
    ChangePasswordRequest,
    Me,
    MfaDisableRequest,
    MfaEnrollment,
    MfaRecoveryCodes,
    SessionRead,
    TokenPair,
    UserCreate,
    UserDepartment,
    UserDetails,
    UserRead,
    UserSort,
    UserUpdate,
)
from hms.organization import service as organization

INVALID_LOGIN = "Incorrect username or password"
PASSWORD_CHANGE_REQUIRED = "password_change_required"
MFA_ENROLLMENT_REQUIRED = "mfa_enrollment_required"


# -- policy helpers -------------------------------------------------------------------------


def enforce_password_policy(password: str, username: str, field: str = "password") -> None:
    """Refuse a password that breaks the policy, naming every broken rule.

    Args:
        password: the candidate.
        username: the account's username (the password may not contain it).
        field: the request field the errors name (``password`` or ``new_password``).

    Raises:
        ValidationFailed (422): one ``errors`` entry per broken rule, ``type``
            ``password_<rule>`` (``too_short``, ``too_few_classes``, ``contains_username``,
            ``too_common``).

    Source: NIST SP 800-63B section 5.1.1.2; seed 003 NFR-SEC-001.
    """
    violations = password_policy.check(password, username=username)
    if violations:
        raise ValidationFailed(
            "The password does not meet the policy: it "
            + "; it ".join(v.message for v in violations),
            errors=[{"field": field, "in": "body", "message": f"password {v.message}",
                     "type": f"password_{v.rule}"} for v in violations],
        )


def generate_password() -> str:
    """A random password that meets the policy (``hms demo``)."""
    return password_policy.generate()


def _password_expires_at(user: User, settings: Settings) -> datetime | None:
    if settings.password_max_age_days <= 0:
        return None
    return user.password_changed_at + timedelta(days=settings.password_max_age_days)


def _mfa_required_roles(settings: Settings) -> set[str]:
    roles = set()
    for name in settings.mfa_required_roles:
        try:
            roles.add(Role(name).value)
        except ValueError:
            continue
    return roles


def _restriction(user: User, settings: Settings, now: datetime) -> str | None:
    """Why a session of ``user`` is limited to its own account routes, if it is."""
    expires = _password_expires_at(user, settings)
    if user.must_change_password or (expires is not None and expires <= now):
        return PASSWORD_CHANGE_REQUIRED
    if (settings.mfa_enforced and not user.mfa_enabled
            and user.role in _mfa_required_roles(settings)):
        return MFA_ENROLLMENT_REQUIRED
    return None


def _is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


async def _count_failure(session: AsyncSession, repo: UserRepository, user: User,
                         now: datetime, reason: str) -> None:
    """Audit a failed authentication and add it to the lockout counter; lock the account
    (audited as ``login_locked``) when the counter reaches ``lockout_threshold``.

    Source: NIST SP 800-63B section 5.2.2; seed 003 NFR-SEC-001 (lock after 5 failures).
    """
    settings = get_settings()
    count = await repo.register_failure(user.id)
    await audit.record(session, AuditAction.LOGIN_FAILED, "user", user.id,
                       user_id=user.id, username=user.username,
                       changes={"reason": reason, "failed_login_count": count})
    if count >= settings.lockout_threshold:
        until = now + timedelta(minutes=settings.lockout_minutes)
        await repo.lock(user.id, until)
        await audit.record(session, AuditAction.LOGIN_LOCKED, "user", user.id,
                           user_id=user.id, username=user.username,
                           changes={"failed_login_count": count, "locked_until": until})


async def _refuse(session: AsyncSession, user: User, reason: str) -> None:
    """Audit a refused login that does not count towards the lockout."""
    await audit.record(session, AuditAction.LOGIN_FAILED, "user", user.id,
                       user_id=user.id, username=user.username, changes={"reason": reason})


async def _second_factor_ok(session: AsyncSession, repo: UserRepository, user: User,
                            code: str, now: datetime) -> bool:
    """Check a TOTP code (each time step once) or consume a recovery code.

    Source: RFC 6238 sections 4 and 5.2; NIST SP 800-63B 5.1.4.2 (an OTP is accepted once).
    """
    if user.mfa_secret is None:
        return False
    if mfa.looks_like_totp(code):
        step = mfa.matching_step(mfa.decrypt_secret(user.mfa_secret, user.id), code)
        return step is not None and await repo.claim_totp_step(user.id, step)
    if not user.mfa_enabled:
        return False
    if not await repo.use_recovery_code(user.id, mfa.recovery_code_hash(code), now):
        return False
    await audit.record(session, AuditAction.MFA_RECOVERY_USED, "user", user.id,
                       user_id=user.id, username=user.username,
                       changes={"recovery_codes_left": await repo.unused_recovery_codes(user.id)})
    return True


async def _issue(
    repo: UserRepository, user: User, auth_session: AuthSession, now: datetime
) -> TokenPair:
    settings = get_settings()
    restriction = _restriction(user, settings, now)
    access_life = timedelta(minutes=settings.access_token_minutes)
    refresh_life = auth_session.expires_at - now
    access, _ = tokens.encode(
        settings, user_id=user.id, session_id=auth_session.id, token_type="access",
        issued_at=now, lifetime=access_life,
    )
    refresh, jti = tokens.encode(
        settings, user_id=user.id, session_id=auth_session.id, token_type="refresh",
        issued_at=now, lifetime=refresh_life,
    )
    await repo.add_refresh_token(
        RefreshToken(jti=jti, session_id=auth_session.id, issued_at=now,
                     expires_at=auth_session.expires_at)
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(access_life.total_seconds()),
        refresh_expires_in=max(0, int(refresh_life.total_seconds())),
        session_restriction=restriction,
    )


async def login(session: AsyncSession, username: str, password: str,
                otp: str | None = None) -> TokenPair:
    """Verify credentials (and the second factor) and open a session (a new refresh-token
    family).

    Args:
        username: username or email (case-insensitive).
        password: plain password.
        otp: TOTP code or recovery code; required when the account has MFA active.

    Returns:
        Access token (``access_token_minutes``, default 30) and refresh token
        (``refresh_token_days``, default 7). ``session_restriction`` is set when the password
        has expired (``password_max_age_days``, default 90) or was reset by an admin, or the
        role must use MFA and has none: the session then only reaches the caller's own
        account routes.

    Raises:
        Unauthorized (401): unknown user, wrong password, deactivated or locked account; the
            message is the same for all so usernames and lock state cannot be probed. A
            wrong password counts towards the lockout (``lockout_threshold`` failures lock
            logins for ``lockout_minutes``; the count is committed despite the 401).
        MfaRequired (401, code ``mfa_required``): right password, MFA active, no ``otp``.
        MfaInvalid (401, code ``mfa_invalid``): wrong or replayed ``otp`` (counts towards
            the lockout).

    Every refusal is audited (``login_failed`` with a reason, ``login_locked`` when the
    account locks).

    Source: NIST SP 800-63B sections 5.1.1.2, 5.2.2 and 5.1.4.2; RFC 6238; seed 003
    NFR-SEC-001.
    """
    settings = get_settings()
    repo = UserRepository(session)
    user = await repo.by_login(username)
    if user is None:
        verify_password(password, dummy_hash())
        await audit.record(session, AuditAction.LOGIN_FAILED, "user", None)
        raise Unauthorized(INVALID_LOGIN, commit=True)
    ok, new_hash = verify_password(password, user.password_hash)
    now = utcnow()
    if _is_locked(user, now):
        # Even the right password: the same answer as an unknown user.
        await _refuse(session, user, "account_locked")
        raise Unauthorized(INVALID_LOGIN, commit=True)
    if not ok:
        await _count_failure(session, repo, user, now, "wrong_password")
        raise Unauthorized(INVALID_LOGIN, commit=True)
    if not user.is_active:
        await _refuse(session, user, "deactivated")
        raise Unauthorized(INVALID_LOGIN, commit=True)
    if user.mfa_enabled:
        if not otp:
            await _refuse(session, user, "mfa_required")
            raise MfaRequired("A one-time code is required: send the authenticator app's code "
                              "or a recovery code in 'otp'", commit=True)
        if not await _second_factor_ok(session, repo, user, otp, now):
            await _count_failure(session, repo, user, now, "wrong_otp")
            raise MfaInvalid("Incorrect or already used one-time code", commit=True)
    await repo.reset_failures(user.id)
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = now
    ctx = context.current()
    auth_session = await repo.add_session(
        AuthSession(
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:400] or None,
        )
    )
    pair = await _issue(repo, user, auth_session, now)
    restriction = pair.session_restriction
    await audit.record(session, AuditAction.LOGIN, "session", auth_session.id,
                       user_id=user.id, username=user.username,
                       changes={"session_restriction": restriction} if restriction else None)
    return pair


async def refresh(session: AsyncSession, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair (rotation).

    A refresh token works once. Presenting an already-used one is treated as theft: the whole
    family (session) is revoked, so the thief's and the owner's tokens all stop working.

    Raises:
        Unauthorized (401): invalid, expired, reused or revoked token, or deactivated user.
    """
    settings = get_settings()
    claims = tokens.decode(settings, refresh_token, "refresh")
    repo = UserRepository(session)
    now = utcnow()
    row = await repo.principal_row(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    stored = await repo.get_refresh_token(claims["jti"])
    if row is None or stored is None or stored.session_id != row[1].id:
        raise Unauthorized("Invalid token")
    user, auth_session = row
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise Unauthorized("Session revoked or expired")
    if not user.is_active:
        raise Unauthorized("Invalid token")
    if not await repo.mark_refresh_used(stored.jti, now):
        await repo.revoke_session(auth_session.id, now, "refresh_token_reuse")
        await audit.record(session, AuditAction.TOKEN_REUSE, "session", auth_session.id,
                           user_id=user.id, username=user.username)
        raise Unauthorized("Refresh token already used; session revoked", commit=True)
    auth_session.last_used_at = now
    pair = await _issue(repo, user, auth_session, now)
    await audit.record(session, AuditAction.TOKEN_REFRESH, "session", auth_session.id,
                       user_id=user.id, username=user.username)
    return pair


async def logout(session: AsyncSession, principal: Principal) -> None:
    """Revoke the caller's session: its access tokens and whole refresh family stop at once."""
    await UserRepository(session).revoke_session(principal.session_id, utcnow(), "logout")
    await audit.record(session, AuditAction.LOGOUT, "session", principal.session_id)


async def logout_all(session: AsyncSession, principal: Principal) -> None:
    """Revoke every session of the caller, this one included ("log out everywhere")."""
    count = await UserRepository(session).revoke_all_sessions(
        principal.user_id, utcnow(), "logout_all")
    await audit.record(session, AuditAction.LOGOUT, "user", principal.user_id,
                       changes={"scope": "all", "sessions_revoked": count})


async def list_sessions(session: AsyncSession, principal: Principal, page: PageParams
                        ) -> Page[SessionRead]:
    """The caller's live sessions (not revoked, not expired), most recently used first;
    ``current`` marks the one of the request's token. ``last_used_at`` is the login or the
    last refresh."""
    rows, total = await UserRepository(session).live_sessions(
        principal.user_id, utcnow(), offset=page.offset, limit=page.page_size)
    items = [SessionRead.model_validate(r).model_copy(
        update={"current": r.id == principal.session_id}) for r in rows]
    return Page[SessionRead](items=items, total=total, page=page.page,
                             page_size=page.page_size)


async def revoke_own_session(session: AsyncSession, principal: Principal,
                             session_id: uuid.UUID) -> None:
    """Revoke one of the caller's live sessions (e.g. a lost laptop); its tokens stop at once.

    Raises:
        NotFound (404): no live session with this id belongs to the caller (another user's
            session is reported the same way, so its existence is not disclosed).
    """
    repo = UserRepository(session)
    now = utcnow()
    row = await repo.get_auth_session(session_id)
    if (row is None or row.user_id != principal.user_id or row.revoked_at is not None
            or row.expires_at <= now):
        raise NotFound("Session not found")
    await repo.revoke_session(row.id, now, "revoked_by_user")
    await audit.record(session, AuditAction.SESSION_REVOKE, "session", row.id,
                       changes={"current": row.id == principal.session_id})


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """Turn an access token into a :class:`Principal` (installed as ``app.state.authenticator``).

    The principal's ``restriction`` is decided here, from the user row, on every request:
    an expired or admin-reset password, or a role that must use MFA without it.

    Raises:
        Unauthorized (401): bad token, revoked or expired session, deactivated user.
    """
    principal, _ = await authenticate_until(session, token)
    return principal


async def authenticate_until(session: AsyncSession, token: str) -> tuple[Principal, datetime]:
    """:func:`authenticate`, plus the instant its answer stops being true without any
    write to the database: the earliest of the token's expiry, the login session's expiry
    and the password's expiry (when the principal becomes restricted). For
    :class:`hms.identity.principal_cache.CachedAuthenticator`.

    Raises:
        Unauthorized (401): as :func:`authenticate`.
    """
    settings = get_settings()
    claims = tokens.decode(settings, token, "access")
    # One query: user, session and the role's permissions revision; the role's permission
    # strings come from the per-process cache keyed by that revision (roles are data).
    row = await RoleRepository(session).principal_row(
        uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    )
    if row is None:
        raise Unauthorized("Invalid token")
    user, auth_session, revision = row
    if not user.is_active:
        raise Unauthorized("Account deactivated")
    now = utcnow()
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise Unauthorized("Session revoked or expired")
    role = Role(user.role)
    granted = await roles.grants_of(session, user.role, revision)
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=role,
        permissions=granted.permissions,
        session_id=auth_session.id,
        token_id=str(claims["jti"]),
        restriction=_restriction(user, settings, now),
        department=user.department,
        scopes=granted.scopes,
    )
    until = min(auth_session.expires_at, datetime.fromtimestamp(int(claims["exp"]), tz=UTC))
    password_expires = _password_expires_at(user, settings)
    if password_expires is not None and password_expires > now:
        until = min(until, password_expires)
    return principal, until


async def me(session: AsyncSession, principal: Principal) -> Me:
    """The caller's account and permissions."""
    user = await UserRepository(session).get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    return Me(
        **UserRead.model_validate(user).model_dump(),
        permissions=principal.grants,
        session_restriction=principal.restriction,
        password_expires_at=_password_expires_at(user, get_settings()),
    )


async def change_password(session: AsyncSession, principal: Principal,
                          data: ChangePasswordRequest) -> None:
    """Change the caller's own password; lifts ``password_change_required`` at once.

    The caller's other sessions are revoked (whoever knew the old password loses access);
    this one stays. The change is audited (``password_change``).

    Raises:
        ValidationFailed (422): ``current_password`` wrong (counts towards the lockout, and
            is refused while the account is locked), ``new_password`` equal to the current
            one or breaking the policy (one entry per rule).

    Source: NIST SP 800-63B section 5.1.1.2; seed 003 NFR-SEC-001.
    """
    repo = UserRepository(session)
    user = await repo.get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    now = utcnow()
    ok, _ = verify_password(data.current_password, user.password_hash)
    if _is_locked(user, now) or not ok:
        if not _is_locked(user, now):
            await _count_failure(session, repo, user, now, "wrong_current_password")
        raise ValidationFailed(
            "The current password is incorrect",
            errors=[{"field": "current_password", "in": "body",
                     "message": "incorrect password", "type": "incorrect_password"}],
            commit=True,
        )
    if data.new_password == data.current_password:
        raise ValidationFailed(
            "The new password must differ from the current one",
            errors=[{"field": "new_password", "in": "body",
                     "message": "must differ from the current password",
                     "type": "password_unchanged"}],
        )
    enforce_password_policy(data.new_password, user.username, "new_password")
    user.password_hash = hash_password(data.new_password)
    user.password_changed_at = now
    user.must_change_password = False
    await repo.reset_failures(user.id)
    revoked = await repo.revoke_all_sessions(user.id, now, "password_changed",
                                             keep=principal.session_id)
    await audit.record(session, AuditAction.PASSWORD_CHANGE, "user", user.id,
                       changes={"other_sessions_revoked": revoked})
    await session.flush()


# -- MFA ----------------------------------------------------------------------------------


async def mfa_enroll(session: AsyncSession, principal: Principal) -> MfaEnrollment:
    """Start (or restart) a TOTP enrolment: a new secret, not active until confirmed.

    Returns:
        The base32 secret and its ``otpauth://`` URI (shown once; stored encrypted).

    Raises:
        Conflict (409): MFA is already active (disable it first to change authenticator).

    Source: RFC 6238; Google Authenticator key URI format.
    """
    repo = UserRepository(session)
    user = await repo.get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    if user.mfa_enabled:
        raise Conflict("MFA is already active; disable it before enrolling a new authenticator")
    secret = mfa.new_secret()
    user.mfa_secret = mfa.encrypt_secret(secret, user.id)
    user.mfa_last_step = None
    await audit.record(session, AuditAction.MFA_ENROLL, "user", user.id)
    await session.flush()
    return MfaEnrollment(secret=secret, otpauth_uri=mfa.provisioning_uri(secret, user.username),
                         issuer=mfa.ISSUER)


async def mfa_confirm(session: AsyncSession, principal: Principal, code: str
                      ) -> MfaRecoveryCodes:
    """Activate the pending enrolment with a current code from the authenticator app.

    Returns:
        10 one-time recovery codes, shown this once (stored as keyed hashes).

    Raises:
        Conflict (409): no enrolment in progress, or MFA already active.
        ValidationFailed (422): ``code`` does not match the pending secret.

    Source: RFC 6238 section 5.2.
    """
    repo = UserRepository(session)
    user = await repo.get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    if user.mfa_enabled:
        raise Conflict("MFA is already active")
    if user.mfa_secret is None:
        raise Conflict("No MFA enrolment in progress: call POST /api/v1/auth/mfa/enroll first")
    step = mfa.matching_step(mfa.decrypt_secret(user.mfa_secret, user.id), code)
    if step is None:
        raise ValidationFailed(
            "The code does not match the authenticator being enrolled",
            errors=[{"field": "code", "in": "body", "message": "incorrect code",
                     "type": "mfa_code_mismatch"}],
        )
    now = utcnow()
    user.mfa_last_step = step
    user.mfa_enabled_at = now
    codes = mfa.new_recovery_codes()
    await repo.replace_recovery_codes(user.id, [mfa.recovery_code_hash(c) for c in codes], now)
    await audit.record(session, AuditAction.MFA_ENABLE, "user", user.id,
                       changes={"recovery_codes_issued": len(codes)})
    await session.flush()
    return MfaRecoveryCodes(recovery_codes=codes)


async def _clear_mfa(repo: UserRepository, user: User) -> None:
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    await repo.delete_recovery_codes(user.id)


async def mfa_disable(session: AsyncSession, principal: Principal,
                      data: MfaDisableRequest) -> None:
    """Turn the caller's MFA off (or drop a pending enrolment); recovery codes are deleted.

    Proof of presence is required: a current TOTP code, an unused recovery code, or the
    password. A wrong proof counts towards the lockout.

    Raises:
        Conflict (409): no MFA active or pending.
        ValidationFailed (422): neither ``code`` nor ``password`` given, or the one given is
            wrong.
    """
    repo = UserRepository(session)
    user = await repo.get(principal.user_id)
    if user is None:
        raise NotFound("User not found")
    if user.mfa_secret is None:
        raise Conflict("MFA is not enabled")
    if not data.code and not data.password:
        raise ValidationFailed(
            "Send a current one-time code or your password",
            errors=[{"field": f, "in": "body", "message": "a code or the password is required",
                     "type": "missing"} for f in ("code", "password")],
        )
    now = utcnow()
    verified = False
    if not _is_locked(user, now):
        if data.code:
            verified = await _second_factor_ok(session, repo, user, data.code, now)
        if not verified and data.password:
            verified, _ = verify_password(data.password, user.password_hash)
        if not verified:
            await _count_failure(session, repo, user, now, "wrong_mfa_disable_proof")
    if not verified:
        fields = [f for f, v in (("code", data.code), ("password", data.password)) if v]
        raise ValidationFailed(
            "The code or password is incorrect",
            errors=[{"field": f, "in": "body", "message": "incorrect",
                     "type": "incorrect_credential"} for f in fields],
            commit=True,
        )
    was_active = user.mfa_enabled
    await _clear_mfa(repo, user)
    await audit.record(session, AuditAction.MFA_DISABLE, "user", user.id,
                       changes={"was_active": was_active, "by": "self"})
    await session.flush()


def _user_fields(user: User) -> dict[str, object]:
    """The audited profile fields of a user (never the hash or MFA secret)."""
    return {"username": user.username, "email": user.email, "role": user.role,
            "is_active": user.is_active, "full_name": user.full_name,
            "first_name": user.first_name, "last_name": user.last_name, "phone": user.phone,
            "department_id": user.department_id, "department": user.department}


def _full_name(first: str | None, last: str | None) -> str | None:
    joined = " ".join(p for p in (first, last) if p)
    return joined or None


async def _resolve_department(session: AsyncSession, department_id: uuid.UUID | None,
                              name: str | None) -> tuple[uuid.UUID | None, str | None]:
    """``(department_id, department name)`` of a request that gives either.

    ``department_id`` wins and must exist (422 naming ``department_id``); a bare name is
    linked to the department of that name when one exists, else kept as a free name (the
    seed 000 scopes compare names).
    """
    if department_id is not None:
        department = await organization.require_department(session, department_id)
        if name is not None and name.lower() != department.name.lower():
            raise ValidationFailed(
                "department and department_id name different departments",
                errors=[{"field": "department", "in": "body", "type": "department_mismatch",
                         "message": f"department_id is the department {department.name!r}"}])
        return department.id, department.name
    if name is not None:
        found = await organization.department_by_name(session, name)
        if found is not None:
            return found.id, found.name
    return None, name


async def create_user(session: AsyncSession, data: UserCreate) -> UserRead:
    """Create a staff account (``POST /users``, ``POST /admin/users``, ``hms create-user``,
    ``hms demo``).

    Without ``username`` the username is the lowercased email (seed 004 accounts log in with
    their email). ``full_name`` defaults to "first last".

    Raises:
        ValidationFailed (422): the password breaks the policy (field ``password``, one
            entry per rule; NIST SP 800-63B 5.1.1.2); no username and an email longer than a
            username may be; ``department_id`` unknown (``department_not_found``).
        EmailTaken (409, ``email_taken``): the email is already used (seed 004 11).
        UsernameTaken (409, ``username_taken``): the username is already used.
    """
    repo = UserRepository(session)
    email = str(data.email).lower() if data.email else None
    username = data.username or email
    if username is None or len(username) > 150:
        raise ValidationFailed(
            "A username is required when the email is longer than 150 characters",
            errors=[{"field": "username", "in": "body", "type": "missing",
                     "message": "give a username of at most 150 characters"}])
    enforce_password_policy(data.password, username)
    if email and await repo.by_login(email):
        raise EmailTaken("Another account already uses this email (rule email_taken)")
    if await repo.by_login(username):
        raise UsernameTaken("Another account already uses this username")
    department_id, department = await _resolve_department(
        session, data.department_id, data.department)
    user = User(
        username=username,
        email=email,
        full_name=data.full_name or _full_name(data.first_name, data.last_name),
        first_name=data.first_name,
        last_name=data.last_name,
        phone=data.phone,
        role=data.role.value,
        department_id=department_id,
        department=department,
        is_active=True,
        password_hash=hash_password(data.password),
    )
    try:
        async with session.begin_nested():
            await repo.add(user)
    except IntegrityError as exc:
        raise EmailTaken("Username or email already in use (rule email_taken)") from exc
    await audit.record(session, AuditAction.CREATE, "user", user.id,
                       changes={"after": _user_fields(user)})
    return UserRead.model_validate(user)


async def list_users(
    session: AsyncSession, page: PageParams, *, role: Role | None = None,
    is_active: bool | None = None, department_id: uuid.UUID | None = None,
    q: str | None = None, sort: str | None = None,
) -> Page[UserRead]:
    """A page of staff accounts (the staff directory, seed 004 ``GET /users``).

    Args:
        role, is_active, department_id: exact filters.
        q: part of the username, email, full, first or last name (case-insensitive).
        sort: keys of :class:`UserSort`, ``-key`` descending; default ``username``.

    Raises:
        ValidationFailed (422): unknown sort key.
    """
    order = parse_sort(sort, UserSort, [("username", False)])
    rows, total = await UserRepository(session).list(
        offset=page.offset, limit=page.page_size, role=role.value if role else None,
        is_active=is_active, department_id=department_id, q=q, order=order,
    )
    return Page[UserRead](
        items=[UserRead.model_validate(u) for u in rows], total=total, page=page.page,
        page_size=page.page_size,
    )


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> UserRead:
    """A staff account by id.

    Raises:
        NotFound (404): no such user.
    """
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotFound("User not found")
    return UserRead.model_validate(user)


async def user_details(session: AsyncSession, user_id: uuid.UUID) -> UserDetails:
    """A staff account with its department (seed 004 ``GET /users/{id}/details``): two
    queries whatever the user (the user, then its department by id).

    Raises:
        NotFound (404): no such user.
    """
    user = await get_user(session, user_id)
    departments = await organization.departments_by_ids(session, [user.department_id])
    department = departments.get(user.department_id) if user.department_id else None
    return UserDetails(
        **user.model_dump(),
        department_detail=UserDepartment(id=department.id, name=department.name,
                                         description=department.description)
        if department else None,
    )


async def users_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID | None]
                       ) -> dict[uuid.UUID, UserRead]:
    """The users of ``ids`` (None and unknown ids skipped), in one query; for other
    modules' detail endpoints (doctor, recorded_by, processed_by...)."""
    wanted = {i for i in ids if i is not None}
    rows = await UserRepository(session).by_ids(wanted)
    return {u.id: UserRead.model_validate(u) for u in rows}


async def require_active_doctor(session: AsyncSession, user_id: uuid.UUID,
                                field: str = "doctor_id") -> UserRead:
    """The doctor a request names, who must be an active physician account.

    Raises:
        DoctorNotActive (422, ``doctor_not_active``): unknown user, deactivated account or
            a role other than physician; ``errors`` names ``field``. Seed 004 11 "Only
            active users and patients can be scheduled for appointments".
    """
    user = await UserRepository(session).get(user_id)
    if user is None:
        problem = "unknown user"
    elif not user.is_active:
        problem = "the account is deactivated"
    elif user.role != Role.PHYSICIAN.value:
        problem = "the user is not a doctor"
    else:
        return UserRead.model_validate(user)
    raise DoctorNotActive(
        f"The doctor must be an active physician account (rule doctor_not_active): {problem}",
        errors=[{"field": field, "in": "body", "message": problem,
                 "type": "doctor_not_active"}])


async def sync_department_name(session: AsyncSession, department_id: uuid.UUID,
                               name: str) -> None:
    """Copy a renamed department's name to its users (organization calls this in the
    rename's transaction; ``:department`` row scopes compare names)."""
    await UserRepository(session).rename_department(department_id, name)


async def deactivate_user(session: AsyncSession, actor: Principal, user_id: uuid.UUID
                          ) -> UserRead:
    """``DELETE /users/{id}``: deactivate the account (never a hard delete: audit rows and
    clinical records name it) and revoke all of its sessions at once. Idempotent.

    Raises:
        NotFound (404): no such user.
        CannotDeactivateSelf (409, ``cannot_deactivate_self``): the caller's own account.

    Source: seed 004 14.7 (soft delete), 11 "Create/edit/deactivate user accounts".
    """
    repo = UserRepository(session)
    user = await repo.get(user_id)
    if user is None:
        raise NotFound("User not found")
    if user.id == actor.user_id:
        raise CannotDeactivateSelf("You cannot deactivate your own account")
    now = utcnow()
    revoked = await repo.revoke_all_sessions(user.id, now, "deactivated")
    if user.is_active:
        user.is_active = False
        await audit.record(session, AuditAction.DEACTIVATE, "user", user.id,
                           changes={"before": {"is_active": True},
                                    "after": {"is_active": False,
                                              "sessions_revoked": revoked}})
    await session.flush()
    await session.refresh(user)
    return UserRead.model_validate(user)


async def update_user(session: AsyncSession, user_id: uuid.UUID, data: UserUpdate) -> UserRead:
    """Change role, active flag, names, phone, email, department; reset the password,
    unlock, or remove MFA (partial: absent fields stay; audited with old/new values).

    Deactivating a user, resetting the password or removing MFA revokes all of the user's
    sessions, so their tokens stop working at once. A reset password must be changed at
    next login, and also ends a lockout (as ``unlock`` does). ``department_id`` sets the
    department name too; ``department_id: null`` or ``department: null`` clears both.

    Raises:
        NotFound (404): no such user.
        EmailTaken (409, ``email_taken``): email already used by another account.
        ValidationFailed (422): the new password breaks the policy (field ``password``);
            unknown ``department_id``.
    """
    repo = UserRepository(session)
    user = await repo.get(user_id)
    if user is None:
        raise NotFound("User not found")
    before = _user_fields(user)
    now = utcnow()
    fields = data.model_dump(exclude_unset=True)
    if "email" in fields and data.email is not None:
        other = await repo.by_login(str(data.email))
        if other is not None and other.id != user.id:
            raise EmailTaken("Another account already uses this email (rule email_taken)")
        user.email = str(data.email).lower()
    if data.role is not None:
        user.role = data.role.value
    if "department_id" in fields or "department" in fields:
        if fields.get("department_id") is None and fields.get("department") is None:
            user.department_id, user.department = None, None
        else:
            user.department_id, user.department = await _resolve_department(
                session, fields.get("department_id"), fields.get("department"))
    for name in ("first_name", "last_name", "phone"):
        if name in fields:
            setattr(user, name, fields[name])
    if data.full_name is not None:
        user.full_name = data.full_name
    elif "first_name" in fields or "last_name" in fields:
        user.full_name = _full_name(user.first_name, user.last_name) or user.full_name
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            await repo.revoke_all_sessions(user.id, now, "deactivated")
    if data.password is not None:
        enforce_password_policy(data.password, user.username)
        user.password_hash = hash_password(data.password)
        user.password_changed_at = now
        user.must_change_password = True
        await repo.revoke_all_sessions(user.id, now, "password_reset")
    if data.password is not None or data.unlock:
        # A reset is also the way out of a lockout.
        user.failed_login_count = 0
        user.locked_until = None
    if data.reset_mfa and user.mfa_secret is not None:
        await _clear_mfa(repo, user)
        await repo.revoke_all_sessions(user.id, now, "mfa_reset")
        await audit.record(session, AuditAction.MFA_DISABLE, "user", user.id,
                           changes={"by": "admin"})
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise EmailTaken("Another account already uses this email (rule email_taken)") from exc
    changes = audit.diff(before, _user_fields(user))
    if data.password is not None:
        changes["after"]["password"] = "reset"
    if data.unlock:
        changes["after"]["unlocked"] = True
    await audit.record(session, AuditAction.UPDATE, "user", user.id, changes=changes)
    await session.flush()
    await session.refresh(user)
    return UserRead.model_validate(user)


async def ensure_user(
    session: AsyncSession, username: str, password: str, role: Role, full_name: str | None = None
) -> tuple[UserRead, bool]:
    """Create the user if missing (CLI, demo). Returns ``(user, created)``."""
    existing = await UserRepository(session).by_login(username)
    if existing is not None:
        return UserRead.model_validate(existing), False
    return await create_user(
        session, UserCreate(username=username, password=password, role=role, full_name=full_name)
    ), True


async def user_summary(session: AsyncSession, user_id: uuid.UUID) -> UserRead | None:
    """A user by id, for other modules (e.g. a visit's attending physician)."""
    user = await UserRepository(session).get(user_id)
    return UserRead.model_validate(user) if user else None


async def clear_password_change(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Drop the must-change-password flag (demo accounts whose password the CLI prints)."""
    user = await UserRepository(session).get(user_id)
    if user is not None:
        user.must_change_password = False
        await session.flush()
