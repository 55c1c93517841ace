"""Case rules: aliases, protected aliases and tags are case-insensitive, kept in lower case;
registry, user, team and automation names are unique whatever their case; organization,
project, collection and run names are case-sensitive. Checked on a database of its own, since
the changes here would show in other tests' demo data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from db.migrate import load_migrations, migrate
from db.pool import Connection, create_pool
from tests.support.app import own_demo
from tests.support.graphql import GraphQLClient

CHURN = "acme/wandb-registry-model/churn-classifier"
VERSION = """query V($path: String!) { artifactVersion(path: $path) {
  id version aliases tags collection { ... on Collection { tags } } } }"""
ALIASES = """mutation M($input: AliasesInput!) {
  addAliases(input: $input) { artifactVersion { aliases } errors { code message } } }"""
REMOVE_ALIASES = """mutation M($input: AliasesInput!) {
  removeAliases(input: $input) { artifactVersion { aliases } errors { code message } } }"""
TAGS = """mutation M($input: TagsInput!) { addTags(input: $input) { errors { code } } }"""


@pytest.fixture(scope="module")
async def ada(server_url: str) -> AsyncIterator[GraphQLClient]:
    async with own_demo(server_url) as client:
        yield client


async def test_an_alias_given_in_capitals_is_kept_in_lower_case(ada: GraphQLClient) -> None:
    added = (await ada.data(ALIASES, {"input": {"path": f"{CHURN}:v2", "aliases": ["Canary-1"]}}))[
        "addAliases"
    ]
    assert added["errors"] == []
    assert "canary-1" in added["artifactVersion"]["aliases"]
    found = (await ada.data(VERSION, {"path": f"{CHURN}:CANARY-1"}))["artifactVersion"]
    assert found["version"] == "v2"
    # The same alias in another spelling moves it, as one alias.
    moved = (await ada.data(ALIASES, {"input": {"path": f"{CHURN}:v3", "aliases": ["canary-1"]}}))[
        "addAliases"
    ]
    assert moved["errors"] == []
    assert (await ada.data(VERSION, {"path": f"{CHURN}:v2"}))["artifactVersion"]["aliases"] == []
    removed = (
        await ada.data(REMOVE_ALIASES, {"input": {"path": f"{CHURN}:v3", "aliases": ["CANARY-1"]}})
    )["removeAliases"]
    assert removed["errors"] == []
    assert "canary-1" not in removed["artifactVersion"]["aliases"]


async def test_tags_given_in_capitals_are_one_lower_case_tag(ada: GraphQLClient) -> None:
    version = (await ada.data(VERSION, {"path": f"{CHURN}:v4"}))["artifactVersion"]
    tagged = await ada.data(TAGS, {"input": {"id": version["id"], "tags": ["NLP", "nlp", "Nlp"]}})
    assert tagged["addTags"]["errors"] == []
    after = (await ada.data(VERSION, {"path": f"{CHURN}:v4"}))["artifactVersion"]
    assert [t for t in after["tags"] if t.lower() == "nlp"] == ["nlp"]


async def test_protected_aliases_are_kept_in_lower_case(ada: GraphQLClient) -> None:
    registry = (await ada.data('{ registry(organization: "acme", name: "model") { id } }'))[
        "registry"
    ]["id"]
    updated = await ada.data(
        """mutation M($input: UpdateRegistryInput!) {
          updateRegistry(input: $input) { registry { protectedAliases } errors { code } } }""",
        {"input": {"registryId": registry, "protectedAliases": ["Production", "GOLD"]}},
    )
    assert updated["updateRegistry"]["errors"] == []
    assert updated["updateRegistry"]["registry"]["protectedAliases"] == ["gold", "production"]


async def test_mixed_case_rows_from_before_are_folded_by_the_migration(empty_url: str) -> None:
    """Rows written before the rule: two spellings of one alias in one collection keep the one
    assigned last, whose history stays open while the other's closes; tags merge."""
    shipped = load_migrations()
    case_rules = next(m for m in shipped if m.name == "case_insensitive_labels")
    pool = await create_pool(empty_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, [m for m in shipped if m.version < case_rules.version])
            collection, v2, v3 = await _two_linked_versions(conn)
            await conn.execute(
                "INSERT INTO aliases (collection_id, alias, version_id) VALUES ($1, 'Canary', $2)",
                collection,
                v2,
            )
            await _history(conn, collection, "Canary", v2)
            await conn.execute(
                "INSERT INTO aliases (collection_id, alias, version_id) VALUES ($1, 'CANARY', $2)",
                collection,
                v3,
            )
            await _history(conn, collection, "CANARY", v3)
            await conn.execute(
                "INSERT INTO version_tags (version_id, tag) VALUES ($1, 'NLP'), ($1, 'nlp')", v3
            )
            await migrate(conn)
            holders = await conn.fetch(
                "SELECT alias, version_id FROM aliases WHERE collection_id = $1 "
                "AND lower(alias) = 'canary'",
                collection,
            )
            assert [(r["alias"], r["version_id"]) for r in holders] == [("canary", v3)]
            periods = await conn.fetch(
                "SELECT alias, version_id, removed_at IS NULL AS open FROM alias_history "
                "WHERE collection_id = $1 AND lower(alias) = 'canary' ORDER BY id",
                collection,
            )
            assert [tuple(r) for r in periods] == [("canary", v2, False), ("canary", v3, True)]
            tags = await conn.fetch(
                "SELECT tag FROM version_tags WHERE version_id = $1 AND lower(tag) = 'nlp'", v3
            )
            assert [r["tag"] for r in tags] == ["nlp"]
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO version_tags (version_id, tag) VALUES ($1, 'Upper')", v3
                )
    finally:
        await pool.close()


# Rows as the schema before the rule holds them, written directly: the server's code of today
# writes to a newer schema.
TWO_LINKED_VERSIONS = """
WITH org AS (
    INSERT INTO organizations (name, display_name) VALUES ('acme', 'Acme') RETURNING id
), project AS (
    INSERT INTO projects (organization_id, name) SELECT id, 'churn' FROM org RETURNING id
), registry AS (
    INSERT INTO registries (organization_id, name) SELECT id, 'model' FROM org RETURNING id
), sequence AS (
    INSERT INTO collections (organization_id, project_id, name, artifact_type)
    SELECT org.id, project.id, 'churn-model', 'model' FROM org, project RETURNING id
), linked AS (
    INSERT INTO collections (organization_id, registry_id, name, artifact_type)
    SELECT org.id, registry.id, 'churn-classifier', 'model' FROM org, registry RETURNING id
), contents AS (
    INSERT INTO artifact_contents (sequence_id, digest, size)
    SELECT sequence.id, repeat(n::text, 64), 1 FROM sequence, generate_series(2, 3) AS n
    RETURNING id, digest
)
INSERT INTO artifact_versions (collection_id, content_id, version_index)
SELECT linked.id, contents.id, left(contents.digest, 1)::integer FROM linked, contents
RETURNING collection_id, id, version_index
"""


async def _two_linked_versions(conn: Connection) -> tuple[Any, Any, Any]:
    """A registry collection with versions v2 and v3: (collection id, v2's id, v3's id)."""
    rows = sorted(await conn.fetch(TWO_LINKED_VERSIONS), key=lambda r: r["version_index"])
    return rows[0]["collection_id"], rows[0]["id"], rows[1]["id"]


async def _history(conn: Connection, collection: int, alias: str, version: int) -> None:
    await conn.execute(
        """INSERT INTO alias_history (collection_id, alias, version_id, version_index, assigned_at)
           SELECT $1, $2, v.id, v.version_index, clock_timestamp()
           FROM artifact_versions v WHERE v.id = $3""",
        collection,
        alias,
        version,
    )
