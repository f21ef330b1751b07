"""The benchmark harness (bench/) once on tiny data: SQLite (or the database under test),
a handful of patients, well under a second per scenario and model, two users. It asserts
the report is written with every scenario under both load models and no errors; it makes
no timing assertions (CI machines vary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import scenarios

from tests.conftest import TEST_DB

ROOT = Path(__file__).resolve().parent.parent


def test_harness_writes_every_scenario_without_errors(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HMS_DATABASE", "HMS_DATA_DIR", "HMS_ENVIRONMENT"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--set", "smoke", "--db", TEST_DB,
         "--patients", "12", "--users", "2", "--connections", "2", "--warmup", "0.2",
         "--duration", "0.5", "--think", "0.05", "--soak", "2", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    [path] = tmp_path.glob("*-smoke.json")
    report = json.loads(path.read_text())
    assert (tmp_path / path.name.replace(".json", ".md")).exists()
    assert report["machine"]["cores"] and report["machine"]["git_commit"]
    assert report["fhir_import"]["resources"] > 0

    expected = {s.name for s in scenarios.build(
        scenarios.Context(base="", tokens={}, patients=[]))} | {"ceiling_json"}
    seen: dict[str, set[str]] = {}
    for row in report["results"]:
        seen.setdefault(row["scenario"], set()).add(row["model"])
        # Errors of iterations that straddled the window are sampled too: none at all.
        assert row["errors"] == 0 and not row["error_samples"], (
            row["scenario"], row["model"], row["error_samples"])
        if row["model"] == "throughput" and not row["scenario"].startswith("hcms_"):
            # The HCMS scenarios' iterations (8-10 calls) may outlast a 0.5 s window.
            assert row["count"] > 0, row["scenario"]
    assert expected <= set(seen), expected - set(seen)
    assert all(models == {"latency", "throughput"} for models in seen.values()), seen

    # The mixed workload ran every scenario at once and sampled the server's memory.
    soak = report["soak"]
    assert {r["scenario"] for r in soak["scenarios"]} == expected - {"ceiling_json"}
    assert soak["errors"] == 0, [r["error_samples"] for r in soak["scenarios"]]
    assert soak["rss_last_kb"] > 0 and soak["rss_peak_kb"] >= soak["rss_last_kb"]
