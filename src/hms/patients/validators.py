"""Pure validation and normalisation rules for patient data.

No I/O here: every function takes values and returns values (or raises a ``ValueError``
subclass carrying a machine-readable ``reason``), so the Pydantic schemas, the service (for
updates merged with stored values) and the FHIR importer apply the very same rules.
Messages never contain the checked value: it is patient data.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

# Source: Egyptian Civil Status Sector (Ministry of Interior) national number layout, Civil
# Status Law 143/1994; governorate codes as printed in digits 8-9 of the national number.
# 88 is used for citizens born abroad.
GOVERNORATE_CODES: dict[str, str] = {
    "01": "Cairo",
    "02": "Alexandria",
    "03": "Port Said",
    "04": "Suez",
    "11": "Damietta",
    "12": "Dakahlia",
    "13": "Sharqia",
    "14": "Qalyubia",
    "15": "Kafr El Sheikh",
    "16": "Gharbia",
    "17": "Monufia",
    "18": "Beheira",
    "19": "Ismailia",
    "21": "Giza",
    "22": "Beni Suef",
    "23": "Fayoum",
    "24": "Minya",
    "25": "Asyut",
    "26": "Sohag",
    "27": "Qena",
    "28": "Aswan",
    "29": "Luxor",
    "31": "Red Sea",
    "32": "New Valley",
    "33": "Matrouh",
    "34": "North Sinai",
    "35": "South Sinai",
    "88": "Born abroad",
}

_CENTURIES = {"2": 1900, "3": 2000}

# Source: NTRA (Egypt) national numbering plan: mobile numbers are 11 digits, 01 then the
# operator digit 0 (Vodafone), 1 (e&), 2 (Orange) or 5 (WE); country code +20 (ITU-T E.164).
MOBILE_PATTERN = r"^01[0125]\d{8}$"
_MOBILE_RE = re.compile(MOBILE_PATTERN)
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
_PATIENT_NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-]{0,31}$")
GENERATED_PATIENT_NUMBER_RE = re.compile(r"^PT-\d{8}-\d{4,}$")

# Arabic letters that NFKD leaves alone but that people type interchangeably.
# teh marbuta -> heh, alef maqsura -> yeh, tatweel dropped.
_ARABIC_FOLD = str.maketrans({"\u0629": "\u0647", "\u0649": "\u064a", "\u0640": None})


class InvalidValue(ValueError):
    """A value broke one rule. ``reason`` is a stable machine code, ``message`` a PHI-free
    sentence for the client."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class NationalIdInfo:
    """What an Egyptian national ID encodes."""

    birth_date: date
    governorate_code: str
    gender: Literal["male", "female"]


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    """True when ``value`` holds a C0/C1 control character (NUL, tab, newline...)."""
    return bool(_CONTROL_RE.search(value))


def today_utc() -> date:
    """Today's date in UTC (the reference for "not in the future")."""
    return datetime.now(UTC).date()


def parse_national_id(value: str, *, today: date | None = None) -> NationalIdInfo:
    """Check the structure of an Egyptian national ID and decode it.

    Layout (14 digits): ``C YYMMDD GG SSSS K``: century digit C (2 = born 1900-1999,
    3 = born 2000-2099), birth date YYMMDD, governorate code GG, a 4-digit sequence whose
    last digit (the 13th overall) is odd for males and even for females, and a check digit K.
    The check digit's algorithm is not published, so it is not verified.

    Args:
        value: the ID as typed (surrounding whitespace is the caller's to strip).
        today: reference date for "not in the future"; default today in UTC.

    Returns:
        Birth date, governorate code and the gender encoded in the ID.

    Raises:
        InvalidValue: ``reason`` is one of ``national_id_format`` (not exactly 14 digits),
            ``national_id_century`` (first digit not 2 or 3), ``national_id_birth_date``
            (digits 2-7 not a real date), ``national_id_future_birth_date``,
            ``national_id_governorate`` (digits 8-9 not an official code).

    Source: Egyptian Civil Status Sector (Ministry of Interior), national number structure
    under Civil Status Law 143/1994.
    """
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        raise InvalidValue("national_id_format", "National ID must be exactly 14 digits")
    century = _CENTURIES.get(value[0])
    if century is None:
        raise InvalidValue(
            "national_id_century",
            "National ID century digit (1st) must be 2 (born 1900-1999) or 3 (born 2000-2099)",
        )
    try:
        born = date(century + int(value[1:3]), int(value[3:5]), int(value[5:7]))
    except ValueError:
        raise InvalidValue(
            "national_id_birth_date",
            "National ID digits 2-7 (YYMMDD) are not a real birth date",
        ) from None
    if born > (today or today_utc()):
        raise InvalidValue(
            "national_id_future_birth_date", "National ID birth date (digits 2-7) is in the future"
        )
    governorate = value[7:9]
    if governorate not in GOVERNORATE_CODES:
        raise InvalidValue(
            "national_id_governorate",
            "National ID digits 8-9 are not an official governorate code",
        )
    return NationalIdInfo(
        birth_date=born,
        governorate_code=governorate,
        gender="male" if int(value[12]) % 2 == 1 else "female",
    )


def check_national_id(
    value: str,
    *,
    date_of_birth: date | None = None,
    gender: str | None = None,
    today: date | None = None,
) -> NationalIdInfo:
    """Validate an Egyptian national ID and its agreement with the patient's other data.

    Args:
        value: the 14-digit ID.
        date_of_birth: when given, must equal the birth date embedded in the ID.
        gender: when ``male`` or ``female``, must match the 13th digit's parity
            (odd = male, even = female); ``other``/``unknown``/None are not checked.
        today: reference date for "not in the future"; default today in UTC.

    Returns:
        The decoded ID (see :func:`parse_national_id`).

    Raises:
        InvalidValue: any :func:`parse_national_id` reason, or ``national_id_dob_mismatch``,
            or ``national_id_gender_mismatch``.

    Source: Egyptian Civil Status Sector (Ministry of Interior), national number structure
    under Civil Status Law 143/1994.
    """
    info = parse_national_id(value, today=today)
    if date_of_birth is not None and date_of_birth != info.birth_date:
        raise InvalidValue(
            "national_id_dob_mismatch",
            "National ID birth date (digits 2-7) does not match date_of_birth",
        )
    if gender in ("male", "female") and gender != info.gender:
        raise InvalidValue(
            "national_id_gender_mismatch",
            "National ID 13th digit parity does not match gender (odd = male, even = female)",
        )
    return info


def normalize_mobile(value: str) -> str:
    """Normalise an Egyptian mobile number to its 11-digit national form.

    Spaces, dashes, dots and parentheses are ignored; the international forms ``+20…``,
    ``0020…`` and ``20…`` (12 digits) are turned into ``0…``.

    Args:
        value: the number as typed.

    Returns:
        ``01XNNNNNNNN`` with X in 0, 1, 2, 5.

    Raises:
        InvalidValue: ``mobile_format`` when the result is not ``^01[0125]\\d{8}$``.

    Source: NTRA (Egypt) national numbering plan; ITU-T E.164 country code 20.
    """
    digits = re.sub(r"[\s\-.()]", "", value)
    if digits.startswith("+20"):
        digits = "0" + digits[3:]
    elif digits.startswith("0020"):
        digits = "0" + digits[4:]
    elif digits.startswith("20") and len(digits) == 12:
        digits = "0" + digits[2:]
    if not digits.isascii() or not _MOBILE_RE.match(digits):
        raise InvalidValue(
            "mobile_format",
            "Mobile must be 11 digits: 01 then 0, 1, 2 or 5, then 8 digits (e.g. 015xxxxxxxx)",
        )
    return digits


def looks_like_mobile(value: str) -> bool:
    """True when :func:`normalize_mobile` accepts ``value``."""
    try:
        normalize_mobile(value)
    except InvalidValue:
        return False
    return True


def check_phone(value: str) -> str:
    """Validate a landline or other phone number (digits, optional leading +, spaces, dashes,
    parentheses; 3-31 characters).

    Raises:
        InvalidValue: ``phone_format``.
    """
    if not _PHONE_RE.match(value):
        raise InvalidValue(
            "phone_format", "Phone may hold digits, a leading +, spaces, dashes and parentheses"
        )
    return value


def normalize_patient_number(value: str) -> str:
    """Normalise a client-supplied patient number (MRN): upper case, letters, digits, dashes.

    It must contain a letter and not be a UUID, so that a path reference can always tell a
    patient number from a national ID (all digits) or a patient id (UUID).

    Raises:
        InvalidValue: ``patient_number_format``.
    """
    upper = value.strip().upper()
    valid = bool(_PATIENT_NUMBER_RE.match(upper)) and any(c.isalpha() for c in upper)
    if valid:
        try:
            uuid.UUID(upper)
            valid = False
        except ValueError:
            pass
    if not valid:
        raise InvalidValue(
            "patient_number_format",
            "Patient number must be 1-32 letters, digits or dashes, contain a letter, "
            "and not be a UUID",
        )
    return upper


def format_patient_number(day: date, sequence: int) -> str:
    """``PT-YYYYMMDD-NNNN``: registration day (UTC) and the day's sequence, zero-padded to 4
    digits (a 10,000th registration in one day simply gets 5 digits)."""
    return f"PT-{day:%Y%m%d}-{sequence:04d}"


def clean_name(value: str) -> str:
    """Trim and collapse internal whitespace of a person's name."""
    return " ".join(value.split())


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """Split a full name into given name (first token) and family name (the rest, or None).

    Egyptian names chain given name, father's and grandfather's names and family name; the
    first token is the given name and the rest is kept together as the family name.
    """
    tokens = full_name.split()
    if not tokens:
        return "", None
    return tokens[0], (" ".join(tokens[1:]) or None)


def compose_full_name(given_name: str | None, family_name: str | None) -> str:
    """``"given family"`` from the parts that are present."""
    return " ".join(p for p in (given_name, family_name) if p)


def fold_name(value: str) -> str:
    """Search key of a name: case-folded, accents stripped, whitespace collapsed.

    Unicode NFKD decomposition then dropping combining marks removes Latin accents
    (``José`` -> ``jose``) and Arabic diacritics and hamza/madda carriers (``أحمد`` ->
    ``احمد``); teh marbuta is folded to heh, alef maqsura to yeh, and tatweel dropped.

    Source: Unicode Standard Annex #15 (normalization forms); the Arabic foldings are the
    usual ones of Arabic information retrieval (e.g. Larkey et al., light stemming, 2002).
    """
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.translate(_ARABIC_FOLD).casefold().split())


def mask_tail(value: str, keep: int) -> str:
    """``value`` with every character but the last ``keep`` replaced by ``*`` (at most a
    third of the value is kept, so short values stay mostly hidden)."""
    shown = min(keep, len(value) // 3)
    return "*" * (len(value) - shown) + (value[-shown:] if shown else "")


def mask_national_id(value: str) -> str:
    """A national ID as shown to roles without ``patient:read_identifiers``: the last four
    digits only, e.g. ``**********0015`` (seed 003's example response shows the last four of
    a national ID)."""
    return mask_tail(value, 4)


def mask_phone(value: str) -> str:
    """A phone number reduced to its digits, all but the last three masked
    (``01012345678`` -> ``********678``)."""
    digits = "".join(c for c in value if c.isdigit())
    return mask_tail(digits or value, 3)


def mask_email(value: str) -> str:
    """An e-mail address as ``first letter***@domain`` (``mona@example.org`` ->
    ``m***@example.org``)."""
    local, at, domain = value.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


#: What a masked free-text value (an address line) is replaced with.
MASKED_TEXT = "***"
