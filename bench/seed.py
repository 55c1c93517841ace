"""The benchmark's dataset, written straight into the tables of db/migrations with bulk SQL.

Small things (the organization, users, registries, projects, the API key) go through the resolver
functions. The many rows (collections, runs, contents, files, versions, aliases, alias history,
run inputs, tags, audit events) are written with `INSERT … SELECT` over `generate_series`, in one
transaction, respecting every constraint and invariant the resolvers keep:

- each logged content has a real manifest digest (`manifest_digest` of its files);
- a collection's `next_index` is one past its highest version index;
- `latest` is on the newest version of every sequence and collection, `production` and `staging`
  on others of each registry collection, and `alias_history` has the rows of how they got there
  (one open row per current holder);
- each version was logged by a run; that run used the previous version of its collection and, for
  models, a version of the dataset chain logged before it.

The seeding checks them afterwards (`bench.invariants`). `bench.writes_seed` adds, for the write
benchmark, more logged versions linked nowhere.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.database import count_rows
from bench.invariants import RolledBack, assert_invariants, check_manifest_digest
from db.accounts import user_by_name
from db.blobs import Digests, record_blobs_txn
from db.pool import Connection
from db.registries import registries_by_organization_name
from db.runs import projects_by_organization_name
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn, log_artifact_txn
from resolvers.versions import FileEntry

ORGANIZATION = "acme"
DATASET_NAME = "training-data"


@dataclass(frozen=True, slots=True)
class Shape:
    registries: int = 10
    collections: int = 100  # per registry
    versions: int = 20  # per collection
    dataset_versions: int = 100  # the chain of dataset versions the training runs used

    @property
    def registry_versions(self) -> int:
        return self.registries * self.collections * self.versions


def registry_name(r: int) -> str:
    # `bench-` sorts before the core `dataset` and `model`, so `registries(first: 10)` is these.
    return f"bench-{r:02d}"


def collection_name(c: int) -> str:
    return f"collection-{c:03d}"


@dataclass(slots=True)
class Seeded:
    organization: str
    member_key: str
    shape: Shape
    seconds: float
    version_ids: list[int] = field(default_factory=list)  # every registry version
    rows: dict[str, int] = field(default_factory=dict)

    def dataset(self) -> dict[str, Any]:
        """The dataset as a benchmark's report gives it."""
        return {
            **asdict(self.shape),
            "registry_versions": self.shape.registry_versions,
            "seeding_seconds": round(self.seconds, 2),
            "rows": self.rows,
        }


@dataclass(slots=True)
class _Collection:
    """One registry collection and the project sequence its versions are logged to."""

    registry_id: int
    project_id: int
    name: str
    sequence_name: str
    artifact_type: str
    versions: int
    created_at: datetime
    first_version_at: datetime
    version_step: timedelta  # time between two versions of this collection
    run_prefix: str
    files: tuple[str, str]  # sorted, as in a manifest
    tags: str  # comma-separated collection tags
    uses_dataset: bool  # whether its runs also used a dataset version


# The plan: collections and their sequences, with ids taken from the sequences up front.
CREATE_COLLECTION_PLAN = """
CREATE TEMP TABLE bench_collections ON COMMIT DROP AS
SELECT x.*, nextval('collections_id_seq') AS collection_id,
       nextval('collections_id_seq') AS sequence_id
FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[],
            $8::timestamptz[], $9::timestamptz[], $10::interval[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::boolean[])
  AS x(ordinal, registry_id, project_id, name, sequence_name, artifact_type, n, created_at,
       first_version_at, version_step, run_prefix, file_1, file_2, tags, uses_dataset)
"""

# One row per version: its run, content, logged version and registry version, in time order.
CREATE_VERSION_PLAN = """
CREATE TEMP TABLE bench_versions ON COMMIT DROP AS
SELECT p.*,
       nextval('runs_id_seq') AS run_id,
       nextval('artifact_contents_id_seq') AS content_id,
       nextval('artifact_versions_id_seq') AS logged_id,
       nextval('artifact_versions_id_seq') AS linked_id,
       encode(sha256(convert_to(
           p.file_1 || E'\\t' || p.digest_1 || E'\\t' || p.size_1 || E'\\n' ||
           p.file_2 || E'\\t' || p.digest_2 || E'\\t' || p.size_2 || E'\\n', 'UTF8')), 'hex')
         AS digest
FROM (
    SELECT bc.ordinal, bc.collection_id, bc.sequence_id, bc.registry_id, bc.project_id,
           bc.artifact_type, bc.run_prefix, bc.uses_dataset, bc.n, v,
           bc.first_version_at + v * bc.version_step AS logged_at,
           bc.first_version_at + (bc.n - 1) * bc.version_step AS last_at,
           bc.version_step AS step,
           bc.file_1, bc.file_2,
           encode(sha256(convert_to(bc.sequence_name || '/a/' || bc.ordinal || '/' || v, 'UTF8')),
                  'hex') AS digest_1,
           encode(sha256(convert_to(bc.sequence_name || '/b/' || bc.ordinal || '/' || v, 'UTF8')),
                  'hex') AS digest_2,
           (200 + v % 50)::bigint AS size_1,
           (1000000 + v * 1000 + bc.ordinal)::bigint AS size_2
    FROM bench_collections bc CROSS JOIN LATERAL generate_series(0, bc.n - 1) AS v
    ORDER BY logged_at, bc.ordinal
) p
"""

INSERT_COLLECTIONS = """
INSERT INTO collections (id, organization_id, project_id, registry_id, name, artifact_type,
                         description, next_index, created_at)
SELECT collection_id, $1::bigint, NULL::bigint, registry_id, name, artifact_type,
       'Benchmark collection ' || name || '.', n, created_at FROM bench_collections
UNION ALL
SELECT sequence_id, $1::bigint, project_id, NULL::bigint, sequence_name, artifact_type, '', n,
       created_at
FROM bench_collections
"""

INSERT_COLLECTION_TAGS = """
INSERT INTO collection_tags (collection_id, tag)
SELECT collection_id, unnest(string_to_array(tags, ',')) FROM bench_collections WHERE tags <> ''
"""

INSERT_RUNS = """
INSERT INTO runs (id, project_id, name, state, config, summary, user_id, created_at, finished_at)
SELECT run_id, project_id, run_prefix || '-v' || lpad(v::text, 3, '0'), 'FINISHED',
       jsonb_build_object('lr', round(0.1 / (v + 1), 5), 'epochs', 10 + v % 7),
       jsonb_build_object('loss', round(1.0 / (v + 2), 5)),
       $1, logged_at - interval '10 minutes', logged_at + interval '10 seconds'
FROM bench_versions
"""

INSERT_CONTENTS = """
INSERT INTO artifact_contents (id, sequence_id, digest, size, metadata, description,
                               created_by_run_id, created_at)
SELECT content_id, sequence_id, digest, size_1 + size_2,
       jsonb_build_object('accuracy', round(0.7 + (v % 20) / 100.0 + (ordinal % 7) / 1000.0, 4),
                          'step', v),
       artifact_type || ' v' || v || ' of ' || run_prefix, run_id, logged_at
FROM bench_versions
"""

INSERT_FILES = """
INSERT INTO artifact_files (content_id, path, digest, size)
SELECT content_id, file_1, digest_1, size_1 FROM bench_versions
UNION ALL
SELECT content_id, file_2, digest_2, size_2 FROM bench_versions
"""

# Each version starts with its content's description, as logging and linking give it.
INSERT_VERSIONS = """
INSERT INTO artifact_versions (id, collection_id, content_id, version_index, linked_by, linked_at,
                               description)
SELECT logged_id, sequence_id, content_id, v, $1::bigint, logged_at,
       artifact_type || ' v' || v || ' of ' || run_prefix
FROM bench_versions
UNION ALL
SELECT linked_id, collection_id, content_id, v, $2::bigint, logged_at + interval '1 second',
       artifact_type || ' v' || v || ' of ' || run_prefix
FROM bench_versions
"""

INSERT_VERSION_TAGS = """
INSERT INTO version_tags (version_id, tag)
SELECT linked_id, 'reviewed' FROM bench_versions
UNION ALL
SELECT linked_id, 'nightly' FROM bench_versions WHERE v % 2 = 0
UNION ALL
SELECT linked_id, 'candidate' FROM bench_versions WHERE v >= n - 3
"""

# `latest` on the newest version of each sequence and collection; `production` (moved there
# from five versions earlier) and `staging` in each registry collection.
INSERT_ALIASES = """
INSERT INTO aliases (collection_id, alias, version_id, assigned_at)
SELECT sequence_id, 'latest', logged_id, logged_at FROM bench_versions WHERE v = n - 1
UNION ALL
SELECT collection_id, 'latest', linked_id, logged_at + interval '1 second'
FROM bench_versions WHERE v = n - 1
UNION ALL
SELECT collection_id, 'production', linked_id, last_at + interval '2 hours'
FROM bench_versions WHERE v = greatest(n - 5, 0)
UNION ALL
SELECT collection_id, 'staging', linked_id, last_at + interval '3 hours'
FROM bench_versions WHERE v = greatest(n - 2, 0)
"""

# How the aliases got there: `latest` passed through every version; `production` was on the
# version five before its holder first.
INSERT_ALIAS_HISTORY = """
INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at,
                           removed_at)
SELECT sequence_id, 'latest', logged_id, v, logged_at,
       CASE WHEN v < n - 1 THEN logged_at + step END
FROM bench_versions
UNION ALL
SELECT collection_id, 'latest', linked_id, v, logged_at + interval '1 second',
       CASE WHEN v < n - 1 THEN logged_at + step + interval '1 second' END
FROM bench_versions
UNION ALL
SELECT collection_id, 'production', linked_id, v, last_at + interval '1 hour',
       last_at + interval '2 hours'
FROM bench_versions WHERE n >= 10 AND v = n - 10
UNION ALL
SELECT collection_id, 'production', linked_id, v, last_at + interval '2 hours', NULL
FROM bench_versions WHERE v = greatest(n - 5, 0)
UNION ALL
SELECT collection_id, 'staging', linked_id, v, last_at + interval '3 hours', NULL
FROM bench_versions WHERE v = greatest(n - 2, 0)
"""

# Every run used the previous version of its collection (the registry version); training runs
# also used a version of the dataset chain, all of which were logged before any model.
INSERT_RUN_INPUTS = """
INSERT INTO run_inputs (run_id, content_id, version_id, used_at)
SELECT cur.run_id, prev.content_id, prev.linked_id, cur.logged_at - interval '9 minutes'
FROM bench_versions cur
JOIN bench_versions prev ON prev.collection_id = cur.collection_id AND prev.v = cur.v - 1
UNION ALL
SELECT cur.run_id, d.content_id, d.linked_id, cur.logged_at - interval '8 minutes'
FROM bench_versions cur
JOIN bench_versions d ON NOT d.uses_dataset AND d.ordinal = 0
                     AND d.v = (cur.ordinal * 7 + cur.v) % d.n
WHERE cur.uses_dataset
"""

# The audit trail the resolvers would have written (they do not audit `latest`), in time order.
INSERT_AUDIT_EVENTS = """
INSERT INTO audit_events (organization_id, registry_id, collection_id, actor_id, action,
                          target_type, target_id, before, after, created_at)
SELECT $1::bigint, registry_id, collection_id, actor, action, target_type, target_id, before,
       after, at
FROM (
    SELECT registry_id, collection_id, $2::bigint AS actor, 'CREATE_COLLECTION' AS action,
           'Collection' AS target_type, collection_id AS target_id, NULL::jsonb AS before,
           jsonb_build_object('name', name, 'type', artifact_type,
                              'tags', to_jsonb(string_to_array(tags, ','))) AS after,
           created_at AS at
    FROM bench_collections
    UNION ALL
    SELECT registry_id, collection_id, $3::bigint, 'LINK_ARTIFACT', 'ArtifactVersion', linked_id,
           NULL, jsonb_build_object('version', 'v' || v, 'digest', digest),
           logged_at + interval '1 second'
    FROM bench_versions
    UNION ALL
    SELECT registry_id, collection_id, $2::bigint, 'ADD_ARTIFACT_ALIAS', 'ArtifactVersion',
           linked_id, NULL, jsonb_build_object('alias', 'production', 'version', 'v' || v),
           last_at + interval '1 hour'
    FROM bench_versions WHERE n >= 10 AND v = n - 10
    UNION ALL
    SELECT registry_id, collection_id, $2::bigint,
           CASE WHEN n >= 10 THEN 'MOVE_ARTIFACT_ALIAS' ELSE 'ADD_ARTIFACT_ALIAS' END,
           'ArtifactVersion', linked_id,
           CASE WHEN n >= 10
                THEN jsonb_build_object('alias', 'production', 'version', 'v' || (n - 10)) END,
           jsonb_build_object('alias', 'production', 'version', 'v' || v),
           last_at + interval '2 hours'
    FROM bench_versions WHERE v = greatest(n - 5, 0)
    UNION ALL
    SELECT registry_id, collection_id, $2::bigint, 'ADD_ARTIFACT_ALIAS', 'ArtifactVersion',
           linked_id, NULL, jsonb_build_object('alias', 'staging', 'version', 'v' || v),
           last_at + interval '3 hours'
    FROM bench_versions WHERE v = greatest(n - 2, 0)
) e
ORDER BY at
"""

TABLES = (
    "collections",
    "collection_tags",
    "runs",
    "artifact_contents",
    "artifact_files",
    "artifact_versions",
    "version_tags",
    "aliases",
    "alias_history",
    "run_inputs",
    "audit_events",
)


async def seed(conn: Connection, shape: Shape) -> Seeded:
    """Fills a fresh, migrated database with the benchmark organization `acme`."""
    started = time.perf_counter()
    async with conn.transaction():
        org = await create_organization_txn(conn, ORGANIZATION, "Acme Corp")
        admin = await create_user_txn(conn, "bench-admin", "Benchmark admin")
        member = await create_user_txn(conn, "bench-member", "Benchmark member")
        await add_member_txn(conn, org, admin, "ADMIN")
        await add_member_txn(conn, org, member, "MEMBER")
        registries = [
            await create_registry_txn(
                conn,
                admin,
                org.id,
                name=registry_name(r),
                description=f"Benchmark registry {r}.",
                accepted_types=["model"],
                protected_aliases=["production"],
            )
            for r in range(shape.registries)
        ]
        projects = [
            await create_project_txn(conn, org.id, f"team-{r:02d}", "Training runs.")
            for r in range(shape.registries)
        ]
        data_project = await create_project_txn(conn, org.id, "data", "The training data.")
        (dataset_registry,) = await registries_by_organization_name(conn, [(org.id, "dataset")])
        assert dataset_registry is not None
        key = await create_api_key_txn(conn, member.name, key_name="bench")

        # Time runs forward from 40 days ago: the dataset chain, then the model collections,
        # then their versions, interleaved across collections.
        t0 = datetime.now(UTC) - timedelta(days=40)
        await conn.execute(
            "UPDATE organizations SET created_at = $2 WHERE id = $1", org.id, t0 - timedelta(1)
        )
        await conn.execute(
            "UPDATE registries SET created_at = $2 WHERE organization_id = $1",
            org.id,
            t0 - timedelta(1),
        )
        await conn.execute(
            "UPDATE projects SET created_at = $2 WHERE organization_id = $1",
            org.id,
            t0 - timedelta(1),
        )
        plan: list[_Collection] = []
        if shape.dataset_versions > 0:
            plan.append(
                _Collection(
                    registry_id=dataset_registry.id,
                    project_id=data_project.id,
                    name=DATASET_NAME,
                    sequence_name=DATASET_NAME,
                    artifact_type="dataset",
                    versions=shape.dataset_versions,
                    created_at=t0,
                    first_version_at=t0 + timedelta(minutes=10),
                    version_step=timedelta(minutes=10),
                    run_prefix="prepare",
                    files=("rows.parquet", "schema.json"),
                    tags="tabular",
                    uses_dataset=False,
                )
            )
        models = shape.registries * shape.collections
        step = timedelta(seconds=5 * models)
        for r in range(shape.registries):
            for c in range(shape.collections):
                ordinal = r * shape.collections + c
                plan.append(
                    _Collection(
                        registry_id=registries[r].id,
                        project_id=projects[r].id,
                        name=collection_name(c),
                        sequence_name=f"model-{c:03d}",
                        artifact_type="model",
                        versions=shape.versions,
                        created_at=t0 + timedelta(days=1, seconds=ordinal),
                        first_version_at=t0 + timedelta(days=2, seconds=5 * ordinal),
                        version_step=step,
                        run_prefix=f"train-{c:03d}",
                        files=("config.json", "model.safetensors"),
                        tags=f"team-{r:02d},{'vision' if c % 2 else 'tabular'}",
                        uses_dataset=shape.dataset_versions > 0,
                    )
                )
        for entry in plan:
            assert entry.files == tuple(sorted(entry.files))
        await conn.execute(
            CREATE_COLLECTION_PLAN,
            list(range(len(plan))),
            [p.registry_id for p in plan],
            [p.project_id for p in plan],
            [p.name for p in plan],
            [p.sequence_name for p in plan],
            [p.artifact_type for p in plan],
            [p.versions for p in plan],
            [p.created_at for p in plan],
            [p.first_version_at for p in plan],
            [p.version_step for p in plan],
            [p.run_prefix for p in plan],
            [p.files[0] for p in plan],
            [p.files[1] for p in plan],
            [p.tags for p in plan],
            [p.uses_dataset for p in plan],
        )
        await conn.execute(CREATE_VERSION_PLAN)
        await conn.execute(INSERT_COLLECTIONS, org.id)
        await conn.execute(INSERT_COLLECTION_TAGS)
        await conn.execute(INSERT_RUNS, member.id)
        await conn.execute(INSERT_CONTENTS)
        await conn.execute(INSERT_FILES)
        await conn.execute(INSERT_VERSIONS, member.id, member.id)
        await conn.execute(INSERT_VERSION_TAGS)
        await conn.execute(INSERT_ALIASES)
        await conn.execute(INSERT_ALIAS_HISTORY)
        await conn.execute(INSERT_RUN_INPUTS)
        await conn.execute(INSERT_AUDIT_EVENTS, org.id, admin.id, member.id)
        await assert_invariants(conn, org.id, "the seeded data")
        await check_manifest_digest(conn, org.id)
        await _check_with_resolvers(conn, org.id, shape)
    # As autovacuum leaves tables some time after a bulk insert: statistics, and the visibility
    # map that lets an index-only scan (a collection's version count) skip the heap.
    await conn.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started

    version_ids = [
        row["id"]
        for row in await conn.fetch(
            "SELECT v.id FROM artifact_versions v JOIN collections col ON col.id = v.collection_id "
            "JOIN registries r ON r.id = col.registry_id "
            "WHERE r.organization_id = $1 AND NOT r.is_core ORDER BY v.id",
            org.id,
        )
    ]
    assert len(version_ids) == shape.registry_versions
    rows = await count_rows(conn, TABLES)
    return Seeded(
        organization=ORGANIZATION,
        member_key=key,
        shape=shape,
        seconds=seconds,
        version_ids=version_ids,
        rows=rows,
    )


async def _check_with_resolvers(conn: Connection, organization_id: int, shape: Shape) -> None:
    """Logs and links one more version into a seeded collection with the resolver functions, then
    rolls it back: it must get the next index and take `latest` and `production` cleanly."""
    try:
        async with conn.transaction():
            member = await user_by_name(conn, "bench-member")
            (registry,) = await registries_by_organization_name(
                conn, [(organization_id, registry_name(0))]
            )
            (project,) = await projects_by_organization_name(conn, [(organization_id, "team-00")])
            assert member is not None
            assert registry is not None
            assert project is not None
            # A row standing for the file's bytes: logging checks they are stored, and this
            # transaction is rolled back.
            await record_blobs_txn(conn, [Digests("0" * 64, "0" * 32, 1)], organization_id)
            logged = await log_artifact_txn(
                conn,
                member,
                project,
                name="model-000",
                artifact_type="model",
                files=[FileEntry("model.safetensors", "0" * 64, 1)],
            )
            assert logged.version_index == shape.versions, "sequence next_index is off"
            linked = await link_artifact_txn(
                conn, member, logged, registry, collection_name(0), ["production"]
            )
            assert linked.version_index == shape.versions, "collection next_index is off"
            holders = await conn.fetch(
                "SELECT alias, version_id FROM aliases WHERE collection_id = $1",
                linked.collection_id,
            )
            held = {row["alias"]: row["version_id"] for row in holders}
            assert held["latest"] == held["production"] == linked.id
            raise RolledBack
    except RolledBack:
        pass
