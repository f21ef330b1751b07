"""``hms import-fhir`` end to end, against a temporary SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hms.cli import app
from hms.config import get_settings
from hms.fhir.service import demo_bundle_dir
from tests.fhir import factories as f


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a CLI run on a fresh, migrated SQLite database under ``tmp_path``."""
    env = {"HMS_DATA_DIR": str(tmp_path / "var"),
           "HMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        yield env
    finally:
        get_settings.cache_clear()  # back to the test run's own settings


def _neutral_copies(target: Path) -> Path:
    """The demo bundles under names that carry no patient name (bundle-N.json.gz)."""
    target.mkdir()
    for n, row in enumerate(f.demo_index(), start=1):
        shutil.copy(demo_bundle_dir() / row["file"], target / f"bundle-{n}.json.gz")
    return target


class TestImportFhirCommand:
    """The command prints per-file counts and totals, never names; exit 1 on a rejection."""

    def test_imports_then_reimports_without_changes(
        self, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        folder = _neutral_copies(tmp_path / "in")
        runner = CliRunner()

        first = runner.invoke(app, ["import-fhir", str(folder)], env=cli_env)
        second = runner.invoke(app, ["import-fhir", str(folder)], env=cli_env)

        index = f.demo_index()
        n = len(index)
        assert first.exit_code == 0, first.output
        assert f"{n} files: {n} imported, 0 unchanged, 0 rejected" in first.output
        patients = sum(int(r["Patient"]) for r in index)
        visits = sum(int(r["Encounter"]) for r in index)
        assert f"total: new patients {patients}, visits {visits}," in first.output
        assert first.output.count("imported   ") == n
        assert second.exit_code == 0, second.output
        assert f"{n} files: 0 imported, {n} unchanged, 0 rejected" in second.output
        assert f"total: nothing new; already present patients {patients}, visits {visits}," \
            in second.output
        for row in index:  # counts only: no names from the records
            for text in (first.output, second.output):
                assert row["given"] not in text
                assert row["family"] not in text

    def test_rejected_file_is_named_with_its_reason_and_exit_code_is_1(
        self, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        broken = f.write(tmp_path / "broken.json", "{not json")
        good = f.write(tmp_path / "good.json", f.good_bundle())

        result = CliRunner().invoke(app, ["import-fhir", str(broken), str(good)], env=cli_env)

        assert result.exit_code == 1
        assert f"rejected   {broken}: invalid JSON at line 1 column 2" in result.output
        assert f"imported   {good}: new patients 1, visits 1, vital_signs 1, diagnoses 1" \
            in result.output
        assert "2 files: 1 imported, 0 unchanged, 1 rejected" in result.output

    def test_unmigrated_database_gives_a_hint_not_a_traceback(self, tmp_path: Path) -> None:
        env = {"HMS_DATA_DIR": str(tmp_path / "var"),
               "HMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
        good = f.write(tmp_path / "good.json", f.good_bundle())
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["import-fhir", str(good)], env=env)
        finally:
            get_settings.cache_clear()

        assert result.exit_code == 1
        assert "hms migrate" in result.output
        assert "Traceback" not in result.output
