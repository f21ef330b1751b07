"""Decide a file's type from its bytes: PDF, JPEG, PNG, TIFF or DICOM, nothing else.

The filename and the Content-Type the client claims are never consulted. A first pass uses
the ``filetype`` package's magic numbers; a second, strict pass checks the structure the
magic number promises (a PDF's ``%%EOF`` trailer, a JPEG's marker segments up to the scan,
PNG's IHDR checksum and IEND chunk, a TIFF's first IFD), so a text file that merely starts
with ``%PDF`` or ``\\x89PNG`` is refused. DICOM (PS3.10 file: 128-byte preamble then
``DICM``) is confirmed by parsing it with pydicom in :mod:`hms.documents.dicom`.

Blocking (reads the file); async callers use ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import filetype

from hms.documents.errors import UnsupportedDocumentType

HEAD_BYTES = 8192  # what filetype inspects
TAIL_BYTES = 1024  # PDF readers accept %%EOF within the last 1024 bytes

DocumentKind = Literal["pdf", "jpeg", "png", "tiff", "dicom"]


@dataclass(frozen=True, slots=True)
class DetectedType:
    """An accepted file type: its kind, MIME type and stored extension."""

    kind: DocumentKind
    mime: str
    extension: str


PDF = DetectedType("pdf", "application/pdf", "pdf")
JPEG = DetectedType("jpeg", "image/jpeg", "jpg")
PNG = DetectedType("png", "image/png", "png")
TIFF = DetectedType("tiff", "image/tiff", "tif")
DICOM = DetectedType("dicom", "application/dicom", "dcm")

ACCEPTED = (PDF, JPEG, PNG, TIFF, DICOM)
ACCEPTED_DESCRIPTION = "PDF, JPEG, PNG, TIFF or DICOM"

_BY_MIME = {
    "application/pdf": PDF,
    "image/jpeg": JPEG,
    "image/png": PNG,
    "image/apng": PNG,  # an animated PNG is still a PNG
    "image/tiff": TIFF,
    "application/dicom": DICOM,
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MAX_JPEG_SEGMENTS = 4096
_MAX_TIFF_ENTRIES = 4096


def _unsupported() -> UnsupportedDocumentType:
    return UnsupportedDocumentType(
        f"The file's content is not a {ACCEPTED_DESCRIPTION} file; "
        "the filename and the claimed content type are not considered"
    )


def has_dicom_preamble(head: bytes) -> bool:
    """True when ``head`` is a DICOM PS3.10 file start: 128-byte preamble then ``DICM``."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def _pdf_ok(head: bytes, tail: bytes) -> bool:
    return (
        head.startswith(b"%PDF-")
        and len(head) >= 8
        and head[5:6].isdigit()
        and head[6:7] == b"."
        and head[7:8].isdigit()
        and b"%%EOF" in tail
    )


def _png_ok(head: bytes, tail: bytes) -> bool:
    if len(head) < 33 or not head.startswith(_PNG_SIGNATURE):
        return False
    if head[8:16] != b"\x00\x00\x00\x0dIHDR":
        return False
    (crc,) = struct.unpack(">I", head[29:33])
    if zlib.crc32(head[12:29]) != crc:
        return False
    width, height = struct.unpack(">II", head[16:24])
    return width > 0 and height > 0 and _PNG_IEND in tail


def _jpeg_ok(fh: BinaryIO, size: int) -> bool:
    """Walk the marker segments from SOI to SOS; a frame header (SOFn) must come first."""
    fh.seek(0)
    if fh.read(3) != b"\xff\xd8\xff":
        return False
    pos = 2
    seen_frame = False
    for _ in range(_MAX_JPEG_SEGMENTS):
        fh.seek(pos)
        marker_bytes = fh.read(2)
        if len(marker_bytes) < 2 or marker_bytes[0] != 0xFF:
            return False
        marker = marker_bytes[1]
        pos += 2
        while marker == 0xFF:  # fill bytes
            nxt = fh.read(1)
            if not nxt:
                return False
            marker = nxt[0]
            pos += 1
        if marker in (0x00, 0x01, 0xD8, 0xD9) or 0xD0 <= marker <= 0xD7:
            return False  # stuffing, TEM, second SOI, EOI or RSTn before the scan
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return False
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2 or pos + length > size:
            return False
        if marker in _JPEG_SOF:
            seen_frame = True
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return seen_frame and pos + length < size
        pos += length
    return False


def _tiff_ok(fh: BinaryIO, head: bytes, size: int) -> bool:
    if head[:4] == b"II*\x00":
        endian = "<"
    elif head[:4] == b"MM\x00*":
        endian = ">"
    else:
        return False
    if len(head) < 8:
        return False
    (ifd_offset,) = struct.unpack(endian + "I", head[4:8])
    if ifd_offset < 8 or ifd_offset + 2 > size:
        return False
    fh.seek(ifd_offset)
    count_bytes = fh.read(2)
    if len(count_bytes) < 2:
        return False
    (entries,) = struct.unpack(endian + "H", count_bytes)
    return 0 < entries <= _MAX_TIFF_ENTRIES and ifd_offset + 2 + 12 * entries <= size


def detect(path: Path) -> DetectedType:
    """Decide the type of the file at ``path`` from its content.

    DICOM is only recognised here by its preamble; the caller confirms it parses
    (:func:`hms.documents.dicom.read_study`).

    Args:
        path: a complete, non-empty file.

    Returns:
        One of :data:`ACCEPTED`.

    Raises:
        UnsupportedDocumentType (415): anything that is not a well-formed PDF, JPEG, PNG, TIFF
            or a DICOM PS3.10 file.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read(TAIL_BYTES)
        # The preamble may legally hold anything, even a TIFF header (dual-personality
        # files), so DICOM is checked before the generic magic numbers.
        if has_dicom_preamble(head):
            return DICOM
        guess = filetype.guess(head)
        detected = _BY_MIME.get(guess.mime) if guess is not None else None
        ok = False
        if detected is PDF:
            ok = _pdf_ok(head, tail)
        elif detected is PNG:
            ok = _png_ok(head, tail)
        elif detected is JPEG:
            ok = _jpeg_ok(fh, size)
        elif detected is TIFF:
            ok = _tiff_ok(fh, head, size)
    if not ok or detected is None:
        raise _unsupported()
    return detected
