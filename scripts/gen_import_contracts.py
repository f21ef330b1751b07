"""Regenerate the import-linter contracts in pyproject.toml from the modules on disk.

Run after adding a domain module: `uv run python scripts/gen_import_contracts.py`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hms"
SHARED = {"core", "db", "migrations", "static"}
MARK = "\n[tool.importlinter]"


def main() -> None:
    mods = sorted(p.name for p in SRC.iterdir()
                  if p.is_dir() and (p / "__init__.py").exists() and p.name not in SHARED)
    out = [MARK.strip(), 'root_package = "hms"', ""]
    out += ["[[tool.importlinter.contracts]]", 'name = "core and db import no domain module"',
            'type = "forbidden"', 'source_modules = ["hms.core", "hms.db"]',
            "forbidden_modules = [" + ", ".join(f'"hms.{m}"' for m in mods) + "]", ""]
    for m in mods:
        private = [f'"hms.{m}.{f}"' for f in ("models", "repository")
                   if (SRC / m / f"{f}.py").exists()]
        if not private:
            continue
        others = [o for o in mods if o != m]
        out += ["[[tool.importlinter.contracts]]",
                f'name = "only {m} touches its own models and repository"',
                'type = "forbidden"',
                "source_modules = [" + ", ".join(f'"hms.{o}"' for o in others) + "]",
                "forbidden_modules = [" + ", ".join(private) + "]",
                "allow_indirect_imports = true", ""]
    out += ["[[tool.importlinter.contracts]]",
            'name = "router -> service -> repository -> models inside each module"',
            'type = "layers"',
            "containers = [" + ", ".join(f'"hms.{m}"' for m in mods) + "]",
            'layers = ["(router)", "(service)", "(repository)", "(models)"]', ""]
    text = (ROOT / "pyproject.toml").read_text()
    if MARK in text:
        text = text[: text.index(MARK)]
    (ROOT / "pyproject.toml").write_text(text.rstrip("\n") + "\n\n" + "\n".join(out))


if __name__ == "__main__":
    main()
