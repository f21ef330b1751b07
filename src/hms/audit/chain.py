"""The hash chain of the audit trail (pure functions, no database).

Every ``audit_log`` row carries ``seq`` (1, 2, 3... with no gaps), ``prev_hash`` (the
``row_hash`` of row ``seq - 1``; 64 zeros for row 1) and ``row_hash``: SHA-256 over a
canonical JSON of the row's fields and ``prev_hash``. Changing any hashed field of a row
breaks its own hash; deleting a row leaves a gap in ``seq``; inserting a row breaks the link
of the row after it (or, appended at the end, its own link). :func:`check_chain` walks the
rows in ``seq`` order and names the first break.

What the chain proves and what it does not: anyone who can write the table *and* knows this
algorithm could rebuild every hash after a change. The trail is therefore append-only at the
database too (PostgreSQL trigger, migration 0007), and ``hms audit verify`` prints the tail
(``seq`` and ``row_hash``) so an operator can keep it elsewhere and pass it back with
``--anchor SEQ:HASH`` to prove the history up to that row was not rewritten.

Source: the hash-chain ("tamper-evident log") construction of Schneier & Kelsey, "Secure
Audit Logs to Support Computer Forensics" (ACM TISSEC 2(2), 1999), without the MAC keys;
SHA-256 per FIPS 180-4; canonical JSON in the spirit of RFC 8785 (sorted keys, no spaces,
ASCII escapes).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

#: ``prev_hash`` of the first row.
GENESIS_HASH = "0" * 64
#: Version of the canonical form, hashed with every row (a future form gets a new number).
CHAIN_VERSION = 1
#: The columns covered by ``row_hash`` (plus ``prev_hash`` and the version).
HASHED_FIELDS = (
    "seq", "id", "occurred_at", "user_id", "username", "action", "entity_type", "entity_id",
    "patient_id", "changes", "ip", "user_agent", "request_id",
)


def _text(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(row: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes hashed for one row: JSON of :data:`HASHED_FIELDS`, ``prev_hash`` and the
    chain version, keys sorted, no whitespace, non-ASCII escaped.

    Args:
        row: the row's values as the ORM holds them (UUIDs, aware datetimes, the ``changes``
            JSON value); naive datetimes are read as UTC (SQLite returns them naive).
        prev_hash: the previous row's ``row_hash`` (hex).
    """
    return _canonical_text(row, prev_hash).encode("ascii")


#: The encoder of :func:`canonical` (one instance: ``json.dumps`` builds one per call).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                            default=str)


def _canonical_text(row: Mapping[str, Any], prev_hash: str) -> str:
    doc = {name: _text(row.get(name)) for name in HASHED_FIELDS}
    doc["prev_hash"] = prev_hash
    doc["v"] = CHAIN_VERSION
    return _ENCODER.encode(doc)


@dataclass(frozen=True, slots=True)
class HashTemplate:
    """:func:`canonical` of a row whose ``seq`` and ``prev_hash`` are not known yet, for
    PostgreSQL to finish under the chain lock when the transaction commits (the chaining
    trigger of migration 0019 reads the tail, fills in both and hashes).

    Replacing ``seq_target`` by the decimal ``seq`` and ``prev_target`` by the previous
    ``row_hash`` in ``text`` gives exactly ``canonical(row, prev_hash)``; SHA-256 of that is
    the row's hash. The targets carry a random nonce, so no value inside the row (a
    ``changes`` key named ``seq``, say) can be mistaken for them.
    """

    text: str
    seq_target: str
    prev_target: str


def hash_template(row: Mapping[str, Any]) -> HashTemplate:
    """The :class:`HashTemplate` of ``row`` (its ``seq`` is ignored)."""
    nonce = uuid.uuid4().hex
    seq_marker, prev_marker = f"\x00seq:{nonce}", f"\x00prev:{nonce}"
    text = _canonical_text({**row, "seq": seq_marker}, prev_marker)
    dumped_seq = _ENCODER.encode(seq_marker)  # with its quotes: seq is a number
    dumped_prev = _ENCODER.encode(prev_marker)[1:-1]  # inside the quotes
    return HashTemplate(text, dumped_seq, dumped_prev)


def row_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex, 64 characters) of :func:`canonical`."""
    return hashlib.sha256(canonical(row, prev_hash)).hexdigest()


class BreakKind(StrEnum):
    """How the chain is broken at the reported row."""

    #: The row's fields no longer hash to its ``row_hash`` (an UPDATE after the fact).
    ALTERED = "altered"
    #: The row does not link to the row before it: inserted (or its predecessor replaced).
    INSERTED = "inserted"
    #: Rows are missing before the reported one (a gap in ``seq``).
    DELETED = "deleted"
    #: ``--anchor`` named a row whose hash differs (the history was rewritten) or that is
    #: gone (rows were deleted from the end).
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain is broken.

    Attributes:
        kind: see :class:`BreakKind`.
        seq: the first row found broken (for ``deleted``: the row after the gap).
        missing_from, missing_to: for ``deleted``, the missing ``seq`` range (inclusive).
        detail: one line for humans (ids and numbers only, no audited values).
    """

    kind: BreakKind
    seq: int
    detail: str
    missing_from: int | None = None
    missing_to: int | None = None


@dataclass(slots=True)
class ChainWalker:
    """Checks rows handed to it in ``seq`` order, batch after batch (constant memory).

    Feed every row to :meth:`feed`; it returns the first :class:`ChainBreak` and from then on
    the walk is over. ``count``, ``last_seq`` and ``last_hash`` describe the good prefix.
    """

    count: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH

    def feed(self, rows: Iterable[Mapping[str, Any]]) -> ChainBreak | None:
        """Check the next rows (each a mapping with the hashed fields, ``prev_hash`` and
        ``row_hash``); None while the chain holds."""
        for row in rows:
            seq = int(row["seq"])
            expected_seq = self.last_seq + 1
            if seq < expected_seq:  # only a forged row can sit before row 1
                return ChainBreak(BreakKind.INSERTED, seq,
                                  f"row {seq} (id {row['id']}) precedes the first row")
            if seq > expected_seq:
                return ChainBreak(
                    BreakKind.DELETED, seq,
                    f"rows {expected_seq}..{seq - 1} are missing before row {seq}",
                    missing_from=expected_seq, missing_to=seq - 1)
            if row["prev_hash"] != self.last_hash:
                return ChainBreak(BreakKind.INSERTED, seq,
                                  f"row {seq} (id {row['id']}) does not link to row "
                                  f"{self.last_seq}")
            if row_hash(row, self.last_hash) != row["row_hash"]:
                return ChainBreak(BreakKind.ALTERED, seq,
                                  f"row {seq} (id {row['id']}) does not match its hash")
            self.count += 1
            self.last_seq = seq
            self.last_hash = str(row["row_hash"])
        return None
