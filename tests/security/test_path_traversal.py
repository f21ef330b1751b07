"""Path traversal through upload file names: the client's name never becomes a path.

Each hostile name is uploaded for real; the file lands under a generated name inside
``documents_dir`` and nowhere else (the whole data folder and its parent are compared
before and after), the stored display name has no path left in it, and the download
answers it as an attachment with ``nosniff``.

Source: OWASP WSTG-ATHZ-01 (directory traversal); OWASP File Upload Cheat Sheet.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hms.core.permissions import Role
from hms.documents.storage import STORED_NAME_RE
from tests.documents.factories import make_pdf, multipart_body
from tests.identity.factories import auth_headers
from tests.visits.factories import make_visit

HOSTILE_NAMES = [
    "../../etc/passwd",
    "../../../../../../../../tmp/hms-pwned.pdf",
    "..\\..\\windows\\win.ini",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "/tmp/hms-pwned.pdf",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "\\\\server\\share\\evil.pdf",
    "scan.pdf\x00.png",
    "\x00../../etc/passwd",
    "....//....//etc/passwd",
    "..",
    ".",
    "~/.ssh/authorized_keys",
    ".incoming/aaaa.part",
    "ab/" + "0" * 32 + ".pdf",
    "evil\u202egnp.pdf",                 # right-to-left override
    "\u2025/\u2025/etc/passwd",           # two-dot leader
    "..\u2215..\u2215etc\u2215passwd",    # division slash
    "a" * 600 + ".pdf",
]


def _snapshot(root: Path) -> dict[str, float]:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path)] = path.stat().st_mtime
    return out


def _assert_stored_inside(watched: Path, before: dict[str, float], documents: Path,
                          content: bytes) -> None:
    """Exactly one new file, under a generated name inside ``documents``; nothing else
    under ``watched`` created or changed, nothing at the traversal targets."""
    after = _snapshot(watched)
    new = sorted(set(after) - set(before))
    changed = [p for p in before if p in after and after[p] != before[p]]
    assert len(new) == 1, new
    stored = Path(new[0]).resolve()
    assert stored.is_relative_to(documents)
    assert STORED_NAME_RE.fullmatch(stored.name)
    assert stored.read_bytes() == content
    assert not [p for p in changed if not Path(p).resolve().is_relative_to(documents)]
    assert not Path("/tmp/hms-pwned.pdf").exists()


@pytest.fixture
async def upload_target(client, session, settings):
    h = await auth_headers(client, session, Role.NURSE)
    visit = await make_visit(session)
    return h, visit.id


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_upload_names_never_become_paths(client, settings, upload_target,
                                                       name):
    h, visit_id = upload_target
    watched = settings.data_dir.resolve().parent
    before = _snapshot(watched)
    pdf = make_pdf()
    body, content_type = multipart_body([("file", name, "application/pdf", pdf)])

    resp = await client.post(f"/api/v1/visits/{visit_id}/documents", content=body,
                             headers={**h, "Content-Type": content_type})

    assert resp.status_code == 201, resp.text
    document = resp.json()
    shown = document["original_filename"] or ""
    for bad in ("/", "\\", "\x00", "\u202e"):
        assert bad not in shown, (name, shown)
    assert not shown.startswith("..")
    assert len(shown) <= 255
    _assert_stored_inside(watched, before, settings.documents_dir.resolve(), pdf)

    download = await client.get(document["download_url"], headers=h)
    assert download.status_code == 200
    assert download.content == pdf
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition.split("filename*=")[0]
    assert "\\" not in disposition
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "application/pdf"


async def test_a_huge_name_is_refused_and_nothing_is_written(client, settings,
                                                              upload_target):
    h, visit_id = upload_target
    watched = settings.data_dir.resolve().parent
    before = _snapshot(watched)
    body, content_type = multipart_body(
        [("file", "../" * 2000 + "passwd", "application/pdf", make_pdf())])
    resp = await client.post(f"/api/v1/visits/{visit_id}/documents", content=body,
                             headers={**h, "Content-Type": content_type})
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert _snapshot(watched) == before


async def test_a_script_named_like_a_pdf_is_refused(client, upload_target):
    h, visit_id = upload_target
    html = b"<html><script>alert(document.cookie)</script></html>"
    body, content_type = multipart_body([("file", "report.pdf", "application/pdf", html)])
    resp = await client.post(f"/api/v1/visits/{visit_id}/documents", content=body,
                             headers={**h, "Content-Type": content_type})
    assert resp.status_code == 415
    assert resp.headers["content-type"].startswith("application/problem+json")
