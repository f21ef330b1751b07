"""Parsing of the ``sort`` query parameter: a comma list of keys, ``-`` for descending."""

from __future__ import annotations

from enum import StrEnum

from hms.core.errors import ValidationFailed


def parse_sort(sort: str | None, allowed: type[StrEnum], default: list[tuple[str, bool]]
               ) -> list[tuple[str, bool]]:
    """``"-started_at,status"`` -> ``[("started_at", True), ("status", False)]``.

    Raises:
        ValidationFailed (422): a key not in ``allowed`` (entry for field ``sort``).
    """
    if not sort:
        return default
    out: list[tuple[str, bool]] = []
    valid = {m.value for m in allowed}
    for raw in sort.split(","):
        key = raw.strip()
        descending = key.startswith("-")
        name = key.lstrip("-")
        if name not in valid:
            raise ValidationFailed(
                f"Unknown sort key; allowed: {', '.join(sorted(valid))}",
                errors=[{"field": "sort", "in": "query", "type": "enum",
                         "message": f"allowed keys: {', '.join(sorted(valid))}"}],
            )
        out.append((name, descending))
    return out
