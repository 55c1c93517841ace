"""Deleting a version logged in a project (`deleteArtifactVersion`, and the wandb SDK's
`artifact.delete()`): it goes with its content, files and the runs' uses of it, never while a
registry links it, and a link racing the deletion either wins or finds nothing to link. On a
demo database of its own: the runs and versions made here would show in other tests' counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from db import accounts, runs
from db.pool import create_pool
from db.records import ArtifactVersion
from resolvers.accounts import create_api_key_txn
from resolvers.runs import create_run_txn, log_artifact_txn, use_artifact_txn
from tests.support.app import app_client
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient
from tests.support.ids import gid
from tests.support.manifests import stored_entries


@dataclass
class Own:
    pool: asyncpg.Pool
    bob: GraphQLClient
    cy: GraphQLClient


@pytest.fixture(scope="module")
async def own(server_url: str) -> AsyncIterator[Own]:
    async with new_database(server_url, demo=True) as url:
        pool = await create_pool(url, min_size=1, max_size=6)
        try:
            async with pool.acquire() as conn:
                keys = {u: await create_api_key_txn(conn, u, key_name="own") for u in ("bob", "cy")}
            async with app_client(pool) as client:
                yield Own(
                    pool, GraphQLClient(client, keys["bob"]), GraphQLClient(client, keys["cy"])
                )
        finally:
            await pool.close()


DELETE = """mutation($input: DeleteArtifactVersionInput!) { deleteArtifactVersion(input: $input) {
  deletedVersionId errors { code message field } } }"""
LINK = """mutation($input: LinkArtifactInput!) { linkArtifact(input: $input) {
  artifactVersion { id } errors { code message } } }"""


async def log(pool: asyncpg.Pool, name: str, *, used: bool = False) -> ArtifactVersion:
    """A fresh version logged by bob in the demo's `churn` project, used by a run if asked."""
    async with pool.acquire() as conn, conn.transaction():
        bob = await accounts.user_by_name(conn, "bob")
        assert bob is not None
        (project,) = await runs.projects_by_organization_name(
            conn,
            [(await conn.fetchval("SELECT id FROM organizations WHERE name = 'acme'"), "churn")],
        )
        assert project is not None
        (entry,) = await stored_entries(conn, project, name, "data.bin")
        logged = await log_artifact_txn(
            conn, bob, project, name=name, artifact_type="model", files=[entry]
        )
        if used:
            run = await create_run_txn(conn, bob, project, f"{name}-reader")
            await use_artifact_txn(conn, run, logged)
    return logged


async def delete(api: GraphQLClient, version: ArtifactVersion, **more: Any) -> dict[str, Any]:
    data = await api.data(
        DELETE, {"input": {"versionId": gid("ArtifactVersion", version.id), **more}}
    )
    payload: dict[str, Any] = data["deleteArtifactVersion"]
    return payload


async def rows(pool: asyncpg.Pool, version: ArtifactVersion) -> dict[str, int]:
    async with pool.acquire() as conn:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", key)
            for table, column, key in (
                ("artifact_versions", "content_id", version.content_id),
                ("artifact_contents", "id", version.content_id),
                ("artifact_files", "content_id", version.content_id),
                ("run_inputs", "content_id", version.content_id),
            )
        }


async def test_a_logged_version_goes_with_its_files_and_uses(own: Own) -> None:
    pool, bob = own.pool, own.bob
    version = await log(pool, "deletion-plain", used=True)
    assert (await rows(pool, version))["run_inputs"] == 1
    payload = await delete(bob, version)
    assert payload == {
        "deletedVersionId": gid("ArtifactVersion", version.id),
        "errors": [],
    }
    assert await rows(pool, version) == {
        "artifact_versions": 0,
        "artifact_contents": 0,
        "artifact_files": 0,
        "run_inputs": 0,
    }


async def test_a_linked_or_registry_version_is_refused_and_kept(own: Own) -> None:
    pool, bob = own.pool, own.bob
    version = await log(pool, "deletion-linked")
    linked = await bob.data(
        LINK,
        {
            "input": {
                "versionId": gid("ArtifactVersion", version.id),
                "targetPath": "acme/wandb-registry-model/deletion-linked",
            }
        },
    )
    assert linked["linkArtifact"]["errors"] == []
    before = await rows(pool, version)
    refused = await delete(bob, version)
    assert [e["code"] for e in refused["errors"]] == ["INVALID_ARGUMENT"]
    assert "unlink it there first" in refused["errors"][0]["message"]
    registry_version = linked["linkArtifact"]["artifactVersion"]["id"]
    not_logged = await bob.data(DELETE, {"input": {"versionId": registry_version}})
    assert "unlink it instead" in not_logged["deleteArtifactVersion"]["errors"][0]["message"]
    assert await rows(pool, version) == before


async def test_a_viewer_may_not_delete(own: Own) -> None:
    pool, cy = own.pool, own.cy
    version = await log(pool, "deletion-by-viewer")
    refused = await delete(cy, version)
    assert [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    assert (await rows(pool, version))["artifact_versions"] == 1


async def test_a_link_racing_the_deletion_wins_or_finds_nothing(own: Own) -> None:
    pool, bob = own.pool, own.bob
    for attempt in range(6):
        version = await log(pool, f"deletion-race-{attempt}")
        link_input = {
            "versionId": gid("ArtifactVersion", version.id),
            "targetPath": f"acme/wandb-registry-model/deletion-race-{attempt}",
        }
        deleted, linked = await asyncio.gather(
            delete(bob, version), bob.data(LINK, {"input": link_input})
        )
        link_errors = linked["linkArtifact"]["errors"]
        if deleted["errors"] == []:
            # The deletion came first: the link found nothing to link, and no link was left.
            assert [e["code"] for e in link_errors] == ["NOT_FOUND"], link_errors
            assert await rows(pool, version) == dict.fromkeys(
                ("artifact_versions", "artifact_contents", "artifact_files", "run_inputs"), 0
            )
        else:
            # The link came first: the deletion was refused, and both versions remain.
            assert link_errors == []
            assert "unlink it there first" in deleted["errors"][0]["message"]
            assert (await rows(pool, version))["artifact_versions"] == 2


SEQUENCE_UPDATE = """mutation($input: UpdateArtifactSequenceInput!) {
  updateArtifactSequence(input: $input) { artifactSequence { name description }
    errors { code message field } } }"""
SEQUENCE_DELETE = """mutation($input: DeleteArtifactSequenceInput!) {
  deleteArtifactSequence(input: $input) { deletedSequenceId errors { code message } } }"""


async def test_a_logged_artifact_is_renamed_and_deleted_unless_linked(own: Own) -> None:
    pool, bob = own.pool, own.bob
    first = await log(own.pool, "sequence-first")
    second = await log(own.pool, "sequence-second")
    sequence = gid("ArtifactSequence", first.collection_id)
    taken = await bob.data(
        SEQUENCE_UPDATE, {"input": {"sequenceId": sequence, "name": "sequence-second"}}
    )
    assert [e["code"] for e in taken["updateArtifactSequence"]["errors"]] == ["NAME_TAKEN"]
    renamed = await bob.data(
        SEQUENCE_UPDATE,
        {"input": {"sequenceId": sequence, "name": "sequence-renamed", "description": "d"}},
    )
    assert renamed["updateArtifactSequence"] == {
        "artifactSequence": {"name": "sequence-renamed", "description": "d"},
        "errors": [],
    }
    linked = await bob.data(
        LINK,
        {
            "input": {
                "versionId": gid("ArtifactVersion", second.id),
                "targetPath": "acme/wandb-registry-model/sequence-second",
            }
        },
    )
    assert linked["linkArtifact"]["errors"] == []
    kept = await bob.data(
        SEQUENCE_DELETE,
        {"input": {"sequenceId": gid("ArtifactSequence", second.collection_id)}},
    )
    assert "unlink them first" in kept["deleteArtifactSequence"]["errors"][0]["message"]
    assert (await rows(pool, second))["artifact_contents"] == 1
    gone = await bob.data(SEQUENCE_DELETE, {"input": {"sequenceId": sequence}})
    assert gone["deleteArtifactSequence"] == {"deletedSequenceId": sequence, "errors": []}
    assert await rows(pool, first) == dict.fromkeys(
        ("artifact_versions", "artifact_contents", "artifact_files", "run_inputs"), 0
    )


async def test_a_link_waiting_on_a_deletion_finds_nothing_once_it_commits(own: Own) -> None:
    """The deletion takes the content's row first; the link's insert waits on it through the
    foreign key, and once the deletion commits the link answers NOT_FOUND, writing nothing."""
    pool, bob = own.pool, own.bob
    version = await log(pool, "deletion-held")
    link_input = {
        "versionId": gid("ArtifactVersion", version.id),
        "targetPath": "acme/wandb-registry-model/deletion-held",
    }
    async with pool.acquire() as deleter:
        transaction = deleter.transaction()
        await transaction.start()
        try:
            await deleter.execute(
                "SELECT id FROM artifact_contents WHERE id = $1 FOR UPDATE", version.content_id
            )
            await deleter.execute("DELETE FROM artifact_contents WHERE id = $1", version.content_id)
            linking = asyncio.create_task(bob.data(LINK, {"input": link_input}))
            async with pool.acquire() as watcher:
                while not await watcher.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock')"
                ):
                    assert not linking.done(), await linking
                    await asyncio.sleep(0.01)
        finally:
            await transaction.commit()
    linked = await linking
    assert [e["code"] for e in linked["linkArtifact"]["errors"]] == ["NOT_FOUND"]
    async with pool.acquire() as conn:
        # The collection the link would have made went with its transaction.
        assert not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM collections WHERE name = 'deletion-held' "
            "AND registry_id IS NOT NULL)"
        )
        assert not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM artifact_versions WHERE content_id = $1)",
            version.content_id,
        )
