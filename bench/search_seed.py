"""The search benchmark's dataset: a million registry versions, written with bulk SQL.

The organization, its users, registries and the project go through the resolver functions. The
many rows are written with `INSERT … SELECT` over `generate_series` in one transaction:

- `collections` registry collections (10,000 by default) over 10 registries, the last of them
  RESTRICTED (the benchmark's member holds no role in it, so every search leaves it out), with
  names like `churn-classifier-17`, a card in Markdown, one or two tags; and for each, the
  project's artifact sequence its versions were logged to;
- `versions` contents per collection (100), logged by one of 1,000 runs, each with metadata of
  numbers, strings, booleans and nested objects (`eval.auc`, `eval.loss`, `eval.split`,
  `framework`, `epochs`, `lr`, `dataset.name`, `dataset.rows`, `gpu`) and a description, logged
  round-robin over the collections so that every collection has versions of every age;
- the logged version of each content and its version in the registry collection;
- tags on about one registry version in nine per tag (`gpu` on 30%, `nlp` on 20%), and the
  aliases `latest`, `production` and `staging` in every collection, with their open
  `alias_history` rows.

The metadata and choices are pseudo-random functions of the row number, so that every run seeds
the same data. The secondary indexes of the big tables are dropped before the inserts and made
again after (as a bulk load would), and versions are written with their text documents while the
triggers that would write them row by row are off; a sample is checked against what the triggers
write. Then `ANALYZE` runs. Files are left out: search reads none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.database import count_rows
from db.pool import Connection
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn

ORGANIZATION = "acme"
DOMAINS = (
    "churn", "fraud", "credit", "vision", "speech", "search", "ranking", "forecast", "pricing",
    "ads", "support", "translation", "recsys", "anomaly", "demand", "sentiment", "ocr", "risk",
    "retention", "spam",
)  # fmt: skip
KINDS = (
    "classifier", "detector", "regressor", "embedder", "tokenizer", "ranker", "segmenter",
    "encoder", "transformer", "dataset",
)  # fmt: skip
FRAMEWORKS = ("xgboost", "torch", "sklearn", "jax", "lightgbm")
# (tag, percent of registry versions that carry it)
TAGS = (
    ("gpu", 30), ("nlp", 20), ("baseline", 10), ("distilled", 10), ("quantized", 10),
    ("experimental", 10), ("approved", 10), ("audited", 10), ("tabular", 10), ("vision", 10),
)  # fmt: skip
TABLES = (
    "collections",
    "collection_tags",
    "runs",
    "artifact_contents",
    "artifact_versions",
    "version_tags",
    "aliases",
    "alias_history",
)


@dataclass(frozen=True, slots=True)
class SearchShape:
    registries: int = 10
    collections: int = 10_000  # in all
    versions: int = 100  # per collection
    runs: int = 1_000

    @property
    def registry_versions(self) -> int:
        return self.collections * self.versions


@dataclass(slots=True)
class SeededSearch:
    organization: str
    member_key: str
    shape: SearchShape
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)


# Index definitions of the big tables that no constraint needs, to make again after the load.
SELECT_SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)
  AND i.indexdef NOT LIKE 'CREATE UNIQUE INDEX%'
"""

INSERT_COLLECTIONS = """
WITH plan AS (
    SELECT c, (c % $3::int) AS r,
           $4::text[] AS domains, $5::text[] AS kinds
    FROM generate_series(0, $2::int - 1) AS c
)
INSERT INTO collections (organization_id, registry_id, project_id, name, artifact_type,
                         description, next_index, created_at)
SELECT $1::bigint, ($6::bigint[])[r + 1], NULL,
       domains[1 + c % 20] || '-' || kinds[1 + (c / 20) % 10] || '-' || c,
       CASE WHEN kinds[1 + (c / 20) % 10] = 'dataset' THEN 'dataset' ELSE 'model' END,
       '# ' || initcap(domains[1 + c % 20]) || ' ' || kinds[1 + (c / 20) % 10] || E'\n\n'
         || 'Predicts ' || domains[1 + c % 20] || ' outcomes for team ' || (c % 37)
         || '. Owned by the ' || domains[1 + (c * 7) % 20] || ' group.',
       $7::int, now() - interval '400 days' + c * interval '1 second'
FROM plan
UNION ALL
SELECT $1::bigint, NULL, $8::bigint,
       domains[1 + c % 20] || '-' || kinds[1 + (c / 20) % 10] || '-' || c,
       CASE WHEN kinds[1 + (c / 20) % 10] = 'dataset' THEN 'dataset' ELSE 'model' END,
       '', $7::int, now() - interval '400 days'
FROM plan
"""

INSERT_COLLECTION_TAGS = """
INSERT INTO collection_tags (collection_id, tag)
SELECT id, t FROM collections,
LATERAL unnest(ARRAY[
    CASE WHEN split_part(name, '-', 1) IN ('speech', 'search', 'translation', 'sentiment',
                                           'support', 'spam') THEN 'nlp'
         WHEN split_part(name, '-', 1) IN ('vision', 'ocr') THEN 'vision'
         ELSE 'tabular' END,
    'team-' || (id % 20)]) AS t
WHERE registry_id IS NOT NULL
"""

INSERT_RUNS = """
INSERT INTO runs (project_id, name, state, user_id, created_at, finished_at, config, summary)
SELECT $1::bigint, 'run-' || n, 'FINISHED', $2::bigint,
       now() - interval '400 days' + n * interval '8 hours',
       now() - interval '400 days' + n * interval '8 hours' + interval '1 hour',
       jsonb_build_object('lr', 0.001 * (1 + n % 10)), jsonb_build_object('loss', (n % 100) / 100.0)
FROM generate_series(0, $3::int - 1) AS n
"""

# Each content's collection (by its position among the registry collections), index and time.
CREATE_PLAN = """
CREATE TEMP TABLE bench_search_plan ON COMMIT DROP AS
WITH registry_collections AS (
    SELECT row_number() OVER (ORDER BY id) - 1 AS c, id, name FROM collections
    WHERE registry_id IS NOT NULL AND organization_id = $1::bigint
), sequences AS (
    SELECT id, name FROM collections WHERE project_id = $2::bigint
), runs_in_order AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM runs WHERE project_id = $2::bigint
)
SELECT i, rc.id AS collection_id, s.id AS sequence_id, (i / $3::int)::int AS k,
       nextval('artifact_contents_id_seq') AS content_id,
       nextval('artifact_versions_id_seq') AS logged_id,
       nextval('artifact_versions_id_seq') AS linked_id,
       now() - interval '365 days' + i * interval '30 seconds' AS logged_at,
       (SELECT ids FROM runs_in_order)[1 + i % $4::int] AS run_id
FROM generate_series(0, $5::int - 1) AS i
JOIN registry_collections rc ON rc.c = i % $3::int
JOIN sequences s ON s.name = rc.name
"""

INSERT_CONTENTS = """
INSERT INTO artifact_contents (id, sequence_id, digest, size, metadata, description,
                               created_by_run_id, created_at)
SELECT content_id, sequence_id, md5(i::text) || md5((i + 1)::text),
       1000 + (i::bigint * 7919) % 1000000000,
       jsonb_build_object(
           'eval', CASE WHEN i % 10 = 0 THEN jsonb_build_object('loss', ((i * 53) % 1000) / 1000.0)
                        ELSE jsonb_build_object(
                            'auc', 0.5 + ((i * 37) % 500) / 1000.0,
                            'loss', ((i * 53) % 1000) / 1000.0,
                            'split', (ARRAY['test', 'val', 'holdout'])[1 + i % 3]) END,
           'framework', ($1::text[])[1 + (i * 7) % 5],
           'epochs', 1 + (i * 13) % 100,
           'lr', 0.0001 * (1 + i % 50),
           'dataset', jsonb_build_object('name', 'ds-' || (i / 5) % 50, 'rows', 1000 * (i % 977)),
           'gpu', i % 3 = 0),
       (ARRAY['', 'Retrained on the latest data', 'Baseline for the quarterly review',
              'Tuned learning rate and warmup', 'Distilled from the large model',
              'Candidate for production', 'Fixed a leak in the features'])[1 + i % 7],
       run_id, logged_at
FROM bench_search_plan
"""

# The tags of each registry version, drawn before the versions so that their text documents
# can be written with them.
CREATE_TAGS = """
CREATE TEMP TABLE bench_search_tags ON COMMIT DROP AS
SELECT p.linked_id AS version_id, t.tag
FROM bench_search_plan p
CROSS JOIN unnest($1::text[], $2::int[], $3::int[]) AS t(tag, percent, salt)
WHERE (p.i * 2654435761 + t.salt * 40503) % 100 < t.percent
"""

# The versions with their text documents written as version_search_document (migration 0008)
# writes them, set-based rather than row by row: the triggers are off for the load.
INSERT_VERSIONS = """
WITH tags AS (
    SELECT version_id, string_agg(tag, ' ' ORDER BY tag) AS tags
    FROM bench_search_tags GROUP BY version_id
)
INSERT INTO artifact_versions (id, collection_id, content_id, version_index, linked_by,
                               linked_at, description, search_document)
SELECT v.id, v.collection_id, v.content_id, v.k, v.linked_by, v.linked_at, v.description,
       setweight(to_tsvector('simple', col.name), 'A')
       || setweight(to_tsvector('simple', coalesce(tags.tags, '')), 'B')
       || setweight(to_tsvector('simple', v.description || ' ' || col.description), 'C')
FROM (
    SELECT p.logged_id AS id, p.sequence_id AS collection_id, p.content_id, p.k,
           NULL::bigint AS linked_by, p.logged_at AS linked_at, c.description
    FROM bench_search_plan p JOIN artifact_contents c ON c.id = p.content_id
    UNION ALL
    SELECT p.linked_id, p.collection_id, p.content_id, p.k, $1::bigint,
           p.logged_at + interval '1 hour', c.description
    FROM bench_search_plan p JOIN artifact_contents c ON c.id = p.content_id
) v
JOIN collections col ON col.id = v.collection_id
LEFT JOIN tags ON tags.version_id = v.id
"""

INSERT_VERSION_TAGS = (
    "INSERT INTO version_tags (version_id, tag) SELECT version_id, tag FROM bench_search_tags"
)

# The triggers that keep versions' text documents, off while the load writes them itself.
DOCUMENT_TRIGGERS = (
    ("artifact_versions", "artifact_versions_search_document"),
    ("version_tags", "version_tags_added"),
)

# Versions whose document differs from what the triggers would have written (a sample).
COUNT_STALE_DOCUMENTS = """
SELECT count(*) FROM (SELECT * FROM artifact_versions TABLESAMPLE SYSTEM (1)) v
WHERE v.search_document <> version_search_document(v.id, v.description, v.collection_id)
"""

INSERT_ALIASES = """
WITH holders AS (
    SELECT p.collection_id, a.alias, p.linked_id, p.k, p.logged_at
    FROM bench_search_plan p
    JOIN (VALUES ('latest', 0), ('staging', 1), ('production', 3)) AS a(alias, back)
      ON p.k = $1::int - 1 - a.back
), history AS (
    INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at)
    SELECT collection_id, alias, linked_id, k, logged_at + interval '2 hours' FROM holders
)
INSERT INTO aliases (collection_id, alias, version_id, assigned_at)
SELECT collection_id, alias, linked_id, logged_at + interval '2 hours' FROM holders
"""


async def seed_search(conn: Connection, shape: SearchShape) -> SeededSearch:
    started = time.perf_counter()
    async with conn.transaction():
        org = await create_organization_txn(conn, ORGANIZATION, "Acme")
        admin = await create_user_txn(conn, "bench-admin", "Bench Admin")
        member = await create_user_txn(conn, "bench-member", "Bench Member")
        await add_member_txn(conn, org, admin, "ADMIN")
        await add_member_txn(conn, org, member, "MEMBER")
        member_key = await create_api_key_txn(conn, member.name, key_name="bench")
        registry_ids = [
            (
                await create_registry_txn(
                    conn,
                    admin,
                    org.id,
                    name=f"reg-{r:02d}",
                    description=f"Registry {r} of the search benchmark",
                    visibility="RESTRICTED" if r == shape.registries - 1 else "ORGANIZATION",
                )
            ).id
            for r in range(shape.registries)
        ]
        project = await create_project_txn(conn, org.id, "lab")
        indexes = await conn.fetch(SELECT_SECONDARY_INDEXES, list(TABLES))
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(
            INSERT_COLLECTIONS,
            org.id,
            shape.collections,
            shape.registries,
            list(DOMAINS),
            list(KINDS),
            registry_ids,
            shape.versions,
            project.id,
        )
        await conn.execute(INSERT_COLLECTION_TAGS)
        await conn.execute(INSERT_RUNS, project.id, admin.id, shape.runs)
        await conn.execute(
            CREATE_PLAN, org.id, project.id, shape.collections, shape.runs,
            shape.registry_versions,
        )  # fmt: skip
        await conn.execute(INSERT_CONTENTS, list(FRAMEWORKS))
        await conn.execute(
            CREATE_TAGS, [t for t, _ in TAGS], [p for _, p in TAGS], list(range(1, len(TAGS) + 1))
        )
        for table, trigger in DOCUMENT_TRIGGERS:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        await conn.execute(INSERT_VERSIONS, admin.id)
        await conn.execute(INSERT_VERSION_TAGS)
        for table, trigger in DOCUMENT_TRIGGERS:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        await conn.execute(INSERT_ALIASES, shape.versions)
        for index in indexes:
            await conn.execute(index["indexdef"])
    await conn.execute("ANALYZE")
    stale = await conn.fetchval(COUNT_STALE_DOCUMENTS)
    if stale:
        raise AssertionError(
            f"{stale} sampled versions have a text document the triggers differ on"
        )
    rows = await count_rows(conn, TABLES)
    return SeededSearch(ORGANIZATION, member_key, shape, time.perf_counter() - started, rows)
