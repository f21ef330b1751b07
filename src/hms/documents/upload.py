"""Receive a ``multipart/form-data`` upload as a stream, straight to a temp file.

The body is never held in memory: python-multipart's streaming ``MultipartParser`` calls back
with each slice of the ``file`` part, which is appended to a temp file inside the documents
folder while its SHA-256 and size are computed. The upload is cut off (413) the moment the
file passes the size limit, and refused before reading anything when ``Content-Length``
already says it is too big. Small text fields (``document_type``, ``description``) are kept
in memory with a per-field cap. On any failure the temp file is deleted.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from hms.documents.errors import (
    DocumentTooLarge,
    InvalidMultipart,
    InvalidUpload,
    UnsupportedDocumentType,
)
from hms.documents.storage import DocumentStore

FILE_FIELD = "file"
TEXT_FIELDS = frozenset({"document_type", "description"})
#: Allowance for multipart boundaries, part headers and the text fields on top of the file.
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_TEXT_FIELD_BYTES = 16 * 1024
MAX_PARTS = 16
HEAD_BYTES = 8192


@dataclass
class ReceivedUpload:
    """A file part written to a temp file, plus the form's text fields.

    The caller owns ``temp_path`` and must :meth:`DocumentStore.place` or
    :meth:`DocumentStore.discard` it.
    """

    temp_path: Path
    size_bytes: int
    sha256: str
    filename: str | None
    claimed_content_type: str | None
    fields: dict[str, str] = field(default_factory=dict)


def _too_large(limit: int) -> DocumentTooLarge:
    return DocumentTooLarge(f"The file exceeds the upload limit of {limit} bytes")


def check_content_length(headers: Mapping[str, str], max_file_bytes: int) -> None:
    """Refuse at once a body whose declared length cannot fit under the limit.

    Raises:
        DocumentTooLarge (413): ``Content-Length`` > limit + form overhead.
    """
    declared = headers.get("content-length")
    if declared and declared.strip().isdigit() \
            and int(declared) > max_file_bytes + FORM_OVERHEAD_BYTES:
        raise _too_large(max_file_bytes)


def _boundary(headers: Mapping[str, str]) -> tuple[bytes, str]:
    content_type = headers.get("content-type", "")
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise UnsupportedDocumentType(
            "The request must be multipart/form-data with the file in a part named 'file'"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidMultipart("The multipart Content-Type has no boundary")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "utf-8"
    return boundary, charset


class _Receiver:
    """State shared by the parser callbacks (which are synchronous)."""

    def __init__(self, temp_path: Path, max_file_bytes: int, charset: str) -> None:
        self.temp_path = temp_path
        self.max_file_bytes = max_file_bytes
        self.charset = charset
        self.digest = hashlib.sha256()
        self.file_size = 0
        self.file_seen = False
        self.filename: str | None = None
        self.claimed_content_type: str | None = None
        self.fields: dict[str, str] = {}
        self.pending: list[bytes] = []
        self.ended = False
        self._parts = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._text = bytearray()

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.charset, errors="replace")

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidMultipart(f"At most {MAX_PARTS} form parts are accepted")
        self._headers = {}
        self._name = None
        self._is_file = False
        self._text = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise InvalidMultipart("A form part has no Content-Disposition name")
        self._name = self._decode(options[b"name"])
        if self._name == FILE_FIELD:
            if self.file_seen:
                raise InvalidUpload(
                    "Only one file per upload",
                    errors=[{"field": FILE_FIELD, "in": "body",
                             "message": "only one file per request"}],
                )
            self.file_seen = True
            self._is_file = True
            if b"filename" in options:
                self.filename = self._decode(options[b"filename"])
            claimed = self._headers.get(b"content-type")
            self.claimed_content_type = self._decode(claimed)[:100] if claimed else None
        elif b"filename" in options:
            raise InvalidUpload(
                "Unexpected file part",
                errors=[{"field": self._name[:64], "in": "body", "message":
                         "unexpected file part; send the file in the part named 'file'"}],
            )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.file_size += len(chunk)
            if self.file_size > self.max_file_bytes:
                raise _too_large(self.max_file_bytes)
            self.digest.update(chunk)
            self.pending.append(chunk)
        else:
            if len(self._text) + len(chunk) > MAX_TEXT_FIELD_BYTES:
                raise InvalidUpload(
                    "A form field is too long",
                    errors=[{"field": (self._name or "body")[:64], "in": "body",
                             "message": f"at most {MAX_TEXT_FIELD_BYTES} bytes"}],
                )
            self._text.extend(chunk)

    def on_part_end(self) -> None:
        if not self._is_file and self._name in TEXT_FIELDS:
            self.fields[self._name] = self._decode(bytes(self._text))
        self._is_file = False

    def on_end(self) -> None:
        self.ended = True


async def receive_multipart(
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    store: DocumentStore,
    *,
    max_file_bytes: int,
) -> ReceivedUpload:
    """Stream a ``multipart/form-data`` body into a temp file in ``store``.

    Args:
        headers: the request headers (lower-case keys, as Starlette gives them).
        body: the raw request body stream (``request.stream()``).
        store: where the temp file goes (``<documents_dir>/.incoming``).
        max_file_bytes: limit on the file part, in bytes (``settings.upload_max_bytes``);
            the whole body may exceed it by at most :data:`FORM_OVERHEAD_BYTES`.

    Returns:
        The received upload; the caller must place or discard its temp file.

    Raises:
        DocumentTooLarge (413): ``Content-Length`` or the bytes received exceed the limit;
            raised as soon as the limit is passed, without reading the rest.
        UnsupportedDocumentType (415): the request is not ``multipart/form-data``.
        InvalidMultipart (400): malformed or truncated multipart body.
        InvalidUpload (422): no ``file`` part, an empty file, two files, an oversized field.
    """
    check_content_length(headers, max_file_bytes)
    boundary, charset = _boundary(headers)
    temp_path = await anyio.to_thread.run_sync(store.new_temp_path)
    receiver = _Receiver(temp_path, max_file_bytes, charset)
    body_limit = max_file_bytes + FORM_OVERHEAD_BYTES
    received = 0
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": receiver.on_part_begin,
                "on_part_data": receiver.on_part_data,
                "on_part_end": receiver.on_part_end,
                "on_header_field": receiver.on_header_field,
                "on_header_value": receiver.on_header_value,
                "on_header_end": receiver.on_header_end,
                "on_headers_finished": receiver.on_headers_finished,
                "on_end": receiver.on_end,
            },
        )
        async with await anyio.open_file(temp_path, "xb") as out:
            async for chunk in body:
                received += len(chunk)
                if received > body_limit:
                    raise _too_large(max_file_bytes)
                parser.write(chunk)
                if receiver.pending:
                    await out.write(b"".join(receiver.pending))
                    receiver.pending.clear()
                if receiver.ended:
                    break  # ignore an epilogue after the closing boundary
            parser.finalize()
    except FormParserError as exc:
        await anyio.to_thread.run_sync(store.discard, temp_path)
        raise InvalidMultipart("The multipart body is malformed") from exc
    except BaseException:
        await anyio.to_thread.run_sync(store.discard, temp_path)
        raise

    problem: str | None = None
    if not receiver.ended:
        problem = "truncated"
    elif not receiver.file_seen:
        problem = "missing"
    elif receiver.file_size == 0:
        problem = "empty"
    if problem is not None:
        await anyio.to_thread.run_sync(store.discard, temp_path)
        if problem == "truncated":
            raise InvalidMultipart("The multipart body ends before its closing boundary")
        message = "field required" if problem == "missing" else "the file is empty"
        raise InvalidUpload(
            "The upload has no file" if problem == "missing" else "The uploaded file is empty",
            errors=[{"field": FILE_FIELD, "in": "body", "message": message}],
        )
    return ReceivedUpload(
        temp_path=temp_path,
        size_bytes=receiver.file_size,
        sha256=receiver.digest.hexdigest(),
        filename=receiver.filename,
        claimed_content_type=receiver.claimed_content_type,
        fields=receiver.fields,
    )
