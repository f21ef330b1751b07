"""Study metadata of a DICOM upload, read with pydicom.

Only six attributes are read: Modality, StudyDate, BodyPartExamined, StudyInstanceUID,
SeriesInstanceUID and SOPInstanceUID. Patient attributes (PatientName, PatientID...) are
never accessed, logged or returned: the patient a document belongs to is the visit's patient,
not whatever the file's header says.

Source: DICOM PS3.10 (file format: 128-byte preamble, ``DICM``, File Meta Information);
PS3.3 C.7.2.1 / C.7.3.1 / C.12.1 (General Study, General Series, SOP Common modules);
PS3.5 6.2 (DA ``YYYYMMDD``, UI at most 64 characters, CS at most 16).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pydicom

from hms.documents.errors import UnsupportedDocumentType

_UID_MAX = 64
_CS_MAX = 16
_BODY_PART_MAX = 64


@dataclass(frozen=True, slots=True)
class DicomStudy:
    """What the documents table keeps of a DICOM file's header (all optional)."""

    modality: str | None
    study_date: date | None
    body_part: str | None
    study_uid: str | None
    series_uid: str | None
    sop_instance_uid: str | None


def _text(value: Any, max_len: int) -> str | None:
    """A single clean string, or None when absent, empty or longer than the VR allows
    (a truncated UID would silently point at another study)."""
    if value is None:
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = value[0] if len(value) else None
        if value is None:
            return None
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    if not text or len(text) > max_len:
        return None
    return text


def _date(value: Any) -> date | None:
    text = _text(value, 10)
    if text is None:
        return None
    for fmt in ("%Y%m%d", "%Y.%m.%d"):  # DA, and the ACR-NEMA form older devices write
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def read_study(path: Path) -> DicomStudy:
    """Parse a DICOM PS3.10 file (header only, pixel data skipped) and read its study tags.

    Args:
        path: a file that starts with the 128-byte preamble and ``DICM``.

    Returns:
        The study metadata; absent or malformed attributes are None.

    Raises:
        UnsupportedDocumentType (415): pydicom cannot parse the file, or its dataset lacks
            the Type 1 SOP Class UID / SOP Instance UID (not a DICOM object, or cut short).

    Source: DICOM PS3.10 7.1; PS3.3 C.7.2.1, C.7.3.1, C.12.1.
    """
    try:
        with warnings.catch_warnings():
            # pydicom warns about malformed values, and a warning text may quote a value.
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=False)
            # SOP Common module, Type 1: every DICOM object names its class and instance.
            # A file cut short after its File Meta Information has neither.
            sop_instance = _text(ds.get("SOPInstanceUID"), _UID_MAX)
            if not _text(ds.get("SOPClassUID"), _UID_MAX) or not sop_instance:
                raise ValueError("no SOP Class or SOP Instance UID in the dataset")
            return DicomStudy(
                modality=_text(ds.get("Modality"), _CS_MAX),
                study_date=_date(ds.get("StudyDate")),
                body_part=_text(ds.get("BodyPartExamined"), _BODY_PART_MAX),
                study_uid=_text(ds.get("StudyInstanceUID"), _UID_MAX),
                series_uid=_text(ds.get("SeriesInstanceUID"), _UID_MAX),
                sop_instance_uid=sop_instance,
            )
    except Exception as exc:  # pydicom raises many types on a corrupt file
        raise UnsupportedDocumentType(
            "The file has a DICOM preamble but is not a readable DICOM object"
        ) from exc
