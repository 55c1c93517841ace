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
import random
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/lineage.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import options  # noqa: E402
from bench.database import benchmark_database, migrated  # noqa: E402
from bench.lineage_seed import (  # noqa: E402
    DATASET,
    MODEL,
    RAW,
    REPORT,
    GraphShape,
    SeededGraph,
    seed_graph,
)
from bench.load import LoadResult, drive_each, percentile, warn_of_failures  # noqa: E402
from bench.report import load_table, machine, run_benchmark, server_and_client  # noqa: E402
from bench.scenario import Scenario, choose, failed, graphql_request, headers  # noqa: E402
from bench.server import serving  # noqa: E402
from bench.statements import StatementCount, count_statements, print_counts  # noqa: E402
from db import lineage  # noqa: E402
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
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0, headers=headers(key)) as c:
        for _ in range(count):
            sent = time.perf_counter()
            response = await c.post(
                scenario.endpoint, json=graphql_request(scenario.query, scenario.variables(rng))
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
    parser = options.parser(
        "python -m bench.lineage",
        "Seed a generated lineage graph, start the Cairn server, and measure lineage traversals "
        "over HTTP.",
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
    options.add_load(parser)
    parser.add_argument(
        "--samples", type=int, default=30, help="sequential starts per scenario (default: 30)"
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        help="comma-separated (default: up-model,up-report,down-dataset,down-raw,down-raw-N)",
    )
    options.add_server(parser)
    options.add_output(parser)
    args = parser.parse_args(argv)
    if min(args.prep_runs, args.train_runs, args.eval_runs) < 1001:
        parser.error("--prep-runs, --train-runs and --eval-runs must be over 1,000")
    return args


def table(
    results: list[LoadResult],
    shapes: dict[str, dict[str, Any]],
    counts: dict[str, StatementCount],
    chosen: list[Scenario],
) -> str:
    """The load table, then what the sequential walks returned."""
    lines = [
        load_table(results, counts, chosen),
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
    return "\n".join(lines)


async def explain_walks(
    conn: asyncpg.Connection, middle_model: int, depth: int, max_nodes: int
) -> list[dict[str, Any]]:
    """EXPLAIN of the walk UPSTREAM from the model logged halfway through, and DOWNSTREAM from
    the most used raw dataset, each printed."""
    popular = await conn.fetchval(
        "SELECT ri.content_id FROM run_inputs ri JOIN artifact_contents c "
        "ON c.id = ri.content_id JOIN collections s ON s.id = c.sequence_id "
        "WHERE s.name LIKE 'raw-%' GROUP BY ri.content_id "
        "ORDER BY count(*) DESC LIMIT 1"
    )
    explains: list[dict[str, Any]] = []
    for start_id, downstream in ((middle_model, False), (popular, True)):
        explained = await explain_walk(
            conn, start_id, downstream=downstream, depth=depth, max_nodes=max_nodes
        )
        explains.append(explained)
        print(
            f"\nEXPLAIN of the walk, {explained['direction']} from content "
            f"{start_id} ({explained['plan_chosen']} plan; indexes: "
            f"{', '.join(explained['indexes_used'])}):\n" + "\n".join(explained["plan"]),
            flush=True,
        )
    return explains


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = GraphShape(
        prep_runs=args.prep_runs, train_runs=args.train_runs, eval_runs=args.eval_runs
    )
    async with benchmark_database(args.database_url, keep=args.keep_database) as database:
        async with migrated(database.url) as conn:
            seeded = await seed_graph(conn, shape)
            # The model logged halfway through the half year.
            middle_model = await conn.fetchval(
                "SELECT content_id FROM artifact_versions WHERE id = $1",
                seeded.versions[MODEL][len(seeded.versions[MODEL]) // 2],
            )
        g = seeded.graph
        print(
            f"seeded {g.nodes:,} nodes ({len(g.run_names):,} runs, {len(g.content_runs):,} "
            f"contents) and {len(g.input_runs):,} run inputs in {seeded.seconds:.1f} s: "
            f"{seeded.rows}",
            flush=True,
        )
        described = lineage_scenarios(seeded, args.depth, args.max_nodes, args.big_max_nodes)
        chosen = choose(described, args.scenarios)
        counts = await count_statements(database.url, seeded.member_key, chosen, repeats=5)
        print_counts(counts)

        explains: list[dict[str, Any]] = []
        direct = await asyncpg.connect(database.url)
        try:
            raw_walks = await raw_walk_times(direct, args.depth, args.max_nodes)
            print(f"the walk alone, DOWNSTREAM from each raw dataset: {raw_walks}", flush=True)
            if not args.no_explain:
                explains = await explain_walks(direct, middle_model, args.depth, args.max_nodes)
        finally:
            await direct.close()

        shapes: dict[str, dict[str, Any]] = {}
        results: list[LoadResult] = []
        async with serving(database.url, args.pool_size) as server:
            for scenario in chosen:
                shapes[scenario.name] = await sample(
                    server.base_url, seeded.member_key, scenario, args.samples
                )
                print(f"{scenario.name}: {shapes[scenario.name]}", flush=True)
                results += await drive_each(
                    server,
                    database,
                    scenario,
                    seeded.member_key,
                    args.concurrency,
                    duration=args.duration,
                    warmup=args.warmup,
                )
            warn_of_failures(results, server)
            markdown_table = table(results, shapes, counts, chosen) + (
                f"\n\nThe walk statement alone (in process), DOWNSTREAM from each of the "
                f"{raw_walks['starts']} raw datasets: min {raw_walks['min_ms']:g} ms, p50 "
                f"{raw_walks['p50_ms']:g} ms, p90 {raw_walks['p90_ms']:g} ms, max "
                f"{raw_walks['max_ms']:g} ms."
            )
            return {
                "machine": machine(database.postgres_version),
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
                    **server_and_client(args.pool_size),
                    "query": QUERY,
                },
                "statements": {name: c.as_json() for name, c in counts.items()},
                "scenarios": {s.name: s.description for s in chosen},
                "returned": shapes,
                "walk_statement_from_each_raw_dataset": raw_walks,
                "results": [asdict(r) for r in results],
                "explain_walk": explains,
                "markdown": markdown_table,
            }


def dataset_line(d: dict[str, Any]) -> str:
    return (
        f"Graph: {d['nodes']:,} nodes ({d['runs']:,} runs, {d['contents']:,} artifact contents: "
        f"{d['contents_by_kind']}), {d['run_inputs']:,} run inputs."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        run, parse_args(argv), title="Cairn lineage benchmark", dataset=dataset_line, key="lineage"
    )


if __name__ == "__main__":
    main()
