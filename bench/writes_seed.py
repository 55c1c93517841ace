"""The write benchmark's extra dataset: logged versions linked nowhere yet, for `bench.writes`
to link.

On top of the dataset of `bench.seed`, `add_unlinked_versions` logs more versions of every model
sequence with bulk SQL (one transaction), keeping the invariants the resolvers keep: a run each,
a content with one file and its real manifest digest, the logged version at the sequence's next
index, `next_index` moved on, `latest` passed through every new version with its alias history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.invariants import RolledBack, assert_invariants
from db.accounts import user_by_name
from db.pool import Connection
from db.registries import registries_by_organization_name
from db.runs import projects_by_organization_name
from db.versions import versions_by_id
from resolvers.links import link_artifact_txn
from resolvers.runs import log_artifact_txn
from resolvers.versions import FileEntry

# `per_sequence` more versions of every model sequence (`team-RR/model-CCC`), logged after all
# the seeded ones and linked nowhere yet: what `bench.writes` links. Each is logged by its own run
# (`train-CCC-vNNN`), which used the sequence's previous version, and takes `latest` in its
# sequence. Interleaved in time across sequences: round k of every sequence, then round k + 1.
CREATE_UNLINKED_PLAN = """
CREATE TEMP TABLE bench_unlinked ON COMMIT DROP AS
SELECT p.*,
       nextval('runs_id_seq') AS run_id,
       nextval('artifact_contents_id_seq') AS content_id,
       nextval('artifact_versions_id_seq') AS logged_id,
       encode(sha256(convert_to(
           p.file || E'\\t' || p.file_digest || E'\\t' || p.size || E'\\n', 'UTF8')), 'hex')
         AS digest
FROM (
    SELECT s.sequence_id, s.project_id, s.code, s.collection_id, s.ordinal, k,
           s.next_index + k AS v,
           $2::timestamptz + k * interval '1 minute' + s.ordinal * interval '50 milliseconds'
             AS logged_at,
           'model.safetensors' AS file,
           encode(sha256(convert_to('unlinked/' || s.sequence_id || '/' || k, 'UTF8')), 'hex')
             AS file_digest,
           (5000000 + k)::bigint AS size
    FROM (
        SELECT seq.id AS sequence_id, seq.project_id, substring(seq.name from 7) AS code,
               seq.next_index, target.id AS collection_id,
               (row_number() OVER (ORDER BY seq.id))::int - 1 AS ordinal
        FROM collections seq
        JOIN projects p ON p.id = seq.project_id
        JOIN registries r ON r.organization_id = seq.organization_id
                         AND r.name = 'bench-' || substring(p.name from 6)
        JOIN collections target ON target.registry_id = r.id
                               AND target.name = 'collection-' || substring(seq.name from 7)
        WHERE seq.organization_id = $1 AND seq.project_id IS NOT NULL
          AND seq.artifact_type = 'model' AND seq.name LIKE 'model-%'
    ) s CROSS JOIN generate_series(0, $3::int - 1) AS k
    ORDER BY logged_at
) p
"""

INSERT_UNLINKED_RUNS = """
INSERT INTO runs (id, project_id, name, state, config, summary, user_id, created_at, finished_at)
SELECT run_id, project_id, 'train-' || code || '-v' || lpad(v::text, 3, '0'), 'FINISHED',
       jsonb_build_object('lr', round(0.1 / (v + 1), 5), 'epochs', 10 + v % 7),
       jsonb_build_object('loss', round(1.0 / (v + 2), 5)),
       $1::bigint, logged_at - interval '10 minutes', logged_at + interval '10 seconds'
FROM bench_unlinked
"""

INSERT_UNLINKED_CONTENTS = """
INSERT INTO artifact_contents (id, sequence_id, digest, size, metadata, description,
                               created_by_run_id, created_at)
SELECT content_id, sequence_id, digest, size, jsonb_build_object('step', v),
       'model v' || v || ' of train-' || code, run_id, logged_at
FROM bench_unlinked
"""

INSERT_UNLINKED_FILES = """
INSERT INTO artifact_files (content_id, path, digest, size)
SELECT content_id, file, file_digest, size FROM bench_unlinked
"""

INSERT_UNLINKED_VERSIONS = """
INSERT INTO artifact_versions (id, collection_id, content_id, version_index, linked_by, linked_at,
                               description)
SELECT logged_id, sequence_id, content_id, v, $1::bigint, logged_at,
       'model v' || v || ' of train-' || code
FROM bench_unlinked
"""

INSERT_UNLINKED_RUN_INPUTS = """
INSERT INTO run_inputs (run_id, content_id, version_id, used_at)
SELECT u.run_id, prev.content_id, prev.id, u.logged_at - interval '9 minutes'
FROM bench_unlinked u
JOIN artifact_versions prev ON prev.collection_id = u.sequence_id AND prev.version_index = u.v - 1
"""

UPDATE_UNLINKED_NEXT_INDEX = """
UPDATE collections col SET next_index = col.next_index + $1::int
WHERE col.id IN (SELECT DISTINCT sequence_id FROM bench_unlinked)
"""

# `latest` passes through every new version: close its open period, open one per version.
CLOSE_UNLINKED_LATEST = """
UPDATE alias_history h SET removed_at = u.logged_at
FROM bench_unlinked u
WHERE u.k = 0 AND h.collection_id = u.sequence_id AND h.alias = 'latest' AND h.removed_at IS NULL
"""

INSERT_UNLINKED_LATEST_HISTORY = """
INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at,
                           removed_at)
SELECT sequence_id, 'latest', logged_id, v, logged_at,
       lead(logged_at) OVER (PARTITION BY sequence_id ORDER BY k)
FROM bench_unlinked
"""

MOVE_UNLINKED_LATEST = """
UPDATE aliases a SET version_id = u.logged_id, assigned_at = u.logged_at
FROM bench_unlinked u
WHERE u.k = $1::int - 1 AND a.collection_id = u.sequence_id AND a.alias = 'latest'
"""


@dataclass(frozen=True, slots=True)
class Unlinked:
    """A logged version linked nowhere, and the registry collection of its sequence."""

    version_id: int
    collection_id: int


async def add_unlinked_versions(
    conn: Connection, organization: str, per_sequence: int
) -> list[Unlinked]:
    """Logs `per_sequence` (at least 1) more versions in every model sequence with bulk SQL (one
    transaction), checks the invariants again and that `log_artifact` with the same files finds
    them, and returns them in the order they were logged (round by round across sequences)."""
    assert per_sequence >= 1
    async with conn.transaction():
        org_id = await conn.fetchval("SELECT id FROM organizations WHERE name = $1", organization)
        member = await user_by_name(conn, "bench-member")
        assert org_id is not None
        assert member is not None
        # Logged a day ago (after every seeded version and alias move, before the benchmark).
        start = datetime.now(UTC) - timedelta(days=1)
        await conn.execute(CREATE_UNLINKED_PLAN, org_id, start, per_sequence)
        await conn.execute(INSERT_UNLINKED_RUNS, member.id)
        await conn.execute(INSERT_UNLINKED_CONTENTS)
        await conn.execute(INSERT_UNLINKED_FILES)
        await conn.execute(INSERT_UNLINKED_VERSIONS, member.id)
        await conn.execute(INSERT_UNLINKED_RUN_INPUTS)
        await conn.execute(UPDATE_UNLINKED_NEXT_INDEX, per_sequence)
        await conn.execute(CLOSE_UNLINKED_LATEST)
        await conn.execute(INSERT_UNLINKED_LATEST_HISTORY)
        await conn.execute(MOVE_UNLINKED_LATEST, per_sequence)
        await assert_invariants(conn, org_id, "the unlinked versions")
        rows = await conn.fetch(
            "SELECT logged_id, collection_id FROM bench_unlinked ORDER BY logged_at"
        )
        if rows:
            await _check_unlinked_with_resolvers(conn, org_id, rows[-1]["logged_id"])
    await conn.execute("ANALYZE")
    return [Unlinked(row["logged_id"], row["collection_id"]) for row in rows]


async def _check_unlinked_with_resolvers(
    conn: Connection, organization_id: int, version_id: int
) -> None:
    """Logging the same files again returns the seeded version (the digest is the one
    `log_artifact` computes); linking it takes its registry collection's next index."""
    try:
        async with conn.transaction():
            member = await user_by_name(conn, "bench-member")
            assert member is not None
            (version,) = await versions_by_id(conn, [version_id])
            assert version is not None
            row: Any = await conn.fetchrow(
                "SELECT p.name AS project, seq.name AS sequence FROM collections seq "
                "JOIN projects p ON p.id = seq.project_id WHERE seq.id = $1",
                version.collection_id,
            )
            (project,) = await projects_by_organization_name(
                conn, [(organization_id, row["project"])]
            )
            assert project is not None
            files = await conn.fetch(
                "SELECT path, digest, size FROM artifact_files WHERE content_id = $1",
                version.content_id,
            )
            logged = await log_artifact_txn(
                conn,
                member,
                project,
                name=row["sequence"],
                artifact_type="model",
                files=[FileEntry(f["path"], f["digest"], f["size"]) for f in files],
            )
            assert logged.id == version.id, "unlinked version's digest disagrees with log_artifact"
            registry_name_ = "bench-" + row["project"].removeprefix("team-")
            (registry,) = await registries_by_organization_name(
                conn, [(organization_id, registry_name_)]
            )
            assert registry is not None
            collection = "collection-" + row["sequence"].removeprefix("model-")
            linked = await link_artifact_txn(conn, member, version, registry, collection)
            next_index = await conn.fetchval(
                "SELECT next_index FROM collections WHERE id = $1", linked.collection_id
            )
            assert linked.version_index == next_index - 1
            raise RolledBack
    except RolledBack:
        pass
