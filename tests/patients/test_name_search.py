"""Name search as the front desk uses it: partial, typo-tolerant, in relevance order, with a
bounded count (hms.patients.name_search)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from hms.core.permissions import Role
from hms.patients import name_search, repository, service
from hms.patients.models import PatientNameWord
from tests.identity.factories import auth_headers
from tests.patients.factories import make_patient
from tests.statements import captured_statements

URL = "/api/v1/patients"


@pytest.fixture
async def nurse(client, session) -> dict[str, str]:
    return await auth_headers(client, session, Role.NURSE)


def _every_word_common(monkeypatch) -> None:
    """Make every name word look common (in every name), so word tiers are walked along the
    name index instead of sorted from the word index (PostgreSQL)."""
    async def common(self):
        return name_search.WordShares({}, 1.0, 1_000_000.0)

    monkeypatch.setattr(repository.NameWordRepository, "shares", common)


async def _names(client, headers, **params) -> list[str]:
    resp = await client.get(f"{URL}/search", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return [p["full_name"] for p in resp.json()["items"]]


async def _search_with_sql(client, headers, session, containing: str = "",
                           **params) -> tuple[dict, list[str]]:
    """A search's response body (asserting 200) and the SQL it sent (only statements
    containing ``containing``, all by default)."""
    with captured_statements(session, containing) as statements:
        resp = await client.get(f"{URL}/search", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json(), statements


class TestRelevance:
    async def test_tiers_start_of_name_then_words_then_typos(self, client, nurse, session):
        for full_name in ("Omar Hassan Ali", "Hassan Mahmoud Farag", "Hassan Ali",
                          "Hasan Ibrahim Saad", "Mona Adel Hassanein", "Karim Samir"):
            await make_patient(session, full_name=full_name)
        found = await _names(client, nurse, name="hassan")
        # 1. names starting with the query (exact first: it is the shortest), by name;
        # 2. a word of the name starts with it, by name; 3. close spellings.
        assert found == ["Hassan Ali", "Hassan Mahmoud Farag",
                         "Mona Adel Hassanein", "Omar Hassan Ali",
                         "Hasan Ibrahim Saad"]

    async def test_words_match_in_any_order_and_as_prefixes(self, client, nurse, session):
        await make_patient(session, full_name="Ahmed Mohamed Ali Hassan")
        await make_patient(session, full_name="Ahmed Samir")
        assert await _names(client, nurse, name="hassan ahm") == ["Ahmed Mohamed Ali Hassan"]
        assert await _names(client, nurse, q="ahmed moh") == ["Ahmed Mohamed Ali Hassan"]

    @pytest.mark.parametrize("typed", ["mohamad", "muhamed", "mohammed", "mohmed", "mhoamed"])
    async def test_common_misspellings_find_the_name(self, client, nurse, session, typed):
        await make_patient(session, full_name="Mohamed Fathy")
        await make_patient(session, full_name="Mahmoud Fathy")
        found = await _names(client, nurse, name=f"{typed} fathy")
        assert found[0] == "Mohamed Fathy"

    @pytest.mark.parametrize(("typed", "expected"), [("hsasan ali", "Hassan Ali"),
                                                     ("oamr adel", "Omar Adel")])
    async def test_swapped_letters_in_short_names(self, client, nurse, session, typed,
                                                  expected):
        for full_name in ("Hassan Ali", "Omar Adel", "Osama Adly"):
            await make_patient(session, full_name=full_name)
        assert (await _names(client, nurse, name=typed))[0] == expected

    async def test_a_typo_whose_spellings_are_all_another_words_finds_the_same(
            self, client, nurse, session):
        # "fuoad" stands for fouad only; "fouda" for fouda and (one swap) fouad: every
        # name with fouad meets both words, on either database and however the SQL is
        # written (PostgreSQL leaves the implied word out of the statement).
        for full_name in ("Fouad Ali Hassan", "Fouda Ahmed", "Fouad Fouda", "Mona Fouda",
                          "Samir Fouad"):
            await make_patient(session, full_name=full_name)
        assert await _names(client, nurse, name="fuoad fouda") == [
            "Fouad Ali Hassan", "Fouad Fouda", "Samir Fouad"]
        assert await _names(client, nurse, name="fouda fuoad") == [
            "Fouad Ali Hassan", "Fouad Fouda", "Samir Fouad"]

    async def test_unrelated_word_finds_nothing(self, client, nurse, session):
        await make_patient(session, full_name="Mohamed Fathy")
        resp = await client.get(f"{URL}/search", params={"name": "zzzz"}, headers=nurse)
        assert resp.json()["items"] == [] and resp.json()["total"] == 0

    async def test_exact_custom_number_in_q_ranks_before_names(self, client, nurse, session):
        await make_patient(session, full_name="Salma Nabil")
        holder = await make_patient(session, full_name="Youssef Kamal",
                                    patient_number="SALMA")
        resp = await client.get(f"{URL}/search", params={"q": "salma"}, headers=nurse)
        assert resp.json()["items"][0]["id"] == str(holder.id)
        assert resp.json()["total"] == 2


class TestCountAndPages:
    async def test_pages_do_not_repeat_or_skip_across_tiers(self, client, nurse, session):
        names = ["Nada Samy", "Nadia Fawzy", "Adel Nada", "Samy Nadeem", "Nadda Wael"]
        for full_name in names:
            await make_patient(session, full_name=full_name)
        pages = [await _names(client, nurse, name="nada", page=n, page_size=2)
                 for n in (1, 2, 3)]
        # starts with "nada"; a word starts with it; close spellings (nadda, nadia, nadeem)
        assert [n for page in pages for n in page] == [
            "Nada Samy", "Adel Nada", "Nadda Wael", "Nadia Fawzy", "Samy Nadeem"]

    @pytest.mark.parametrize("strategy", ["from_matches", "walk", "from_matches_overflow"])
    async def test_pages_and_total_whichever_way_a_tier_is_read(
            self, client, nurse, session, monkeypatch, strategy):
        """A word tier's page is sorted from the word index's matches (few expected) or
        read along the name index (many expected, or more matches than expected): the
        same pages and total either way, the counted rows past the page never repeating
        the page's."""
        from hms.patients import repository

        if strategy == "walk":  # every word expected to be in every name
            _every_word_common(monkeypatch)
        elif strategy == "from_matches_overflow":  # expected few, found more: walk
            monkeypatch.setattr(repository, "ORDERED_FROM_MATCHES", 1)
        names = ["Nada Samy", "Nadia Fawzy", "Adel Nada", "Samy Nadeem", "Nadda Wael",
                 "Omar Nada"]
        for full_name in names:
            await make_patient(session, full_name=full_name)
        expected = ["Nada Samy", "Adel Nada", "Omar Nada", "Nadda Wael", "Nadia Fawzy",
                    "Samy Nadeem"]
        seen = []
        for n in (1, 2, 3):
            resp = await client.get(f"{URL}/search", headers=nurse,
                                    params={"name": "nada", "page": n, "page_size": 2})
            body = resp.json()
            assert (body["total"], body["total_exact"]) == (6, True), body
            seen += [p["full_name"] for p in body["items"]]
        assert seen == expected

    async def test_total_is_capped_and_says_so(self, client, nurse, session, monkeypatch):
        from hms.patients import repository

        monkeypatch.setattr(repository, "COUNT_CAP", 3)
        for family in ("Amin", "Badr", "Fouad", "Gamal", "Wahba"):
            await make_patient(session, full_name=f"Rania {family}")
        body = (await client.get(f"{URL}/search", params={"name": "rania", "page_size": 2},
                                 headers=nurse)).json()
        assert (body["total"], body["total_exact"]) == (3, False)
        few = (await client.get(f"{URL}/search", params={"name": "rania badr"},
                                headers=nurse)).json()
        assert (few["total"], few["total_exact"]) == (1, True)

    @pytest.mark.parametrize("strategy", ["from_matches", "walk"])
    @pytest.mark.parametrize(("cap", "total"), [(3, (3, False)), (5, (5, True))])
    async def test_a_later_tier_counted_past_a_full_page(
            self, client, nurse, session, monkeypatch, strategy, cap, total):
        """The page is full after the first tier; the word tier is only counted (a tier
        expected to be small is counted from the word index whatever the cap, a large
        one up to the cap): the same total and the same page either way."""
        monkeypatch.setattr(repository, "COUNT_CAP", cap)
        if strategy == "walk":  # every word expected to be in every name
            _every_word_common(monkeypatch)
        for full_name in ("Nada Samy", "Adel Nada", "Omar Nada", "Samy Nada", "Wael Nada"):
            await make_patient(session, full_name=full_name)
        body = (await client.get(f"{URL}/search", params={"name": "nada", "page_size": 1},
                                 headers=nurse)).json()
        assert (body["total"], body["total_exact"]) == total
        assert [p["full_name"] for p in body["items"]] == ["Nada Samy"]

    async def test_a_total_at_the_cap_is_exact_and_one_more_is_not(self, client, nurse,
                                                                  session, monkeypatch):
        from hms.patients import repository

        monkeypatch.setattr(repository, "COUNT_CAP", 3)
        for family in ("Amin", "Badr", "Fouad"):
            await make_patient(session, full_name=f"Hoda {family}")
        query = {"name": "hoda", "page_size": 2}
        body = (await client.get(f"{URL}/search", params=query, headers=nurse)).json()
        assert (body["total"], body["total_exact"], len(body["items"])) == (3, True, 2)
        await make_patient(session, full_name="Hoda Gamal")
        body = (await client.get(f"{URL}/search", params=query, headers=nurse)).json()
        assert (body["total"], body["total_exact"], len(body["items"])) == (3, False, 2)
        last = (await client.get(f"{URL}/search", params={**query, "page": 2},
                                 headers=nurse)).json()
        assert [p["full_name"] for p in last["items"]] == ["Hoda Fouad", "Hoda Gamal"]


class TestDictionary:
    async def test_renamed_and_erased_names_keep_the_dictionary_true(self, client, nurse,
                                                                     session):
        patient = await make_patient(session, full_name="Zaghloul Qutb")
        words = set(await session.scalars(select(PatientNameWord.word)))
        assert {"zaghloul", "qutb"} <= words
        await make_patient(session, full_name="Qutbi Saad")  # shares no whole word
        await service.erase_patient(session, patient.id)  # privacy decides when; not here
        await session.commit()
        words = set(await session.scalars(select(PatientNameWord.word)))
        assert not {"zaghloul", "qutb"} & words and "qutbi" in words
        assert await _names(client, nurse, name="zaghlol") == []


class TestWordShares:
    def test_share_of_a_tier_multiplies_its_words(self):
        shares = name_search.WordShares({"ahmed": 0.1, "hassan": 0.05}, 0.001, 1e6)
        ahmed = name_search.WordMatches("ahm", ("ahmed", "ahmedy"), ("ahmad",))
        hassan = name_search.WordMatches("hassan", ("hassan",))
        # ahmed 0.1 + unlisted ahmedy 0.001; then times hassan 0.05
        assert name_search.tier_share([ahmed, hassan], shares, close=False) == (
            pytest.approx(0.101 * 0.05))
        # close spellings add theirs (ahmad unlisted: 0.001)
        assert name_search.tier_share([ahmed, hassan], shares, close=True) == (
            pytest.approx(0.102 * 0.05))

    def test_a_word_standing_for_every_query_word_matches_alone(self):
        # "fuoad fouda": fouad is a close spelling of both words, so every Fouad
        # matches the close tier, far more than the product of the two shares.
        shares = name_search.WordShares({"fouad": 0.02, "fouda": 0.004}, 0.0001, 1e6)
        fuoad = name_search.WordMatches("fuoad", (), ("fouad", "foad"))
        fouda = name_search.WordMatches("fouda", ("fouda",), ("fouad",))
        product = (0.02 + 0.0001) * (0.004 + 0.02)
        assert product < 0.02
        assert name_search.tier_share([fuoad, fouda], shares, close=True) == (
            pytest.approx(0.02))
        # Without the close spellings nothing is shared: the product (here 0).
        assert name_search.tier_share([fuoad, fouda], shares, close=False) == 0.0
        # A word in common rarer than the product: the product stands.
        ahmed = name_search.WordMatches("ahmed", ("ahmed",), ("ahmad",))
        hamad = name_search.WordMatches("hamad", ("hamad",), ("ahmad",))
        many = name_search.WordShares({"ahmed": 0.5, "hamad": 0.2, "ahmad": 0.001}, 1e-4, 1e6)
        assert name_search.tier_share([ahmed, hamad], many, close=True) == (
            pytest.approx(0.501 * 0.201))

    def test_a_word_with_too_many_prefixes_counts_as_every_name(self):
        shares = name_search.WordShares({"hassan": 0.05}, 0.001, 1e6)
        short = name_search.WordMatches("a", None)
        hassan = name_search.WordMatches("hassan", ("hassan",))
        assert name_search.tier_share([short, hassan], shares, close=False) == (
            pytest.approx(0.05))
        assert shares.of(["hassan"] * 40) == 1.0  # a share never exceeds every name


class TestImpliedWords:
    def test_a_word_whose_words_include_anothers_is_left_out(self):
        fuoad = name_search.WordMatches("fuoad", (), ("fouad",))
        fouda = name_search.WordMatches("fouda", ("fouda",), ("fouad",))
        # Close tier: {fouad} is inside {fouda, fouad}: "fouda" adds no condition.
        assert repository._implied_words([fuoad, fouda], close=True) == [fuoad]
        assert repository._implied_words([fouda, fuoad], close=True) == [fuoad]
        # Prefix tier: {} (no word starts with "fuoad") implies nothing; both stay (and
        # the tier is then empty).
        assert repository._implied_words([fuoad, fouda], close=False) == [fuoad, fouda]

    def test_equal_words_keep_the_first_and_like_words_always_stay(self):
        ahmed = name_search.WordMatches("ahmed", ("ahmed",), ("ahmad",))
        ahmad = name_search.WordMatches("ahmad", ("ahmad",), ("ahmed",))
        assert repository._implied_words([ahmed, ahmad], close=True) == [ahmed]
        assert repository._implied_words([ahmed, ahmad], close=False) == [ahmed, ahmad]
        short = name_search.WordMatches("a", None)  # matched with LIKE: never left out
        assert repository._implied_words([short, ahmed], close=True) == [short, ahmed]


class TestCloseWords:
    def test_edits_first_then_similarity_and_short_words_have_none(self):
        words = ["hassan", "hasan", "hassanein", "hussein", "ali"]
        assert name_search.close_words("hsasan", words)[:2] == ["hasan", "hassan"]
        assert name_search.close_words("ali", ["alu", "ala"]) == []

    def test_edit_limit_grows_with_the_word(self):
        assert name_search.close_words("amir", ["amira"]) == ["amira"]
        assert name_search.close_words("abdelrahman", ["abdulrahmen"]) == ["abdulrahmen"]
        assert "zaki" not in name_search.close_words("sami", ["zaki"])


class TestSimilarity:
    @pytest.mark.parametrize(("a", "b", "expected"), [
        ("mohamed", "mohamed", 1.0), ("mohamed", "mohamad", 5 / 11), ("ali", "omar", 0.0)])
    def test_trigram_similarity(self, a, b, expected):
        assert name_search.similarity(a, b) == pytest.approx(expected)

    async def test_python_similarity_equals_pg_trgm(self, session):
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("pg_trgm is PostgreSQL's")
        pairs = [("mohamed", "mohamad"), ("hassan", "hasan"), ("fatma", "fatima"),
                 ("احمد", "محمد"), ("youssef", "yousef"), ("abdelrahman", "abdulrahman")]
        for a, b in pairs:
            pg = await session.scalar(text("SELECT similarity(:a, :b)"), {"a": a, "b": b})
            assert name_search.similarity(a, b) == pytest.approx(pg, abs=1e-6), (a, b)


async def test_every_query_word_is_looked_up_in_one_statement(session):
    """PostgreSQL: the prefix and close-spelling lookups of all the words of a query are one
    round trip; each word still gets its own prefixes and close spellings."""
    from hms.patients.name_search import NameQuery
    from hms.patients.repository import NameWordRepository

    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("one statement on PostgreSQL; SQLite reads the small dictionary")
    await NameWordRepository(session).add(["hassan mahmoud", "hasan mahmud", "ali"])
    with captured_statements(session) as statements:
        matches = await NameWordRepository(session).expand(NameQuery.parse("hsasan mahmo"))
    assert len(statements) == 1
    assert [m.word for m in matches] == ["hsasan", "mahmo"]
    assert matches[0].prefixed == () and set(matches[0].close) >= {"hassan", "hasan"}
    assert matches[1].prefixed == ("mahmoud",)


@pytest.mark.postgres_only
async def test_word_shares_come_from_the_name_index_statistics(session):
    """After ANALYZE, the share of each common name word is the statistics' frequency (on
    PostgreSQL; read once per process, then cached)."""
    from hms.patients import repository

    for i in range(30):
        await make_patient(session, full_name=f"Zeinab Word{i} Qotb" if i % 3 else
                           f"Zeinab Other{i}")
    await session.execute(text("ANALYZE patients"))
    repository._SHARES.clear()
    shares = await repository.NameWordRepository(session).shares()
    repository._SHARES.clear()
    assert shares is not None
    # every patient here is a Zeinab, two in three a Qotb (statistics sample all 30 rows)
    assert shares.shares["zeinab"] == pytest.approx(1.0)
    assert shares.shares["qotb"] == pytest.approx(20 / 30, abs=0.01)
    assert shares.patients == pytest.approx(30, abs=0.5)
    assert shares.rare <= min(shares.shares.values()) / 2


@pytest.mark.postgres_only
async def test_a_typo_search_sends_no_query_that_cannot_match(client, nurse, session):
    """"hsasan mahmoud": no dictionary word starts with "hsasan", so the tier of words
    starting with the query's words cannot match and is not queried; the close-spelling
    tier, read from the word index's matches, counts them as it reads them (a page of two
    of its three matches needs no count query) and brings the page's rows. What reaches the
    patients table: the start-of-name tier and the close-spelling tier."""
    for given in ("Hassan", "Hasan", "Hassan"):
        await make_patient(session, full_name=f"{given} Mahmoud Ali")
    body, statements = await _search_with_sql(client, nurse, session, "FROM patients",
                                              name="hsasan mahmoud", page_size=2)
    assert [p["full_name"] for p in body["items"]] == ["Hasan Mahmoud Ali",
                                                       "Hassan Mahmoud Ali"]
    assert (body["total"], body["total_exact"]) == (3, True)
    assert not any("WHERE false" in s for s in statements)
    assert len(statements) == 2, statements


async def test_a_starts_with_tier_counts_in_the_statement_that_reads_it(client, nurse,
                                                                        session):
    """"zya" on a page of 5, 25 patients named "Zyad ...": the starts-with tier is read up
    to the count cap in one statement that also brings the page's rows (its rows past the
    page are counted, not read again), so the patients table sees that read and the word
    tier's capped count: two statements, and the total is exact."""
    for n in range(25):
        await make_patient(session, full_name=f"Zyad Person{n:02d}")
    body, statements = await _search_with_sql(client, nurse, session, "FROM patients",
                                              name="zya", page_size=5)
    assert [p["full_name"] for p in body["items"]] == [f"Zyad Person{n:02d}" for n in range(5)]
    assert (body["total"], body["total_exact"]) == (25, True)
    assert len(statements) == 2, statements


async def test_a_full_count_from_the_start_of_the_name_skips_the_dictionary(
        client, nurse, session, monkeypatch):
    """When the names starting with the query fill the page and the count cap, no later
    tier can change the answer: the search is that one statement, with no dictionary
    lookup (which only word tiers need)."""
    from hms.patients import repository

    monkeypatch.setattr(repository, "COUNT_CAP", 3)
    for family in ("Amin", "Badr", "Fouad", "Gamal", "Wahba"):
        await make_patient(session, full_name=f"Rania {family}")
    await make_patient(session, full_name="Amin Rania")  # a word tier would match it
    body, statements = await _search_with_sql(client, nurse, session, name="rania",
                                              page_size=2)
    assert [p["full_name"] for p in body["items"]] == ["Rania Amin", "Rania Badr"]
    assert (body["total"], body["total_exact"]) == (3, False)
    searched = [s for s in statements if "patient_name_words" in s or "FROM patients" in s]
    assert len(searched) == 1 and "patient_name_words" not in searched[0], searched


async def test_a_walked_tier_counts_past_its_page_in_the_statement_that_reads_it(
        client, nurse, session, monkeypatch):
    """A word tier read along the name index (its words expected in many names) brings its
    page and, when the page is full, the capped count of the rest in one statement; when
    the page is not full the count is what was read."""
    _every_word_common(monkeypatch)
    for given in ("Adel", "Badr", "Fouad", "Gamal"):
        await make_patient(session, full_name=f"{given} Qandil")
    for page_size, total in ((2, 4), (10, 4)):
        body, statements = await _search_with_sql(client, nurse, session, "FROM patients",
                                                  name="qandil", page_size=page_size)
        assert [p["full_name"] for p in body["items"]] == [
            "Adel Qandil", "Badr Qandil", "Fouad Qandil", "Gamal Qandil"][:page_size]
        assert (body["total"], body["total_exact"]) == (total, True)
        assert len(statements) == 2, statements  # the start of the name; the word tier


@pytest.mark.postgres_only
async def test_a_registration_leaves_nothing_pending_in_the_name_indexes(client, nurse,
                                                                         session):
    """The GIN indexes name search reads have no pending list (migration 0022): a new
    patient's name words go straight into the index, so a search never scans a list of
    recent registrations."""
    await session.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
    await make_patient(session, full_name="Zeinab Qandil Fahmy")  # new words: both indexes
    for index in ("ix_patients_name_words", "ix_patient_name_words_trgm"):
        pending = await session.scalar(text(
            "SELECT pending_tuples FROM pgstatginindex(CAST(:ix AS regclass))"), {"ix": index})
        assert pending == 0, index
    found = await _names(client, nurse, name="qandil")
    assert found == ["Zeinab Qandil Fahmy"]



async def test_search_statements_are_reused_by_shape_and_bounded(client, nurse, session,
                                                                 monkeypatch):
    """Searches of the same shape (words, tiers) reuse one built statement with their own
    values; the cache of built statements stays within its bound whatever callers send."""
    from hms.patients import repository

    monkeypatch.setattr(repository, "_STATEMENTS", {})
    for full_name in ("Nada Samy", "Omar Fawzy", "Samy Nada"):
        await make_patient(session, full_name=full_name)
    assert await _names(client, nurse, name="nada") == ["Nada Samy", "Samy Nada"]
    built = dict(repository._STATEMENTS)
    assert await _names(client, nurse, name="omar") == ["Omar Fawzy"]
    assert built == repository._STATEMENTS  # same shape: nothing new built
    monkeypatch.setattr(repository, "_STATEMENTS_MAX", len(built))
    assert await _names(client, nurse, name="samy nada") == ["Samy Nada", "Nada Samy"]
    assert 0 < len(repository._STATEMENTS) <= len(built)
