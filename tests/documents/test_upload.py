"""The streaming multipart receiver: the file goes to disk chunk by chunk, bounded."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hms.documents.errors import (
    DocumentTooLarge,
    InvalidMultipart,
    InvalidUpload,
    UnsupportedDocumentType,
)
from hms.documents.storage import DocumentStore
from hms.documents.upload import FORM_OVERHEAD_BYTES, receive_multipart
from tests.documents.factories import chunks, make_pdf, multipart_body, stored_files


def _headers(content_type: str, body: bytes | None = None) -> dict[str, str]:
    headers = {"content-type": content_type}
    if body is not None:
        headers["content-length"] = str(len(body))
    return headers


class TestReceivesTheFile:
    async def test_file_and_fields_arrive_with_hash_and_size(self, tmp_path: Path) -> None:
        pdf = make_pdf()
        body, ctype = multipart_body([
            ("document_type", None, None, b"report"),
            ("file", "letter.pdf", "application/pdf", pdf),
            ("description", None, None, b"Referral letter, page 1"),
        ])
        store = DocumentStore(tmp_path)
        upload = await receive_multipart(_headers(ctype, body), chunks(body, 97), store,
                                         max_file_bytes=1_000_000)
        assert upload.temp_path.read_bytes() == pdf
        assert upload.size_bytes == len(pdf)
        assert upload.sha256 == hashlib.sha256(pdf).hexdigest()
        assert upload.filename == "letter.pdf"
        assert upload.claimed_content_type == "application/pdf"
        assert upload.fields == {"document_type": "report",
                                 "description": "Referral letter, page 1"}

    async def test_a_file_exactly_at_the_limit_is_accepted(self, tmp_path: Path) -> None:
        data = b"x" * 5000
        body, ctype = multipart_body([("file", "a.bin", None, data)])
        upload = await receive_multipart(_headers(ctype, body), chunks(body), DocumentStore(
            tmp_path), max_file_bytes=5000)
        assert upload.size_bytes == 5000

    async def test_utf8_filename_is_decoded(self, tmp_path: Path) -> None:
        body, ctype = multipart_body([("file", "أشعة.pdf", None, b"x")])
        upload = await receive_multipart(_headers(ctype), chunks(body), DocumentStore(tmp_path),
                                         max_file_bytes=100)
        assert upload.filename == "أشعة.pdf"


class TestSizeLimit:
    async def test_one_byte_over_the_limit_is_cut_off_and_nothing_is_left(
        self, tmp_path: Path
    ) -> None:
        data = b"x" * 5001
        body, ctype = multipart_body([("file", "a.bin", None, data)])
        store = DocumentStore(tmp_path)
        with pytest.raises(DocumentTooLarge):
            await receive_multipart(_headers(ctype, body), chunks(body), store,
                                    max_file_bytes=5000)
        assert stored_files(tmp_path) == set()

    async def test_reading_stops_as_soon_as_the_limit_is_passed(self, tmp_path: Path) -> None:
        body, ctype = multipart_body([("file", "big.bin", None, b"x" * 1_000_000)])
        consumed: list[int] = []
        with pytest.raises(DocumentTooLarge):
            # No Content-Length: only the stream tells.
            await receive_multipart(_headers(ctype), chunks(body, 1024, consumed),
                                    DocumentStore(tmp_path), max_file_bytes=10_000)
        assert sum(consumed) <= 10_000 + 2 * 1024

    async def test_a_declared_length_far_above_the_limit_is_refused_unread(
        self, tmp_path: Path
    ) -> None:
        body, ctype = multipart_body([("file", "big.bin", None, b"x" * 200_000)])
        consumed: list[int] = []
        with pytest.raises(DocumentTooLarge):
            await receive_multipart(_headers(ctype, body), chunks(body, 1024, consumed),
                                    DocumentStore(tmp_path), max_file_bytes=10_000)
        assert consumed == []
        assert stored_files(tmp_path) == set()

    async def test_oversized_text_fields_count_against_the_body(self, tmp_path: Path) -> None:
        body, ctype = multipart_body(
            [("file", "a.bin", None, b"x")]
            + [(f"extra{i}", None, None, b"y" * 10_000) for i in range(10)]
        )
        with pytest.raises(DocumentTooLarge):
            await receive_multipart(_headers(ctype), chunks(body),
                                    DocumentStore(tmp_path), max_file_bytes=FORM_OVERHEAD_BYTES
                                    // 4)


class TestRefusedBodies:
    async def test_not_multipart_is_415(self, tmp_path: Path) -> None:
        with pytest.raises(UnsupportedDocumentType):
            await receive_multipart({"content-type": "application/json"}, chunks(b"{}"),
                                    DocumentStore(tmp_path), max_file_bytes=100)

    async def test_missing_boundary_is_400(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidMultipart):
            await receive_multipart({"content-type": "multipart/form-data"}, chunks(b"x"),
                                    DocumentStore(tmp_path), max_file_bytes=100)

    async def test_truncated_body_is_400_and_the_temp_file_is_gone(
        self, tmp_path: Path
    ) -> None:
        body, ctype = multipart_body([("file", "a.pdf", None, make_pdf())])
        with pytest.raises(InvalidMultipart):
            await receive_multipart(_headers(ctype), chunks(body[:-40]),
                                    DocumentStore(tmp_path), max_file_bytes=1_000_000)
        assert stored_files(tmp_path) == set()

    async def test_garbage_is_400(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidMultipart):
            await receive_multipart({"content-type": "multipart/form-data; boundary=abc"},
                                    chunks(b"--abc\r\nno headers end" + b"\x00" * 10),
                                    DocumentStore(tmp_path), max_file_bytes=100)
        assert stored_files(tmp_path) == set()

    @pytest.mark.parametrize(
        ("parts", "field"),
        [
            ([("description", None, None, b"no file here")], "file"),
            ([("file", "empty.pdf", None, b"")], "file"),
            ([("file", "a.pdf", None, b"a"), ("file", "b.pdf", None, b"b")], "file"),
            ([("file", "a.pdf", None, b"a"), ("other", "b.pdf", None, b"b")], "other"),
            ([("file", "a.pdf", None, b"a"), ("description", None, None, b"d" * 20_000)],
             "description"),
        ],
        ids=["missing", "empty", "two-files", "stray-file", "long-field"],
    )
    async def test_invalid_form_is_422_naming_the_field(
        self, tmp_path: Path, parts: list[tuple[str, str | None, str | None, bytes]],
        field: str,
    ) -> None:
        body, ctype = multipart_body(parts)
        with pytest.raises(InvalidUpload) as info:
            await receive_multipart(_headers(ctype), chunks(body), DocumentStore(tmp_path),
                                    max_file_bytes=1_000_000)
        assert info.value.errors is not None
        assert info.value.errors[0]["field"] == field
        assert stored_files(tmp_path) == set()

    async def test_a_client_that_disconnects_leaves_nothing(self, tmp_path: Path) -> None:
        body, ctype = multipart_body([("file", "a.pdf", None, b"x" * 10_000)])

        async def dropping() -> AsyncIterator[bytes]:
            yield body[:3000]
            raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            await receive_multipart(_headers(ctype), dropping(), DocumentStore(tmp_path),
                                    max_file_bytes=1_000_000)
        assert stored_files(tmp_path) == set()
