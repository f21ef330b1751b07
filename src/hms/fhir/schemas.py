"""Pydantic schemas of the fhir module: the import report.

Counts only: a report never carries names or other patient data, so it can be printed,
logged and stored in the audit trail.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, Field

#: Target tables, in the order the report prints them.
TARGETS = ("patients", "visits", "vital_signs", "diagnoses")


class FileStatus(StrEnum):
    """Outcome of one file: ``imported`` (something new), ``unchanged`` (everything was
    already present), ``rejected`` (nothing imported; see ``reason``)."""

    IMPORTED = "imported"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class FileResult(BaseModel):
    """What happened to one bundle file.

    Attributes:
        path: the file as given or found (operator input, not record content).
        status: see :class:`FileStatus`.
        reason: why the file was rejected (no patient data), else None.
        resources: number of entries per FHIR resource type in the bundle.
        created: new rows per target table (``patients``, ``visits``, ``vital_signs``,
            ``diagnoses``).
        already_present: rows per target table that an earlier import already created
            (identity by source system + source id).
        skipped: resources not imported, per FHIR type (types hms does not import,
            Observations that are not LOINC-coded vital signs, cancelled or erroneous ones).
        warnings: counted problems that did not stop the import, per kind, e.g.
            ``vital_signs.pulse_bpm.out_of_range`` (that value was left out).
        seconds: wall time for this file.
    """

    path: str
    status: FileStatus
    reason: str | None = None
    resources: dict[str, int] = Field(default_factory=dict)
    created: dict[str, int] = Field(default_factory=dict)
    already_present: dict[str, int] = Field(default_factory=dict)
    skipped: dict[str, int] = Field(default_factory=dict)
    warnings: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0


class ImportReport(BaseModel):
    """The result of ``hms import-fhir``: one :class:`FileResult` per file, in order."""

    files: list[FileResult] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file was rejected."""
        return not self.rejected

    @property
    def rejected(self) -> list[FileResult]:
        """The rejected files."""
        return [f for f in self.files if f.status is FileStatus.REJECTED]

    def count(self, status: FileStatus) -> int:
        """Number of files with ``status``."""
        return sum(1 for f in self.files if f.status is status)

    def total(self, field: str) -> dict[str, int]:
        """Sum of one per-file counter (``created``, ``already_present``, ``skipped``,
        ``warnings``, ``resources``) over all files."""
        out: Counter[str] = Counter()
        for result in self.files:
            out.update(getattr(result, field))
        return dict(out)

    def lines(self) -> list[str]:
        """Human-readable lines: one per file, then the totals. Counts only: no record
        content is ever printed (the path is what the operator gave).

        Example::

            imported   data/synthea/a.json.gz: new patients 1, visits 6, vital_signs 4, ...
            rejected   broken.json: invalid JSON at line 1 column 2: Expecting value
            3 files: 1 imported, 1 unchanged, 1 rejected (0.41 s)
        """
        out = []
        for result in self.files:
            head = f"{result.status.value:<10} {result.path}"
            if result.status is FileStatus.REJECTED:
                out.append(f"{head}: {result.reason}")
                continue
            parts = [_counts("new", result.created),
                     _counts("already present", result.already_present)]
            skipped = sum(result.skipped.values())
            if skipped:
                parts.append(f"{skipped} resources skipped")
            warnings = sum(result.warnings.values())
            if warnings:
                parts.append(f"{warnings} warnings ({_listing(result.warnings)})")
            out.append(f"{head}: " + "; ".join(p for p in parts if p))
        out.append(f"{len(self.files)} files: {self.count(FileStatus.IMPORTED)} imported, "
                   f"{self.count(FileStatus.UNCHANGED)} unchanged, "
                   f"{self.count(FileStatus.REJECTED)} rejected in {self.seconds:.2f} s")
        out.append("total: " + "; ".join(p for p in (
            _counts("new", self.total("created")) or "nothing new",
            _counts("already present", self.total("already_present"))) if p))
        skipped_types = self.total("skipped")
        if skipped_types:
            out.append(f"skipped (not imported by hms): {_listing(skipped_types)}")
        return out

    def summary(self) -> str:
        """:meth:`lines` joined with newlines."""
        return "\n".join(self.lines())


def _counts(label: str, counts: dict[str, int]) -> str:
    shown = [f"{t} {counts[t]}" for t in TARGETS if counts.get(t)]
    return f"{label} " + ", ".join(shown) if shown else ""


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
