"""Generated names, shard folders and filename hygiene."""

from __future__ import annotations

from pathlib import Path

import pytest

from hms.documents.storage import (
    STORED_NAME_RE,
    DocumentStore,
    content_disposition,
    sanitize_filename,
)


class TestSanitizeFilename:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("../../etc/passwd", "passwd"),
            ("..\\..\\windows\\system32\\evil.png", "evil.png"),
            ("/absolute/path/scan.pdf", "scan.pdf"),
            ("scan\x00.pdf", "scan.pdf"),
            ("bad\r\nHeader: x.pdf", "badHeader: x.pdf"),
            ("invoice\u202egnp.exe", "invoicegnp.exe"),
            ("  report.pdf  ", "report.pdf"),
            ("تقرير الأشعة.pdf", "تقرير الأشعة.pdf"),
            ("..", None),
            ("../", None),
            ("", None),
            (None, None),
        ],
    )
    def test_cleans(self, raw: str | None, expected: str | None) -> None:
        assert sanitize_filename(raw) == expected

    def test_long_names_are_cut_to_255_keeping_the_extension(self) -> None:
        name = sanitize_filename("a" * 400 + ".pdf")
        assert name is not None
        assert len(name) == 255
        assert name.endswith(".pdf")


class TestContentDisposition:
    def test_ascii_name(self) -> None:
        assert content_disposition("scan.pdf") == (
            "attachment; filename=\"scan.pdf\"; filename*=UTF-8''scan.pdf")

    def test_non_ascii_and_quotes_are_encoded(self) -> None:
        value = content_disposition('أشعة "x".pdf')
        assert value.startswith('attachment; filename="')
        assert "filename*=UTF-8''%D8%A3%D8%B4%D8%B9%D8%A9%20%22x%22.pdf" in value
        fallback = value.split('filename="')[1].split('"')[0]
        assert fallback.isascii() and '"' not in fallback


class TestDocumentStore:
    def test_place_moves_the_temp_file_under_a_generated_sharded_name(
        self, tmp_path: Path
    ) -> None:
        store = DocumentStore(tmp_path / "documents")
        temp = store.new_temp_path()
        temp.write_bytes(b"data")
        name = store.place(temp, "pdf")
        assert STORED_NAME_RE.fullmatch(name)
        path = store.path_for(name)
        assert path == tmp_path / "documents" / name[:2] / name
        assert path.read_bytes() == b"data"
        assert not temp.exists()

    @pytest.mark.parametrize("name", ["../../etc/passwd", "ab/../x.pdf", "x.pdf",
                                      "0" * 32 + ".exe", "0" * 32 + ".pdf/.."])
    def test_path_for_refuses_anything_but_a_generated_name(
        self, tmp_path: Path, name: str
    ) -> None:
        with pytest.raises(ValueError):
            DocumentStore(tmp_path).path_for(name)

    def test_place_refuses_an_unknown_extension(self, tmp_path: Path) -> None:
        store = DocumentStore(tmp_path)
        temp = store.new_temp_path()
        temp.write_bytes(b"x")
        with pytest.raises(ValueError):
            store.place(temp, "html")
