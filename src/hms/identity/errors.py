"""Errors of the identity module."""

from __future__ import annotations

from hms.core.errors import Unauthorized


class MfaRequired(Unauthorized):
    """401: the password was right but the account has MFA: send the TOTP or a recovery code
    in ``otp``. Only answered after the password check, so it reveals nothing about unknown
    usernames."""

    code = "mfa_required"


class MfaInvalid(Unauthorized):
    """401: the one-time code is wrong or was already used (counts as a failed login)."""

    code = "mfa_invalid"
