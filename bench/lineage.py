"""Cairn's lineage benchmark (traverse lineage): `ArtifactVersion.lineage` over HTTP.

    python -m bench.lineage            # or: python bench/lineage.py
    python -m bench.lineage --help

It seeds a generated lineage graph of about 122,000 nodes (runs and artifact contents, see
bench/lineage_seed.py and bench/README.md) with bulk SQL, counts the statements one traversal
runs for several starts (in process, asyncpg's query logger: the count must not depend on the
start), prints EXPLAIN (ANALYZE, BUFFERS) of the walk statement for one start of each direction,
starts the real server (uvicorn, one process) and, for each scenario and concurrency, measures
depth-10 traversals from random starts for a fixed time. A sequential sample of starts per
scenario records what the traversals return (nodes, edges, `truncated`). Results go into the
`lineage` key of bench/results.json; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/lineage.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench.lineage_seed import (  # noqa: E402
    DATASET,
    MODEL,
    RAW,
    REPORT,
    GraphShape,
    SeededGraph,
    seed_graph,
)
from bench.run import (  # noqa: E402
    DEFAULT_SERVER,
    RESULTS,
    LoadResult,
    Scenario,
    Server,
    _headers,
    _request,
    _with_database,
    count_statements,
    drive,
    failed,
    machine,
    markdown,
    percentile,
    update_results,
)
from db import lineage  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.pool import create_pool  # noqa: E402
from schema.nodes import global_id  # noqa: E402

QUERY = """query Lineage($id: ID!, $direction: LineageDirection!, $depth: Int!, $nodes: Int!) {
  node(id: $id) { ... on ArtifactVersion {
    lineage(direction: $direction, maxDepth: $depth, maxNodes: $nodes) {
      truncated hiddenNodeCount
      nodes { id depth node { __typename
        ... on ArtifactVersion { path type } ... on Run { name state } } }
      edges { from to kind } } } } }"""

# The indexes each step of the walk should go through.
WALK_INDEXES = (
    "run_inputs_content_idx",  # downstream: content → the runs that used it
    "artifact_contents_run_idx",  # downstream: run → the contents it logged
    "artifact_contents_pkey",  # upstream: content → the run that logged it
    "run_inputs_run_order_idx",  # upstream: run → the contents it used
    "run_inputs_pkey",  # upstream, as well: (run_id, content_id)
)


def indexes_used(plan: list[str]) -> list[str]:
    """The walk's indexes that the plan scanned (not those of branches never executed)."""
    scanned = {
        name
        for line in plan
        for name in WALK_INDEXES
        if f"using {name} " in line and "(never executed)" not in line
    }
    return [name for name in WALK_INDEXES if name in scanned]


def lineage_scenarios(
    seeded: SeededGraph, depth: int, max_nodes: int, big_nodes: int
) -> dict[str, Scenario]:
    versions = seeded.versions

    def start(kind: str, direction: str, nodes: int) -> Any:
        ids = versions[kind]

        def variables(rng: random.Random) -> dict[str, Any]:
            return {
                "id": global_id("ArtifactVersion", rng.choice(ids)),
                "direction": direction,
                "depth": depth,
                "nodes": nodes,
            }

        return variables

    found = [
        Scenario(
            "up-model",
            f"UPSTREAM, maxDepth {depth}, maxNodes {max_nodes}, from a random model "
            f"(of {len(versions[MODEL]):,})",
            QUERY,
            start(MODEL, "UPSTREAM", max_nodes),
        ),
        Scenario(
            "up-report",
            f"UPSTREAM, maxDepth {depth}, maxNodes {max_nodes}, from a random evaluation report "
            f"(of {len(versions[REPORT]):,})",
            QUERY,
            start(REPORT, "UPSTREAM", max_nodes),
        ),
        Scenario(
            "down-dataset",
            f"DOWNSTREAM, maxDepth {depth}, maxNodes {max_nodes}, from a random processed "
            f"dataset (of {len(versions[DATASET]):,})",
            QUERY,
            start(DATASET, "DOWNSTREAM", max_nodes),
        ),
        Scenario(
            "down-raw",
            f"DOWNSTREAM, maxDepth {depth}, maxNodes {max_nodes}, from a random raw dataset "
            f"(of {len(versions[RAW]):,})",
            QUERY,
            start(RAW, "DOWNSTREAM", max_nodes),
        ),
        Scenario(
            f"down-raw-{big_nodes}",
            f"DOWNSTREAM, maxDepth {depth}, maxNodes {big_nodes}, from a random raw dataset",
            QUERY,
            start(RAW, "DOWNSTREAM", big_nodes),
        ),
    ]
    return {s.name: s for s in found}


async def sample(
    base_url: str, key: str, scenario: Scenario, count: int, seed: int = 12_345
) -> dict[str, Any]:
    """`count` traversals from random starts, one at a time: what they return."""
    rng = random.Random(seed)
    nodes: list[int] = []
    edges: list[int] = []
    truncated = 0
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0, headers=_headers(key)) as c:
        for _ in range(count):
            sent = time.perf_counter()
            response = await c.post(
                "/graphql", json=_request(scenario.query, scenario.variables(rng))
            )
            latencies.append(time.perf_counter() - sent)
            if failed(response.status_code, response.content):
                raise RuntimeError(f"{scenario.name} failed: {response.text[:500]}")
            graph = response.json()["data"]["node"]["lineage"]
            nodes.append(len(graph["nodes"]))
            edges.append(len(graph["edges"]))
            truncated += bool(graph["truncated"])
    latencies.sort()
    return {
        "starts": count,
        "nodes_min": min(nodes),
        "nodes_median": statistics.median(nodes),
        "nodes_mean": round(statistics.fmean(nodes), 1),
        "nodes_max": max(nodes),
        "edges_median": statistics.median(edges),
        "edges_max": max(edges),
        "truncated_fraction": round(truncated / count, 3),
        "sequential_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "sequential_max_ms": round(latencies[-1] * 1000, 2),
    }


async def explain_walk(
    conn: asyncpg.Connection, start_id: int, *, downstream: bool, depth: int, max_nodes: int
) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the walk from one content, as the server's connections run
    it: a prepared statement already executed five times (asyncpg caches its statements), so
    PostgreSQL has chosen between its custom and generic plans."""
    await conn.execute(f"PREPARE bench_walk AS {lineage.WALK}")
    try:
        directions = "true, false" if downstream else "false, true"
        args = f"{directions}, {depth}, {max_nodes}"
        for _ in range(5):
            await conn.execute(f"EXECUTE bench_walk('A', {start_id}, {args})")
        rows = await conn.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_walk('A', {start_id}, {args})"
        )
        plans = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name = 'bench_walk'"
        )
    finally:
        await conn.execute("DEALLOCATE bench_walk")
    lines = [row[0] for row in rows]
    return {
        "start_content_id": start_id,
        "direction": "DOWNSTREAM" if downstream else "UPSTREAM",
        "max_depth": depth,
        "max_nodes": max_nodes,
        "plan_chosen": "generic" if plans is not None and plans["generic_plans"] else "custom",
        "indexes_used": indexes_used(lines),
        "plan": lines,
    }


async def raw_walk_times(conn: asyncpg.Connection, depth: int, max_nodes: int) -> dict[str, Any]:
    """The walk statement alone, DOWNSTREAM from every raw dataset in turn, in process: how its
    time spreads over starts of very different reach."""
    starts = [
        row["id"]
        for row in await conn.fetch(
            "SELECT c.id FROM artifact_contents c JOIN collections s ON s.id = c.sequence_id "
            "WHERE s.name LIKE 'raw-%' ORDER BY c.id"
        )
    ]
    times: list[float] = []
    for start_id in starts:
        started = time.perf_counter()
        await lineage.walk(
            conn,
            "A",
            start_id,
            downstream=True,
            upstream=False,
            max_depth=depth,
            max_nodes=max_nodes,
        )
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "starts": len(times),
        "min_ms": round(times[0], 2),
        "p50_ms": round(percentile(times, 0.5), 2),
        "p90_ms": round(percentile(times, 0.9), 2),
        "max_ms": round(times[-1], 2),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lineage",
        description="Seed a generated lineage graph, start the Cairn server, and measure "
        "lineage traversals over HTTP.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="a PostgreSQL server to create the benchmark database on "
        "(default: $DATABASE_URL, else %(default)s)",
    )
    shape = GraphShape()
    parser.add_argument("--prep-runs", type=int, default=shape.prep_runs)
    parser.add_argument("--train-runs", type=int, default=shape.train_runs)
    parser.add_argument("--eval-runs", type=int, default=shape.eval_runs)
    parser.add_argument("--depth", type=int, default=10, help="maxDepth (default: %(default)s)")
    parser.add_argument(
        "--max-nodes", type=int, default=200, help="maxNodes (default: %(default)s, the API's)"
    )
    parser.add_argument(
        "--big-max-nodes",
        type=int,
        default=2000,
        help="maxNodes of the down-raw-N scenario (default: %(default)s, the API's maximum)",
    )
    parser.add_argument("--concurrency", default="1,8", help="default: %(default)s")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before")
    parser.add_argument(
        "--samples", type=int, default=30, help="sequential starts per scenario (default: 30)"
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated (default: up-model,up-report,down-dataset,down-raw,down-raw-N)",
    )
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    if min(args.prep_runs, args.train_runs, args.eval_runs) < 1001:
        parser.error("--prep-runs, --train-runs and --eval-runs must be over 1,000")
    return args


def table(
    results: list[LoadResult], shapes: dict[str, dict[str, Any]], counts: Any, chosen: list[Any]
) -> str:
    base = markdown(results, counts, {s.name: s for s in chosen})
    lines = [
        "",
        "| scenario | starts | nodes returned (min / median / max) | edges (median / max) "
        "| truncated | sequential p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in shapes.items():
        lines.append(
            f"| {name} | {s['starts']} | {s['nodes_min']} / {s['nodes_median']:g} / "
            f"{s['nodes_max']} | {s['edges_median']:g} / {s['edges_max']} "
            f"| {s['truncated_fraction']:.0%} | {s['sequential_p50_ms']:g} |"
        )
    return base + "\n" + "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = GraphShape(
        prep_runs=args.prep_runs, train_runs=args.train_runs, eval_runs=args.eval_runs
    )
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    database = f"cairn_bench_{uuid.uuid4().hex[:10]}"
    url = _with_database(args.database_url, database)
    admin = await asyncpg.connect(args.database_url)
    server: Server | None = None
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        postgres_version = await admin.fetchval("SHOW server_version")
        print(f"database {database} on PostgreSQL {postgres_version}", flush=True)
        pool = await create_pool(url, max_size=1, statement_timeout_ms=600_000)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
                seeded = await seed_graph(conn, shape)
                # The model logged halfway through the half year.
                middle_model = await conn.fetchval(
                    "SELECT content_id FROM artifact_versions WHERE id = $1",
                    seeded.versions[MODEL][len(seeded.versions[MODEL]) // 2],
                )
        finally:
            await pool.close()
        g = seeded.graph
        print(
            f"seeded {g.nodes:,} nodes ({len(g.run_names):,} runs, {len(g.content_runs):,} "
            f"contents) and {len(g.input_runs):,} run inputs in {seeded.seconds:.1f} s: "
            f"{seeded.rows}",
            flush=True,
        )
        described = lineage_scenarios(seeded, args.depth, args.max_nodes, args.big_max_nodes)
        names = args.scenarios.split(",") if args.scenarios else list(described)
        unknown = set(names) - set(described)
        if unknown:
            raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
        chosen = [described[name] for name in names]
        counts = await count_statements(url, seeded.member_key, chosen, repeats=5)
        for name, count in counts.items():
            print(f"{name}: {count.per_request} statements (+{count.pool_resets} pool resets)")

        explains: list[dict[str, Any]] = []
        direct = await asyncpg.connect(url)
        try:
            raw_walks = await raw_walk_times(direct, args.depth, args.max_nodes)
            print(f"the walk alone, DOWNSTREAM from each raw dataset: {raw_walks}", flush=True)
            if not args.no_explain:
                # The model logged halfway through, and the most used raw dataset.
                popular = await direct.fetchval(
                    "SELECT ri.content_id FROM run_inputs ri JOIN artifact_contents c "
                    "ON c.id = ri.content_id JOIN collections s ON s.id = c.sequence_id "
                    "WHERE s.name LIKE 'raw-%' GROUP BY ri.content_id "
                    "ORDER BY count(*) DESC LIMIT 1"
                )
                for start_id, downstream in ((middle_model, False), (popular, True)):
                    explained = await explain_walk(
                        direct,
                        start_id,
                        downstream=downstream,
                        depth=args.depth,
                        max_nodes=args.max_nodes,
                    )
                    explains.append(explained)
                    print(
                        f"\nEXPLAIN of the walk, {explained['direction']} from content "
                        f"{start_id} ({explained['plan_chosen']} plan; indexes: "
                        f"{', '.join(explained['indexes_used'])}):\n"
                        + "\n".join(explained["plan"]),
                        flush=True,
                    )
        finally:
            await direct.close()

        log_dir = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
        server = Server(url, args.pool_size, "tuned", log_dir)
        await server.wait_ready()
        print(f"\nserver pid {server.process.pid} on {server.base_url}", flush=True)
        shapes: dict[str, dict[str, Any]] = {}
        results: list[LoadResult] = []
        for scenario in chosen:
            shapes[scenario.name] = await sample(
                server.base_url, seeded.member_key, scenario, args.samples
            )
            print(f"{scenario.name}: {shapes[scenario.name]}", flush=True)
            for concurrency in concurrencies:
                result = await drive(
                    server,
                    scenario,
                    seeded.member_key,
                    concurrency=concurrency,
                    duration=args.duration,
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
        markdown_table = table(results, shapes, counts, chosen) + (
            f"\n\nThe walk statement alone (in process), DOWNSTREAM from each of the "
            f"{raw_walks['starts']} raw datasets: min {raw_walks['min_ms']:g} ms, p50 "
            f"{raw_walks['p50_ms']:g} ms, p90 {raw_walks['p90_ms']:g} ms, max "
            f"{raw_walks['max_ms']:g} ms."
        )
        return {
            "machine": {**machine(), "postgresql": postgres_version},
            "dataset": {
                **asdict(shape),
                "nodes": g.nodes,
                "runs": len(g.run_names),
                "contents": len(g.content_runs),
                "run_inputs": len(g.input_runs),
                "contents_by_kind": {kind: len(ids) for kind, ids in seeded.versions.items()},
                "seeding_seconds": round(seeded.seconds, 2),
                "rows": seeded.rows,
            },
            "settings": {
                "max_depth": args.depth,
                "max_nodes": args.max_nodes,
                "big_max_nodes": args.big_max_nodes,
                "duration_seconds": args.duration,
                "warmup_seconds": args.warmup,
                "server": f"uvicorn, 1 process (uvloop, httptools), pool size {args.pool_size}",
                "client": "httpx.AsyncClient, one keep-alive connection per concurrent task, "
                "in the benchmark process on the same machine",
                "query": QUERY,
            },
            "statements": {
                name: {
                    "statements": c.statements,
                    "per_request": c.per_request,
                    "pool_resets": c.pool_resets,
                    "sql": c.texts,
                }
                for name, c in counts.items()
            },
            "scenarios": {s.name: s.description for s in chosen},
            "returned": shapes,
            "walk_statement_from_each_raw_dataset": raw_walks,
            "results": [asdict(r) for r in results],
            "explain_walk": explains,
            "markdown": markdown_table,
        }
    finally:
        if server is not None:
            server.stop()
        if args.keep_database:
            print(f"kept database {database}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    report = asyncio.run(run(args))
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    m = report["machine"]
    d = report["dataset"]
    print(
        f"\n## Cairn lineage benchmark ({m['nproc']} cores, {m['cpu_model']}, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']})\n"
    )
    print(
        f"Graph: {d['nodes']:,} nodes ({d['runs']:,} runs, {d['contents']:,} artifact contents: "
        f"{d['contents_by_kind']}), {d['run_inputs']:,} run inputs.\n"
    )
    print(report["markdown"])
    update_results(args.results, {"lineage": report})
    print(f"\nwrote `lineage` into {args.results} (total {report['total_seconds']} s)")


if __name__ == "__main__":
    main()
