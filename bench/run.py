"""Cairn's benchmark: seed a fresh database, start the real server, drive it over HTTP.

    python -m bench.run            # or: python bench/run.py
    python -m bench.run --help

It creates a database on DATABASE_URL's server, migrates and seeds it (see bench/README.md for the
dataset), counts the SQL statements each scenario's request runs (in process, with asyncpg's
query logger), starts `uvicorn` on a free port in a subprocess, drives each scenario with
keep-alive HTTP clients at each concurrency for a fixed time, prints a Markdown table, writes
bench/results.json, and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench.seed import Seeded, Shape, collection_name, registry_name, seed  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.pool import Connection, create_pool  # noqa: E402
from schema.nodes import global_id  # noqa: E402
from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results.json"

Variables = Callable[[random.Random], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    query: str
    variables: Variables
    # The API key this scenario's requests send; None: the benchmark's member key.
    key: str | None = None


def scenarios(seeded: Seeded) -> dict[str, Scenario]:
    shape = seeded.shape
    org = seeded.organization

    def path(rng: random.Random) -> dict[str, Any]:
        r = rng.randrange(shape.registries)
        c = rng.randrange(shape.collections)
        return {"path": f"{org}/wandb-registry-{registry_name(r)}/{collection_name(c)}:production"}

    tree_versions = min(10, shape.registries) * min(20, shape.collections) * min(10, shape.versions)

    def node(rng: random.Random) -> dict[str, Any]:
        return {"id": global_id("ArtifactVersion", rng.choice(seeded.version_ids))}

    found = [
        Scenario(
            "viewer",
            "baseline: `{ viewer { name } }` (authentication + GraphQL, one tiny object)",
            "query Viewer { viewer { name } }",
            lambda rng: {},
        ),
        Scenario(
            "tree",
            "(a) organization → registries(first: 10) → collections(first: 20) → "
            f"versions(first: 10) {{ version aliases tags createdBy {{ name }} }}: "
            f"{tree_versions:,} versions",
            """query Tree($org: String!) { organization(name: $org) {
  registries(first: 10) { nodes { name
    collections(first: 20) { nodes { name
      versions(first: 10) { nodes { version aliases tags createdBy { name } } } } } } } } }""",
            lambda rng: {"org": org},
        ),
        Scenario(
            "path",
            "(b) artifactVersion(path: `acme/wandb-registry-<r>/<c>:production`), random r, c",
            """query Path($path: String!) { artifactVersion(path: $path) {
  id version digest aliases createdBy { name } } }""",
            path,
        ),
        Scenario(
            "node",
            "(c) node(id:) of a random registry ArtifactVersion",
            """query Node($id: ID!) { node(id: $id) {
  id ... on ArtifactVersion { version digest aliases } } }""",
            node,
        ),
    ]
    return {s.name: s for s in found}


# --- statements per request, in process ------------------------------------------------------


@dataclass(slots=True)
class StatementLog:
    statements: list[str] = field(default_factory=list)

    def __call__(self, query: str) -> None:
        self.statements.append(query)


@dataclass(slots=True)
class StatementCount:
    statements: int  # the app's own statements
    pool_resets: int  # asyncpg's reset query when a connection goes back to the pool
    texts: list[str]
    # The app's statements in each counted request (after the warm-up one): all equal when the
    # count does not depend on the request's variables.
    per_request: list[int] = field(default_factory=list)


def _request(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"query": query, "variables": variables}


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/graphql-response+json"}


def failed(status_code: int, content: bytes) -> bool:
    """A response that is not 200, carries GraphQL `errors`, or a mutation payload's non-empty
    `errors` list (a refused mutation)."""
    return status_code != 200 or b'"errors":[{' in content or content.startswith(b'{"errors"')


async def count_statements(
    url: str, key: str, chosen: list[Scenario], *, repeats: int = 1
) -> dict[str, StatementCount]:
    """Runs each scenario's query through an in-process app whose pool logs statements: one
    warm-up request, then `repeats` counted ones, each with the next variables of the scenario
    (so that a write scenario's requests each write something new)."""
    log = StatementLog()
    pool = await create_pool(url, min_size=1, max_size=10, on_statement=log)
    try:
        async with pool.acquire() as conn:
            reset_query = conn.get_reset_query()
        app = create_app(Settings(), pool=pool)
        transport = httpx.ASGITransport(app=app)
        counts: dict[str, StatementCount] = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://cairn.bench") as client:
            for scenario in chosen:
                headers = _headers(scenario.key or key)
                per_request: list[int] = []
                # The first request may record the key's use (at most once a minute).
                for _ in range(1 + repeats):
                    body = _request(scenario.query, scenario.variables(random.Random(1)))
                    log.statements.clear()
                    response = await client.post("/graphql", json=body, headers=headers)
                    if failed(response.status_code, response.content):
                        raise RuntimeError(f"{scenario.name} failed: {response.text[:500]}")
                    per_request.append(sum(1 for s in log.statements if s != reset_query))
                resets = sum(1 for s in log.statements if s == reset_query)
                counts[scenario.name] = StatementCount(
                    statements=len(log.statements) - resets,
                    pool_resets=resets,
                    texts=[" ".join(s.split()) for s in log.statements if s != reset_query],
                    per_request=per_request[1:],
                )
        return counts
    finally:
        await pool.close()


async def explain_versions_page(conn: Connection, counts: StatementCount) -> list[str]:
    """EXPLAIN ANALYZE of the versions page statement scenario (a) runs, for the 200 collections
    it pages through (the first 20 of each of the first 10 registries)."""
    candidates = [s for s in counts.texts if "FROM artifact_versions v" in s and "LATERAL" in s]
    if not candidates:
        return ["(no versions page statement found in scenario (a))"]
    sql = candidates[0]
    placeholders = set(re.findall(r"\$(\d+)", sql))
    if placeholders != {"1", "2"}:
        return [f"(the versions page statement takes {sorted(placeholders)}; not explained)"]
    collection_ids = [
        row["id"]
        for row in await conn.fetch(
            """SELECT c.id FROM (SELECT r.id FROM registries r JOIN organizations o
                 ON o.id = r.organization_id WHERE o.name = 'acme'
                 ORDER BY lower(r.name) LIMIT 10) r
               CROSS JOIN LATERAL (SELECT col.id FROM collections col
                 WHERE col.registry_id = r.id ORDER BY col.created_at DESC, col.id DESC
                 LIMIT 20) c"""
        )
    ]
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", collection_ids, 11)
    return [f"-- {sql}", *(row[0] for row in rows)]


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, from /proc (None where it cannot be read)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def postgres_backends(conn: asyncpg.Connection, database: str) -> list[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'cairn'",
        database,
    )
    return [row["pid"] for row in rows]


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            found[pid] = seconds
    return found


class Server:
    """uvicorn serving `bench.app:make_app` on a free port, one process (like `cairn serve`)."""

    def __init__(self, database_url: str, pool_size: int, gc_mode: str, log_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "server.log"
        env = {
            **os.environ,
            "CAIRN_BENCH_DATABASE_URL": database_url,
            "CAIRN_BENCH_POOL_SIZE": str(pool_size),
            "CAIRN_BENCH_GC": gc_mode,
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.app:make_app",
            "--app-dir",
            str(ROOT),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server did not become ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- load -------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    scenario: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests_per_second: float
    server_cpu_ms_per_request: float | None
    postgres_cpu_ms_per_request: float | None
    client_cpu_ms_per_request: float
    response_bytes: int


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def drive(
    server: Server,
    scenario: Scenario,
    key: str,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    admin: asyncpg.Connection,
    database: str,
) -> LoadResult:
    """`concurrency` tasks, each with its own keep-alive connection, send requests back to back.
    After `warmup` seconds, a window of `duration` seconds is measured: the requests that finish
    in it (their latency, their count per second) and the CPU spent in it."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    response_bytes = 0
    async with httpx.AsyncClient(
        base_url=server.base_url,
        limits=limits,
        timeout=120.0,
        headers=_headers(scenario.key or key),
    ) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + duration
        marks: dict[str, dict[str, Any]] = {}
        # Each PostgreSQL backend of the server: its CPU seconds when the window began (0 for
        # one opened in it) and when last seen.
        backend_cpu: dict[int, tuple[float, float]] = {}

        async def measure() -> None:
            """CPU marks at both ends of the window. The server's PostgreSQL backends are
            sampled every 0.25 s in between, so that one the pool opens or closes in the window
            (asyncpg replaces a connection after 50,000 queries) counts too, all but its last
            0.25 s at most."""
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            marks["start"] = {
                "server": cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }
            first = True
            while True:
                last = time.perf_counter() >= stop_at
                for pid, seconds in cpu_of(await postgres_backends(admin, database)).items():
                    baseline = backend_cpu[pid][0] if pid in backend_cpu else 0.0
                    if first:
                        baseline = seconds
                    backend_cpu[pid] = (baseline, seconds)
                first = False
                if last:
                    break
                await asyncio.sleep(min(0.25, max(0.0, stop_at - time.perf_counter())))
            marks["stop"] = {
                "server": cpu_seconds(server.process.pid),
                "client": time.process_time(),
            }

        async def worker(seed: int) -> None:
            nonlocal errors, response_bytes
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                response = await client.post(
                    "/graphql", json=_request(scenario.query, scenario.variables(rng))
                )
                done = time.perf_counter()
                if not measure_from <= done < stop_at:
                    continue
                latencies.append(done - sent)
                response_bytes = len(response.content)
                if failed(response.status_code, response.content):
                    errors += 1

        await asyncio.gather(measure(), *(worker(i) for i in range(concurrency)))
    count = max(len(latencies), 1)
    latencies.sort()
    begin, end = marks["start"], marks["stop"]
    server_cpu = (
        None
        if begin["server"] is None or end["server"] is None
        else (end["server"] - begin["server"]) / count * 1000
    )
    postgres_cpu = (
        None
        if not backend_cpu
        else sum(latest - baseline for baseline, latest in backend_cpu.values()) / count * 1000
    )
    return LoadResult(
        scenario=scenario.name,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=duration,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p90_ms=round(percentile(latencies, 0.90) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        max_ms=round(latencies[-1] * 1000, 2) if latencies else float("nan"),
        requests_per_second=round(len(latencies) / duration, 1),
        server_cpu_ms_per_request=None if server_cpu is None else round(server_cpu, 2),
        postgres_cpu_ms_per_request=None if postgres_cpu is None else round(postgres_cpu, 2),
        client_cpu_ms_per_request=round((end["client"] - begin["client"]) / count * 1000, 2),
        response_bytes=response_bytes,
    )


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "asyncpg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def markdown(
    results: list[LoadResult], counts: dict[str, StatementCount], described: dict[str, Scenario]
) -> str:
    lines = [
        "| scenario | statements/request | concurrency | requests | p50 ms | p99 ms | req/s "
        "| server CPU ms/req | PostgreSQL CPU ms/req | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        count = counts[r.scenario]
        lines.append(
            f"| {r.scenario} | {count.statements} (+{count.pool_resets} pool resets) "
            f"| {r.concurrency} | {r.requests} | {r.p50_ms:g} | {r.p99_ms:g} "
            f"| {r.requests_per_second:g} | {_cell(r.server_cpu_ms_per_request)} "
            f"| {_cell(r.postgres_cpu_ms_per_request)} | {r.errors} |"
        )
    lines.append("")
    lines.extend(f"- **{s.name}**: {s.description}" for s in described.values())
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Seed a fresh database, start the Cairn server, and measure statements per "
        "request, latency and throughput over HTTP. The database is dropped at the end.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="a PostgreSQL server to create the benchmark database on "
        "(default: $DATABASE_URL, else %(default)s)",
    )
    shape = Shape()
    parser.add_argument("--registries", type=int, default=shape.registries)
    parser.add_argument("--collections", type=int, default=shape.collections, help="per registry")
    parser.add_argument("--versions", type=int, default=shape.versions, help="per collection")
    parser.add_argument(
        "--dataset-versions",
        type=int,
        default=shape.dataset_versions,
        help="length of the dataset chain the training runs used (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        default="1,8",
        help="comma-separated numbers of concurrent keep-alive clients (default: %(default)s)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per run (default: 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each run (default: 2)"
    )
    parser.add_argument(
        "--scenarios",
        default="viewer,tree,path,node",
        help="comma-separated scenarios (default: %(default)s)",
    )
    parser.add_argument(
        "--tree-duration",
        type=float,
        default=30.0,
        help="measured seconds per run of the slow `tree` scenario (default: 30)",
    )
    parser.add_argument(
        "--pool-size", type=int, default=10, help="the server's pool size (default: %(default)s)"
    )
    parser.add_argument(
        "--server-gc",
        choices=("default", "tuned"),
        default="tuned",
        help="`tuned` (as `cairn serve`): the server freezes its startup objects out of the "
        "garbage collector and raises the gen-0 threshold to 50,000; `default`: Python's "
        "defaults (default: %(default)s)",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write JSON (default: %(default)s)"
    )
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN output")
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database at the end"
    )
    args = parser.parse_args(argv)
    if min(args.registries, args.collections, args.versions) < 1:
        parser.error("--registries, --collections and --versions must be at least 1")
    return args


async def prepare(
    url: str, shape: Shape, args: argparse.Namespace
) -> tuple[Seeded, list[Scenario], dict[str, StatementCount], list[str]]:
    """Migrates and seeds the database, counts each scenario's statements, explains."""
    # The app's pool: its connections have the JSON codecs the resolver functions rely on.
    pool = await create_pool(url, max_size=1, statement_timeout_ms=600_000)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            print(
                f"seeding {shape.registries} registries x {shape.collections} collections x "
                f"{shape.versions} versions = {shape.registry_versions:,} registry versions ...",
                flush=True,
            )
            seeded = await seed(conn, shape)
            print(f"seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)
            described = scenarios(seeded)
            names = args.scenarios.split(",")
            unknown = set(names) - set(described)
            if unknown:
                raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
            chosen = [described[name] for name in names]
            counts = await count_statements(url, seeded.member_key, chosen)
            for name, count in counts.items():
                print(f"{name}: {count.statements} statements (+{count.pool_resets} pool resets)")
            explain: list[str] = []
            if not args.no_explain and "tree" in counts:
                explain = await explain_versions_page(conn, counts["tree"])
                print("\nEXPLAIN of the versions page in (a):\n" + "\n".join(explain), flush=True)
    finally:
        await pool.close()
    return seeded, chosen, counts, explain


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = Shape(args.registries, args.collections, args.versions, args.dataset_versions)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    database = f"cairn_bench_{uuid.uuid4().hex[:10]}"
    url = _with_database(args.database_url, database)
    admin = await asyncpg.connect(args.database_url)
    server: Server | None = None
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        postgres_version = await admin.fetchval("SHOW server_version")
        print(f"database {database} on PostgreSQL {postgres_version}", flush=True)
        seeded, chosen, counts, explain = await prepare(url, shape, args)
        log_dir = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
        server = Server(url, args.pool_size, args.server_gc, log_dir)
        await server.wait_ready()
        print(f"\nserver pid {server.process.pid} on {server.base_url}", flush=True)
        results: list[LoadResult] = []
        for scenario in chosen:
            for concurrency in concurrencies:
                result = await drive(
                    server,
                    scenario,
                    seeded.member_key,
                    concurrency=concurrency,
                    duration=args.tree_duration if scenario.name == "tree" else args.duration,
                    warmup=args.warmup,
                    admin=admin,
                    database=database,
                )
                print(
                    f"{scenario.name} c={concurrency}: {result.requests} requests, "
                    f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
                    f"{result.requests_per_second} req/s, errors {result.errors}",
                    flush=True,
                )
                results.append(result)
        if any(r.errors for r in results):
            print(f"\nsome requests failed; server log: {server.log_path}")
        table = markdown(results, counts, {s.name: s for s in chosen})
        report = {
            "machine": {**machine(), "postgresql": postgres_version},
            "dataset": {
                **asdict(shape),
                "registry_versions": shape.registry_versions,
                "seeding_seconds": round(seeded.seconds, 2),
                "rows": seeded.rows,
            },
            "settings": {
                "duration_seconds": args.duration,
                "tree_duration_seconds": args.tree_duration,
                "server_gc": args.server_gc,
                "warmup_seconds": args.warmup,
                "server": f"uvicorn, 1 process (uvloop, httptools), pool size {args.pool_size}",
                "client": "httpx.AsyncClient, one keep-alive connection per concurrent task, "
                "in the benchmark process on the same machine",
            },
            "statements": {
                name: {"statements": c.statements, "pool_resets": c.pool_resets, "sql": c.texts}
                for name, c in counts.items()
            },
            "scenarios": {s.name: s.description for s in chosen},
            "results": [asdict(r) for r in results],
            "explain_versions_page": explain,
            "markdown": table,
        }
        return report
    finally:
        if server is not None:
            server.stop()
        if args.keep_database:
            print(f"kept database {database}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def update_results(path: Path, updates: dict[str, Any]) -> None:
    """Writes `updates` into the JSON results file, keeping its other keys (the results of the
    other benchmarks: `bench.writes` writes `writes`, `bench.lineage` writes `lineage`)."""
    results: dict[str, Any] = {}
    if path.exists():
        try:
            results = json.loads(path.read_text())
        except ValueError:
            results = {}
    results.update(updates)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    report = asyncio.run(run(args))
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    m = report["machine"]
    print(
        f"\n## Cairn benchmark ({m['nproc']} cores, {m['cpu_model']}, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']})\n"
    )
    d = report["dataset"]
    print(
        f"Dataset: {d['registries']} registries x {d['collections']} collections x "
        f"{d['versions']} versions = {d['registry_versions']:,} registry versions "
        f"(+ as many logged versions, runs and lineage), seeded in {d['seeding_seconds']} s.\n"
    )
    print(report["markdown"])
    update_results(args.results, report)
    print(f"\nwrote {args.results} (total {report['total_seconds']} s)")


if __name__ == "__main__":
    main()
