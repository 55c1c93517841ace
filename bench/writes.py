"""Cairn's write benchmark (log, link and alias): `linkArtifact` and `addAliases` over HTTP.

    python -m bench.writes            # or: python bench/writes.py
    python -m bench.writes --help

It seeds the dataset of `bench.run` (see bench/README.md), then logs `--unlinked` more versions of
every model sequence with bulk SQL, linked nowhere yet. Against the real server (uvicorn, one
process) it measures, at each concurrency, for a fixed time:

- `link-one`: each request links the next unlinked logged version into ONE collection
  (`bench-00/incoming`): every link takes that collection's row lock, so links serialise;
- `link-many`: each request links the next unlinked logged version into its own registry
  collection (`team-RR/model-CCC` into `bench-RR/collection-CCC`): 1,000 collections, in turn;
- `alias-one`: each request moves the protected alias `production` to another of the 20 versions
  of ONE collection (`bench-01/collection-001`);
- `alias-many`: the same in each of the other registry collections in turn (999 by default).

Links are made by `bench-member`, given the MEMBER role in each benchmark registry; `production` is
protected, so alias moves are made by `bench-admin` (an organization ADMIN). Statements per
request are counted in process (asyncpg's query logger) over several requests. After the load,
the invariants the resolvers keep are checked again. Results go into the `writes` key of
bench/results.json; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/writes.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    DEFAULT_SERVER,
    RESULTS,
    LoadResult,
    Scenario,
    Server,
    _cell,
    _with_database,
    count_statements,
    drive,
    machine,
    update_results,
)
from bench.seed import (  # noqa: E402
    CHECKS,
    ORGANIZATION,
    Seeded,
    Shape,
    Unlinked,
    add_unlinked_versions,
    collection_name,
    registry_name,
    seed,
)
from db.accounts import user_by_name  # noqa: E402
from db.migrate import migrate  # noqa: E402
from db.pool import Connection, create_pool  # noqa: E402
from db.registries import registries_by_organization_name, set_registry_user_role  # noqa: E402
from resolvers.accounts import create_api_key_txn  # noqa: E402
from resolvers.collections import create_collection_txn  # noqa: E402
from schema.nodes import global_id  # noqa: E402

HOT_COLLECTION = "incoming"  # in bench-00: where `link-one` links everything
ALIAS = "production"

LINK = """mutation Link($version: ID!, $collection: ID!) {
  linkArtifact(input: {versionId: $version, collectionId: $collection}) {
    artifactVersion { id version } errors { code message } } }"""

MOVE = """mutation Move($version: ID!) {
  addAliases(input: {versionId: $version, aliases: ["production"]}) {
    artifactVersion { id version aliases } errors { code message } } }"""


class OutOfVersions(RuntimeError):
    pass


@dataclass(slots=True)
class Targets:
    """What the write scenarios use up or cycle through, shared by all their requests."""

    unlinked: Iterator[Unlinked]
    unlinked_total: int
    hot_collection_id: int
    # Per registry collection (in a fixed shuffled order): its versions by index, and which one
    # `production` goes to next.
    versions: dict[int, list[int]]
    order: list[int]
    next_index: dict[int, int]
    holder: dict[int, int]  # the version index holding `production` (as last assigned)
    used: int = 0

    def take(self) -> Unlinked:
        try:
            found = next(self.unlinked)
        except StopIteration:
            raise OutOfVersions(
                f"all {self.unlinked_total:,} unlinked versions are linked; raise --unlinked"
            ) from None
        self.used += 1
        return found

    def move(self, collection_id: int) -> int:
        """Another version of the collection than the one `production` was last moved to."""
        versions = self.versions[collection_id]
        index = self.next_index[collection_id]
        if index == self.holder[collection_id]:
            index = (index + 1) % len(versions)
        self.next_index[collection_id] = (index + 1) % len(versions)
        self.holder[collection_id] = index
        return versions[index]


def write_scenarios(targets: Targets, admin_key: str) -> dict[str, Scenario]:
    one = targets.order[0]  # the alias-one collection
    turn = {"alias-many": 0}

    def link_one(rng: random.Random) -> dict[str, Any]:
        found = targets.take()
        return {
            "version": global_id("ArtifactVersion", found.version_id),
            "collection": global_id("Collection", targets.hot_collection_id),
        }

    def link_many(rng: random.Random) -> dict[str, Any]:
        found = targets.take()
        return {
            "version": global_id("ArtifactVersion", found.version_id),
            "collection": global_id("Collection", found.collection_id),
        }

    def alias_one(rng: random.Random) -> dict[str, Any]:
        return {"version": global_id("ArtifactVersion", targets.move(one))}

    def alias_many(rng: random.Random) -> dict[str, Any]:
        # Every collection but the alias-one one, in turn.
        i = turn["alias-many"]
        turn["alias-many"] = i + 1
        collection_id = targets.order[1 + i % (len(targets.order) - 1)]
        return {"version": global_id("ArtifactVersion", targets.move(collection_id))}

    found = [
        Scenario(
            "link-one",
            f"linkArtifact(versionId, collectionId) of the next unlinked logged version into ONE "
            f"collection (`{registry_name(0)}/{HOT_COLLECTION}`), as bench-member (registry "
            "MEMBER): contended, serialised by the collection's row lock",
            LINK,
            link_one,
        ),
        Scenario(
            "link-many",
            "linkArtifact(versionId, collectionId) of the next unlinked logged version into its "
            f"own registry collection ({len(targets.order):,} collections in turn), as "
            "bench-member",
            LINK,
            link_many,
        ),
        Scenario(
            "alias-one",
            "addAliases(versionId, [production]) moving `production` to another of the versions "
            f"of ONE collection (`{registry_name(1)}/{collection_name(1)}`), as bench-admin "
            "(`production` is protected): contended",
            MOVE,
            alias_one,
            key=admin_key,
        ),
        Scenario(
            "alias-many",
            "addAliases(versionId, [production]) moving `production` within each of the other "
            f"{len(targets.order) - 1:,} registry collections in turn, as bench-admin",
            MOVE,
            alias_many,
            key=admin_key,
        ),
    ]
    return {s.name: s for s in found}


async def _prepare_targets(
    conn: Connection, seeded: Seeded, unlinked: list[Unlinked]
) -> tuple[Targets, str]:
    """Grants bench-member MEMBER in the benchmark registries, makes the hot collection and an
    admin key, and reads the registry versions the alias moves cycle through."""
    shape = seeded.shape
    async with conn.transaction():
        org_id = await conn.fetchval("SELECT id FROM organizations WHERE name = $1", ORGANIZATION)
        admin = await user_by_name(conn, "bench-admin")
        member = await user_by_name(conn, "bench-member")
        assert admin is not None
        assert member is not None
        registries = await registries_by_organization_name(
            conn, [(org_id, registry_name(r)) for r in range(shape.registries)]
        )
        for registry in registries:
            assert registry is not None
            await set_registry_user_role(conn, registry.id, member.id, "MEMBER")
        hot_registry = registries[0]
        assert hot_registry is not None
        hot = await create_collection_txn(
            conn, admin, hot_registry, name=HOT_COLLECTION, artifact_type="model"
        )
        admin_key = await create_api_key_txn(conn, admin.name, key_name="bench-admin")
    rows = await conn.fetch(
        """SELECT v.collection_id, v.version_index, v.id, a.version_id IS NOT NULL AS holds
           FROM artifact_versions v JOIN collections col ON col.id = v.collection_id
           JOIN registries r ON r.id = col.registry_id
           LEFT JOIN aliases a ON a.version_id = v.id AND a.alias = $2
           WHERE r.organization_id = $1 AND NOT r.is_core AND col.name <> $3
           ORDER BY v.collection_id, v.version_index""",
        org_id,
        ALIAS,
        HOT_COLLECTION,
    )
    versions: dict[int, list[int]] = {}
    holder: dict[int, int] = {}
    for row in rows:
        listed = versions.setdefault(row["collection_id"], [])
        if row["holds"]:
            holder[row["collection_id"]] = len(listed)
        listed.append(row["id"])
    one = await conn.fetchval(
        """SELECT col.id FROM collections col JOIN registries r ON r.id = col.registry_id
           WHERE r.organization_id = $1 AND r.name = $2 AND col.name = $3""",
        org_id,
        registry_name(min(1, shape.registries - 1)),
        collection_name(min(1, shape.collections - 1)),
    )
    others = [c for c in versions if c != one]
    random.Random(7).shuffle(others)
    targets = Targets(
        unlinked=iter(unlinked),
        unlinked_total=len(unlinked),
        hot_collection_id=hot.id,
        versions=versions,
        order=[one, *others],
        next_index=dict.fromkeys(versions, 0),
        holder=holder,
    )
    return targets, admin_key


async def _check_after(conn: Connection) -> dict[str, int]:
    org_id = await conn.fetchval("SELECT id FROM organizations WHERE name = $1", ORGANIZATION)
    broken = {check: await conn.fetchval(sql, org_id) for check, sql in CHECKS.items()}
    broken["indexes are 0..next_index-1 without gaps in the hot collection"] = await conn.fetchval(
        """SELECT count(*) FROM collections col WHERE col.name = $1 AND col.next_index <> (
             SELECT count(*) FROM artifact_versions v WHERE v.collection_id = col.id)""",
        HOT_COLLECTION,
    )
    broken["one open `production` period per collection"] = await conn.fetchval(
        """SELECT count(*) FROM (SELECT collection_id FROM alias_history
             WHERE alias = $1 AND removed_at IS NULL GROUP BY collection_id
             HAVING count(*) <> 1) x""",
        ALIAS,
    )
    return broken


@dataclass(slots=True)
class LockWaits:
    mean: float  # backends of the server waiting for a lock, on average
    by_event: dict[str, float]  # the same by wait event: `transactionid`/`tuple`: a row lock


async def lock_waits(dsn: str, database: str, *, after: float, duration: float) -> LockWaits:
    """How many of the server's PostgreSQL backends wait for a lock, sampled every 20 ms from
    `after` seconds on for `duration` seconds."""
    conn = await asyncpg.connect(dsn)
    try:
        await asyncio.sleep(after)
        stop_at = time.perf_counter() + duration
        samples = 0
        waiting: dict[str, int] = {}
        while time.perf_counter() < stop_at:
            rows = await conn.fetch(
                "SELECT wait_event, count(*) AS n FROM pg_stat_activity WHERE datname = $1 "
                "AND application_name = 'cairn' AND wait_event_type = 'Lock' GROUP BY wait_event",
                database,
            )
            samples += 1
            for row in rows:
                waiting[row["wait_event"]] = waiting.get(row["wait_event"], 0) + row["n"]
            await asyncio.sleep(0.02)
        samples = max(samples, 1)
        return LockWaits(
            mean=round(sum(waiting.values()) / samples, 2),
            by_event={event: round(n / samples, 2) for event, n in sorted(waiting.items())},
        )
    finally:
        await conn.close()


def write_markdown(
    results: list[LoadResult],
    counts: dict[str, Any],
    waiting: dict[tuple[str, int], LockWaits],
    chosen: list[Scenario],
) -> str:
    lines = [
        "| scenario | statements/request | concurrency | requests | p50 ms | p99 ms | req/s "
        "| server CPU ms/req | PostgreSQL CPU ms/req "
        "| backends waiting for a lock (mean, by wait event) "
        "| errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        count = counts[r.scenario]
        waits = waiting[(r.scenario, r.concurrency)]
        events = ", ".join(f"{event} {n:g}" for event, n in waits.by_event.items())
        lines.append(
            f"| {r.scenario} | {count.statements} (+{count.pool_resets} pool resets) "
            f"| {r.concurrency} | {r.requests} | {r.p50_ms:g} | {r.p99_ms:g} "
            f"| {r.requests_per_second:g} | {_cell(r.server_cpu_ms_per_request)} "
            f"| {_cell(r.postgres_cpu_ms_per_request)} "
            f"| {waits.mean:g}{f' ({events})' if events else ''} "
            f"| {r.errors} |"
        )
    lines.append("")
    lines.extend(f"- **{s.name}**: {s.description}" for s in chosen)
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.writes",
        description="Seed a fresh database, start the Cairn server, and measure linkArtifact and "
        "addAliases (contended on one collection and spread over many) over HTTP.",
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
    parser.add_argument("--dataset-versions", type=int, default=shape.dataset_versions)
    parser.add_argument(
        "--unlinked",
        type=int,
        default=30,
        help="unlinked logged versions per model sequence, for the link scenarios "
        "(default: %(default)s)",
    )
    parser.add_argument("--concurrency", default="1,8", help="default: %(default)s")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before")
    parser.add_argument(
        "--scenarios", default="link-one,link-many,alias-one,alias-many", help="%(default)s"
    )
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    if min(args.registries, args.collections, args.versions, args.unlinked) < 1:
        parser.error("--registries, --collections, --versions and --unlinked must be at least 1")
    if args.registries * args.collections < 2:
        parser.error("alias-many needs at least two registry collections")
    return args


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
        pool = await create_pool(url, max_size=1, statement_timeout_ms=600_000)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
                seeded = await seed(conn, shape)
                started = time.perf_counter()
                unlinked = await add_unlinked_versions(conn, ORGANIZATION, args.unlinked)
                unlinked_seconds = time.perf_counter() - started
                targets, admin_key = await _prepare_targets(conn, seeded, unlinked)
                rows = {
                    table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                    for table in seeded.rows
                }
        finally:
            await pool.close()
        print(
            f"seeded in {seeded.seconds:.1f} s + {len(unlinked):,} unlinked logged versions in "
            f"{unlinked_seconds:.1f} s: {rows}",
            flush=True,
        )
        described = write_scenarios(targets, admin_key)
        names = args.scenarios.split(",")
        unknown = set(names) - set(described)
        if unknown:
            raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
        chosen = [described[name] for name in names]
        counts = await count_statements(url, seeded.member_key, chosen, repeats=3)
        for name, count in counts.items():
            print(f"{name}: {count.per_request} statements (+{count.pool_resets} pool resets)")

        log_dir = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
        server = Server(url, args.pool_size, "tuned", log_dir)
        await server.wait_ready()
        print(f"\nserver pid {server.process.pid} on {server.base_url}", flush=True)
        results: list[LoadResult] = []
        used: dict[str, int] = {}
        waiting: dict[tuple[str, int], LockWaits] = {}
        for scenario in chosen:
            before = targets.used
            for concurrency in concurrencies:
                result, waits = await asyncio.gather(
                    drive(
                        server,
                        scenario,
                        seeded.member_key,
                        concurrency=concurrency,
                        duration=args.duration,
                        warmup=args.warmup,
                        admin=admin,
                        database=database,
                    ),
                    lock_waits(
                        args.database_url, database, after=args.warmup, duration=args.duration
                    ),
                )
                waiting[(scenario.name, concurrency)] = waits
                print(
                    f"{scenario.name} c={concurrency}: {result.requests} requests, "
                    f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
                    f"{result.requests_per_second} req/s, {waits.mean} waiting for a lock "
                    f"{waits.by_event}, "
                    f"errors {result.errors}",
                    flush=True,
                )
                results.append(result)
            used[scenario.name] = targets.used - before
        if any(r.errors for r in results):
            print(f"\nsome requests failed; server log: {server.log_path}")
        server.stop()
        server = None

        check_conn = await asyncpg.connect(url)
        try:
            broken = await _check_after(check_conn)
            after_rows = {
                table: await check_conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in seeded.rows
            }
        finally:
            await check_conn.close()
        print(f"invariants after the run (rows breaking each): {broken}", flush=True)
        table = write_markdown(results, counts, waiting, chosen)
        return {
            "machine": {**machine(), "postgresql": postgres_version},
            "dataset": {
                **asdict(shape),
                "registry_versions": shape.registry_versions,
                "unlinked_per_sequence": args.unlinked,
                "unlinked_versions": len(unlinked),
                "seeding_seconds": round(seeded.seconds + unlinked_seconds, 2),
                "rows_before": rows,
                "rows_after": after_rows,
            },
            "settings": {
                "duration_seconds": args.duration,
                "warmup_seconds": args.warmup,
                "server": f"uvicorn, 1 process (uvloop, httptools), pool size {args.pool_size}",
                "client": "httpx.AsyncClient, one keep-alive connection per concurrent task, "
                "in the benchmark process on the same machine",
                "link_user": "bench-member (organization MEMBER, registry MEMBER)",
                "alias_user": "bench-admin (organization ADMIN)",
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
            "unlinked_versions_linked": used,
            "invariants_broken_after_run": broken,
            "scenarios": {s.name: s.description for s in chosen},
            "results": [
                {
                    **asdict(r),
                    "backends_waiting_for_lock": asdict(waiting[(r.scenario, r.concurrency)]),
                }
                for r in results
            ],
            "markdown": table,
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
        f"\n## Cairn write benchmark ({m['nproc']} cores, {m['cpu_model']}, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']})\n"
    )
    print(
        f"Dataset: {d['registries']} registries x {d['collections']} collections x "
        f"{d['versions']} versions = {d['registry_versions']:,} registry versions, + "
        f"{d['unlinked_versions']:,} unlinked logged versions to link.\n"
    )
    print(report["markdown"])
    update_results(args.results, {"writes": report})
    print(f"\nwrote `writes` into {args.results} (total {report['total_seconds']} s)")


if __name__ == "__main__":
    main()
