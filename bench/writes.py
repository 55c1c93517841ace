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
import random
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/writes.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import baseline, options  # noqa: E402
from bench.database import BenchDatabase, benchmark_database, count_rows, migrated  # noqa: E402
from bench.invariants import broken_invariants  # noqa: E402
from bench.load import LoadResult, drive, progress, warn_of_failures  # noqa: E402
from bench.report import (  # noqa: E402
    Column,
    load_table,
    machine,
    run_benchmark,
    server_and_client,
)
from bench.scenario import Scenario, choose  # noqa: E402
from bench.seed import ORGANIZATION, Seeded, collection_name, registry_name, seed  # noqa: E402
from bench.server import Server, serving  # noqa: E402
from bench.statements import count_statements, print_counts  # noqa: E402
from bench.writes_seed import Unlinked, add_unlinked_versions  # noqa: E402
from db.accounts import user_by_name  # noqa: E402
from db.pool import Connection  # noqa: E402
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
    broken = await broken_invariants(conn, org_id)
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


def lock_column(waiting: dict[tuple[str, int], LockWaits]) -> Column:
    """The write table's column more: the backends waiting for a lock during each run."""

    def cell(r: LoadResult) -> str:
        waits = waiting[(r.scenario, r.concurrency)]
        events = ", ".join(f"{event} {n:g}" for event, n in waits.by_event.items())
        return f"{waits.mean:g}{f' ({events})' if events else ''}"

    return "backends waiting for a lock (mean, by wait event)", cell


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options.parser(
        "python -m bench.writes",
        "Seed a fresh database, start the Cairn server, and measure linkArtifact and addAliases "
        "(contended on one collection and spread over many) over HTTP.",
    )
    options.add_shape(parser)
    parser.add_argument(
        "--unlinked",
        type=int,
        default=30,
        help="unlinked logged versions per model sequence, for the link scenarios "
        "(default: %(default)s)",
    )
    options.add_load(parser)
    parser.add_argument(
        "--scenarios", default="link-one,link-many,alias-one,alias-many", help="%(default)s"
    )
    options.add_server(parser)
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also serve the code at git revision REV (a worktree) on a copy of the database, "
        "and measure each scenario on it just before this code: rows `<scenario> (before)`, "
        "without statement counts",
    )
    options.add_output(parser, explain=False)
    args = parser.parse_args(argv)
    options.check_shape(parser, args)
    if args.unlinked < 1:
        parser.error("--unlinked must be at least 1")
    if args.registries * args.collections < 2:
        parser.error("alias-many needs at least two registry collections")
    return args


async def drive_with_lock_waits(
    server: Server,
    database: BenchDatabase,
    scenario: Scenario,
    key: str,
    concurrencies: list[int],
    *,
    duration: float,
    warmup: float,
    label: str = "",
) -> tuple[list[LoadResult], dict[tuple[str, int], LockWaits]]:
    """`drive` at each concurrency in turn, sampling meanwhile the server's backends waiting for
    a lock; prints each run's line. Results are named `<scenario><label>`."""
    results: list[LoadResult] = []
    waiting: dict[tuple[str, int], LockWaits] = {}
    for concurrency in concurrencies:
        result, waits = await asyncio.gather(
            drive(
                server,
                database,
                scenario,
                key,
                concurrency=concurrency,
                duration=duration,
                warmup=warmup,
            ),
            lock_waits(database.server_url, database.name, after=warmup, duration=duration),
        )
        result = replace(result, scenario=scenario.name + label)
        waiting[(result.scenario, concurrency)] = waits
        print(progress(result, f"{waits.mean} waiting for a lock {waits.by_event}"), flush=True)
        results.append(result)
    return results, waiting


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = options.shape(args)
    before_root = None if args.baseline is None else baseline.checkout(args.baseline)
    async with benchmark_database(args.database_url, keep=args.keep_database) as database:
        async with migrated(database.url) as conn:
            seeded = await seed(conn, shape)
            started = time.perf_counter()
            unlinked = await add_unlinked_versions(conn, ORGANIZATION, args.unlinked)
            unlinked_seconds = time.perf_counter() - started
            targets, admin_key = await _prepare_targets(conn, seeded, unlinked)
            rows = await count_rows(conn, seeded.rows)
        print(
            f"seeded in {seeded.seconds:.1f} s + {len(unlinked):,} unlinked logged versions in "
            f"{unlinked_seconds:.1f} s: {rows}",
            flush=True,
        )
        chosen = choose(write_scenarios(targets, admin_key), args.scenarios)
        counts = await count_statements(database.url, seeded.member_key, chosen, repeats=3)
        print_counts(counts)

        results: list[LoadResult] = []
        used: dict[str, int] = {}
        waiting: dict[tuple[str, int], LockWaits] = {}
        async with AsyncExitStack() as servers:
            # (server, its database, label): the baseline's first, if any. Each writes to its
            # own copy, taking its versions to link from the same unused ones.
            runs: list[tuple[Server, BenchDatabase, str]] = []
            if before_root is not None:
                copy = await servers.enter_async_context(
                    baseline.database_copy(database, before_root)
                )
                # No statement counts for the baseline: counting sends each write twice (a
                # warm-up and the counted one), and the same link or move twice is not a write.
                before_server = await servers.enter_async_context(
                    serving(copy.url, args.pool_size, root=before_root)
                )
                runs.append((before_server, copy, " (before)"))
            server = await servers.enter_async_context(serving(database.url, args.pool_size))
            runs.append((server, database, ""))
            for scenario in chosen:
                before = targets.used
                for concurrency in args.concurrency:
                    # The baseline's window just before this code's: both see the machine alike.
                    for served, on, label in runs:
                        driven, waits = await drive_with_lock_waits(
                            served,
                            on,
                            scenario,
                            seeded.member_key,
                            [concurrency],
                            duration=args.duration,
                            warmup=args.warmup,
                            label=label,
                        )
                        results += driven
                        waiting.update(waits)
                used[scenario.name] = targets.used - before
            warn_of_failures(results, server)

        check_conn = await asyncpg.connect(database.url)
        try:
            broken = await _check_after(check_conn)
            after_rows = await count_rows(check_conn, seeded.rows)
        finally:
            await check_conn.close()
        print(f"invariants after the run (rows breaking each): {broken}", flush=True)
        return {
            "machine": machine(database.postgres_version),
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
                "baseline": args.baseline,
                "duration_seconds": args.duration,
                "warmup_seconds": args.warmup,
                **server_and_client(args.pool_size),
                "link_user": "bench-member (organization MEMBER, registry MEMBER)",
                "alias_user": "bench-admin (organization ADMIN)",
            },
            "statements": {name: c.as_json() for name, c in counts.items()},
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
            "markdown": load_table(results, counts, chosen, extra=lock_column(waiting)),
        }


def dataset_line(d: dict[str, Any]) -> str:
    return (
        f"Dataset: {d['registries']} registries x {d['collections']} collections x "
        f"{d['versions']} versions = {d['registry_versions']:,} registry versions, + "
        f"{d['unlinked_versions']:,} unlinked logged versions to link."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        run, parse_args(argv), title="Cairn write benchmark", dataset=dataset_line, key="writes"
    )


if __name__ == "__main__":
    main()
