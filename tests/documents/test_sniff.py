"""The type of a file is decided by its bytes, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from hms.documents import sniff
from hms.documents.errors import UnsupportedDocumentType
from tests.documents.factories import (
    CT_SMALL,
    MR_SMALL,
    make_jpeg,
    make_pdf,
    make_png,
    make_tiff,
)


def _write(tmp_path: Path, data: bytes, name: str = "upload.part") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestAcceptedTypes:
    @pytest.mark.parametrize(
        ("maker", "expected"),
        [(make_pdf, sniff.PDF), (make_png, sniff.PNG), (make_jpeg, sniff.JPEG),
         (make_tiff, sniff.TIFF)],
        ids=["pdf", "png", "jpeg", "tiff"],
    )
    def test_real_files_are_recognised(self, tmp_path: Path, maker, expected) -> None:
        assert sniff.detect(_write(tmp_path, maker())) is expected

    @pytest.mark.parametrize("path", [CT_SMALL, MR_SMALL], ids=["ct", "mr"])
    def test_dicom_files_are_recognised_by_their_preamble(self, path: Path) -> None:
        assert sniff.detect(path) is sniff.DICOM

    def test_big_endian_tiff_is_recognised(self, tmp_path: Path) -> None:
        # MM header, IFD at 8 with one entry (ImageWidth=1).
        data = (b"MM\x00*" + (8).to_bytes(4, "big") + (1).to_bytes(2, "big")
                + b"\x01\x00\x00\x03\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 4)
        assert sniff.detect(_write(tmp_path, data)) is sniff.TIFF


class TestRefusedContent:
    @pytest.mark.parametrize(
        "data",
        [
            b"This is a plain text file pretending to be a PDF.\n",
            b"%PDF-1.7\nno trailer at all",
            b"\x89PNG\r\n\x1a\nnot really a png",
            b"\xff\xd8\xff\xe0 truncated jpeg",
            b"II*\x00\xff\xff\xff\x7f",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
            b"PK\x03\x04" + b"\x00" * 40,
            b"<html><script>alert(1)</script></html>",
            b"MZ\x90\x00" + b"\x00" * 60,
        ],
        ids=["text", "pdf-no-eof", "png-header-only", "jpeg-truncated", "tiff-bad-ifd",
             "gif", "zip", "html", "exe"],
    )
    def test_is_unsupported(self, tmp_path: Path, data: bytes) -> None:
        with pytest.raises(UnsupportedDocumentType):
            sniff.detect(_write(tmp_path, data))

    def test_png_with_corrupted_header_checksum_is_refused(self, tmp_path: Path) -> None:
        data = bytearray(make_png())
        data[20] ^= 0xFF  # inside IHDR, after the CRC was computed
        with pytest.raises(UnsupportedDocumentType):
            sniff.detect(_write(tmp_path, bytes(data)))

    def test_jpeg_cut_before_its_scan_is_refused(self, tmp_path: Path) -> None:
        jpeg = make_jpeg()
        with pytest.raises(UnsupportedDocumentType):
            sniff.detect(_write(tmp_path, jpeg[:40]))

    def test_the_filename_does_not_matter(self, tmp_path: Path) -> None:
        with pytest.raises(UnsupportedDocumentType):
            sniff.detect(_write(tmp_path, b"hello", name="report.pdf"))
        assert sniff.detect(_write(tmp_path, make_png(), name="notes.txt")) is sniff.PNG
