"""Builders for document tests: real files of every accepted type, multipart bodies, uploads.

Synthetic content only; the DICOM files are pydicom's MIT-licensed samples (files/README.md).
"""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from httpx import AsyncClient, Response

FILES = Path(__file__).parent / "files"
CT_SMALL = FILES / "CT_small.dcm"
MR_SMALL = FILES / "MR_small.dcm"


def file_bytes(path: Path) -> bytes:
    """The bytes of a sample file."""
    return path.read_bytes()


def dicom_index() -> dict[str, dict[str, str]]:
    """Expected tags of the sample DICOM files, keyed by file name."""
    with (FILES / "dicom-index.tsv").open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def make_pdf(text: str = "Synthetic scanned referral letter") -> bytes:
    """A real one-page PDF drawn with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.drawString(72, 760, text)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def make_png(width: int = 4, height: int = 3) -> bytes:
    """A real greyscale PNG, built by hand (signature, IHDR, IDAT, IEND)."""
    raw = b"".join(b"\x00" + bytes((x * 40 + y * 20) % 256 for x in range(width))
                   for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(raw))
            + _png_chunk(b"IEND", b""))


def make_tiff() -> bytes:
    """A real 2x2 8-bit greyscale little-endian TIFF, built by hand."""
    pixels = bytes([0, 64, 128, 255])
    entries = [  # tag, type (3 SHORT, 4 LONG), count, value
        (256, 3, 1, 2), (257, 3, 1, 2), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 0), (277, 3, 1, 1), (278, 3, 1, 2), (279, 4, 1, len(pixels)),
    ]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + pixels


def make_jpeg() -> bytes:
    """A real baseline JPEG (Pillow, installed with reportlab)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def multipart_body(
    parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = "hmsBoundary42"
) -> tuple[bytes, str]:
    """Encode ``(name, filename, content_type, data)`` parts; returns (body, Content-Type)."""
    out = bytearray()
    for name, filename, content_type, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


async def chunks(data: bytes, size: int = 1024, consumed: list[int] | None = None
                 ) -> AsyncIterator[bytes]:
    """Yield ``data`` in ``size``-byte chunks, counting the bytes handed out in ``consumed``."""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        if consumed is not None:
            consumed.append(len(piece))
        yield piece


async def upload(
    client: AsyncClient,
    visit_id: object,
    headers: dict[str, str],
    content: bytes,
    filename: str = "scan.pdf",
    content_type: str = "application/octet-stream",
    **fields: Any,
) -> Response:
    """POST one file (and text fields) to the visit's documents as multipart/form-data."""
    return await client.post(
        f"/api/v1/visits/{visit_id}/documents",
        headers=headers,
        files={"file": (filename, content, content_type)},
        data={k: v for k, v in fields.items() if v is not None},
    )


def stored_files(documents_dir: Path) -> set[Path]:
    """Every file under the documents folder (stored and temp)."""
    if not documents_dir.exists():
        return set()
    return {p for p in documents_dir.rglob("*") if p.is_file()}
