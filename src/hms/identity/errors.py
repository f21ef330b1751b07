"""Errors of the identity module."""

from __future__ import annotations

from hms.core.errors import Conflict, RuleViolation, Unauthorized


class MfaRequired(Unauthorized):
    """401: the password was right but the account has MFA: send the TOTP or a recovery code
    in ``otp``. Only answered after the password check, so it reveals nothing about unknown
    usernames."""

    code = "mfa_required"


class MfaInvalid(Unauthorized):
    """401: the one-time code is wrong or was already used (counts as a failed login)."""

    code = "mfa_invalid"


class EmailTaken(Conflict):
    """409: another account already uses this email (seed 004 11 "User email addresses must
    be unique"; compared case-insensitively)."""

    code = "email_taken"


class UsernameTaken(Conflict):
    """409: another account already uses this username."""

    code = "username_taken"


class DoctorNotActive(RuleViolation):
    """422: the user named as doctor is unknown, deactivated or not a physician (seed 004 11
    "Only active users and patients can be scheduled")."""

    code = "doctor_not_active"


class CannotDeactivateSelf(Conflict):
    """409: an administrator cannot deactivate their own account (they would lock
    themselves out mid-request)."""

    code = "cannot_deactivate_self"
