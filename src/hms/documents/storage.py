"""Files on disk: generated names, shard folders, temp files, filename hygiene.

Layout under ``settings.documents_dir``::

    .incoming/<uuid4 hex>.part      upload being received (same filesystem: atomic rename)
    <2-char shard>/<uuid4 hex>.<ext>  stored document; shard = first two hex digits

The client's filename never reaches a path: stored names are generated here and every path
is rebuilt from a name that must match :data:`STORED_NAME_RE`. All functions are blocking
(file-system calls); async callers run them with ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import quote

#: Extensions a stored document may carry (one per accepted type, see ``sniff``).
STORED_EXTENSIONS = frozenset({"pdf", "jpg", "png", "tif", "dcm"})
STORED_NAME_RE = re.compile(r"^[0-9a-f]{32}\.(?:pdf|jpg|png|tif|dcm)$")
INCOMING_DIR = ".incoming"
MAX_FILENAME_CHARS = 255
_HASH_CHUNK = 1024 * 1024


def new_stored_name(extension: str) -> str:
    """A fresh stored name: ``<uuid4 hex>.<extension>``.

    Args:
        extension: one of :data:`STORED_EXTENSIONS`, without the dot.

    Raises:
        ValueError: unknown extension (a programming error, not client input).
    """
    if extension not in STORED_EXTENSIONS:
        raise ValueError(f"extension {extension!r} is not a stored document extension")
    return f"{uuid.uuid4().hex}.{extension}"


def sanitize_filename(name: str | None) -> str | None:
    """The client's filename made safe for display and for a ``Content-Disposition`` header.

    Keeps the last path component only (both ``/`` and ``\\`` separate), drops control and
    format characters (C0/C1 controls, bidi overrides such as U+202E), NUL, leading and
    trailing blanks and dots, normalises to NFC and cuts to 255 characters while keeping a
    short extension. ``"../../etc/passwd"`` becomes ``"passwd"``.

    Args:
        name: as sent in the multipart ``filename`` parameter; may be None.

    Returns:
        The display name, or None when nothing printable is left.
    """
    if not name:
        return None
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = name.strip().strip(".").strip()
    if not name:
        return None
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def content_disposition(filename: str, *, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value with an ASCII fallback and the RFC 8187 UTF-8 form.

    Example: ``attachment; filename="ct_scan.pdf"; filename*=UTF-8''ct_scan.pdf``.

    Args:
        filename: an already sanitised display name (:func:`sanitize_filename`).
    """
    fallback = "".join(
        ch if (ch.isascii() and ch.isprintable() and ch not in '"\\;%') else "_"
        for ch in filename
    ) or "document"
    encoded = quote(filename, safe="")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def sha256_of(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class DocumentStore:
    """The document folder: where temp uploads go and where stored files live.

    Args:
        root: ``settings.documents_dir``; created on first use.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def incoming_dir(self) -> Path:
        """Folder of uploads being received (inside ``root`` so the final move is a rename)."""
        return self.root / INCOMING_DIR

    def new_temp_path(self) -> Path:
        """A fresh, not yet existing temp path in :attr:`incoming_dir` (folders created)."""
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        return self.incoming_dir / f"{uuid.uuid4().hex}.part"

    def path_for(self, stored_name: str) -> Path:
        """Absolute-or-relative path of a stored document: ``root/<shard>/<stored_name>``.

        Raises:
            ValueError: ``stored_name`` is not a generated name (never happens for rows this
                module wrote; guards against a tampered row pointing outside ``root``).
        """
        if not STORED_NAME_RE.fullmatch(stored_name):
            raise ValueError("not a generated stored name")
        return self.root / stored_name[:2] / stored_name

    def place(self, temp_path: Path, extension: str) -> str:
        """Move a received temp file to its final sharded path under a generated name.

        Args:
            temp_path: a file in :attr:`incoming_dir`.
            extension: the detected type's extension (``pdf``, ``jpg``...).

        Returns:
            The generated stored name.
        """
        stored_name = new_stored_name(extension)
        target = self.path_for(stored_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp_path, target)
        return stored_name

    def remove(self, stored_name: str) -> None:
        """Delete a stored document's file (no error when it is already gone)."""
        self.path_for(stored_name).unlink(missing_ok=True)

    @staticmethod
    def discard(path: Path) -> None:
        """Delete a temp file (no error when it is already gone)."""
        path.unlink(missing_ok=True)
