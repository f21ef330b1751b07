"""Reading and validating FHIR R4 Bundle files.

A file becomes a :class:`ParsedBundle`: the Bundle envelope is checked by hand, and each
entry whose type hms imports (Patient, Encounter, Observation, Condition) is validated with
its ``fhir.resources.R4B`` model. Other entries are kept as raw JSON and counted as skipped.
Validating a whole Synthea Bundle with the R4B ``Bundle`` model costs about four times as
much (it validates every Claim and ExplanationOfBenefit too), hence per entry.

Every problem raises :class:`~hms.fhir.errors.InvalidBundle` naming the entry and element,
never a value (bundle content is patient data).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.fhirtypes import ReferenceType
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from hms.fhir.errors import InvalidBundle

#: Resource types hms imports, with the R4B model that validates them.
IMPORTED_TYPES: dict[str, type[Resource]] = {
    "Patient": Patient,
    "Encounter": Encounter,
    "Observation": Observation,
    "Condition": Condition,
}

#: FHIR R4 Bundle.type codes (required binding).
BUNDLE_TYPES = frozenset({"document", "message", "transaction", "transaction-response",
                          "batch", "batch-response", "history", "searchset", "collection"})

# Required value-set bindings that fhir.resources does not enforce (it checks the code
# syntax only). Source: FHIR R4 value sets administrative-gender, encounter-status,
# observation-status, condition-clinical, condition-ver-status.
_GENDERS = frozenset({"male", "female", "other", "unknown"})
_ENCOUNTER_STATUSES = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave",
                                 "finished", "cancelled", "entered-in-error", "unknown"})
_OBSERVATION_STATUSES = frozenset({"registered", "preliminary", "final", "amended",
                                   "corrected", "cancelled", "entered-in-error", "unknown"})
_CONDITION_CLINICAL = frozenset({"active", "recurrence", "relapse", "inactive", "remission",
                                 "resolved"})
_CONDITION_VERIFICATION = frozenset({"unconfirmed", "provisional", "differential",
                                     "confirmed", "refuted", "entered-in-error"})
_CONDITION_CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

BUNDLE_SUFFIXES = (".json", ".json.gz")

#: ``accept(resource_type, raw_resource) -> bool``: see :func:`parse_bundle`.
Accept = Callable[[str, dict[str, Any]], bool]

_URN_REFERENCE = re.compile(rb'"reference"\s*:\s*"(urn:uuid:[^"\\]*)"')


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One entry of a Bundle.

    Attributes:
        position: 1-based position in ``Bundle.entry`` (for error messages).
        key: the entry's identity inside the bundle (its fullUrl, else ``Type/id``).
        resource_type: e.g. ``"Patient"``.
        resource_id: ``Resource.id``, else the last segment of the fullUrl (the uuid of a
            ``urn:uuid:`` fullUrl); None when the entry has neither.
        resource: the validated R4B model for imported types, else None.
        raw: the entry's resource as parsed JSON.
    """

    position: int
    key: str
    resource_type: str
    resource_id: str | None
    resource: Resource | None
    raw: dict[str, Any]


@dataclass(slots=True)
class ParsedBundle:
    """A validated Bundle: its entries and an index to resolve references.

    Attributes:
        identifier_system: ``Bundle.identifier.system`` when present.
        entries: every entry that carries a resource, in bundle order.
        resources: number of entries per resource type.
    """

    identifier_system: str | None
    entries: list[BundleEntry] = field(default_factory=list)
    resources: Counter[str] = field(default_factory=Counter)
    _index: dict[str, BundleEntry] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> Iterator[BundleEntry]:
        """The entries of one resource type, in bundle order."""
        return (e for e in self.entries if e.resource_type == resource_type)

    def lookup(self, reference: str | None) -> BundleEntry | None:
        """The entry a reference string points to (``urn:uuid:...``, an absolute fullUrl,
        or a relative ``Type/id``), or None when it is not in the bundle."""
        if not reference:
            return None
        found = self._index.get(reference)
        if found is None and "/" in reference and not reference.startswith("urn:"):
            parts = reference.rstrip("/").split("/")
            if "_history" in parts:  # Type/id/_history/vid
                parts = parts[: parts.index("_history")]
            found = self._index.get("/".join(parts[-2:]))
        return found

    def resolve(self, ref: ReferenceType | None, where: str, *,
                expected: str | None = None) -> BundleEntry | None:
        """Resolve a Reference element that the import needs.

        Args:
            ref: the Reference (may be None or carry no ``reference``: returns None).
            where: ``"Observation entry 12 subject"`` style label for the error message.
            expected: the resource type the reference must point to.

        Raises:
            InvalidBundle (422): the reference points outside the bundle or to a resource
                of another type.
        """
        reference = getattr(ref, "reference", None)
        if not reference:
            return None
        entry = self.lookup(reference)
        if entry is None:
            raise InvalidBundle(f"{where}: reference {_safe_ref(reference)} is not in the bundle")
        if expected is not None and entry.resource_type != expected:
            raise InvalidBundle(f"{where}: reference points to a {entry.resource_type}, "
                                f"expected {expected}")
        return entry


def find_bundle_files(paths: Iterable[Path]) -> list[Path]:
    """Expand files and folders into bundle files.

    Folders are searched recursively for ``*.json`` and ``*.json.gz`` (sorted by path); a
    file given explicitly is kept whatever its name, and a missing path is kept too so the
    import reports it as rejected.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.name.lower().endswith(BUNDLE_SUFFIXES))
        else:
            found = [path]
        for p in found:
            resolved = p.resolve()
            if resolved not in seen:
                seen.add(resolved)
                out.append(p)
    return out


def read_bytes(path: Path) -> bytes:
    """The file's bytes.

    Raises:
        InvalidBundle (422): missing or unreadable file.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidBundle("file not found") from exc
    except IsADirectoryError as exc:
        raise InvalidBundle("is a folder, not a file") from exc
    except OSError as exc:
        raise InvalidBundle(f"cannot read the file ({exc.strerror or type(exc).__name__})") \
            from exc


def gunzip(data: bytes) -> bytes:
    """``data`` decompressed when it starts with the gzip magic bytes, else unchanged.

    Raises:
        InvalidBundle (422): broken gzip data.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidBundle("broken gzip data") from exc


def decode_json(data: bytes) -> Any:
    """Parse JSON bytes (gzip-compressed or not).

    Raises:
        InvalidBundle (422): broken gzip data, not UTF-8, not JSON.
    """
    try:
        return json.loads(gunzip(data))
    except UnicodeDecodeError as exc:
        raise InvalidBundle("not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InvalidBundle(f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                            f"{exc.msg}") from exc


def parse_bundle(data: Any, *, accept: Accept | None = None,
                 text: bytes | None = None) -> ParsedBundle:
    """Check a parsed JSON document is a FHIR R4 Bundle and validate its imported entries.

    Checks: ``resourceType`` is Bundle; ``type`` is a Bundle.type code; every entry has a
    resource with a ``resourceType``; fullUrls are unique; every Patient, Encounter,
    Observation and Condition validates against its R4B model and its required code
    bindings and has an id (or a fullUrl) to import it idempotently; every ``urn:uuid:``
    reference anywhere in the bundle names an entry's fullUrl.

    Args:
        data: the decoded JSON.
        accept: ``accept(resource_type, raw_resource)`` says whether an entry of an imported
            type will be imported; entries it refuses are not validated (their ``resource``
            is None). Default: all of them. Most Synthea Observations are laboratory and
            survey results, so skipping them halves the validation time.
        text: the JSON bytes ``data`` came from; lets the reference check scan the text
            instead of walking every element.

    Raises:
        InvalidBundle (422): the first problem found.
    """
    if not isinstance(data, dict):
        raise InvalidBundle("not a FHIR resource (the JSON is not an object)")
    resource_type = data.get("resourceType")
    if resource_type != "Bundle":
        what = resource_type if isinstance(resource_type, str) else "no resourceType"
        raise InvalidBundle(f"not a FHIR Bundle ({_safe_ref(what)})")
    if data.get("type") not in BUNDLE_TYPES:
        raise InvalidBundle("Bundle.type is missing or not a Bundle type code")
    identifier = data.get("identifier")
    system = identifier.get("system") if isinstance(identifier, dict) else None
    bundle = ParsedBundle(identifier_system=system if isinstance(system, str) else None)
    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        raise InvalidBundle("Bundle.entry is not a list")
    for position, raw_entry in enumerate(raw_entries, start=1):
        entry = _parse_entry(position, raw_entry, accept)
        if entry is None:
            continue
        _index(bundle, entry, raw_entry)
        bundle.entries.append(entry)
        bundle.resources[entry.resource_type] += 1
    _check_urn_references(bundle, raw_entries, text)
    return bundle


def load_bundle(path: Path) -> ParsedBundle:
    """Read, decode and validate one bundle file.

    Raises:
        InvalidBundle (422): see :func:`read_bytes`, :func:`decode_json`,
            :func:`parse_bundle`.
    """
    return parse_bundle(decode_json(read_bytes(path)))


def _parse_entry(position: int, raw_entry: Any, accept: Accept | None) -> BundleEntry | None:
    if not isinstance(raw_entry, dict):
        raise InvalidBundle(f"entry {position} is not an object")
    raw = raw_entry.get("resource")
    if raw is None:  # e.g. a DELETE in a transaction: nothing to import
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        raise InvalidBundle(f"entry {position}: resource has no resourceType")
    rtype: str = raw["resourceType"]
    full_url = raw_entry.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise InvalidBundle(f"entry {position}: fullUrl is not a string")
    rid = raw.get("id") if isinstance(raw.get("id"), str) else None
    if rid is None and full_url:
        rid = full_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or None
    model = IMPORTED_TYPES.get(rtype)
    if model is not None and accept is not None and not accept(rtype, raw):
        model = None
    resource: Resource | None = None
    if model is not None:
        label = f"{rtype} entry {position}"
        try:
            resource = model.model_validate(raw)
        except ValidationError as exc:
            raise InvalidBundle(f"{label} is not a valid FHIR R4 {rtype}: "
                                f"{_describe(exc)}") from None
        _check_bindings(label, resource)
        if rid is None:
            raise InvalidBundle(f"{label} has neither an id nor a fullUrl, so it cannot be "
                                "imported idempotently")
    key = full_url or (f"{rtype}/{rid}" if rid else f"#{position}")
    return BundleEntry(position=position, key=key, resource_type=rtype, resource_id=rid,
                       resource=resource, raw=raw)


def _index(bundle: ParsedBundle, entry: BundleEntry, raw_entry: dict[str, Any]) -> None:
    full_url = raw_entry.get("fullUrl")
    if full_url:
        if full_url in bundle._index:
            raise InvalidBundle(f"entry {entry.position}: fullUrl is used by an earlier entry")
        bundle._index[full_url] = entry
    if entry.resource_id:
        bundle._index.setdefault(f"{entry.resource_type}/{entry.resource_id}", entry)


def _check_bindings(label: str, resource: Resource) -> None:
    """Enforce the required code bindings of the elements the import reads."""
    if isinstance(resource, Patient):
        if resource.gender is not None and resource.gender not in _GENDERS:
            raise InvalidBundle(f"{label}: gender is not an AdministrativeGender code "
                                "(male, female, other, unknown)")
    elif isinstance(resource, Encounter):
        if resource.status not in _ENCOUNTER_STATUSES:
            raise InvalidBundle(f"{label}: status is not an EncounterStatus code")
    elif isinstance(resource, Observation):
        if resource.status not in _OBSERVATION_STATUSES:
            raise InvalidBundle(f"{label}: status is not an ObservationStatus code")
    elif isinstance(resource, Condition):
        for element, system, codes in (
            ("clinicalStatus", _CONDITION_CLINICAL_SYSTEM, _CONDITION_CLINICAL),
            ("verificationStatus", _CONDITION_VERIFICATION_SYSTEM, _CONDITION_VERIFICATION),
        ):
            concept = getattr(resource, element)
            for coding in (concept.coding or []) if concept is not None else []:
                if coding.system == system and coding.code not in codes:
                    raise InvalidBundle(f"{label}: {element} is not a {system} code")


def _check_urn_references(bundle: ParsedBundle, raw_entries: list[Any],
                          text: bytes | None) -> None:
    """Every ``urn:uuid:`` reference must name an entry of this bundle (transaction
    semantics: such a reference can only resolve inside the bundle).

    With the JSON ``text`` a regular expression finds the references (fast path); the walk
    over every element runs only when that finds a dangling one, to name its entry.
    """
    if text is not None:
        found = {m.decode("utf-8", "replace") for m in _URN_REFERENCE.findall(text)}
        if all(bundle.lookup(ref) is not None for ref in found):
            return
    for position, raw_entry in enumerate(raw_entries, start=1):
        resource = raw_entry.get("resource") if isinstance(raw_entry, dict) else None
        if resource is None:
            continue
        for reference in _references(resource):
            if reference.startswith("urn:uuid:") and bundle.lookup(reference) is None:
                rtype = resource.get("resourceType", "resource")
                raise InvalidBundle(f"{_safe_ref(str(rtype))} entry {position}: reference "
                                    f"{_safe_ref(reference)} is not "
                                    "in the bundle")


def _references(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                yield ref
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def _describe(exc: ValidationError, limit: int = 3) -> str:
    """Element paths and messages of a validation error, without the input values."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "(resource)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _safe_ref(text: str, limit: int = 80) -> str:
    """A reference or type name for a message: printable ASCII, bounded length."""
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean if len(clean) <= limit else clean[:limit] + "..."
