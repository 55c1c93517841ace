"""Cairn's search benchmark: filtered, searched and ordered lists over a million registry versions.

    python -m bench.search            # or: python bench/search.py
    python -m bench.search --help

It seeds 1,000,000 registry versions in 10,000 collections (bench/search_seed.py), counts the
statements each scenario's request runs (in process), keeps `EXPLAIN (ANALYZE, BUFFERS)` of each
scenario's page statement as the server runs it (the member's visibility included), starts the
real server (uvicorn, one process) and measures each scenario over HTTP for a fixed time as the
benchmark's member, who may not see one of the ten registries. Deep pages start from cursors
10,000 and 100,000 matches down the same search as their first page. Results go into the
`search` key of bench/results.json; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/search.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import options  # noqa: E402
from bench.database import benchmark_database, migrated  # noqa: E402
from bench.load import LoadResult, drive_each, warn_of_failures  # noqa: E402
from bench.report import load_table, machine, run_benchmark, server_and_client  # noqa: E402
from bench.scenario import Scenario, choose  # noqa: E402
from bench.search_seed import FRAMEWORKS, SearchShape, seed_search  # noqa: E402
from bench.server import serving  # noqa: E402
from bench.statements import count_statements, print_counts  # noqa: E402
from db import json_values  # noqa: E402
from db.collections import REGISTRY_COLLECTIONS  # noqa: E402
from db.pagination import ListSpec, PageRequest, encode_cursor, page_statement  # noqa: E402
from db.search import COLLECTIONS, VERSIONS, Subject  # noqa: E402
from db.versions import REGISTRY_VERSIONS  # noqa: E402
from resolvers.search import registries_scope, search  # noqa: E402

NODES = "nodes { id version createdAt aliases tags metadata collection { name } }"
VERSIONS_QUERY = f"""query Search($org: String, $filter: ArtifactVersionFilter, $query: String,
  $order: ArtifactVersionOrder, $after: String) {{
  artifactVersions(organization: $org, filter: $filter, query: $query, orderBy: $order,
    first: 20, after: $after) {{ pageInfo {{ hasNextPage endCursor }} {NODES} }} }}"""
COUNTED_QUERY = f"""query SearchCounted($org: String, $filter: ArtifactVersionFilter,
  $order: ArtifactVersionOrder) {{
  artifactVersions(organization: $org, filter: $filter, orderBy: $order, first: 20) {{
    totalCount pageInfo {{ hasNextPage endCursor }} {NODES} }} }}"""
COLLECTIONS_QUERY = """query Collections($org: String, $query: String) {
  collections(organization: $org, query: $query, first: 20) {
    pageInfo { hasNextPage endCursor } nodes { id name type description tags } } }"""

NEWEST = {"field": "CREATED_AT", "direction": "DESC"}
# The deep-page search: tagged gpu (30% of versions) with eval.auc above 0.7 (about 16% match).
DEEP_FILTER = {"tags": {"any": ["gpu"]}, "metadata": [{"path": "eval.auc", "gt": 0.7}]}
DEPTHS = (10_000, 100_000)
TEXTS = ("churn", "fraud detector", "speech tokenizer", "credit", "vision segmenter", "warmup")


def _typical(rng: random.Random) -> dict[str, Any]:
    return {
        "filter": {
            "tags": {"any": [rng.choice(["nlp", "gpu", "approved", "audited"])]},
            "metadata": [{"path": "eval.auc", "gt": rng.choice([0.8, 0.85, 0.9, 0.95])}],
        },
        "order": NEWEST,
    }


def scenarios(
    organization: str, cursors: Mapping[int, tuple[str, tuple[Any, ...]]]
) -> dict[str, Scenario]:
    def with_org(make: Any) -> Any:
        return lambda rng: {"org": organization, **make(rng)}

    found = [
        Scenario(
            "typical",
            "a tag (one of nlp, gpu, approved, audited) and eval.auc above 0.8-0.95, newest "
            "first, first 20",
            VERSIONS_QUERY,
            with_org(_typical),
        ),
        Scenario(
            "question",
            "models with eval.auc above 0.9, tagged nlp, not holding `production`, newest first",
            VERSIONS_QUERY,
            with_org(
                lambda rng: {
                    "filter": {
                        "type": {"eq": "model"},
                        "tags": {"any": ["nlp"]},
                        "metadata": [{"path": "eval.auc", "gt": 0.9}],
                        "not": {"aliases": {"any": ["production"]}},
                    },
                    "order": NEWEST,
                }
            ),
        ),
        Scenario(
            "free-text",
            f"free text ({', '.join(TEXTS)}) over names, tags, descriptions and cards, by "
            "relevance",
            VERSIONS_QUERY,
            with_org(lambda rng: {"query": rng.choice(TEXTS)}),
        ),
        Scenario(
            "alias",
            "versions holding `production` (or `staging`) across every registry, newest first",
            VERSIONS_QUERY,
            with_org(
                lambda rng: {
                    "filter": {"aliases": {"any": [rng.choice(["production", "staging"])]}},
                    "order": NEWEST,
                }
            ),
        ),
        Scenario(
            "metadata-eq",
            "metadata framework = one of five and dataset.name = ds-7 (equalities the GIN index "
            "answers), newest first",
            VERSIONS_QUERY,
            with_org(
                lambda rng: {
                    "filter": {
                        "metadata": [
                            {"path": "framework", "eq": rng.choice(FRAMEWORKS)},
                            {"path": "dataset.name", "eq": "ds-7"},
                        ]
                    },
                    "order": NEWEST,
                }
            ),
        ),
        Scenario(
            "by-metadata",
            "the churn classifiers (50 collections) by eval.auc, highest first",
            VERSIONS_QUERY,
            with_org(
                lambda rng: {
                    "filter": {"collection": {"prefix": "churn-classifier-"}},
                    "order": {"field": "METADATA", "path": "eval.auc", "direction": "DESC"},
                }
            ),
        ),
        Scenario(
            "page-1",
            "tagged gpu with eval.auc above 0.7, newest first: the first page",
            VERSIONS_QUERY,
            with_org(lambda rng: {"filter": DEEP_FILTER, "order": NEWEST}),
        ),
        *(
            Scenario(
                f"page-at-{depth}",
                f"the same search, the page after its {depth:,}th match (by cursor)",
                VERSIONS_QUERY,
                with_org(
                    lambda rng, cursor=cursors[depth][0]: {
                        "filter": DEEP_FILTER,
                        "order": NEWEST,
                        "after": cursor,
                    }
                ),
            )
            for depth in DEPTHS
        ),
        Scenario(
            "typical+count",
            "`typical` with totalCount, which counts every match",
            COUNTED_QUERY,
            with_org(_typical),
        ),
        Scenario(
            "collections-text",
            f"collections by free text ({', '.join(TEXTS)}), by relevance",
            COLLECTIONS_QUERY,
            with_org(lambda rng: {"query": rng.choice(TEXTS)}),
        ),
    ]
    return {s.name: s for s in found}


def _statement(
    spec: ListSpec[Any],
    subject: Subject,
    variables: Mapping[str, Any],
    scope: Any,
    request: PageRequest,
) -> tuple[str, list[Any]]:
    """The page statement of a scenario's request, as the server builds it for the member."""
    found = search(
        subject,
        filter=variables.get("filter"),
        query=variables.get("query"),
        order_by=variables.get("order"),
        scope=[scope],
    )
    sql, params = page_statement(spec, request, None, found)
    return sql, [[0], *params]


async def deep_cursors(
    conn: asyncpg.Connection, scope: Any
) -> dict[int, tuple[str, tuple[Any, ...]]]:
    """The cursor `DEPTHS` matches down the deep-page search, as the server would hand it out,
    and the sort values it holds."""
    cursors: dict[int, tuple[str, tuple[Any, ...]]] = {}
    for depth in DEPTHS:
        request = PageRequest(first=depth, last=None, after=None, before=None)
        variables = {"filter": DEEP_FILTER, "order": NEWEST}
        sql, params = _statement(REGISTRY_VERSIONS, VERSIONS, variables, scope, request)
        last = (await conn.fetch(sql, *params))[depth - 1]
        values = (last["sort_0"], last["sort_1"])
        name = f"{REGISTRY_VERSIONS.name}/CREATED_AT/DESC"
        cursors[depth] = (encode_cursor(name, values), values)
    return cursors


async def explain(
    conn: asyncpg.Connection,
    scenario: Scenario,
    scope: Any,
    cursors: Mapping[int, tuple[str, tuple[Any, ...]]],
) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the scenario's page statement, with its first variables."""
    variables = scenario.variables(random.Random(1))
    listed = "collections(" in scenario.query
    spec = REGISTRY_COLLECTIONS if listed else REGISTRY_VERSIONS
    subject = COLLECTIONS if listed else VERSIONS
    after = next((v for c, v in cursors.values() if c == variables.get("after")), None)
    request = PageRequest(first=20, last=None, after=after, before=None)
    sql, params = _statement(spec, subject, variables, scope, request)
    started = time.perf_counter()
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    lines = [row[0] for row in rows]
    execution = next(
        (float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution")),
        None,
    )
    return {
        "scenario": scenario.name,
        "variables": variables,
        "execution_ms": execution,
        "wall_ms": round((time.perf_counter() - started) * 1000, 2),
        "plan": lines,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options.parser(
        "python -m bench.search",
        "Seed a million registry versions, start the Cairn server, and measure searches over HTTP.",
    )
    shape = SearchShape()
    parser.add_argument("--collections", type=int, default=shape.collections)
    parser.add_argument(
        "--versions", type=int, default=shape.versions, help="per collection (default: 100)"
    )
    options.add_load(parser)
    parser.add_argument("--scenarios", default=None, help="comma-separated (default: all of them)")
    options.add_server(parser)
    options.add_output(parser)
    args = parser.parse_args(argv)
    if args.collections * args.versions < 4 * max(DEPTHS):
        parser.error(f"seed at least {4 * max(DEPTHS):,} versions for the deep pages")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = SearchShape(collections=args.collections, versions=args.versions)
    async with benchmark_database(args.database_url, keep=args.keep_database) as database:
        async with migrated(database.url) as conn:
            seeded = await seed_search(conn, shape)
            organization_id = await conn.fetchval(
                "SELECT id FROM organizations WHERE name = $1", seeded.organization
            )
        print(f"seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)
        # The member's view: ORGANIZATION registries, no role in the restricted one.
        scope = registries_scope([organization_id], [], [])
        direct = await asyncpg.connect(database.url)
        await direct.set_type_codec(
            "jsonb", encoder=lambda v: json_values.dumps(v).decode(), decoder=json_values.loads,
            schema="pg_catalog",
        )  # fmt: skip
        try:
            cursors = await deep_cursors(direct, scope)
            chosen = choose(scenarios(seeded.organization, cursors), args.scenarios)
            explains = []
            if not args.no_explain:
                for scenario in chosen:
                    explained = await explain(direct, scenario, scope, cursors)
                    explains.append(explained)
                    print(
                        f"\nEXPLAIN of {scenario.name} ({explained['execution_ms']} ms):\n"
                        + "\n".join(explained["plan"]),
                        flush=True,
                    )
        finally:
            await direct.close()
        counts = await count_statements(database.url, seeded.member_key, chosen, repeats=3)
        print_counts(counts)
        results: list[LoadResult] = []
        async with serving(database.url, args.pool_size) as server:
            for scenario in chosen:
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
        postgres_ms = {e["scenario"]: e["execution_ms"] for e in explains}
        markdown = load_table(
            results,
            counts,
            chosen,
            extra=(
                "page statement in PostgreSQL ms (EXPLAIN ANALYZE)",
                lambda r: f"{postgres_ms.get(r.scenario, 'n/a')}",
            ),
        )
        return {
            "machine": machine(database.postgres_version),
            "dataset": {
                **asdict(shape),
                "registry_versions": shape.registry_versions,
                "seeding_seconds": round(seeded.seconds, 1),
                "rows": seeded.rows,
            },
            "settings": {
                "duration_seconds": args.duration,
                "warmup_seconds": args.warmup,
                **server_and_client(args.pool_size),
                "queries": {
                    "versions": VERSIONS_QUERY,
                    "counted": COUNTED_QUERY,
                    "collections": COLLECTIONS_QUERY,
                },
            },
            "statements": {name: c.as_json() for name, c in counts.items()},
            "scenarios": {s.name: s.description for s in chosen},
            "results": [asdict(r) for r in results],
            "explain": explains,
            "markdown": markdown,
        }


def dataset_line(d: dict[str, Any]) -> str:
    return (
        f"Dataset: {d['registry_versions']:,} registry versions in {d['collections']:,} "
        f"collections over {d['registries']} registries (one RESTRICTED, which the member "
        f"cannot see), {d['runs']:,} runs; seeded in {d['seeding_seconds']} s."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        run, parse_args(argv), title="Cairn search benchmark", dataset=dataset_line, key="search"
    )


if __name__ == "__main__":
    main()
