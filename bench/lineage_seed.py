"""The lineage benchmark's dataset: a generated graph of runs and artifact contents.

The organization `acme` has one project, `pipeline`, where over half a year

- `ingest` runs log the raw datasets (`raw-00` … `raw-39`, 5 versions each);
- `prep` runs each read 1-3 raw datasets (a few raw datasets are far more popular than the rest:
  Zipf weights) and, one in four, an earlier processed dataset, and log 1 processed dataset
  (one in ten: 2, a train/test split) into one of 400 `dataset-NNN` sequences;
- `train` runs each read 2-6 processed datasets (mostly recent ones) and, three in ten, a base
  model to fine-tune, and log 1 model into one of 500 `model-NNN` sequences;
- `eval` runs each read 1 model (one in ten: 2-3, a comparison) and 1-2 processed datasets, and
  log 1 report into one of 300 `report-NNN` sequences.

A run only reads content logged before it started. The graph is drawn in Python with a fixed
random seed and written with bulk SQL (`INSERT … SELECT` over `unnest` of arrays, one
transaction) into the tables of db/migrations, keeping their constraints and the invariants the
resolvers keep: one logged version per content in its sequence, indexes in logging order,
`next_index` one past the highest, `latest` on the newest version with its alias history, a real
manifest digest per content (`manifest_digest` of its one file), each run input naming
the logged version read. Then `VACUUM ANALYZE`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.database import count_rows
from bench.invariants import assert_invariants, check_manifest_digest
from bench.seed import ORGANIZATION
from db.pool import Connection
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.runs import create_project_txn

PROJECT = "pipeline"

RAW, DATASET, MODEL, REPORT = "raw", "dataset", "model", "report"
ARTIFACT_TYPES = {RAW: "dataset", DATASET: "dataset", MODEL: "model", REPORT: "evaluation"}
FILES = {
    RAW: "data.parquet",
    DATASET: "data.parquet",
    MODEL: "model.safetensors",
    REPORT: "report.json",
}


@dataclass(frozen=True, slots=True)
class GraphShape:
    raw_sequences: int = 40
    raw_versions: int = 5  # per raw sequence
    prep_runs: int = 20_000
    train_runs: int = 25_000
    eval_runs: int = 15_000
    dataset_sequences: int = 400
    model_sequences: int = 500
    report_sequences: int = 300
    seed: int = 20_240_601


@dataclass(slots=True)
class Graph:
    """Runs, contents and inputs by ordinal (position in their list), in time order."""

    sequences: list[tuple[str, str]] = field(default_factory=list)  # (name, kind)
    run_names: list[str] = field(default_factory=list)
    run_kinds: list[str] = field(default_factory=list)
    # Each content: the run that logged it, its sequence, its kind.
    content_runs: list[int] = field(default_factory=list)
    content_sequences: list[int] = field(default_factory=list)
    content_kinds: list[str] = field(default_factory=list)
    input_runs: list[int] = field(default_factory=list)
    input_contents: list[int] = field(default_factory=list)

    @property
    def nodes(self) -> int:
        return len(self.run_names) + len(self.content_runs)


def generate(shape: GraphShape) -> Graph:
    rng = random.Random(shape.seed)
    g = Graph()
    first_sequence: dict[str, int] = {}
    for kind, count, pattern in (
        (RAW, shape.raw_sequences, "raw-{:02d}"),
        (DATASET, shape.dataset_sequences, "dataset-{:03d}"),
        (MODEL, shape.model_sequences, "model-{:03d}"),
        (REPORT, shape.report_sequences, "report-{:03d}"),
    ):
        first_sequence[kind] = len(g.sequences)
        g.sequences.extend((pattern.format(i), kind) for i in range(count))
    counts = {
        RAW: shape.raw_sequences,
        DATASET: shape.dataset_sequences,
        MODEL: shape.model_sequences,
        REPORT: shape.report_sequences,
    }
    logged: dict[str, list[int]] = {RAW: [], DATASET: [], MODEL: [], REPORT: []}

    def run(kind: str) -> int:
        g.run_names.append(f"{kind}-{len(g.run_names):06d}")
        g.run_kinds.append(kind)
        return len(g.run_names) - 1

    def log(run_ordinal: int, kind: str, sequence: int | None = None) -> None:
        if sequence is None:
            sequence = rng.randrange(counts[kind])
        logged[kind].append(len(g.content_runs))
        g.content_runs.append(run_ordinal)
        g.content_sequences.append(first_sequence[kind] + sequence)
        g.content_kinds.append(kind)

    def use(run_ordinal: int, contents: set[int]) -> None:
        for content in sorted(contents):
            g.input_runs.append(run_ordinal)
            g.input_contents.append(content)

    def recent(kind: str) -> int:
        """Mostly one of the last few hundred logged, sometimes any."""
        found = logged[kind]
        if rng.random() < 0.1:
            return found[rng.randrange(len(found))]
        back = min(len(found) - 1, int(rng.expovariate(1 / 150)))
        return found[len(found) - 1 - back]

    for _ in range(shape.raw_versions):
        for s in range(shape.raw_sequences):
            log(run("ingest"), RAW, s)
    raw_weights = [1 / (rank + 1) for rank in range(len(logged[RAW]))]
    raw_by_popularity = list(logged[RAW])
    rng.shuffle(raw_by_popularity)

    later = ["prep"] * (shape.prep_runs - 1000) + ["train"] * shape.train_runs
    later += ["eval"] * shape.eval_runs
    rng.shuffle(later)
    for kind in ["prep"] * min(1000, shape.prep_runs) + later:
        if kind == "eval" and not logged[MODEL]:
            kind = "train"
        r = run(kind)
        inputs: set[int] = set()
        if kind == "prep":
            inputs.update(rng.choices(raw_by_popularity, raw_weights, k=rng.randint(1, 3)))
            if logged[DATASET] and rng.random() < 0.25:
                inputs.add(recent(DATASET))
            use(r, inputs)
            log(r, DATASET)
            if rng.random() < 0.1:
                log(r, DATASET)
        elif kind == "train":
            inputs.update(recent(DATASET) for _ in range(rng.randint(2, 6)))
            if logged[MODEL] and rng.random() < 0.3:
                inputs.add(recent(MODEL))
            use(r, inputs)
            log(r, MODEL)
        else:
            models = 1 if rng.random() < 0.9 else rng.randint(2, 3)
            inputs.update(recent(MODEL) for _ in range(models))
            inputs.update(recent(DATASET) for _ in range(rng.randint(1, 2)))
            use(r, inputs)
            log(r, REPORT)
    return g


# The plan, with ids taken from the sequences up front.
CREATE_PLAN = (
    """
CREATE TEMP TABLE lin_sequences ON COMMIT DROP AS
SELECT o - 1 AS ordinal, name, kind, nextval('collections_id_seq') AS id
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(name, kind, o)
""",
    """
CREATE TEMP TABLE lin_runs ON COMMIT DROP AS
SELECT o - 1 AS ordinal, name, split_part(name, '-', 1) AS kind,
       $2::timestamptz + (o - 1) * interval '4 minutes' AS started,
       nextval('runs_id_seq') AS id
FROM unnest($1::text[]) WITH ORDINALITY AS x(name, o)
""",
    """
CREATE TEMP TABLE lin_contents ON COMMIT DROP AS
SELECT p.*, encode(sha256(convert_to(
           p.path || E'\\t' || p.file_digest || E'\\t' || p.size || E'\\n', 'UTF8')), 'hex')
         AS digest,
       nextval('artifact_contents_id_seq') AS id,
       nextval('artifact_versions_id_seq') AS version_id
FROM (
    SELECT x.o - 1 AS ordinal, r.id AS run_id, s.id AS sequence_id,
           (row_number() OVER (PARTITION BY s.id ORDER BY x.o))::int - 1 AS version_index,
           r.started + interval '3 minutes' AS logged_at,
           x.kind, x.path,
           encode(sha256(convert_to('lineage/' || (x.o - 1), 'UTF8')), 'hex') AS file_digest,
           (1000 + (x.o * 7919) % 1000000)::bigint AS size
    FROM unnest($1::int[], $2::int[], $3::text[], $4::text[])
      WITH ORDINALITY AS x(run_ordinal, sequence_ordinal, kind, path, o)
    JOIN lin_runs r ON r.ordinal = x.run_ordinal
    JOIN lin_sequences s ON s.ordinal = x.sequence_ordinal
    ORDER BY x.o
) p
""",
)

INSERT_GRAPH = (
    """
INSERT INTO collections (id, organization_id, project_id, registry_id, name, artifact_type,
                         next_index, created_at)
SELECT s.id, $1::bigint, $2::bigint, NULL, s.name, $3::jsonb ->> s.kind, n.n, $4::timestamptz
FROM lin_sequences s
-- A sequence exists once its first version is logged: none without versions (small graphs).
JOIN (SELECT sequence_id, count(*) AS n FROM lin_contents GROUP BY sequence_id) n
  ON n.sequence_id = s.id
""",
    """
INSERT INTO runs (id, project_id, name, state, config, summary, user_id, created_at, finished_at)
SELECT id, $1::bigint, name, 'FINISHED', jsonb_build_object('kind', kind),
       jsonb_build_object('seconds', 180), $2::bigint, started, started + interval '3 minutes'
FROM lin_runs
""",
    """
INSERT INTO artifact_contents (id, sequence_id, digest, size, metadata, description,
                               created_by_run_id, created_at)
SELECT id, sequence_id, digest, size, jsonb_build_object('kind', kind), '', run_id, logged_at
FROM lin_contents
""",
    """
INSERT INTO artifact_files (content_id, path, digest, size)
SELECT id, path, file_digest, size FROM lin_contents
""",
    """
INSERT INTO artifact_versions (id, collection_id, content_id, version_index, linked_by, linked_at)
SELECT version_id, sequence_id, id, version_index, $1::bigint, logged_at FROM lin_contents
""",
    """
INSERT INTO aliases (collection_id, alias, version_id, assigned_at)
SELECT DISTINCT ON (sequence_id) sequence_id, 'latest', version_id, logged_at
FROM lin_contents ORDER BY sequence_id, version_index DESC
""",
    """
INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at,
                           removed_at)
SELECT sequence_id, 'latest', version_id, version_index, logged_at,
       lead(logged_at) OVER (PARTITION BY sequence_id ORDER BY version_index)
FROM lin_contents
""",
    """
INSERT INTO run_inputs (run_id, content_id, version_id, used_at)
SELECT r.id, c.id, c.version_id, r.started + interval '10 seconds'
FROM unnest($1::int[], $2::int[]) AS x(run_ordinal, content_ordinal)
JOIN lin_runs r ON r.ordinal = x.run_ordinal
JOIN lin_contents c ON c.ordinal = x.content_ordinal
""",
)

# The graph's invariants beyond the schema's: every content has its logged version, and a run
# only read content logged before it started.
GRAPH_CHECKS = {
    "a content without its logged version": """
        SELECT count(*) FROM artifact_contents c WHERE NOT EXISTS (
            SELECT 1 FROM artifact_versions v
            WHERE v.content_id = c.id AND v.collection_id = c.sequence_id)""",
    "a run input logged after the run started": """
        SELECT count(*) FROM run_inputs ri JOIN runs r ON r.id = ri.run_id
        JOIN artifact_contents c ON c.id = ri.content_id WHERE c.created_at >= r.created_at""",
    "a run input naming another content's version": """
        SELECT count(*) FROM run_inputs ri JOIN artifact_versions v ON v.id = ri.version_id
        WHERE v.content_id <> ri.content_id""",
}

TABLES = (
    "collections",
    "runs",
    "artifact_contents",
    "artifact_files",
    "artifact_versions",
    "aliases",
    "alias_history",
    "run_inputs",
)


@dataclass(slots=True)
class SeededGraph:
    member_key: str
    graph: Graph
    seconds: float
    generate_seconds: float
    # Ids of the start points: content ids by kind, and version ids for `node(id:)`.
    versions: dict[str, list[int]]
    rows: dict[str, int]


async def seed_graph(conn: Connection, shape: GraphShape) -> SeededGraph:
    """Fills a fresh, migrated database with the organization `acme` and its lineage graph."""
    started = time.perf_counter()
    g = generate(shape)
    generate_seconds = time.perf_counter() - started
    async with conn.transaction():
        org = await create_organization_txn(conn, ORGANIZATION, "Acme Corp")
        member = await create_user_txn(conn, "bench-member", "Benchmark member")
        await add_member_txn(conn, org, member, "MEMBER")
        project = await create_project_txn(conn, org.id, PROJECT, "The ML pipeline.")
        key = await create_api_key_txn(conn, member.name, key_name="bench")
        t0 = datetime.now(UTC) - timedelta(days=200)
        await conn.execute(CREATE_PLAN[0], [s[0] for s in g.sequences], [s[1] for s in g.sequences])
        await conn.execute(CREATE_PLAN[1], g.run_names, t0)
        await conn.execute(
            CREATE_PLAN[2],
            g.content_runs,
            g.content_sequences,
            g.content_kinds,
            [FILES[k] for k in g.content_kinds],
        )
        await conn.execute(
            INSERT_GRAPH[0], org.id, project.id, ARTIFACT_TYPES, t0 - timedelta(days=1)
        )
        await conn.execute(INSERT_GRAPH[1], project.id, member.id)
        await conn.execute(INSERT_GRAPH[2])
        await conn.execute(INSERT_GRAPH[3])
        await conn.execute(INSERT_GRAPH[4], member.id)
        await conn.execute(INSERT_GRAPH[5])
        await conn.execute(INSERT_GRAPH[6])
        await conn.execute(INSERT_GRAPH[7], g.input_runs, g.input_contents)
        await assert_invariants(conn, org.id, "the graph")
        for check, sql in GRAPH_CHECKS.items():
            broken = await conn.fetchval(sql)
            assert broken == 0, f"the graph has {check}: {broken} rows"
        await check_manifest_digest(conn, org.id)
        versions: dict[str, list[int]] = {}
        for row in await conn.fetch(
            "SELECT kind, array_agg(version_id ORDER BY ordinal) AS ids FROM lin_contents "
            "GROUP BY kind"
        ):
            versions[row["kind"]] = list(row["ids"])
    # VACUUM too: the benchmark only reads, as a database long after its writes would be, with
    # the visibility map set, so that index-only scans need no heap fetches.
    await conn.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    rows = await count_rows(conn, TABLES)
    return SeededGraph(
        member_key=key,
        graph=g,
        seconds=seconds,
        generate_seconds=generate_seconds,
        versions=versions,
        rows=rows,
    )
