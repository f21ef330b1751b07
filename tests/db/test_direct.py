"""SELECTs run by asyncpg itself on a read-only session (``hms.db.direct``), and the
patient read built on them: the same values as the ORM, the same errors as SQLAlchemy."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import Integer, bindparam, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from hms.db.direct import DirectSelect
from hms.db.session import READ_ONLY
from hms.patients.models import Patient
from hms.patients.repository import PatientRepository
from hms.patients.schemas import PatientCreate
from hms.patients.service import create_patient
from tests.db.test_session import _terminate
from tests.patients.factories import mobile, national_id

pytestmark = pytest.mark.usefixtures("committed_app")  # wipes the committed rows after


async def _committed_patient(db, **fields) -> Patient:
    data = {"national_id": national_id(date(1984, 2, 29), gender="female"),
            "full_name": "Mona Adel Fouda", "gender": "female", "mobile": mobile(),
            "email": "mona@example.org", "address_line": "12 Nile St",
            "date_of_birth": "1984-02-29", **fields}
    async with db.sessionmaker() as s:
        read = await create_patient(s, PatientCreate.model_validate(data), created_by=None,
                                    audit=False)
        await s.commit()
        patient = await s.get(Patient, read.id)
        assert patient is not None
        return patient


def _columns(patient: Patient) -> dict[str, object]:
    return {c.key: getattr(patient, c.key) for c in Patient.__table__.columns}


async def test_a_read_session_gives_the_patient_the_orm_loads(db):
    """By UUID, by patient number in any case and by national ID, the values (decrypted
    identifiers, dates, UUIDs) are exactly the ORM's; on PostgreSQL through asyncpg."""
    patient = await _committed_patient(db)
    expected = _columns(patient)
    refs = [str(patient.id), patient.patient_number.lower(), f" {patient.national_id} "]
    async with db.read_sessionmaker() as s:
        s.info[READ_ONLY] = True
        assert DirectSelect.usable(s) is (db.engine.dialect.name == "postgresql")
        for ref in refs:
            assert await PatientRepository(s).values_by_ref(ref) == expected
        assert expected["national_id"] == patient.national_id  # decrypted, not ciphertext
        assert expected["email"] == "mona@example.org"


async def test_unknown_or_impossible_references_find_nobody(db):
    await _committed_patient(db)
    async with db.read_sessionmaker() as s:
        repo = PatientRepository(s)
        for ref in [str(uuid.uuid4()), "PT-19990101-9999", "29001011234567", "", " ",
                    "x" * 65, "PT-\x00"]:
            assert await repo.values_by_ref(ref) is None


async def test_a_row_scope_is_applied(db):
    """With a row scope the read goes through the ORM and the scope decides."""
    patient = await _committed_patient(db)
    async with db.read_sessionmaker() as s:
        repo = PatientRepository(s)
        nobody = await repo.values_by_ref(patient.patient_number,
                                          within=lambda column: column.is_(None))
        everyone = await repo.values_by_ref(patient.patient_number,
                                            within=lambda column: column.is_not(None))
    assert nobody is None
    assert everyone == _columns(patient)


async def test_only_autocommit_asyncpg_sessions_qualify(db, session):
    async with db.sessionmaker() as s:  # a write session: its transaction comes first
        assert DirectSelect.usable(s) is False
    assert DirectSelect.usable(session) is False  # joined to a test connection
    if db.engine.dialect.name == "sqlite":
        async with db.read_sessionmaker() as s:
            assert DirectSelect.usable(s) is False
        with pytest.raises(ValueError):
            await DirectSelect(select(literal_column("1").label("one"))).first(s)


@pytest.mark.postgres_only
async def test_a_lost_connection_is_invalidated_and_reported_as_sqlalchemy_would(db):
    """The server drops the connection (restart, failover): the read fails with a
    ``DBAPIError`` flagged ``connection_invalidated`` (the API's 503, safe to retry), the
    pool replaces the connection, and the next read works."""
    patient = await _committed_patient(db)
    async with db.read_sessionmaker() as s:
        pid = int(await s.scalar(text("SELECT pg_backend_pid()")))
        await _terminate(pid)
        with pytest.raises(DBAPIError) as raised:
            await PatientRepository(s).values_by_ref(patient.patient_number)
    assert raised.value.connection_invalidated is True
    async with db.read_sessionmaker() as s:
        assert int(await s.scalar(text("SELECT pg_backend_pid()"))) != pid
        found = await PatientRepository(s).values_by_ref(patient.patient_number)
    assert found is not None and found["id"] == patient.id


@pytest.mark.postgres_only
async def test_a_database_error_keeps_the_connection_and_hides_the_values(db):
    """An error of the statement itself is a plain ``DBAPIError`` (the API's 500) whose
    text holds the SQL but not the bound values; the connection stays usable."""
    divide = DirectSelect(select(
        (literal_column("100") / bindparam("divisor", type_=Integer)).label("quotient")))
    async with db.read_sessionmaker() as s:
        assert await divide.first(s, divisor=4) == {"quotient": 25}
        with pytest.raises(DBAPIError) as raised:
            await divide.first(s, divisor=0)
        assert raised.value.connection_invalidated is False
        assert "division by zero" in str(raised.value)
        assert "[parameters" not in str(raised.value)
        assert await divide.first(s, divisor=5) == {"quotient": 20}


@pytest.mark.committed
async def test_the_api_read_answers_as_the_registration_did_and_is_audited(
        committed_client, db):
    """Through the API with real sessions (on PostgreSQL the read runs through asyncpg):
    the receptionist sees what the registration answered (decrypted identifiers), with its
    ETag, and the read leaves a READ audit row saying so; a scoped-out or unknown
    reference answers 404 problem+json."""
    from hms.audit import service as audit_service
    from hms.core.permissions import Role
    from tests.identity.factories import login, make_user
    from tests.patients.factories import seed_payload

    async with db.sessionmaker() as s:
        nurse = await make_user(s, Role.NURSE)
        clerk = await make_user(s, Role.RECEPTIONIST)
    headers = {}
    for user in (nurse, clerk):
        token = (await login(committed_client, user.username))["access_token"]
        headers[user.username] = {"Authorization": f"Bearer {token}"}
    created = await committed_client.post("/api/v1/patients", json=seed_payload(),
                                          headers=headers[nurse.username])
    assert created.status_code == 201
    body = created.json()
    for ref in (body["id"], body["patient_number"].lower()):
        read = await committed_client.get(f"/api/v1/patients/{ref}",
                                          headers=headers[clerk.username])
        assert read.status_code == 200
        assert read.headers["ETag"] == 'W/"1"'
        assert read.json() == body  # both roles see full identifiers
        assert body["identifiers"] == "full" and len(body["national_id"]) == 14
    missing = await committed_client.get("/api/v1/patients/PT-19990101-9999",
                                         headers=headers[clerk.username])
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    async with db.sessionmaker() as s:
        events = await audit_service.list_events(s, entity_id=body["id"], action="read")
    assert len(events) == 2
    assert {e.username for e in events} == {clerk.username}


@pytest.mark.postgres_only
async def test_a_statement_run_on_a_lost_connection_is_invalidated_too(db):
    """``DirectStatement.execute`` (the read audit trail's group append) on a connection
    the server dropped: ``DBAPIError`` with ``connection_invalidated``, and the pool hands
    out a live connection next."""
    from hms.db.direct import DirectStatement

    touch = DirectStatement(text("SELECT CAST(:n AS integer) + 1"))
    async with db.read_engine.connect() as conn:
        await touch.execute(conn, n=1)
        pid = int(await conn.scalar(text("SELECT pg_backend_pid()")))
        await _terminate(pid)
        with pytest.raises(DBAPIError) as raised:
            await touch.execute(conn, n=2)
    assert raised.value.connection_invalidated is True
    async with db.read_engine.connect() as conn:
        await touch.execute(conn, n=3)
        assert int(await conn.scalar(text("SELECT pg_backend_pid()"))) != pid


@pytest.mark.postgres_only
async def test_a_statement_run_in_the_pool_replaces_a_lost_connection(db):
    """``DirectStatement.run_in`` (the session-less patient read and the read audit
    trail's group append) checks a connection out of the pool for one statement: on a
    connection the server dropped it raises ``DBAPIError`` with ``connection_invalidated``,
    and the pool hands out a live connection next; a refused statement leaves the
    connection in the pool."""
    from hms.db.direct import DirectStatement

    backend = DirectStatement(text("SELECT pg_backend_pid() AS pid").columns(pid=Integer))
    refused = DirectStatement(text("SELECT 1 / CAST(:n AS integer)"))
    pid = (await backend.first_in(db.read_engine))["pid"]
    assert (await backend.first_in(db.read_engine))["pid"] == pid  # LIFO: the same one
    with pytest.raises(DBAPIError) as division:
        await refused.run_in(db.read_engine, n=0)
    assert division.value.connection_invalidated is False
    assert (await backend.first_in(db.read_engine))["pid"] == pid
    await _terminate(pid)
    with pytest.raises(DBAPIError) as raised:
        await backend.first_in(db.read_engine)
    assert raised.value.connection_invalidated is True
    assert (await backend.first_in(db.read_engine))["pid"] != pid


@pytest.mark.committed
async def test_exact_searches_through_the_api_find_the_registered_patients(
        committed_client, db):
    """Exact searches with real sessions (on PostgreSQL the page is read through
    asyncpg): by national ID, mobile and patient number each finds the one patient as
    registered; a patient-number prefix pages in order (exact number first, then by
    name) with the exact total; every returned patient leaves a READ row."""
    from hms.audit import service as audit_service
    from hms.core.permissions import Role
    from tests.identity.factories import login, make_user
    from tests.patients.factories import seed_payload

    async with db.sessionmaker() as s:
        nurse = await make_user(s, Role.NURSE)
    token = (await login(committed_client, nurse.username))["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    bodies = []
    for name in ("Zeinab Ali Hassan", "Amr Ali Hassan", "Mona Ali Hassan"):
        payload = seed_payload(full_name=name)
        created = await committed_client.post("/api/v1/patients", json=payload,
                                              headers=headers)
        assert created.status_code == 201
        bodies.append((payload, created.json()))
    url = "/api/v1/patients/search"
    for payload, body in bodies:
        for params in ({"ssn": payload["ssn"]}, {"mobile": payload["mobile_number"]},
                       {"medical_number": body["patient_number"].lower()}):
            found = await committed_client.get(url, params=params, headers=headers)
            assert found.status_code == 200
            assert found.json()["items"] == [body]
            assert found.json()["total"] == 1
    zeinab = bodies[0][1]
    prefix = zeinab["patient_number"][:12]  # PT-YYYYMMDD-: all three (same day)
    first = await committed_client.get(url, params={"q": zeinab["patient_number"],
                                                    "page_size": 2}, headers=headers)
    assert first.status_code == 200
    assert [p["id"] for p in first.json()["items"]] == [zeinab["id"]]
    paged = await committed_client.get(url, params={"q": prefix, "page_size": 2},
                                       headers=headers)
    page = paged.json()
    expected = sorted((b for _, b in bodies), key=lambda b: b["full_name"])
    assert page["total"] == 3 and page["total_exact"] is True
    assert page["items"] == expected[:2]
    async with db.sessionmaker() as s:
        events = await audit_service.list_events(s, entity_id=expected[0]["id"],
                                                 action="read")
    assert len(events) == 4  # three exact searches and the prefix page


async def test_searches_read_through_asyncpg_give_the_orms_pages(db):
    """Every kind of patient search, run on a read-only session (on PostgreSQL its pages
    are read through asyncpg: the exact searches' page, each name tier's page) and on a
    write session (the ORM): the same patients in the same order with the same values,
    the same totals, on first and later pages."""
    from hms.patients.service import _criteria

    names = ["Ahmed Hassan Ali", "Ahmad Hasan", "Ahmed Samir", "Mohamed Ahmed Fouda",
             "Mona Fouad", "Fouad Fouda", "Hassan Ahmed", "Samir Hassan Mahmoud",
             "Amr Hassan", "Ahmed Hassan Ali"]
    patients = [await _committed_patient(db, full_name=name) for name in names]
    queries = [{"name": "ahmed"}, {"name": "ahm"}, {"name": "Ahmed Hassan"},
               {"name": "hasan"}, {"name": "fuoad fouda"}, {"name": "Samir Hasan"},
               {"name": "zzzz"}, {"q": "hassan"}, {"q": "PT-"},
               {"ssn": patients[0].national_id}, {"mobile": patients[1].mobile},
               {"medical_number": patients[2].patient_number.lower()}]
    pages = [(0, 20), (0, 2), (2, 3)]
    compared = 0
    for query in queries:
        criteria = _criteria(**{"ssn": None, "mobile": None, "medical_number": None,
                                "name": None, "q": None, **query})
        for offset, limit in pages:
            async with db.read_sessionmaker() as direct:  # one at a time: SQLite locks
                assert DirectSelect.usable(direct) is (db.engine.dialect.name == "postgresql")
                got = await PatientRepository(direct).search(criteria, offset=offset,
                                                             limit=limit)
            async with db.sessionmaker() as orm:
                assert DirectSelect.usable(orm) is False
                want = await PatientRepository(orm).search(criteria, offset=offset,
                                                           limit=limit)
            assert got == want, (query, offset, limit)
            compared += len(got[0])
    assert compared > 40  # the queries find patients: the comparison is not of empties


@pytest.mark.postgres_only
async def test_a_read_cancelled_mid_statement_leaves_the_pool_usable(db):
    """A request cancelled while its SELECT runs (server shutdown, a timeout): asyncpg
    cancels the statement on the server, and the same connection, handed out next, answers
    at once."""
    import asyncio

    from sqlalchemy import func

    slow = DirectSelect(select(func.pg_sleep(5).label("slept")))
    one = DirectSelect(select(literal_column("1").label("one")))
    backend = {}

    async def read() -> None:
        async with db.read_sessionmaker() as s:
            backend["pid"] = int(await s.scalar(text("SELECT pg_backend_pid()")))
            await slow.first(s)

    task = asyncio.create_task(read())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.read_sessionmaker() as s:  # the pool is LIFO: the same connection
        assert await asyncio.wait_for(one.first(s), timeout=2) == {"one": 1}
        assert int(await s.scalar(text("SELECT pg_backend_pid()"))) == backend["pid"]
