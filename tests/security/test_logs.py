"""No patient identifier, name or clinical value ever appears in the logs.

The whole visit-archive day (``tests/test_end_to_end.py``) runs with structlog and every
standard-library logger at DEBUG; everything written to stdout/stderr and every log record
is then searched for each patient value the day used. The FHIR import command is run as a
process on the demo bundles (copied to neutral file names) and its output is searched for
every name, identifier, birth date, phone and address in the bundles.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient

from hms.config import Settings
from hms.core import logging as hms_logging
from hms.db.session import Database
from hms.fhir.service import demo_bundle_dir
from hms.main import create_app
from tests.conftest import delete_all_rows
from tests.test_end_to_end import run_visit_archive_day

BIN = Path(sys.executable).parent
#: Loggers of the test's own HTTP client: they print request URLs (with the query string the
#: test sends), which is the client's log, not the server's.
CLIENT_LOGGERS = ("httpx", "httpcore")
#: Members of a JSON log line that are machine values (times, durations, generated ids):
#: left out before searching for numeric clinical values such as "84".
MACHINE_FIELDS = ("timestamp", "duration_ms", "request_id", "job_id", "document_id",
                  "session_id", "user_id", "size_bytes")


@pytest.fixture
async def debug_client(db: Database, settings: Settings) -> AsyncIterator[AsyncClient]:
    """A committed-transaction client of an app logging at DEBUG; tables wiped afterwards
    and logging put back to the run's level."""
    app = create_app(settings.model_copy(update={"log_level": "DEBUG"}), db=db)
    try:
        async with AsyncClient(transport=ASGITransport(app=app),
                               base_url="http://testserver") as client:
            yield client
    finally:
        hms_logging.configure(settings.log_level, settings.log_json)
        async with db.engine.begin() as conn:
            await delete_all_rows(conn)  # seeded roles kept; audit_log trigger handled


def _searchable(text: str) -> str:
    """Log text with the machine members of JSON lines removed."""
    out = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(event, dict):
            for key in MACHINE_FIELDS:
                event.pop(key, None)
        out.append(json.dumps(event, ensure_ascii=False))
    return "\n".join(out)


def _json_events(text: str) -> str:
    """Only the JSON log lines (structlog's events) of ``text``."""
    return "\n".join(line for line in text.splitlines() if line.startswith("{"))


def _leaks(text: str, values: list[str]) -> list[str]:
    """The values found in ``text``: numbers as whole tokens, words case-insensitively.

    One- and two-digit numbers (a pulse of 88) are searched in the JSON events only: in
    the standard library's DEBUG lines they match SQLAlchemy's internal column positions
    (``itemgetter(18)``), which carry no data.
    """
    found = []
    events = _json_events(text)
    for value in {v.strip() for v in values if v and v.strip()}:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            pattern = rf"(?<![\w.]){re.escape(value)}(?![\w]|\.\d)"
            haystack = events if re.fullmatch(r"\d{1,2}", value) else text
            hit = re.search(pattern, haystack)
        else:
            haystack = text
            hit = re.search(re.escape(value), text, re.IGNORECASE)
        if hit:
            start = max(0, hit.start() - 80)
            found.append(f"{value!r} in ...{haystack[start:hit.end() + 80]}...")
    return found


async def test_the_visit_archive_day_logs_no_patient_data(debug_client, db, tmp_path,
                                                          capsys, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("hms", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)

    values = await run_visit_archive_day(debug_client, db, tmp_path)

    captured = capsys.readouterr()
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    stdlib = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
                       for r in records)
    text = _searchable("\n".join([captured.out, captured.err, stdlib]))
    # The capture works: one access line per request, report jobs logged at INFO.
    assert text.count('"event": "request"') > 50, text[:2000]
    assert "report_job_completed" in text
    assert len(values) > 30
    leaks = _leaks(text, values)
    assert not leaks, "\n".join(leaks)


def _bundle_phi(bundle: dict) -> list[str]:
    """Names, identifiers, birth date, phones and address lines of a bundle's patients."""
    out: list[str] = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") != "Patient":
            continue
        for name in resource.get("name", []):
            out += [*name.get("given", []), name.get("family", "")]
        out += [i.get("value", "") for i in resource.get("identifier", [])
                if not re.fullmatch(r"[0-9a-f-]{36}", i.get("value", ""))]
        out.append(resource.get("birthDate", ""))
        out += [t.get("value", "") for t in resource.get("telecom", [])]
        for address in resource.get("address", []):
            out += address.get("line", [])
    # Very short fragments (initials, "Mr") are not meaningful matches.
    return [v for v in out if len(v) >= 4]


def test_the_fhir_import_command_prints_no_patient_data(tmp_path):
    bundles = sorted(demo_bundle_dir().glob("*.json.gz"))
    folder = tmp_path / "in"
    folder.mkdir()
    values: list[str] = []
    for n, path in enumerate(bundles, start=1):
        shutil.copy(path, folder / f"bundle-{n}.json.gz")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            values += _bundle_phi(json.load(fh))
    assert len(values) > 8 * 3
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_")}
    env.update(HMS_DATA_DIR=str(tmp_path / "var"), HMS_LOG_LEVEL="DEBUG",
               HMS_ENVIRONMENT="test")
    hms = str(BIN / "hms")
    migrated = subprocess.run([hms, "migrate"], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    run = subprocess.run([hms, "import-fhir", str(folder)], env=env, capture_output=True,
                         text=True, timeout=300, check=False)

    assert run.returncode == 0, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "8 files: 8 imported" in output
    leaks = _leaks(output, values)
    assert not leaks, "\n".join(leaks)


#: Patient values the seed 004 day (tests/test_hcms_day.py) sends: demographics, contact,
#: insurance policy, allergy, clinical text and a result.
HCMS_DAY_VALUES = ["Hoda", "Mansour", "1979-06-02", "01123456789", "hoda.m@example.com",
                   "12 Tahrir St", "Omar Mansour", "01234567890", "NHI-55-1200", "Penicillin",
                   "Amoxicillin", "Crackles at the right base", "Community-acquired pneumonia",
                   "Three days of fever up to 38.8 C"]


async def test_the_hcms_day_logs_no_patient_data(debug_client, db, capsys, caplog):
    from tests.test_hcms_day import run_hcms_day

    caplog.set_level(logging.DEBUG)
    for name in ("hms", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)

    await run_hcms_day(debug_client, db)

    captured = capsys.readouterr()
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    stdlib = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
                       for r in records)
    text = _searchable("\n".join([captured.out, captured.err, stdlib]))
    assert text.count('"event": "request"') > 50, text[:2000]
    leaks = _leaks(text, HCMS_DAY_VALUES)
    assert not leaks, "\n".join(leaks)
