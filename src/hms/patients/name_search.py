"""Name search: partial, typo-tolerant, in relevance order, fast at a million patients.

A name query is folded like a stored name (:func:`hms.patients.validators.fold_name`) and
split into words. Patients are returned in three relevance tiers, each ordered by the folded
name (byte order, then id, so pages are stable):

0. the folded name *starts with* the query as typed (``"ahmed moh"`` -> ``"ahmed mohamed
   ali"``); an exact name is the first of these, being the shortest;
1. every query word is the start of a word of the name, in any order and position
   (``"hassan ahm"`` -> ``"ahmed ali hassan"``);
2. every query word is the start of a word of the name *or* a close spelling of one
   (``"mohamad"`` -> ``"mohamed"``, ``"hsasan"`` -> ``"hassan"``), judged against the
   dictionary of words used in patients' names (``patient_name_words``): trigram
   similarity >= :data:`FUZZY_SIMILARITY`, or at most :func:`max_edits` edits (optimal
   string alignment distance: insertions, deletions, substitutions and swaps of adjacent
   letters, the typist's usual slips; Damerau, CACM 7(3), 1964).

Why this shape: a trigram similarity scan over a million names costs about 0.4 s of CPU per
query, and the words of Egyptian names are few and shared by tens of thousands of patients,
so an index on whole names cannot rank them. Instead the typo tolerance works on the small
word dictionary (a few thousand rows, trigram index on PostgreSQL), which turns each query
word into the set of real words it may mean; patients are then found through an index on
their name words (GIN over ``string_to_array(name_search, ' ')`` on PostgreSQL) and read
page by page along the btree on ``name_search`` (``COLLATE "C"``), so a page of a common
name costs a few index probes, not a sort of every match.

Trigram similarity is pg_trgm's: the words are padded with two spaces before and one after,
cut into 3-character windows, and compared as sets, |A n B| / |A u B| (PostgreSQL
documentation, F.35 pg_trgm). Trigrams alone miss swapped letters in short words
(``"hsasan"`` shares 3 of 11 trigrams with ``"hassan"``), hence the edit distance. Both are
computed here in Python (:func:`close_words`, edit distance by rapidfuzz) on candidates the
database narrows down (PostgreSQL: the trigram index plus words with the same first letter
and a similar length), so both databases find the same typos.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

#: Lowest trigram similarity for a dictionary word to count as a spelling of a query word
#: (pg_trgm's default ``pg_trgm.similarity_threshold``).
FUZZY_SIMILARITY = 0.3
#: Query words shorter than this are matched as prefixes only (too few trigrams to judge).
FUZZY_MIN_LENGTH = 4
#: At most this many close spellings per query word, the most similar first.
FUZZY_MAX_WORDS = 8
#: A query word that is the start of more dictionary words than this is matched with
#: ``LIKE`` on the name instead of through the word index.
PREFIX_MAX_WORDS = 200
#: Name searches count matches up to this many; beyond it ``total`` is a lower bound
#: (``total_exact`` false). Counting costs about 3 ms per 100 matches at a million
#: patients (the matches must be read; measured p50 8.6 ms at 200 for "ahmed moh"), and
#: "100+" tells the desk to refine the query as well as any larger figure would.
COUNT_CAP = 100
#: A tier's page is sorted from the word index's matches when they are expected to be at
#: most this many (PostgreSQL), else read along the name index (see
#: ``PatientRepository._read_tier``). Sorting costs about 3 us a match, the heap row of
#: each (measured 2026-12-07 at a million patients: 4,795 matches of ``salma`` 12-18 ms,
#: so at most ~25 ms here); walking the name index costs 0.4 us an entry up to the page's
#: last match, which is cheap when matches are spread through the name order and not
#: when they cluster late in it: ``"Slama Salem"`` (every Salma, mostly first names, in
#: the s's) walked 791,687 entries, 330 ms, when this was 2,000.
ORDERED_FROM_MATCHES = 8000
#: Pages of a name search reach at most this many rows (refine the query beyond that).
WINDOW_CAP = 1000


def trigrams(word: str) -> frozenset[str]:
    """pg_trgm's trigrams of one word (already folded): ``"  w"``-padded 3-grams."""
    padded = f"  {word} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def similarity(a: str, b: str) -> float:
    """pg_trgm's ``similarity(a, b)`` for single words, 0.0 .. 1.0."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def max_edits(query_word: str) -> int:
    """Edits a close spelling may differ by: 1 for words of 4 to 6 letters, 2 from 7."""
    return 1 if len(query_word) <= 6 else 2


def close_words(query_word: str, candidates: Iterable[str]) -> list[str]:
    """The words among ``candidates`` spelled close to ``query_word`` (trigram similarity
    >= :data:`FUZZY_SIMILARITY` or at most :func:`max_edits` edits), fewest edits first,
    then most similar, then by word; at most :data:`FUZZY_MAX_WORDS`. Words shorter than
    :data:`FUZZY_MIN_LENGTH` have no close spellings."""
    if len(query_word) < FUZZY_MIN_LENGTH:
        return []
    limit = max_edits(query_word)
    scored = []
    for word in set(candidates):
        edits = OSA.distance(query_word, word, score_cutoff=limit + 1)
        sim = similarity(query_word, word)
        if edits <= limit or sim >= FUZZY_SIMILARITY:
            scored.append((edits, -sim, word))
    scored.sort()
    return [w for _, _, w in scored[:FUZZY_MAX_WORDS]]


@dataclass(frozen=True, slots=True)
class WordMatches:
    """What one query word may stand for.

    ``prefixed``: dictionary words starting with it (itself included when it is a word),
    or None when there are more than :data:`PREFIX_MAX_WORDS` (match it with ``LIKE``).
    ``close``: other dictionary words spelled like it (typos), most similar first.
    """

    word: str
    prefixed: tuple[str, ...] | None
    close: tuple[str, ...] = field(default=())

    def listed(self, *, close: bool) -> frozenset[str] | None:
        """The dictionary words it stands for in a word tier: those it starts and, with
        ``close``, its close spellings; None when it has too many to list (``LIKE``)."""
        if self.prefixed is None:
            return None
        return frozenset((*self.prefixed, *(self.close if close else ())))


@dataclass(frozen=True, slots=True)
class NameQuery:
    """A folded name query: the whole text (for the "starts with" tier) and its words."""

    folded: str
    words: tuple[str, ...]

    @classmethod
    def parse(cls, folded: str) -> NameQuery | None:
        """From an already folded query; None when it has no words."""
        words = tuple(dict.fromkeys(folded.split()))
        return cls(" ".join(folded.split()), words) if words else None


@dataclass(frozen=True, slots=True)
class WordShares:
    """The share of patients (0..1) whose name has each common word, from the database's
    statistics of the name-word index (PostgreSQL ``pg_stats.most_common_elems`` of
    ``ix_patients_name_words``, refreshed by ANALYZE), and ``rare``, the share assumed for
    any other word (half the least common listed one: an unlisted word is rarer);
    ``patients``, the table's row count as the statistics have it (``reltuples``)."""

    shares: dict[str, float]
    rare: float
    patients: float

    def of(self, words: Iterable[str]) -> float:
        """Expected share of patients whose name has any of ``words`` (at most 1)."""
        return min(1.0, sum(self.shares.get(w, self.rare) for w in words))


def tier_share(matches: Iterable[WordMatches], shares: WordShares, *, close: bool) -> float:
    """Expected share of patients matching a word tier: for every query word, a name word
    it starts (and, with ``close``, a close spelling of it). A query word too short to list
    its words counts as 1.

    The words of different query words are taken as independent (the product of their
    shares, as PostgreSQL's planner does), except that a name word standing for every
    query word at once matches the tier alone: the share is at least that of the words
    the query words have in common. Typos make such words common: ``"fuoad fouda"`` has
    ``fouad`` among the words of both, so every Fouad matches (measured 2026-12-07 at a
    million patients: the product expected 370 matches, this 14,600, the tier had 14,439;
    expecting few, the search first sorted the word index's matches, gave up past 2,000,
    then read the tier again: 41 ms, against 30 ms read once).
    An estimate too low costs one such extra read; one too high sends a small tier
    along the whole name index (see ``PatientRepository._read_tier``), hence a lower
    bound and not an upper one."""
    share = 1.0
    common: frozenset[str] | None = None
    listed = 0
    for m in matches:
        words = m.listed(close=close)
        if words is None:
            continue
        share *= shares.of(words)
        common = words if common is None else common & words
        listed += 1
    if listed > 1 and common:
        share = max(share, shares.of(common))
    return share
