"""SQL on the patients module's tables."""

from __future__ import annotations

import contextlib
import enum
import time as time_module
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    inspect,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import TextClause

from hms.core.scoping import RowFilter
from hms.db.counting import count_matches
from hms.db.direct import DirectSelect
from hms.db.plans import custom_plans
from hms.patients.models import (
    MedicalRecord,
    Patient,
    PatientNameWord,
    PatientNumberCounter,
    search_token,
    with_blind_indexes,
)
from hms.patients.name_search import (
    COUNT_CAP,
    FUZZY_MAX_WORDS,
    FUZZY_MIN_LENGTH,
    ORDERED_FROM_MATCHES,
    PREFIX_MAX_WORDS,
    WINDOW_CAP,
    NameQuery,
    WordMatches,
    WordShares,
    close_words,
    max_edits,
    tier_share,
)
from hms.patients.validators import has_control_characters


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """Normalised search filters; every given one must match (AND).

    Each entry of ``national_ids``, ``mobiles`` and ``passports`` must equal the patient's
    value (two different ones therefore match nobody); they are compared through the blind
    indexes, never as plaintext. ``name_query`` is the relevance-ranked name search (see
    :mod:`hms.patients.name_search`); with ``q_identifier`` (``q`` that may also be a custom
    patient number, passport or phone number) patients holding that identifier match too
    and rank first. ``name_tokens`` (folded) must each occur in the folded name: the plain
    filter a second name text (``q`` beside ``name``) becomes.
    ``patient_number_prefix`` matches the start of the MRN.
    """

    national_ids: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    passports: tuple[str, ...] = ()
    patient_number: str | None = None
    patient_number_prefix: str | None = None
    name_tokens: tuple[str, ...] = ()
    name_query: NameQuery | None = None
    q_identifier: str | None = None


def _criteria_values(c: SearchCriteria) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The shape of ``c``'s conditions (how many of each kind: what
    :func:`_criteria_conditions` builds from) and their bound values (``c_...``: the
    blind indexes of national IDs, mobiles and passports, never those values; the MRN or
    its start; name tokens as ``LIKE`` patterns)."""
    values: dict[str, Any] = {}
    for i, value in enumerate(c.national_ids):
        values[f"c_nid{i}"] = search_token("national_id", value)
    for i, value in enumerate(c.mobiles):
        values[f"c_mobile{i}"] = search_token("mobile", value)
    for i, value in enumerate(c.passports):
        values[f"c_passport{i}"] = search_token("passport_number", value)
    if c.patient_number is not None:
        values["c_number"] = c.patient_number
    if c.patient_number_prefix is not None:
        values["c_prefix"] = _escape_like(c.patient_number_prefix) + "%"
        values["c_prefix_exact"] = c.patient_number_prefix
    for i, token in enumerate(c.name_tokens):
        values[f"c_token{i}"] = f"%{_escape_like(token)}%"
    shape = (len(c.national_ids), len(c.mobiles), len(c.passports),
             c.patient_number is not None, c.patient_number_prefix is not None,
             len(c.name_tokens))
    return shape, values


def _criteria_conditions(shape: tuple[Any, ...], values: dict[str, Any] | None = None,
                         ) -> list[ColumnElement[bool]]:
    """The conditions of criteria of this shape (see :func:`_criteria_values`): exact
    identifiers through their blind indexes, the MRN or its start, name tokens occurring in
    the folded name. Bound parameters ``c_...``, holding ``values`` when given (a statement
    built for one request), else given when the statement is run (a cached one)."""
    def bound(name: str) -> Any:
        return bindparam(name) if values is None else bindparam(name, values[name])

    nids, mobiles, passports, number, prefix, tokens = shape
    where = [Patient.national_id_bidx == bound(f"c_nid{i}") for i in range(nids)]
    where += [Patient.mobile_bidx == bound(f"c_mobile{i}") for i in range(mobiles)]
    where += [Patient.passport_number_bidx == bound(f"c_passport{i}")
              for i in range(passports)]
    if number:
        where.append(Patient.patient_number == bound("c_number"))
    if prefix:
        where.append(Patient.patient_number.like(bound("c_prefix"), escape="\\"))
    where += [Patient.name_search.like(bound(f"c_token{i}"), escape="\\")
              for i in range(tokens)]
    return where


def _criteria_page(shape: tuple[Any, ...], by_prefix: bool,
                   within: RowFilter | None) -> Select[Patient]:
    """A page (``skip``, ``take``) of the patients meeting criteria of this shape (and
    ``within``): with ``by_prefix`` the exact MRN (``c_prefix_exact``) first, then by full
    name and id."""
    where = _criteria_conditions(shape)
    if within is not None:
        where.append(within(Patient.id))
    order: list[Any] = []
    if by_prefix:
        order.append(case((Patient.patient_number == bindparam("c_prefix_exact"), 0),
                          else_=1))
    return (select(Patient).where(*where).order_by(*order, Patient.full_name, Patient.id)
            .offset(_INT("skip")).limit(_INT("take")))


#: Seconds a process keeps the name-word statistics (:meth:`NameWordRepository.shares`).
SHARES_MAX_AGE = 600.0
_SHARES: dict[str, tuple[float, WordShares | None]] = {}


class NameWordRepository:
    """The dictionary of words used in patients' names (``patient_name_words``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def add(self, folded_names: Iterable[str]) -> None:
        """Record every word of these folded names (known words are left alone)."""
        words = sorted({w for name in folded_names for w in name.split()})
        if not words:
            return
        insert = postgresql.insert if self._postgres else sqlite.insert
        await self.session.execute(insert(PatientNameWord).on_conflict_do_nothing(),
                                   [{"word": w} for w in words])

    async def forget_unused(self, words: Iterable[str]) -> None:
        """Remove those of ``words`` that no patient's name uses any more (after an
        erasure, so the dictionary keeps no trace of the erased name)."""
        for word in set(words):
            still_used = select(Patient.id).where(_name_has_word(word, self._postgres))
            await self.session.execute(delete(PatientNameWord).where(
                PatientNameWord.word == word, ~still_used.exists()))

    async def shares(self) -> WordShares | None:
        """How common each name word is (PostgreSQL statistics of the name-word index;
        see :class:`~hms.patients.name_search.WordShares`), read at most every
        :data:`SHARES_MAX_AGE` seconds per process; None on SQLite or before the table was
        first analyzed."""
        if not self._postgres:
            return None
        key = str(self.session.get_bind().engine.url)
        cached = _SHARES.get(key)
        now = time_module.monotonic()
        if cached is not None and now - cached[0] < SHARES_MAX_AGE:
            return cached[1]
        row = (await self.session.execute(text(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, "
            "c.reltuples FROM pg_stats s, pg_class c "
            "WHERE s.tablename = 'ix_patients_name_words' AND c.relname = 'patients'"
            ))).first()
        shares = None
        if row is not None and row[0] and row[1] and row[2] and row[2] > 0:
            words, freqs = list(row[0]), list(row[1])
            listed = dict(zip(words, freqs[:len(words)], strict=True))
            shares = WordShares(listed, min(listed.values()) / 2, float(row[2]))
        _SHARES[key] = (now, shares)
        return shares

    async def expand(self, query: NameQuery) -> list[WordMatches]:
        """What each query word may stand for: the dictionary words it starts, and close
        spellings of it (pg_trgm trigram similarity; computed in Python on SQLite).

        PostgreSQL: one round trip for every word of the query (the prefix and candidate
        lookups of all words in one ``UNION ALL``)."""
        if self._postgres:
            return await self._expand_pg(query)
        out = []
        everything: list[str] | None = None
        for word in query.words:
            prefixed = list(await self.session.scalars(_prefixed_words(word)))
            close: list[str] = []
            if len(word) >= FUZZY_MIN_LENGTH:
                if everything is None:  # the embedded database's dictionary is small
                    everything = list(await self.session.scalars(
                        select(PatientNameWord.word)))
                close = [w for w in close_words(word, everything)
                         if not w.startswith(word)][:FUZZY_MAX_WORDS]
            out.append(WordMatches(
                word, tuple(prefixed) if len(prefixed) <= PREFIX_MAX_WORDS else None,
                tuple(close)))
        return out

    async def _expand_pg(self, query: NameQuery) -> list[WordMatches]:
        params: dict[str, Any] = {}
        for i, word in enumerate(query.words):
            params[f"p{i}"] = _escape_like(word) + "%"
            if len(word) >= FUZZY_MIN_LENGTH:
                edits = max_edits(word)
                params.update({f"w{i}": word, f"f{i}": _escape_like(word[0]) + "%",
                               f"lo{i}": len(word) - edits, f"hi{i}": len(word) + edits})
        stmt = _expansion_pg(tuple(len(w) >= FUZZY_MIN_LENGTH for w in query.words))
        prefixed: dict[int, list[str]] = {i: [] for i in range(len(query.words))}
        candidates: dict[int, set[str]] = {i: set() for i in range(len(query.words))}
        for i, kind, word in (await self.session.execute(stmt, params)).all():
            if kind == "prefix":
                prefixed[i].append(word)
            else:
                candidates[i].add(word)
        out = []
        for i, word in enumerate(query.words):
            found = sorted(prefixed[i])  # str order is byte order: the column's "C" collation
            close = [w for w in close_words(word, sorted(candidates[i]))
                     if not w.startswith(word)][:FUZZY_MAX_WORDS]
            out.append(WordMatches(
                word, tuple(found) if len(found) <= PREFIX_MAX_WORDS else None, tuple(close)))
        return out


def _prefixed_words(word: str) -> Select[str]:
    """Dictionary words starting with ``word``, in order, one more than
    :data:`PREFIX_MAX_WORDS` at most (so that "too many" can be told)."""
    return (select(PatientNameWord.word)
            .where(PatientNameWord.word.like(_escape_like(word) + "%", escape="\\"))
            .order_by(PatientNameWord.word).limit(PREFIX_MAX_WORDS + 1))


#: Trigram candidates read per query word (the most similar first).
TRIGRAM_CANDIDATES = 50
_EXPANSIONS: dict[tuple[bool, ...], TextClause] = {}


def _expansion_pg(fuzzy: tuple[bool, ...]) -> TextClause:
    """The dictionary lookups of every query word in one ``UNION ALL`` (PostgreSQL), rows
    ``(i, kind, word)``: ``kind`` ``prefix`` for the words starting with query word ``i``
    (bound ``p{i}``, a LIKE pattern; in order, :data:`PREFIX_MAX_WORDS` + 1 at most), and
    for a word long enough to be misspelt (``fuzzy[i]``) ``close`` for candidate close
    spellings: words sharing enough trigrams with ``w{i}`` (GIN trigram index, the
    :data:`TRIGRAM_CANDIDATES` most similar) and words with its first letter (``f{i}``)
    and a length within the edit limit (``lo{i}`` .. ``hi{i}``, a primary-key range);
    :func:`~hms.patients.name_search.close_words` decides.

    Built once per shape (the SQL depends only on which words are fuzzy; every value is a
    bound parameter), so a search spends no time constructing it."""
    stmt = _EXPANSIONS.get(fuzzy)
    if stmt is None:
        # Only positions and module constants are interpolated; every value is bound.
        parts = []
        for i, is_fuzzy in enumerate(fuzzy):
            parts.append(
                f"(SELECT {i} AS i, 'prefix' AS kind, word FROM patient_name_words "  # noqa: S608
                f"WHERE word LIKE :p{i} ESCAPE '\\' ORDER BY word "
                f"LIMIT {PREFIX_MAX_WORDS + 1})")
            if is_fuzzy:
                parts.append(
                    f"(SELECT {i}, 'close', word FROM patient_name_words "  # noqa: S608
                    f"WHERE word % :w{i} "
                    f"ORDER BY similarity(word, :w{i}) DESC LIMIT {TRIGRAM_CANDIDATES})")
                parts.append(
                    f"(SELECT {i}, 'close', word FROM patient_name_words "  # noqa: S608
                    f"WHERE word LIKE :f{i} ESCAPE '\\' "
                    f"AND length(word) BETWEEN :lo{i} AND :hi{i})")
        stmt = _EXPANSIONS[fuzzy] = text(" UNION ALL ".join(parts))
    return stmt


#: A name-search condition no patient can meet (a query word with no dictionary word to
#: match): its tier is skipped instead of queried.
_NONE: ColumnElement[bool] = false()


class _Read(enum.Enum):
    """How a name-search tier's matches are found (see ``PatientRepository._read_tier``)."""

    RANGE = "range"
    MATCHES = "matches"
    WALK = "walk"


@dataclass(frozen=True, slots=True)
class _Tier:
    """One relevance tier of a name search: how its condition on ``patients`` is built
    (``condition``, values as bound parameters named after the tier's place, ``t0_...``;
    a function of the tier's place and ``shape`` alone), how its matches are read, what the
    condition's SQL depends on (``shape``: equal shapes, equal SQL) and its bound values.

    The condition is built only when a statement using it is: a search whose statements
    are cached (:func:`_statement`) builds no SQL expression at all (building them was a
    sixth of a search's Python time, py-spy 2026-12-07)."""

    condition: Callable[[], ColumnElement[bool]]
    read: _Read
    shape: tuple[Any, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


#: A tier that cannot match (a query word with nothing in the dictionary to match).
_NO_TIER = _Tier(lambda: _NONE, _Read.WALK)

#: Search and read statements by shape (name search: the dialect, the shapes of the tiers
#: in the condition, what is read; other searches: which criteria, how many of each):
#: built once, then run with bound values, so a request spends no time building SQL that
#: does not change (building a patient read's SELECT was a quarter of its Python time,
#: py-spy 2026-12-07). Bounded: a query's words make its shape, and a caller could send
#: many.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}
_STATEMENTS_MAX = 1024


def _statement(key: tuple[Any, ...] | None, build: Callable[[], Any]) -> Any:
    """The statement cached under ``key`` (None: not cacheable, built every time)."""
    if key is None:
        return build()
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        stmt = _STATEMENTS[key] = build()
    return stmt


def _identifier_tier(n: int, value: str) -> _Tier:
    """Holders of ``value`` as a custom patient number, passport or phone number (NULL-safe,
    so that ``NOT`` of it is never NULL)."""
    p = f"t{n}_"
    values = {p + "number": value, p + "passport": search_token("passport_number", value)}
    digits = any(ch.isdigit() for ch in value)
    if digits:
        values[p + "phone"] = search_token("phone", value)
    return _Tier(partial(_identifier_condition, p, digits), _Read.RANGE,
                 ("identifier", digits), values)


def _identifier_condition(p: str, digits: bool) -> ColumnElement[bool]:
    alternatives = [Patient.patient_number == bindparam(p + "number"),
                    and_(Patient.passport_number_bidx.is_not(None),
                         Patient.passport_number_bidx == bindparam(p + "passport"))]
    if digits:
        alternatives.append(and_(Patient.phone_bidx.is_not(None),
                                 Patient.phone_bidx == bindparam(p + "phone")))
    return or_(*alternatives)


def _starts_tier(n: int, key: ColumnElement[Any], folded: str) -> _Tier:
    """Folded names starting with the query as typed."""
    name = f"t{n}_starts"
    return _Tier(lambda: key.like(bindparam(name), escape="\\"), _Read.RANGE, ("starts",),
                 {name: _escape_like(folded) + "%"})


def _words_tier(n: int, matches: list[WordMatches], *, close: bool, postgres: bool,
                read: _Read) -> _Tier:
    """Every query word is the start of a word of the name (or, with ``close``, a word
    spelled like it). PostgreSQL: through the GIN index on the name's words (a query word
    too short to list its words: ``LIKE`` on the name); SQLite: ``LIKE`` on the
    space-padded name. :data:`_NO_TIER` when a query word has nothing to match.

    The shape is, per query word, PostgreSQL: (matched with ``LIKE``, matched through the
    index), SQLite: how many close spellings; :func:`_words_condition` builds the SQL from
    it. PostgreSQL: a query word whose words include all of another's is left out (see
    :func:`_implied_words`)."""
    shapes: list[Any] = []
    values: dict[str, Any] = {}
    if postgres:
        matches = _implied_words(matches, close=close)
    for i, m in enumerate(matches):
        p = f"t{n}_w{i}_"
        starts = m.prefixed is None or not postgres
        if starts:
            values[p + "starts"] = f"% {_escape_like(m.word)}%"
        if postgres:
            words = list(m.prefixed or ()) + (list(m.close) if close else [])
            if words:
                values[p + "any"] = words
            elif not starts:
                return _NO_TIER
            shapes.append((starts, bool(words)))
        else:
            spelled = list(m.close) if close else []
            for j, w in enumerate(spelled):
                values[f"{p}c{j}"] = f"% {_escape_like(w)} %"
            shapes.append(len(spelled))
    shape = tuple(shapes)
    return _Tier(partial(_words_condition, n, shape, postgres), read,
                 ("words", close, postgres, shape), values)


def _implied_words(matches: list[WordMatches], *, close: bool) -> list[WordMatches]:
    """``matches`` without the query words whose condition another's implies (PostgreSQL
    word tiers, matched through the word index only): a name with one of ``fouad`` (the
    close spellings of ``"fuoad"``) has one of ``fouad, fouda`` (``"fouda"`` and its close
    spellings), so the second condition selects nothing the first has not. The tier's
    patients are the same; PostgreSQL, which multiplies the two conditions' selectivities,
    then expects the tier's real size (measured 2026-12-07 at a million patients: it
    expected 368 of the 14,439 matches, sorted every match from the word index in 27 ms
    instead of walking the name index to the page's 20th in 0.7 ms). Of two query words
    with the same words, the first is kept."""
    sets = [m.listed(close=close) for m in matches]
    kept = []
    for i, m in enumerate(matches):
        mine = sets[i]
        implied = mine is not None and any(
            other is not None and other and other <= mine and (other != mine or j < i)
            for j, other in enumerate(sets) if j != i)
        if not implied:
            kept.append(m)
    return kept


def _words_condition(n: int, shapes: tuple[Any, ...], postgres: bool) -> ColumnElement[bool]:
    """The condition of :func:`_words_tier`'s tier ``n`` with these word shapes."""
    each: list[ColumnElement[bool]] = []
    padded = literal(" ") + Patient.name_search
    for i, shape in enumerate(shapes):
        p = f"t{n}_w{i}_"
        conditions = []
        if not postgres or shape[0]:
            conditions.append(padded.like(bindparam(p + "starts"), escape="\\"))
        if postgres and shape[1]:
            conditions.append(_OVERLAPS(cast(bindparam(p + "any", type_=_TEXT_ARRAY),
                                             _TEXT_ARRAY)))
        if not postgres:
            conditions += [(padded + literal(" ")).like(bindparam(f"{p}c{j}"), escape="\\")
                           for j in range(shape)]
        each.append(or_(*conditions))
    return and_(*each)


_TEXT_ARRAY = postgresql.ARRAY(Text)
#: The folded name as the name index orders it (see ``PatientRepository._name_key``);
#: built once, as the conditions below.
_NAME_KEY_C: ColumnElement[Any] = Patient.name_search.collate("C")
_NAME_KEY: ColumnElement[Any] = Patient.name_search.expression
#: Exactly the expression of the GIN index ix_patients_name_words (migration 0016); built
#: once (expressions are immutable), as each search uses it in several conditions.
_NAME_WORDS: ColumnElement[Any] = func.string_to_array(
    Patient.name_search, literal_column("' '"), type_=_TEXT_ARRAY)
_OVERLAPS = _NAME_WORDS.bool_op("&&")


def _name_has_any(words: Iterable[str]) -> ColumnElement[bool]:
    return _OVERLAPS(cast(bindparam(None, list(words), type_=_TEXT_ARRAY), _TEXT_ARRAY))


def _name_has_word(word: str, postgres: bool) -> ColumnElement[bool]:
    if postgres:
        return _name_has_any([word])
    padded = literal(" ") + Patient.name_search + literal(" ")
    return padded.like(f"% {_escape_like(word)} %", escape="\\")


def _name_word_starts(word: str) -> ColumnElement[bool]:
    return (literal(" ") + Patient.name_search).like(f"% {_escape_like(word)}%",
                                                     escape="\\")


#: A patient by patient number or national ID blind index (bound ``key``), built once.
_BY_NUMBER = select(Patient).where(Patient.patient_number == bindparam("key")).limit(1)
_BY_NATIONAL_ID = (select(Patient).where(Patient.national_id_bidx == bindparam("key"))
                   .limit(1))
_BY_ID = select(Patient).where(Patient.id == bindparam("key")).limit(1)
#: The same three reads run by asyncpg itself (:meth:`PatientRepository.values_by_ref`).
_DIRECT = {stmt: DirectSelect(stmt) for stmt in (_BY_NUMBER, _BY_NATIONAL_ID, _BY_ID)}


#: Every column attribute of :class:`Patient`, in table order.
_COLUMN_KEYS = tuple(column.key for column in Patient.__table__.columns)


def _column_values(patient: Patient) -> dict[str, Any]:
    """``patient``'s column values by attribute name, as the ORM loaded them."""
    loaded = inspect(patient).dict
    return {name: loaded[name] if name in loaded else getattr(patient, name)
            for name in _COLUMN_KEYS}


def _ref_lookup(ref: str) -> tuple[Any, Any] | None:
    """The statement (:data:`_BY_ID`, :data:`_BY_NATIONAL_ID` or :data:`_BY_NUMBER`) and
    the ``key`` value that find the patient ``ref`` names (a UUID, an all-digit national
    ID, else a patient number), or None when ``ref`` cannot be a stored reference (empty,
    over 64 characters, control characters: NUL would upset PostgreSQL)."""
    ref = ref.strip()
    if not ref or len(ref) > 64 or has_control_characters(ref):
        return None
    try:
        return _BY_ID, uuid.UUID(ref)
    except ValueError:
        pass
    if ref.isascii() and ref.isdigit():
        # All digits: a national ID (a patient number always holds a letter), matched by
        # its blind index only, so the ID never travels to the database.
        return _BY_NATIONAL_ID, search_token("national_id", ref)
    return _BY_NUMBER, ref.upper()


async def values_by_ref_in(engine: AsyncEngine, ref: str) -> dict[str, Any] | None:
    """As :meth:`PatientRepository.values_by_ref` without a row scope, with no session:
    one SELECT run by asyncpg on a connection of ``engine``'s pool (PostgreSQL) checked
    out for it alone (:meth:`~hms.db.direct.DirectStatement.first_in`).

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed the read.
    """
    found = _ref_lookup(ref)
    if found is None:
        return None
    stmt, key = found
    return await _DIRECT[stmt].first_in(engine, key=key)


class PatientRepository:
    """Patients and their number counters."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, patient_id: uuid.UUID) -> Patient | None:
        """Patient by id."""
        return await self.session.get(Patient, patient_id)

    async def by_ids(self, patient_ids: list[uuid.UUID]) -> list[Patient]:
        """The patients with these ids (one query)."""
        if not patient_ids:
            return []
        return list(await self.session.scalars(
            select(Patient).where(Patient.id.in_(patient_ids))))

    async def by_ref(self, ref: str, *, within: RowFilter | None = None) -> Patient | None:
        """Patient by UUID, patient number (MRN, case-insensitive) or national ID (through
        its blind index: one indexed equality per key); with ``within`` (the caller's row
        scope) only a patient inside it, decided in the same query."""
        found = _ref_lookup(ref)
        if found is None:
            return None
        stmt, key = found
        if stmt is _BY_ID and within is None:
            return await self.get(key)
        if within is not None:
            stmt = stmt.where(within(Patient.id))
        return (await self.session.scalars(stmt, {"key": key})).first()

    async def values_by_ref(self, ref: str, *, within: RowFilter | None = None
                            ) -> dict[str, Any] | None:
        """As :meth:`by_ref`, but the patient's column values (decrypted) by attribute name
        instead of an ORM object, for reads that only present the patient.

        On a read-only PostgreSQL session without a row scope the SELECT is run by asyncpg
        itself (:class:`~hms.db.direct.DirectSelect`: a third of the Python time of the
        ORM's load); otherwise the patient is loaded through the ORM and its loaded values
        returned.

        Raises:
            sqlalchemy.exc.DBAPIError: the database failed the read (see
                :meth:`DirectSelect.first <hms.db.direct.DirectSelect.first>`).
        """
        if within is None and DirectSelect.usable(self.session):
            found = _ref_lookup(ref)
            if found is None:
                return None
            stmt, key = found
            return await _DIRECT[stmt].first(self.session, key=key)
        patient = await self.by_ref(ref, within=within)
        return None if patient is None else _column_values(patient)

    async def by_national_id(self, national_id: str) -> Patient | None:
        """Patient holding ``national_id`` (blind-index equality)."""
        stmt = select(Patient).where(
            Patient.national_id_bidx == search_token("national_id", national_id))
        return (await self.session.scalars(stmt)).first()

    async def by_patient_number(self, patient_number: str) -> Patient | None:
        """Patient holding ``patient_number``."""
        stmt = select(Patient).where(Patient.patient_number == patient_number)
        return (await self.session.scalars(stmt)).first()

    async def by_source(self, source_system: str, source_id: str) -> Patient | None:
        """Patient imported from ``source_system`` with identifier ``source_id``."""
        stmt = select(Patient).where(
            Patient.source_system == source_system, Patient.source_id == source_id
        )
        return (await self.session.scalars(stmt)).first()

    async def add(self, patient: Patient) -> Patient:
        """Insert a patient and flush (unique constraints fire here)."""
        self.session.add(patient)
        await self.session.flush()
        return patient

    async def update_if_version(
        self, patient_id: uuid.UUID, expected_version: int, values: dict[str, Any]
    ) -> bool:
        """Compare-and-set update: apply ``values`` and bump ``version`` only if the row still
        has ``expected_version``. Returns False when another writer got there first. Blind
        indexes of changed identifiers are recomputed in the same statement.

        The version test is part of the UPDATE's WHERE clause, so two writers holding the
        same version cannot both succeed (PostgreSQL re-checks the predicate after waiting on
        the row lock; SQLite serialises writers).
        """
        stmt = (
            update(Patient)
            .where(Patient.id == patient_id, Patient.version == expected_version)
            .values(**with_blind_indexes(values), version=Patient.version + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return isinstance(result, CursorResult) and result.rowcount == 1

    async def refresh(self, patient: Patient) -> None:
        """Reload ``patient`` from the database."""
        await self.session.refresh(patient)

    async def next_number_sequence(self, day: str) -> int:
        """Atomically increment and return the sequence counter of ``day`` (``YYYYMMDD``).

        One statement, ``INSERT ... ON CONFLICT (day) DO UPDATE SET last_value =
        last_value + 1 RETURNING last_value``, so concurrent registrations never get the same
        value (the row lock is held until the transaction ends).
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        upsert = insert(PatientNumberCounter).values(day=day, last_value=1)
        stmt = upsert.on_conflict_do_update(
            index_elements=[PatientNumberCounter.day],
            set_={"last_value": PatientNumberCounter.last_value + 1},
        ).returning(PatientNumberCounter.last_value)
        return int((await self.session.execute(stmt)).scalar_one())

    def _filters(self, c: SearchCriteria) -> list[ColumnElement[bool]]:
        """``c``'s conditions with their values bound (for statements built per request)."""
        return _criteria_conditions(*_criteria_values(c))

    async def filtered(
        self, criteria: SearchCriteria, *, gender: str | None, is_active: bool | None,
        insurance_provider_id: uuid.UUID | None, date_from: date | None,
        date_to: date | None, order: list[tuple[str, bool]], offset: int, limit: int,
        within: RowFilter | None = None,
    ) -> tuple[list[Patient], int]:
        """A page of patients matching ``criteria`` and the filters, ordered by ``order``
        (``(column name, descending)``, then id), and the total. ``date_from``/``date_to``
        bound ``created_at`` (UTC days, inclusive)."""
        where = self._filters(criteria)
        if gender is not None:
            where.append(Patient.gender == gender)
        if is_active is not None:
            where.append(Patient.is_active.is_(is_active))
        if insurance_provider_id is not None:
            where.append(Patient.insurance_provider_id == insurance_provider_id)
        if date_from is not None:
            where.append(Patient.created_at >= datetime.combine(date_from, time.min, UTC))
        if date_to is not None:
            where.append(Patient.created_at < datetime.combine(date_to + timedelta(days=1),
                                                               time.min, UTC))
        if within is not None:
            where.append(within(Patient.id))
        columns = [getattr(Patient, name).desc() if desc else getattr(Patient, name).asc()
                   for name, desc in order]
        stmt = (select(Patient).where(*where).order_by(*columns, Patient.id)
                .offset(offset).limit(limit))
        plans = (custom_plans(self.session) if criteria.patient_number_prefix is not None
                 else contextlib.nullcontext())
        async with plans:  # an MRN prefix is an index range only in a custom plan
            total = await self.session.scalar(
                select(func.count()).select_from(Patient).where(*where))
            return list(await self.session.scalars(stmt)), int(total or 0)

    async def search(
        self, criteria: SearchCriteria, *, offset: int, limit: int,
        within: RowFilter | None = None,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """A page of patients matching every criterion (and inside ``within``, the caller's
        row scope, when given), each as its column values by attribute name (decrypted),
        the total and whether the total is exact.

        With a name query: relevance tiers (see :mod:`hms.patients.name_search`; patients
        holding ``q_identifier`` come first), each in folded-name order; the total is counted
        up to :data:`COUNT_CAP` and pages reach :data:`WINDOW_CAP` rows. Otherwise: MRN
        prefix matches with an exact MRN first, then by full name; exact total. The page of
        an exact search on a read-only PostgreSQL session without a row scope is read by
        asyncpg itself (:class:`~hms.db.direct.DirectSelect`). A name or MRN-prefix search
        runs with custom plans (:func:`~hms.db.plans.custom_plans`: its ``LIKE`` prefixes
        are index ranges only in a plan made for their values).
        """
        if criteria.name_query is None and criteria.patient_number_prefix is None:
            return await self._search(criteria, offset=offset, limit=limit, within=within)
        async with custom_plans(self.session):
            return await self._search(criteria, offset=offset, limit=limit, within=within)

    async def _search(
        self, criteria: SearchCriteria, *, offset: int, limit: int, within: RowFilter | None,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        if criteria.name_query is not None:
            where = self._filters(criteria)
            if within is not None:
                where.append(within(Patient.id))
            return await self._name_search(criteria.name_query, criteria.q_identifier, where,
                                           offset=offset, limit=limit)
        shape, values = _criteria_values(criteria)
        by_prefix = bool(criteria.patient_number_prefix)
        # The row scope carries its own values: its statements are built per request.
        key = None if within is not None else ("criteria", shape, by_prefix)
        stmt = _statement(key, partial(_criteria_page, shape, by_prefix, within))
        params = {**values, "skip": offset, "take": limit}
        if (direct := self._direct(key, stmt)) is not None:
            rows = await direct.all(self.session, **params)
        else:
            rows = [_column_values(p) for p in await self.session.scalars(stmt, params)]
        if offset == 0 and len(rows) < limit:  # the whole result is on this page
            return rows, len(rows), True
        where = _criteria_conditions(shape, values)
        if within is not None:
            where.append(within(Patient.id))
        total, exact = await count_matches(self.session, select(Patient.id).where(*where))
        return rows, total, exact

    async def _name_search(
        self, query: NameQuery, identifier: str | None, where: list[ColumnElement[bool]], *,
        offset: int, limit: int,
    ) -> tuple[list[dict[str, Any]], int, bool]:
        key = self._name_key()
        dialect = self.session.get_bind().dialect.name
        need = min(offset + limit, WINDOW_CAP)
        # Matches past the page are only counted, up to COUNT_CAP + 1 (no second query over
        # every match, which a very common name word made the costliest part).
        want = max(need, COUNT_CAP + 1)
        page: list[dict[str, Any]] = []
        # Matches seen so far, every tier, up to ``want``. While the page is not full every
        # tier so far was read to its end, so these are exactly the matches listed so far.
        counted = 0
        tiers: list[_Tier] = []
        async for tier in self._name_tiers(query, identifier, key):
            if tier is _NO_TIER:  # a query word with nothing in the dictionary to match
                continue
            # Built only if the statement is (a cached one needs no expression).
            conditions = partial(_tier_conditions, where, tier, tuple(tiers))
            tiers.append(tier)
            values = {name: value for t in tiers for name, value in t.values.items()}
            # The SQL depends on the dialect and the tiers' shapes only; extra conditions
            # (other criteria, the caller's row scope) carry their own values: not cached.
            shape = None if where else (dialect, tuple(t.shape for t in tiers))
            if counted < need:
                rows, tier_count = await self._read_tier(
                    conditions, key, tier.read, shape, values, before=counted,
                    offset=offset, need=need, want=want)
                page += rows
            else:  # the page is full: count the tier, up to the cap
                stmt = _statement(shape and (*shape, "count"),
                                  partial(_tier_count_of, conditions))
                cap = want - counted
                tier_count = min(cap, await self.session.scalar(
                    stmt, {**values, "cap": _count_limit(tier.read, cap)}) or 0)
            counted += tier_count
            if counted >= want:  # asked for no further tier: its dictionary lookup is skipped
                break
        if counted < want:  # every tier was read to its end: every match was counted
            return page, counted, True
        return page, COUNT_CAP, False

    def _name_key(self) -> ColumnElement[Any]:
        """The folded name as the name index orders it (PostgreSQL: ``COLLATE "C"``, byte
        order; SQLite's default collation is already binary)."""
        if self.session.get_bind().dialect.name == "postgresql":
            return _NAME_KEY_C
        return _NAME_KEY

    async def _name_tiers(self, query: NameQuery, identifier: str | None,
                          key: ColumnElement[Any]) -> AsyncIterator[_Tier]:
        """The relevance tiers of a name search, best first (see
        :mod:`hms.patients.name_search`): the holders of ``identifier``, names starting
        with the query, then the word tiers. The dictionary is looked up (one round trip on
        PostgreSQL) only when the caller asks for a word tier: not when the tiers before
        them filled the page and the count."""
        n = 0
        if identifier is not None:
            yield _identifier_tier(n, identifier)
            n += 1
        yield _starts_tier(n, key, query.folded)
        postgres = self.session.get_bind().dialect.name == "postgresql"
        words = NameWordRepository(self.session)
        matches = await words.expand(query)
        shares = await words.shares() if postgres else None
        for close in (False, True):
            if close and not any(m.close for m in matches):
                return
            n += 1
            few = postgres and (shares is None or tier_share(matches, shares, close=close)
                                * shares.patients <= ORDERED_FROM_MATCHES)
            yield _words_tier(n, matches, close=close, postgres=postgres,
                              read=_Read.MATCHES if few else _Read.WALK)

    async def _read_tier(self, conditions: Callable[[], list[ColumnElement[bool]]],
                         key: ColumnElement[Any], read: _Read,
                         shape: tuple[Any, ...] | None, values: dict[str, Any],
                         *, before: int, offset: int, need: int, want: int,
                         ) -> tuple[list[dict[str, Any]], int]:
        """One tier of a name search in one statement (cached under ``shape``, run with
        ``values``; ``conditions`` builds the tier's conditions when the statement is
        built): its patients at the page's places (the tier's matches in folded-name,
        then id, order are matches ``before``, ``before + 1``, ... of the search; the page
        is matches ``offset`` to ``need - 1``), and how many patients the tier matches,
        counted up to ``want - before``.

        How the tier's matches are found, by ``read``:

        - ``RANGE``, a range of an index (the start of the name, an identifier): read in
          order up to the count cap; rows past the page cost next to nothing there.
        - ``MATCHES`` (PostgreSQL, a word tier expected to match few patients): the
          matches the word index finds, sorted, if there are at most
          :data:`ORDERED_FROM_MATCHES` (cost grows with the matches; their number comes
          with them); with more, as ``WALK``.
        - ``WALK``: along the name index in order, filtering, to the end of the page (cost
          grows with the distance to the last row needed: short when matches are dense,
          long when they are few or cluster late in name order: every ``"walid ..."`` sits
          in the w's, measured 430 ms at a million patients against a few ms from the word
          index); the rest of the tier is counted in the same statement, by a capped
          count evaluated only when the page was filled."""
        # The page's places in this tier's order, and the cap of its count.
        cap = want - before
        values = {**values, "skip": max(0, offset - before), "take": need - max(offset, before),
                  "cap": cap}
        if read is _Read.MATCHES:
            values |= {"found": ORDERED_FROM_MATCHES + 1, "length": need - before}
            stmt_key = shape and (*shape, "matches")
            rows, matched = await self._tier_page(
                _statement(stmt_key, lambda: _matches_page(conditions())), values, stmt_key)
            if matched <= ORDERED_FROM_MATCHES:
                return rows, min(matched, cap)
        values["length"] = length = cap if read is _Read.RANGE else need - before
        counts_rest = read is not _Read.RANGE and length < cap
        stmt_key = shape and (*shape, "read", counts_rest)
        return await self._tier_page(
            _statement(stmt_key,
                       lambda: _ordered_page(conditions(), key, counts_rest=counts_rest)),
            values, stmt_key)

    def _direct(self, key: tuple[Any, ...] | None, stmt: Any) -> DirectSelect | None:
        """The :class:`~hms.db.direct.DirectSelect` of ``stmt`` (cached beside it under
        ``key``) when this session can run it: a cached statement (no per-request
        conditions) on a read-only PostgreSQL session; else None (read through the ORM)."""
        if key is None or not DirectSelect.usable(self.session):
            return None
        direct: DirectSelect = _statement((*key, "direct"), partial(DirectSelect, stmt))
        return direct

    async def _tier_page(self, stmt: Any, values: dict[str, Any],
                         key: tuple[Any, ...] | None) -> tuple[list[dict[str, Any]], int]:
        """Run a tier's statement (see :func:`_page_of`): its patients' column values, its
        count. A statement cached under ``key`` (no per-request conditions) on a read-only
        PostgreSQL session is run by asyncpg itself (:class:`~hms.db.direct.DirectSelect`:
        no ORM object per patient)."""
        if (direct := self._direct(key, stmt)) is not None:
            found = await direct.all(self.session, **values)
            total = int(found[0]["total"])
            for row in found:
                del row["total"]
            return [row for row in found if row["id"] is not None], total
        result = (await self.session.execute(stmt, values)).all()
        return ([_column_values(row[1]) for row in result if row[1] is not None],
                int(result[0][0]))


def _INT(name: str) -> Any:
    """An integer bound parameter (a LIMIT or OFFSET of a cached statement)."""
    return bindparam(name, type_=Integer)


def _count_limit(read: _Read, cap: int) -> int:
    """How many matches a full page's count of a tier may read to count ``cap`` of them.

    A tier expected to be small (``MATCHES``) is counted up to
    :data:`ORDERED_FROM_MATCHES` + 1 whatever the cap: with a LIMIT of a few rows the
    planner expects to meet them early along the name index and walks it (the typo tier of
    ``"Marco Ana"``, 751 matches expected, one wanted: 94,814 entries, 56 ms, measured
    2026-12-07 at a million patients), where with a LIMIT above the expected matches it
    reads them from the word index (~1-2 ms). Larger tiers keep the cap (their matches are
    dense along the name index)."""
    return max(cap, ORDERED_FROM_MATCHES + 1) if read is _Read.MATCHES else cap


def _tier_conditions(where: list[ColumnElement[bool]], tier: _Tier,
                     earlier: tuple[_Tier, ...]) -> list[ColumnElement[bool]]:
    """A tier's conditions: the search's other criteria, the tier's own condition, and not
    any earlier tier's (each patient is listed in its best tier only)."""
    return [*where, tier.condition(), *[not_(t.condition()) for t in earlier]]


def _tier_count_of(conditions: Callable[[], list[ColumnElement[bool]]]) -> Select[int]:
    """:func:`_tier_count` of the conditions ``conditions`` builds."""
    return _tier_count(conditions())


def _tier_count(cond: list[ColumnElement[bool]]) -> Select[int]:
    """How many patients meet ``cond``, up to ``cap`` (the bound limit: see
    :func:`_count_limit`)."""
    return select(func.count()).select_from(
        select(Patient.id).where(*cond).limit(_INT("cap")).subquery())


def _page_of(ranked: Any, n: Any, total: ColumnElement[int]) -> Select[int, Patient]:
    """``take`` patients of ``ranked`` (a CTE of ``id`` and ``k``, the folded name, in
    order) from its ``skip``-th row on (bound parameters), in order, each with ``total``, an
    expression over the one-row subquery ``n``; joined to ``n`` so that a page with no rows
    still brings ``total`` (then with no patient)."""
    at = (select(ranked.c.id, ranked.c.k).order_by(ranked.c.k, ranked.c.id)
          .offset(_INT("skip")).limit(_INT("take")))
    listed = at.subquery("listed")
    return (select(total.label("total"), Patient).select_from(n)
            .outerjoin(listed, true()).outerjoin(Patient, Patient.id == listed.c.id)
            .order_by(listed.c.k, listed.c.id))


def _matches_page(cond: list[ColumnElement[bool]]) -> Select[int, Patient]:
    """A ``MATCHES`` tier's page: the first ``length`` of at most ``found`` matches the
    word index finds, sorted; its total is how many it found."""
    found = (select(Patient.id, Patient.name_search).where(*cond)
             .limit(_INT("found")).cte("found").prefix_with("MATERIALIZED"))
    found_key = found.c.name_search.collate("C")
    ranked = (select(found.c.id, found_key.label("k"))
              .order_by(found_key, found.c.id).limit(_INT("length")).cte("ranked"))
    n = select(func.count().label("n")).select_from(found).subquery("n")
    return _page_of(ranked, n, n.c.n)


def _ordered_page(cond: list[ColumnElement[bool]], key: ColumnElement[Any], *,
                  counts_rest: bool) -> Select[int, Patient]:
    """A tier's page read in ``key`` order, ``length`` rows; its total is how many it read
    or, with ``counts_rest``, when it read all ``length``, a count of the tier up to
    ``cap``."""
    ranked = (select(Patient.id, key.label("k")).where(*cond).order_by(key, Patient.id)
              .limit(_INT("length")).cte("ranked"))
    n = select(func.count().label("n")).select_from(ranked).subquery("n")
    total: ColumnElement[int] = n.c.n
    if counts_rest:
        # The page was filled: the tier may have more matches than it listed.
        total = case((n.c.n < _INT("length"), n.c.n), else_=select(func.count()).select_from(
            select(Patient.id).where(*cond).limit(_INT("cap")).subquery()).scalar_subquery())
    return _page_of(ranked, n, total)


class MedicalRecordRepository:
    """Medical records (one per patient)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, record_id: uuid.UUID) -> MedicalRecord | None:
        """Record by id."""
        return await self.session.get(MedicalRecord, record_id)

    async def by_patient(self, patient_id: uuid.UUID) -> MedicalRecord | None:
        """The patient's record, or None."""
        stmt = select(MedicalRecord).where(MedicalRecord.patient_id == patient_id)
        return (await self.session.scalars(stmt)).first()

    async def by_patients(self, patient_ids: list[uuid.UUID]) -> list[MedicalRecord]:
        """The records of these patients (one query)."""
        if not patient_ids:
            return []
        stmt = select(MedicalRecord).where(MedicalRecord.patient_id.in_(patient_ids))
        return list(await self.session.scalars(stmt))

    async def add(self, record: MedicalRecord) -> MedicalRecord:
        """Insert and flush (the unique ``patient_id`` fires here)."""
        self.session.add(record)
        await self.session.flush()
        return record

    async def update_if_version(self, record_id: uuid.UUID, expected_version: int,
                                values: dict[str, Any]) -> bool:
        """Compare-and-set update (see :meth:`PatientRepository.update_if_version`)."""
        stmt = (
            update(MedicalRecord)
            .where(MedicalRecord.id == record_id, MedicalRecord.version == expected_version)
            .values(**values, version=MedicalRecord.version + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(stmt)
        return isinstance(result, CursorResult) and result.rowcount == 1

    async def append_note(self, patient_id: uuid.UUID, line: str, values: dict[str, Any]
                          ) -> uuid.UUID | None:
        """Append ``line`` to the record's ``notes`` (a new line when notes exist) in one
        statement, bumping ``version``; the record's id, or None when the patient has no
        record."""
        notes = MedicalRecord.notes
        stmt = (
            update(MedicalRecord)
            .where(MedicalRecord.patient_id == patient_id)
            .values(**values,
                    notes=case((notes.is_(None), line), (notes == "", line),
                               else_=notes + "\n" + line),
                    version=MedicalRecord.version + 1)
            .returning(MedicalRecord.id)
            .execution_options(synchronize_session=False)
        )
        record_id: uuid.UUID | None = (await self.session.execute(stmt)).scalar_one_or_none()
        if record_id is not None:  # a copy this session holds is stale now: reload on use
            loaded = self.session.sync_session.identity_map.get(
                identity_key(MedicalRecord, record_id))
            if loaded is not None:
                self.session.expire(loaded)
        return record_id

    async def refresh(self, record: MedicalRecord) -> None:
        """Reload ``record`` from the database."""
        await self.session.refresh(record)

    async def page(self, *, patient_id: uuid.UUID | None, offset: int, limit: int,
                   order: list[Any], within: RowFilter | None = None,
                   ) -> tuple[list[MedicalRecord], int]:
        """A page of records (optionally one patient's, within the caller's row scope on
        patients) and the total."""
        where: list[ColumnElement[bool]] = []
        if patient_id is not None:
            where.append(MedicalRecord.patient_id == patient_id)
        if within is not None:
            where.append(within(MedicalRecord.patient_id))
        total = await self.session.scalar(
            select(func.count()).select_from(MedicalRecord).where(*where))
        stmt = (select(MedicalRecord).where(*where).order_by(*order, MedicalRecord.id)
                .offset(offset).limit(limit))
        return list(await self.session.scalars(stmt)), int(total or 0)
