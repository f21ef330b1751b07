"""One command for the workflow benchmark (issue 5)::

    uv run python -m bench.run --set smoke|full --db postgres|sqlite --patients N

Prepares a fresh database (migrate; FHIR import timed on a scratch database; ``hms demo
--no-serve`` for the demo accounts and reference data, then ``hms generate`` if it exists,
else registrations over the API), starts ``hms serve`` (2 workers on PostgreSQL, 1 on
SQLite) and the ceiling apps
on free ports, runs every scenario under the latency model and the throughput model, and
writes ``bench/results/<date>-<set>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp

from bench import load, scenarios

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("HMS_BENCH_PG_URL", os.environ.get(
    "HMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))

SETS: dict[str, dict[str, Any]] = {
    "smoke": {"users": 10, "connections": [4], "warmup": 1.0, "duration": 3.0,
              "patients": 200, "ceiling_rows": 10_000},
    "full": {"users": 70, "connections": [16, 64], "warmup": 10.0, "duration": 60.0,
             "patients": 100_000, "ceiling_rows": 100_000},
}


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1) if m else ""
    ram_kb = 0
    with contextlib.suppress(OSError):
        m = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
        ram_kb = int(m.group(1)) if m else 0
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                                capture_output=True, text=True, check=False).stdout.strip())
    return {"cores": os.cpu_count(), "cpu_model": cpu, "ram_gb": round(ram_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": commit, "git_dirty": dirty,
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def _pg(sql: str, url: str = PG_ADMIN_URL) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def pg_available() -> bool:
    try:
        _pg("SELECT 1")
    except Exception:  # any failure means no PostgreSQL for the ceiling
        return False
    return True


def hms(env: dict[str, str], *args: str, timeout: float = 3600) -> str:
    proc = subprocess.run([str(BIN / "hms"), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"hms {' '.join(args)} failed:\n{proc.stdout[-2000:]}"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout


def count_fhir_resources(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*.json*"):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            total += len(json.load(fh).get("entry", []))
    return total


def measure_fhir(args: argparse.Namespace, env: dict[str, str], pg_name: str, pg_url: str,
                 work: Path) -> dict[str, Any]:
    """``hms import-fhir`` of the Synthea bundles into a fresh scratch database of the same
    kind. The rate is every bundle entry (stored or skipped, all parsed and validated) over
    the import's own time as the command reports it (CLI start-up excluded); the wall time
    with start-up is kept too."""
    scratch = dict(env)
    if args.db == "postgres":
        _pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        _pg(f'CREATE DATABASE "{pg_name}"')
        scratch["HMS_DATABASE_URL"] = pg_url
    else:
        scratch["HMS_DATABASE_URL"] = f"sqlite+aiosqlite:///{work / 'fhir.db'}"
    try:
        hms(scratch, "migrate")
        t0 = time.perf_counter()
        out = hms(scratch, "import-fhir", str(args.fhir))
        wall = time.perf_counter() - t0
    finally:
        if args.db == "postgres":
            with contextlib.suppress(Exception):
                _pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    resources = count_fhir_resources(args.fhir)
    found = re.search(r"files: .* in ([\d.]+) s", out)
    seconds = float(found[1]) if found else wall
    stored = sum(int(n) for n in re.findall(
        r"\b(?:patients|visits|vital_signs|diagnoses) (\d+)",
        next((ln for ln in out.splitlines() if ln.startswith("total:")), "")))
    log(f"FHIR import: {resources} resources ({stored} rows stored) in {seconds:.2f} s "
        f"({wall:.2f} s with CLI start-up)")
    return {"path": str(args.fhir.relative_to(ROOT) if args.fhir.is_relative_to(ROOT)
                        else args.fhir),
            "resources": resources, "rows_stored": stored, "seconds": round(seconds, 3),
            "wall_seconds": round(wall, 3), "resources_per_s": resources / seconds}


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], url: str, name: str,
           logdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd``, wait until ``url`` answers 200, stop it (terminate) at the end."""
    out = (logdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        import urllib.request

        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: see {logdir / (name + '.log')}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{name} did not become ready")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


async def login(http: load.Http, username: str, password: str) -> str:
    body = await http.call("POST", "/api/v1/auth/login",
                           data={"username": username, "password": password})
    return str(body["access_token"])


async def prepare_context(base: str, passwords: dict[str, str], sessions: int,
                          seed_patients: int) -> scenarios.Context:
    """Log in (one session per simulated user and role), seed patients over the API if
    asked, and collect the patient pool and the reference data."""
    roles = ["receptionist", "nurse", "physician", "admin", "billing_officer"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        http = load.Http(base, session)
        tokens: dict[str, list[str]] = {}
        for role in roles:
            tokens[role] = [await login(http, f"demo_{role}", passwords[f"demo_{role}"])
                            for _ in range(sessions)]
        ctx = scenarios.Context(base=base, tokens=tokens, patients=[])
        nurse = tokens["nurse"][0]
        if seed_patients:
            log(f"seeding {seed_patients} patients over the API (no `hms generate`)")
            sem = asyncio.Semaphore(8)

            async def one(n: int) -> None:
                async with sem:
                    p = await http.call("POST", "/api/v1/patients", nurse, expect=201, json={
                        "ssn": ctx.new_national_id(), "mobile_number": ctx.new_mobile(),
                        "full_name": f"Seeded{n} Patient{n % 97} Bench", "gender": "male"})
                    if n % 2 == 0:
                        await http.call("POST", "/api/v1/visits", nurse, expect=201,
                                        json={"patient_id": p["id"]})

            await asyncio.gather(*(one(n) for n in range(seed_patients)))
        reception = tokens["receptionist"][0]
        # The oldest registrations: on an existing database the newest are the patients an
        # earlier run registered (and HCMS ones without a national ID), which would make
        # the pool, and so the searches, depend on what ran before.
        for page in range(1, 6):
            listing = await http.call("GET", "/api/v1/patients", reception,
                                      params={"page": page, "page_size": 100,
                                              "sort": "created_at,patient_number"})
            items = listing["items"]
            ctx.patients_total = listing.get("total") or ctx.patients_total
            ctx.patients += [p for p in items if p.get("national_id") and p.get("mobile")]
            if len(items) < 100:
                break
        if not ctx.patients:
            raise RuntimeError("no patients with national ID and mobile to search for")
        admin = tokens["admin"][0]
        depts = (await http.call("GET", "/api/v1/departments", admin,
                                 params={"page_size": 100}))["items"]
        ctx.department_id = next((d["id"] for d in depts if d["name"] == "Internal Medicine"),
                                 depts[0]["id"] if depts else None)
        services = (await http.call("GET", "/api/v1/services", admin,
                                    params={"page_size": 100}))["items"]
        ctx.consult_service_id = next(
            (s["id"] for s in services if s.get("service_type") == "consultation"),
            services[0]["id"] if services else None)
        me = await http.call("GET", "/api/v1/auth/me", tokens["physician"][0])
        ctx.doctor_id = me["id"]
        # The HCMS scenarios book one 30-minute slot of this doctor per iteration: start
        # after the last one booked (by an earlier run on the same database), or every
        # booking would be a 409 overlap.
        latest = (await http.call("GET", "/api/v1/appointments", reception, params={
            "doctor_id": ctx.doctor_id, "sort": "-starts_at", "page_size": 1}))["items"]
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        ctx.slot_base = tomorrow
        if latest:
            ends = datetime.fromisoformat(latest[0]["ends_at"]).astimezone(UTC)
            ctx.slot_base = max(tomorrow, ends.replace(minute=0, second=0, microsecond=0)
                                + timedelta(hours=1))
        ctx.pdf = scenarios.make_pdf()
    return ctx


def ceiling_scenarios() -> list[scenarios.Scenario]:
    async def ping(http: load.Http, st: Any, w: load.Stopwatch) -> None:
        await http.call("GET", "/ping")

    async def row(http: load.Http, st: Any, w: load.Stopwatch) -> None:
        await http.call("GET", "/row")

    none = scenarios.Target(None, None, None)
    return [scenarios.Scenario("ceiling_json", "Ceiling: bare FastAPI JSON", ping, None, none),
            scenarios.Scenario("ceiling_pk", "Ceiling: FastAPI + asyncpg PK read", row, None,
                               none)]


async def run_all(plan: Sequence[tuple[scenarios.Scenario, str, int | None]],
                  cfg: dict[str, Any],
                  ) -> list[dict[str, Any]]:
    """Each (scenario, base URL, server pid) under the latency model then the throughput
    model at every connection count."""
    out = []
    for scenario, base, pid in plan:
        models = ([("latency", cfg["users"])] if "latency" in cfg["models"] else []) + (
            [("throughput", c) for c in cfg["connections"]]
            if "throughput" in cfg["models"] else [])
        for model, workers in models:
            res = await load.run(base, scenario.name, scenario.iteration, scenario.setup,
                                 model=model, workers=workers, warmup=cfg["warmup"],
                                 duration=cfg["duration"], think=cfg["think"],
                                 server_pid=pid)
            s = res.summary()
            s["title"] = scenario.title
            s["target"] = vars(scenario.target)
            out.append(s)
            log(f"{scenario.name:<22} {model:<10} x{workers:<3} n={s['count']:<6} "
                f"err={s['errors']:<3} p50={s['p50_ms']} p95={s['p95_ms']} "
                f"p99={s['p99_ms']} rps={s['rps']} cpu={s['loadgen_cpu_s']}s")
    return out


async def soak(chosen: list[scenarios.Scenario], base: str, pid: int, cfg: dict[str, Any],
               seconds: float) -> dict[str, Any]:
    """The mixed workload: every chosen scenario at once under the latency model (the
    users shared between them), for ``seconds``, with the server's RSS sampled each second.

    Memory is judged after the first minute (caches, prepared statements and the
    interpreter's arenas fill then): ``growth_after_warmup_kb`` is the last sample minus the
    sample at 60 s, and ``slope_kb_per_min`` the least-squares slope of the samples after
    60 s.
    """
    share = max(1, cfg["users"] // max(1, len(chosen)))
    runs = await asyncio.gather(*(
        load.run(base, s.name, s.iteration, s.setup, model="latency", workers=share,
                 warmup=0.0, duration=seconds, think=cfg["think"],
                 server_pid=pid if i == 0 else None)
        for i, s in enumerate(chosen)))
    per = [r.summary() for r in runs]
    rss = runs[0].server_rss_kb
    settled = rss[60:] if len(rss) > 120 else rss[len(rss) // 2:]
    slope = None
    if len(settled) >= 2:
        n = len(settled)
        mean_x, mean_y = (n - 1) / 2, sum(settled) / n
        var = sum((x - mean_x) ** 2 for x in range(n))
        slope = round(60 * sum((x - mean_x) * (y - mean_y)
                               for x, y in enumerate(settled)) / var, 1)
    out = {
        "seconds": seconds, "users_per_scenario": share,
        "iterations": sum(r["count"] for r in per), "errors": sum(r["errors"] for r in per),
        "rss_first_kb": rss[0] if rss else None,
        "rss_at_60s_kb": settled[0] if settled else None,
        "rss_last_kb": rss[-1] if rss else None, "rss_peak_kb": max(rss) if rss else None,
        "growth_after_warmup_kb": (settled[-1] - settled[0]) if settled else None,
        "slope_kb_per_min": slope,
        "rss_kb_each_30s": rss[::30],
        "scenarios": [{k: r[k] for k in ("scenario", "count", "errors", "p50_ms", "p95_ms",
                                         "p99_ms", "error_samples")} for r in per],
    }
    log(f"soak {seconds:.0f} s: {out['iterations']} iterations, {out['errors']} errors, "
        f"RSS {out['rss_at_60s_kb']} kB at 60 s -> {out['rss_last_kb']} kB, "
        f"slope {slope} kB/min")
    return out


def mb(kb: int | None) -> str:
    """kB as whole MB for the report, "-" when unknown."""
    return "-" if kb is None else f"{kb / 1024:.0f} MB"


def fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def verdict(s: dict[str, Any]) -> str:
    t = s["target"]
    checks = []
    if s["model"] == "latency":
        if t.get("p95_ms") is not None and s["p95_ms"] is not None:
            checks.append(s["p95_ms"] <= t["p95_ms"])
        if t.get("p99_ms") is not None and s["p99_ms"] is not None:
            checks.append(s["p99_ms"] <= t["p99_ms"])
    elif t.get("rps") is not None and s["rps"] is not None:
        checks.append(s["rps"] >= t["rps"])
    if s["errors"]:
        checks.append(False)
    if not checks:
        return "-"
    return "met" if all(checks) else "missed"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    ceil = {(r["scenario"], r["model"], r["workers"]): r for r in report["results"]
            if r["scenario"].startswith("ceiling_")}
    lines = [f"# hms benchmark: {report['set']} ({m['date']})", "",
             f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['ram_gb']} GB RAM, Python "
             f"{m['python']}; commit {m['git_commit'][:12]}{' (dirty)' if m['git_dirty'] else ''}."
             f" Database: {report['db']}, {report['patients_in_db']} patients; hms workers: "
             f"{report['hms_workers']}.", "",
             f"Latency model: {report['config']['users']} users, think time mean "
             f"{report['config']['think']} s; throughput model: closed loop, "
             f"{', '.join(map(str, report['config']['connections']))} connections. Warm-up "
             f"{report['config']['warmup']} s, measured {report['config']['duration']} s. "
             "Ratios: hms p50 / ceiling p50 (latency model), hms req/s / ceiling req/s "
             "(throughput).", "",
             "| scenario | model | users/conns | n | p50 ms | p95 ms | p99 ms | req/s | errors "
             "| x json ceiling | x pk ceiling | target | verdict | loadgen CPU s "
             "| server RSS MB (first→last) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        ratios = []
        for c in ("ceiling_json", "ceiling_pk"):
            cr = ceil.get((c, r["model"], r["workers"]))
            if cr is None or r["scenario"].startswith("ceiling_"):
                ratios.append("-")
            elif r["model"] == "latency" and cr["p50_ms"] and r["p50_ms"]:
                ratios.append(f"{r['p50_ms'] / cr['p50_ms']:.1f}x")
            elif r["model"] == "throughput" and cr["rps"] and r["rps"] is not None:
                ratios.append(f"{r['rps'] / cr['rps']:.2f}")
            else:
                ratios.append("-")
        t = r["target"]
        target = (f"p95≤{t['p95_ms']:.0f}"
                  if r["model"] == "latency" and t.get("p95_ms") is not None
                  else (f"≥{t['rps']:.0f}/s" if r["model"] == "throughput" and t.get("rps")
                        else "-"))
        rss = r["server_rss_kb"]
        rss_txt = f"{rss[0] / 1024:.0f}→{rss[-1] / 1024:.0f}" if rss else "-"
        lines.append(
            f"| {r['scenario']} | {r['model']} | {r['workers']} | {r['count']} "
            f"| {fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['rps'])} "
            f"| {r['errors']} | {ratios[0]} | {ratios[1]} | {target} | {verdict(r)} "
            f"| {r['loadgen_cpu_s']} | {rss_txt} |")
    m = report.get("server_memory")
    if m:
        lines += ["", f"hms server RSS (parent + workers) over the whole run "
                  f"({m['minutes']:.1f} min of load, {m['windows']} measured windows): "
                  f"{mb(m['first_kb'])} in the first window, "
                  f"{mb(m['last_kb'])} in the last, peak {mb(m['peak_kb'])} "
                  f"(growth {m['growth_kb'] / 1024:+.0f} MB)."]
    k = report.get("soak")
    if k:
        lines += ["", f"Mixed workload (soak): every scenario at once, {k['users_per_scenario']} "
                  f"users each, {k['seconds'] / 60:.1f} min: {k['iterations']} iterations, "
                  f"**{k['errors']} errors**. Server RSS {mb(k['rss_first_kb'])} at the start, "
                  f"{mb(k['rss_at_60s_kb'])} after 1 min, {mb(k['rss_last_kb'])} at the end "
                  f"(peak {mb(k['rss_peak_kb'])}; after the first minute "
                  f"{(k['growth_after_warmup_kb'] or 0) / 1024:+.1f} MB, slope "
                  f"{k['slope_kb_per_min']} kB/min).", "",
                  "| scenario (soak) | n | errors | p50 ms | p95 ms | p99 ms |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['scenario']} | {r['count']} | {r['errors']} | {fmt(r['p50_ms'])} "
                  f"| {fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} |" for r in k["scenarios"]]
    f = report.get("fhir_import")
    if f:
        lines += ["", f"FHIR import (`hms import-fhir {f['path']}`, fresh database): "
                  f"{f['resources']} resources ({f.get('rows_stored', '?')} rows stored, the "
                  f"rest parsed, validated and skipped) in {f['seconds']:.2f} s = "
                  f"**{f['resources_per_s']:.0f} resources/s** (target >= 1,000; "
                  f"{f.get('wall_seconds', f['seconds']):.2f} s with CLI start-up)."]
    if report.get("notes"):
        lines += ["", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description="hms workflow benchmark")
    p.add_argument("--set", default="smoke", choices=sorted(SETS))
    p.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument("--patients", type=int, help="patients to generate (set default)")
    p.add_argument("--visits-per-patient", type=int, default=3)
    p.add_argument("--users", type=int)
    p.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--warmup", type=float)
    p.add_argument("--duration", type=float)
    p.add_argument("--think", type=float, default=1.0)
    p.add_argument("--ceiling-rows", type=int)
    p.add_argument("--scenarios", help="comma list of scenario names (default all)")
    p.add_argument("--no-ceilings", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--existing-db", help="PostgreSQL database already migrated and filled "
                   "(e.g. by hms generate): used as is, not generated, not dropped")
    p.add_argument("--models", default="latency,throughput",
                   help="load models to run (latency, throughput or both)")
    p.add_argument("--workers", type=int, help="hms and ceiling workers (2 PG / 1 SQLite)")
    p.add_argument("--soak", type=float, default=0.0,
                   help="seconds of the mixed workload after the scenarios, with the "
                        "server's memory sampled each second (issue 5: 600)")
    p.add_argument("--fhir", type=Path, default=ROOT / "data" / "synthea",
                   help="Synthea bundles for the FHIR import rate (default data/synthea)")
    args = p.parse_args(argv)
    cfg = dict(SETS[args.set])
    for key in ("patients", "users", "connections", "warmup", "duration", "ceiling_rows"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    cfg["think"] = args.think
    cfg["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    notes: list[str] = []

    work = Path(tempfile.mkdtemp(prefix="hms-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HMS_DATABASE")}
    env.update({"HMS_DATA_DIR": str(work / "data"), "HMS_RATE_LIMIT_ENABLED": "false",
                "HMS_MFA_ENFORCED": "false", "HMS_ACCESS_TOKEN_MINUTES": "600",
                "HMS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    pg_name = args.existing_db or f"hms_bench_{os.getpid()}"
    fhir_db = f"hms_bench_fhir_{os.getpid()}"
    ceiling_table = f"bench_ceiling_{os.getpid()}"
    have_pg = pg_available()

    def pg_url(name: str) -> str:
        # The admin URL's database replaced, its query kept (``?host=/var/run/postgresql``
        # for a Unix socket).
        parts = urlsplit(PG_ADMIN_URL)
        return urlunsplit(parts._replace(path=f"/{name}")).replace(
            "postgresql://", "postgresql+asyncpg://", 1)

    if args.db == "postgres":
        if not have_pg:
            raise SystemExit(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        if not args.existing_db:
            _pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            _pg(f'CREATE DATABASE "{pg_name}"')
        env["HMS_DATABASE_URL"] = pg_url(pg_name)
    hms_workers = args.workers or (2 if args.db == "postgres" else 1)
    try:
        log(f"preparing {args.db} database in {work}")
        hms(env, "migrate")
        fhir = measure_fhir(args, env, fhir_db, pg_url(fhir_db), work)
        demo = hms(env, "demo", "--no-serve")
        passwords = dict(re.findall(r"^\s+\w+\s+(demo_\w+)\s+(\S+)\s*$", demo, re.M))
        help_text = subprocess.run([str(BIN / "hms"), "--help"], env=env, capture_output=True,
                                   text=True, check=False).stdout
        seed_over_api = 0
        if args.db == "postgres":
            host = parse_qs(urlsplit(PG_ADMIN_URL).query).get("host", [""])[0]
            notes.append("hms and the asyncpg ceiling reach PostgreSQL over "
                         + ("its Unix socket" if host.startswith("/") else "TCP")
                         + f" ({urlsplit(PG_ADMIN_URL).hostname or host})")
        if args.existing_db:
            notes.append(f"existing database {args.existing_db} (data generated beforehand)")
        elif re.search(r"^\s*│?\s*generate\b", help_text, re.M):
            t0 = time.perf_counter()
            hms(env, "generate", "--patients", str(cfg["patients"]), "--visits-per-patient",
                str(args.visits_per_patient))
            notes.append(f"hms generate: {cfg['patients']} patients in "
                         f"{time.perf_counter() - t0:.1f} s")
        else:
            seed_over_api = cfg["patients"]
            notes.append("`hms generate` not available: patients registered over the API")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        plan_ceilings = []
        with contextlib.ExitStack() as stack:
            proc = stack.enter_context(server(
                [str(BIN / "hms"), "serve", "--port", str(port), "--workers",
                 str(hms_workers)], env, f"{base}/health/ready", "hms", work))
            if not args.no_ceilings:
                jp = free_port()
                jproc = stack.enter_context(server(
                    [sys.executable, "-m", "bench.ceilings", "json", "--port", str(jp),
                     "--workers", str(hms_workers)], env, f"http://127.0.0.1:{jp}/ping",
                    "ceiling_json", work))
                cs = ceiling_scenarios()
                plan_ceilings.append((cs[0], f"http://127.0.0.1:{jp}", jproc.pid))
                if have_pg:
                    kp = free_port()
                    kproc = stack.enter_context(server(
                        [sys.executable, "-m", "bench.ceilings", "pk", "--port", str(kp),
                         "--workers", str(hms_workers), "--dsn", PG_ADMIN_URL, "--rows",
                         str(cfg["ceiling_rows"]), "--table", ceiling_table], env, f"http://127.0.0.1:{kp}/row?id=1",
                        "ceiling_pk", work))
                    plan_ceilings.append((cs[1], f"http://127.0.0.1:{kp}", kproc.pid))
                else:
                    notes.append("ceiling_pk skipped: PostgreSQL not reachable")
            sessions = max(cfg["users"], *cfg["connections"])
            ctx = asyncio.run(prepare_context(base, passwords, sessions, seed_over_api))
            log(f"{len(ctx.patients)} patients in the search pool; {sessions} sessions/role")
            chosen = scenarios.build(ctx)
            if args.scenarios:
                wanted = set(args.scenarios.split(","))
                chosen = [s for s in chosen if s.name in wanted]
            plan = plan_ceilings + [(s, base, proc.pid) for s in chosen]
            results = asyncio.run(run_all(plan, cfg))
            soaked = (asyncio.run(soak(chosen, base, proc.pid, cfg, args.soak))
                      if args.soak > 0 else None)
        hms_rss = [r["server_rss_kb"] for r in results
                   if not r["scenario"].startswith("ceiling") and r["server_rss_kb"]]
        memory = {"first_kb": hms_rss[0][0], "last_kb": hms_rss[-1][-1],
                  "peak_kb": max(max(x) for x in hms_rss),
                  "growth_kb": hms_rss[-1][-1] - hms_rss[0][0], "windows": len(hms_rss),
                  "minutes": round(len(hms_rss) * (cfg["warmup"] + cfg["duration"]) / 60, 1),
                  } if hms_rss else None
        report = {"set": args.set, "db": args.db, "hms_workers": hms_workers,
                  "server_memory": memory, "soak": soaked,
                  "patients_in_db": ctx.patients_total, "config": cfg,
                  "machine": machine(), "fhir_import": fhir, "results": results,
                  "notes": notes}
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"{datetime.now(UTC):%Y-%m-%d}-{args.set}"
        stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
        stem.with_suffix(".md").write_text(markdown(report))
        log(f"wrote {stem}.json and {stem}.md")
        return stem.with_suffix(".json")
    finally:
        if have_pg:
            with contextlib.suppress(Exception):
                _pg(f"DROP TABLE IF EXISTS {ceiling_table}")
        if args.db == "postgres" and not args.existing_db:
            with contextlib.suppress(Exception):
                _pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
