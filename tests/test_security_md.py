"""SECURITY.md stays true: every test it names exists, and every source path it cites."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECURITY_MD = ROOT / "SECURITY.md"


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


def test_every_named_test_exists():
    text = SECURITY_MD.read_text()
    refs = re.findall(r"`(tests/[\w/]+\.py)::([\w:]+)`", text)
    assert len(refs) > 40
    missing = [f"{file}::{name}" for file, name in refs
               if not (ROOT / file).is_file() or name not in _test_names(ROOT / file)]
    assert not missing, "\n".join(missing)


def test_every_cited_source_path_exists():
    text = SECURITY_MD.read_text()
    paths = set(re.findall(r"`(src/hms/[\w/.]+)`", text))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, missing
