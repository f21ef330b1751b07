"""docs/HCMS-RULES.md stays true: every test it names exists, every source path it cites
exists, and every rule row names at least one test (issue 4, acceptance item 2)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT / "docs" / "HCMS-RULES.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")


def _test_names(path: Path) -> set[str]:
    """``test_x`` and ``TestClass::test_x`` ids defined in a test file."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(f"{node.name}::{item.name}")
    return names


def _rule_rows() -> list[str]:
    """Table rows of the document, without header and separator rows."""
    return [line for line in RULES_MD.read_text().splitlines()
            if line.startswith("|") and not line.startswith(("| seed rule", "|---"))]


def test_every_named_test_exists():
    refs = TEST_REF.findall(RULES_MD.read_text())
    assert len(refs) > 60
    missing = [f"{file}::{name}" for file, name in refs
               if not (ROOT / file).is_file() or name not in _test_names(ROOT / file)]
    assert not missing, "\n".join(missing)


def test_every_cited_source_path_exists():
    paths = set(re.findall(r"`(src/hms/[\w/.]+)`", RULES_MD.read_text()))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, missing


def test_every_rule_row_names_a_test_and_a_source_path():
    rows = _rule_rows()
    assert len(rows) > 50
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4, row
        assert re.search(r"`src/hms/[\w/.]+`", cells[1]), row
        assert TEST_REF.search(cells[3]), row


def test_every_seed_section_has_a_table():
    text = RULES_MD.read_text()
    for heading in ("## 11. Core Business Rules", "## 11. Role-Based Access Control",
                    "## 11. Audit Trail", "## 12. Validation Rules"):
        assert heading in text
