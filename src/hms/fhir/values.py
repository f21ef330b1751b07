"""Small helpers over FHIR R4 data types shared by the mappers (pure functions)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from pydantic import BaseModel, ValidationError

from hms.fhir.errors import InvalidBundle
from hms.fhir.parser import BundleEntry

M = TypeVar("M", bound=BaseModel)

LOINC = "http://loinc.org"


def visit_of(encounter: BundleEntry | None, patient_key: str, visit_keys: dict[str, str],
             kind: str, warnings: Counter[str]) -> str | None:
    """The visit key a record links to: its encounter, when that encounter is imported and
    belongs to the same patient (else no visit, with a counted warning)."""
    if encounter is None or encounter.key not in visit_keys:
        return None
    if visit_keys[encounter.key] != patient_key:
        warnings[f"{kind}.encounter_of_another_patient"] += 1
        return None
    return encounter.key


def validated(model: type[M], values: dict[str, Any], kind: str, where: str,
              warnings: Counter[str]) -> M:
    """Validate ``values``; an optional field that fails is left out with a counted
    warning ``<kind>.<field>.invalid``.

    Raises:
        InvalidBundle (422): a required field (or the record as a whole) is invalid.
    """
    data = dict(values)
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors(include_input=False) if e["loc"]}
            droppable = {name for name in bad if name in data
                         and not model.model_fields[name].is_required()}
            if not droppable or droppable != bad:
                names = ", ".join(sorted(bad)) or "record"
                raise InvalidBundle(f"{where}: hms cannot store it (invalid {names})") \
                    from None
            for name in droppable:
                data.pop(name)
                warnings[f"{kind}.{name}.invalid"] += 1


def first_code(concept: CodeableConcept | None, *,
               system: str | None = None) -> tuple[str | None, str] | None:
    """(system, code) of the first coding with a code (of ``system`` when given), or None."""
    for coding in (concept.coding or []) if concept is not None else []:
        if coding.code and (system is None or coding.system == system):
            return coding.system, coding.code
    return None


def loinc_codes(concept: CodeableConcept | None) -> set[str]:
    """The LOINC codes of a CodeableConcept."""
    return {c.code for c in (concept.coding or []) if c.system == LOINC and c.code} \
        if concept is not None else set()


def concept_text(concept: CodeableConcept) -> str | None:
    """``text``, else the first coding ``display``, else None."""
    text = (concept.text or "").strip()
    if text:
        return text
    return next(((c.display or "").strip() for c in concept.coding or []
                 if (c.display or "").strip()), None)


def to_utc(value: datetime | date | str | Decimal | None) -> datetime | None:
    """A FHIR dateTime as an aware UTC datetime: a date (or partial date ``YYYY``,
    ``YYYY-MM``) becomes midnight UTC of its first day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    day = to_date(value)
    return datetime.combine(day, time(0), tzinfo=UTC) if day else None


def to_date(value: datetime | date | str | Decimal | None) -> date | None:
    """A FHIR date/dateTime as a date (partial dates: the first day of the year/month)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parts = str(value).split("-")
    try:
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, 1)
    except (ValueError, IndexError):
        return None
