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
import random
import re
import sys
from contextlib import AsyncExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import baseline, options, profile  # noqa: E402
from bench.database import BenchDatabase, benchmark_database, migrated  # noqa: E402
from bench.load import LoadResult, drive, progress, warn_of_failures  # noqa: E402
from bench.report import load_table, machine, run_benchmark, server_and_client  # noqa: E402
from bench.scenario import Scenario, choose, custom_scenario, graphql_request  # noqa: E402
from bench.seed import Seeded, Shape, collection_name, registry_name, seed  # noqa: E402
from bench.server import Server, serving  # noqa: E402
from bench.statements import StatementCount, count_statements, print_counts  # noqa: E402
from db.pool import Connection  # noqa: E402
from schema.nodes import global_id  # noqa: E402

PATH_LITERAL = """query Path { artifactVersion(path: PATH) {
  id version digest aliases createdBy { name } } }"""


def scenarios(seeded: Seeded) -> dict[str, Scenario]:
    shape = seeded.shape
    org = seeded.organization

    def path(rng: random.Random) -> dict[str, Any]:
        r = rng.randrange(shape.registries)
        c = rng.randrange(shape.collections)
        return {"path": f"{org}/wandb-registry-{registry_name(r)}/{collection_name(c)}:production"}

    def membership(rng: random.Random) -> dict[str, Any]:
        r = rng.randrange(shape.registries)
        c = rng.randrange(shape.collections)
        return {
            "entity": org,
            "project": f"wandb-registry-{registry_name(r)}",
            "name": f"{collection_name(c)}:production",
        }

    async def path_literal(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        document = PATH_LITERAL.replace("PATH", json.dumps(path(rng)["path"]))
        return await client.post("/graphql", json=graphql_request(document, {}))

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
            "small-tree",
            "(a') a small nested read: organization → registries(first: 3) → "
            "collections(first: 5) → versions(first: 3) { version aliases tags createdBy }",
            """query SmallTree($org: String!) { organization(name: $org) {
  registries(first: 3) { nodes { name
    collections(first: 5) { nodes { name
      versions(first: 3) { nodes { version aliases tags createdBy { name } } } } } } } } }""",
            lambda rng: {"org": org},
        ),
        Scenario(
            "collections-100",
            "(e) a page of 100 collections of a random registry, with their tags and sizes",
            """query Collections($org: String!, $name: String!) {
  registry(organization: $org, name: $name) { collections(first: 100) {
    totalCount nodes { id name type description tags } } } }""",
            lambda rng: {"org": org, "name": registry_name(rng.randrange(shape.registries))},
        ),
        Scenario(
            "path",
            "(b) artifactVersion(path: `acme/wandb-registry-<r>/<c>:production`), random r, c",
            """query Path($path: String!) { artifactVersion(path: $path) {
  id version digest aliases createdBy { name } } }""",
            path,
        ),
        custom_scenario(
            "path-literal",
            "(b') the lookup of (b) with the path written into the document, as deployment "
            "scripts send it: a document never seen before on each request",
            path_literal,
        ),
        Scenario(
            "wandb-path",
            "(d) the lookup of (b) through the W&B dialect, in the shape `wandb.Api().artifact()` "
            "asks for it: `project(name:, entityName:) { artifactCollectionMembership(name:) }`",
            """query Membership($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) { artifactCollectionMembership(name: $name) {
    id versionIndex aliases { alias }
    artifact { id digest description metadata createdAt
      artifactSequence { name project { name entity { name } } } } } } }""",
            membership,
            endpoint="/wandb/graphql",
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


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options.parser(
        "python -m bench.run",
        "Seed a fresh database, start the Cairn server, and measure statements per request, "
        "latency and throughput over HTTP. The database is dropped at the end.",
    )
    options.add_shape(parser)
    options.add_load(parser)
    parser.add_argument(
        "--scenarios",
        default="viewer,small-tree,tree,collections-100,path,path-literal,wandb-path,node",
        help="comma-separated scenarios (default: %(default)s)",
    )
    parser.add_argument(
        "--tree-duration",
        type=float,
        default=30.0,
        help="measured seconds per run of the slow `tree` scenario (default: 30)",
    )
    options.add_server(parser)
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also serve the code at git revision REV (a worktree) on the same database, and "
        "measure each scenario on it just before this code: rows `<scenario> (before)`",
    )
    parser.add_argument(
        "--workers",
        type=options.concurrencies,
        default=[1],
        metavar="N,...",
        help="comma-separated numbers of server processes: each number its own server, as "
        "`cairn serve --workers N` runs it (each with its own pool), measured in turn; rows of "
        "more than one are `<scenario> (N processes)` (default: 1)",
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
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="after each scenario's measured windows, drive it once more at concurrency 1 with "
        "py-spy sampling the server (and the baseline's), and write where its CPU went to "
        "DIR/<scenario>.txt",
    )
    options.add_output(parser)
    args = parser.parse_args(argv)
    options.check_shape(parser, args)
    return args


async def prepare(
    url: str, shape: Shape, args: argparse.Namespace
) -> tuple[Seeded, list[Scenario], dict[str, StatementCount], list[str]]:
    """Migrates and seeds the database, counts each scenario's statements, explains."""
    async with migrated(url) as conn:
        print(
            f"seeding {shape.registries} registries x {shape.collections} collections x "
            f"{shape.versions} versions = {shape.registry_versions:,} registry versions ...",
            flush=True,
        )
        seeded = await seed(conn, shape)
        print(f"seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)
        chosen = choose(scenarios(seeded), args.scenarios)
        counts = await count_statements(url, seeded.member_key, chosen)
        print_counts(counts, per_request=False)
        explain: list[str] = []
        if not args.no_explain and "tree" in counts:
            explain = await explain_versions_page(conn, counts["tree"])
            print("\nEXPLAIN of the versions page in (a):\n" + "\n".join(explain), flush=True)
    return seeded, chosen, counts, explain


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = options.shape(args)
    before_root = None if args.baseline is None else baseline.checkout(args.baseline)
    async with benchmark_database(args.database_url, keep=args.keep_database) as database:
        seeded, chosen, counts, explain = await prepare(database.url, shape, args)
        results: list[LoadResult] = []
        async with AsyncExitStack() as servers:
            # (server, its database, label): the baseline's first, if any.
            runs: list[tuple[Server, BenchDatabase, str]] = []
            if before_root is not None:
                copy = await servers.enter_async_context(
                    baseline.database_copy(database, before_root)
                )
                before_counts = baseline.count_baseline_statements(
                    before_root, copy.url, seeded.member_key, chosen
                )
                counts |= {f"{name} (before)": count for name, count in before_counts.items()}
                print_counts(before_counts, per_request=False)
                before_server = await servers.enter_async_context(
                    serving(copy.url, args.pool_size, args.server_gc, before_root)
                )
                runs.append((before_server, copy, " (before)"))
            for workers in args.workers:
                server = await servers.enter_async_context(
                    serving(database.url, args.pool_size, args.server_gc, workers=workers)
                )
                runs.append((server, database, "" if workers == 1 else f" ({workers} processes)"))
            for scenario in chosen:
                duration = args.tree_duration if scenario.name == "tree" else args.duration
                for concurrency in args.concurrency:
                    # The baseline's window just before this code's, so that both see the
                    # machine in the same state.
                    for served, on, label in runs:
                        result = await drive(
                            served,
                            on,
                            scenario,
                            seeded.member_key,
                            concurrency=concurrency,
                            duration=duration,
                            warmup=args.warmup,
                        )
                        result = replace(result, scenario=scenario.name + label)
                        print(progress(result), flush=True)
                        results.append(result)
                if args.profile is not None:
                    for served, on, label in runs:
                        if "processes" in label:
                            continue  # py-spy follows one process
                        await profiled(served, on, scenario, seeded.member_key, label, args)
            warn_of_failures(results, server)
            return {
                "machine": machine(database.postgres_version),
                "dataset": seeded.dataset(),
                "settings": {
                    "baseline": args.baseline,
                    "duration_seconds": args.duration,
                    "tree_duration_seconds": args.tree_duration,
                    "server_gc": args.server_gc,
                    "workers": args.workers,
                    "warmup_seconds": args.warmup,
                    **server_and_client(args.pool_size),
                },
                "statements": {name: c.as_json(per_request=False) for name, c in counts.items()},
                "scenarios": {s.name: s.description for s in chosen},
                "results": [asdict(r) for r in results],
                "explain_versions_page": explain,
                "markdown": load_table(results, counts, chosen),
            }


async def profiled(
    server: Server,
    database: BenchDatabase,
    scenario: Scenario,
    key: str,
    label: str,
    args: argparse.Namespace,
) -> None:
    """One more window of `scenario` at concurrency 1 with py-spy sampling the server; the
    summary goes to `args.profile/<scenario><label>.txt`."""
    args.profile.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9-]+", "-", (scenario.name + label).lower()).strip("-")
    seconds = args.tree_duration if scenario.name == "tree" else args.duration
    sampling = asyncio.create_task(profile.record(server.process.pid, seconds))
    result = await drive(
        server, database, scenario, key, concurrency=1, duration=seconds + 1.0, warmup=0.0
    )
    stacks = await sampling
    heading = (
        f"# Profile: {scenario.name}{label}\n\n{scenario.description}\n\n"
        f"Concurrency 1 for {seconds:g} s with py-spy sampling the server at 250 Hz "
        f"({result.requests} requests in the window, slowed by the sampling).\n\n"
    )
    (args.profile / f"{name}.txt").write_text(heading + profile.summarize(stacks))
    print(f"profile of {scenario.name}{label}: {args.profile / f'{name}.txt'}", flush=True)


def dataset_line(d: dict[str, Any]) -> str:
    return (
        f"Dataset: {d['registries']} registries x {d['collections']} collections x "
        f"{d['versions']} versions = {d['registry_versions']:,} registry versions "
        f"(+ as many logged versions, runs and lineage), seeded in {d['seeding_seconds']} s."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(run, parse_args(argv), title="Cairn benchmark", dataset=dataset_line)


if __name__ == "__main__":
    main()
