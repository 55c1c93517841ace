"""The registry's documented workflow, end to end over HTTP: create a project and a run, log,
use, link with aliases, move aliases, tag, edit, unlink and delete, checking every object and
the audit history after each step; alias time travel (`version(alias:, asOf:)`, `aliasHistory`).

Every test builds a fresh organization of its own (through the resolver functions, as the CLI
does); everything after that goes through GraphQL mutations and queries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers.versions import FileEntry, manifest_digest
from schema.nodes import decode_id
from tests.support.manifests import files
from tests.support.workflow import EVENT, HISTORY, Api, Org, linked_versions, new_org

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(pool, client)


def digest_of(manifest: list[dict[str, Any]]) -> str:
    return manifest_digest([FileEntry(f["path"], f["digest"], f["size"]) for f in manifest])


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def actions(events: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in events]


def assert_newest_first(events: list[dict[str, Any]]) -> None:
    moments = [when(e["createdAt"]) for e in events]
    assert moments == sorted(moments, reverse=True), moments


async def registry_id_of(api: Api, org: str, name: str) -> str:
    data = await api.client.data(
        "query R($o: String!, $n: String!) { registry(organization: $o, name: $n) { id } }",
        {"o": org, "n": name},
    )
    registry_id: str = data["registry"]["id"]
    return registry_id


async def count(pool: asyncpg.Pool, sql: str, *args: Any) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval(sql, *args)
    return value


# The workflow


async def test_project_run_log_and_use(org: Org) -> None:
    """createProject → createRun → logArtifact (v0, the same manifest, v1) → updateRun and
    finishRun → useArtifact by id and by path, with lineage on both sides."""
    member = org.member
    project = (await member.ok("createProject", organization=org.name, name="churn"))["project"]
    assert project["name"] == "churn"
    assert project["description"] == ""
    taken = await member.refused("createProject", organization=org.name, name="churn")
    assert taken["code"] == "NAME_TAKEN"
    assert taken["field"] == ["input", "name"]

    config = {"lr": 0.01, "layers": [64, 32], "optimizer": {"name": "adam"}}
    run = (await member.ok("createRun", projectId=project["id"], name="train-1", config=config))[
        "run"
    ]
    assert run["state"] == "RUNNING"
    assert run["config"] == config
    assert run["summary"] == {}
    assert run["finishedAt"] is None
    assert run["user"] == {"name": member.name}
    assert run["project"] == {"id": project["id"], "name": "churn"}
    assert (await member.refused("createRun", projectId=project["id"], name="train-1"))[
        "code"
    ] == "NAME_TAKEN"

    # v0: files, metadata, aliases; the digest is the manifest's, the size the files' sum.
    manifest = files("v0", "weights.bin", "config.json", "tokenizer/vocab.txt")
    logged = await member.log(
        runId=run["id"],
        name="churn-model",
        type="model",
        files=manifest,
        metadata={"auc": 0.91, "tags": ["gbm"]},
        description="first model",
        aliases=["candidate"],
    )
    v0 = logged["artifactVersion"]
    assert v0["versionIndex"] == 0
    assert v0["version"] == "v0"
    assert v0["aliases"] == ["candidate", "latest"]
    assert HEX64.match(v0["digest"])
    assert v0["digest"] == digest_of(manifest)
    assert v0["size"] == 10 + 20 + 30
    assert v0["type"] == "model"
    assert v0["metadata"] == {"auc": 0.91, "tags": ["gbm"]}
    assert v0["description"] == "first model"
    assert v0["isLink"] is False
    assert v0["path"] == f"{org.name}/churn/churn-model:v0"
    assert v0["createdBy"] == {"id": run["id"], "name": "train-1"}
    assert v0["linkedBy"] == {"name": member.name}
    assert v0["source"] == {"id": v0["id"]}
    assert v0["collection"]["name"] == "churn-model"
    assert v0["collection"]["type"] == "model"

    file_page = await member.node(
        v0["id"],
        """... on ArtifactVersion { files(first: 2) { totalCount nodes { path digest size }
           pageInfo { hasNextPage endCursor } } }""",
    )
    page = file_page["files"]
    assert page["totalCount"] == 3
    in_path_order = sorted(manifest, key=lambda f: f["path"])
    assert page["nodes"] == in_path_order[:2]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await member.node(
        v0["id"],
        '... on ArtifactVersion { files(first: 5, after: "CURSOR") { nodes { path } } }'.replace(
            "CURSOR", page["pageInfo"]["endCursor"]
        ),
    )
    assert [f["path"] for f in rest["files"]["nodes"]] == [in_path_order[2]["path"]]

    # The same manifest (in another order) returns the same version, with the new alias added.
    again = await member.log(
        runId=run["id"],
        name="churn-model",
        type="model",
        files=list(reversed(manifest)),
        aliases=["best"],
    )
    assert again["artifactVersion"]["id"] == v0["id"]
    assert again["artifactVersion"]["version"] == "v0"
    assert again["artifactVersion"]["aliases"] == ["best", "candidate", "latest"]
    assert again["artifactVersion"]["description"] == "first model"

    # A logged artifact keeps its type.
    mismatch = await member.refused(
        "logArtifact", runId=run["id"], name="churn-model", type="dataset", files=manifest
    )
    assert mismatch["code"] == "TYPE_MISMATCH"

    # A different manifest is v1 and takes `latest`.
    v1 = (
        await member.log(
            projectId=project["id"],
            name="churn-model",
            type="model",
            files=files("v1", "weights.bin"),
        )
    )["artifactVersion"]
    assert v1["version"] == "v1"
    assert v1["aliases"] == ["latest"]
    assert v1["createdBy"] is None  # logged from the project, not from a run
    assert v1["digest"] != v0["digest"]
    assert (await member.version(v0["id"]))["aliases"] == ["best", "candidate"]
    sequence = await member.client.data(
        """query S($o: String!) { organization(name: $o) { project(name: "churn") {
             artifactSequence(name: "churn-model") {
               versions { totalCount nodes { version } }
               latest: version(alias: "latest") { id } } } } }""",
        {"o": org.name},
    )
    found = sequence["organization"]["project"]["artifactSequence"]
    assert found["versions"]["totalCount"] == 2
    assert [n["version"] for n in found["versions"]["nodes"]] == ["v1", "v0"]
    assert found["latest"] == {"id": v1["id"]}

    # updateRun merges the summary and keeps the run going; finishRun ends it.
    updated = (await member.ok("updateRun", runId=run["id"], summary={"loss": 0.3, "epoch": 1}))[
        "run"
    ]
    assert updated["state"] == "RUNNING"
    assert updated["summary"] == {"loss": 0.3, "epoch": 1}
    assert updated["finishedAt"] is None
    finished = (await member.ok("finishRun", runId=run["id"], summary={"epoch": 5, "auc": 0.9}))[
        "run"
    ]
    assert finished["state"] == "FINISHED"
    assert finished["summary"] == {"loss": 0.3, "epoch": 5, "auc": 0.9}
    assert finished["finishedAt"] is not None
    assert when(finished["finishedAt"]) >= when(run["createdAt"])
    assert finished["config"] == config

    # A finished run cannot log, nor end again differently.
    refused = await member.refused(
        "logArtifact", runId=run["id"], name="churn-model", type="model", files=files("v2", "w")
    )
    assert refused["code"] == "RUN_FINISHED"
    assert refused["field"] == ["input", "runId"]
    again_ended = await member.refused("updateRun", runId=run["id"], state="FAILED")
    assert again_ended["code"] == "RUN_FINISHED"
    assert (await member.refused("finishRun", runId=run["id"], state="RUNNING"))[
        "code"
    ] == "INVALID_ARGUMENT"
    after = await member.node(run["id"], "... on Run { state finishedAt outputs { totalCount } }")
    assert after["state"] == "FINISHED"
    assert after["finishedAt"] == finished["finishedAt"]
    assert after["outputs"]["totalCount"] == 1  # v0 only: v1 was logged without the run
    assert (
        await count(
            org.pool,
            "SELECT count(*) FROM artifact_versions v JOIN collections c ON c.id = v.collection_id "
            "WHERE c.project_id = (SELECT id FROM projects WHERE organization_id = $1)",
            org.id,
        )
        == 2
    )

    # useArtifact by id and by path: run.inputs and version.usedBy.
    evaluation = (await member.ok("createRun", projectId=project["id"], name="eval-1"))["run"]
    by_id = await member.ok("useArtifact", runId=evaluation["id"], versionId=v1["id"])
    assert by_id["run"] == {"id": evaluation["id"]}
    assert by_id["artifactVersion"]["id"] == v1["id"]
    by_path = await member.ok(
        "useArtifact", runId=evaluation["id"], path=f"{org.name}/churn/churn-model:best"
    )
    assert by_path["artifactVersion"]["id"] == v0["id"]
    # Using the same version again records nothing new.
    await member.ok("useArtifact", runId=evaluation["id"], versionId=v0["id"])
    lineage = await member.node(
        evaluation["id"], "... on Run { inputs { totalCount nodes { id version } } }"
    )
    assert lineage["inputs"]["totalCount"] == 2
    assert [n["version"] for n in lineage["inputs"]["nodes"]] == ["v0", "v1"]  # most recent first
    for version in (v0, v1):
        used = await member.node(
            version["id"], "... on ArtifactVersion { usedBy { totalCount nodes { id name } } }"
        )
        assert used["usedBy"] == {
            "totalCount": 1,
            "nodes": [{"id": evaluation["id"], "name": "eval-1"}],
        }
    missing = await member.refused(
        "useArtifact", runId=evaluation["id"], path=f"{org.name}/churn/churn-model:v9"
    )
    assert missing["code"] == "NOT_FOUND"

    # A viewer may not log or create.
    denied = await org.viewer.refused(
        "logArtifact", projectId=project["id"], name="x", type="model", files=files("x", "x")
    )
    assert denied["code"] == "PERMISSION_DENIED"
    assert (await org.viewer.refused("createProject", organization=org.name, name="nope"))[
        "code"
    ] == "PERMISSION_DENIED"


async def test_link_alias_unlink_workflow(org: Org) -> None:
    """createRegistry → linkArtifact to a new collection → link again, link a link, link by
    collectionId → move aliases → protected and reserved aliases → unlink → link again → delete,
    with the collection's and the registry's history checked after every step."""
    admin, member = org.admin, org.member
    project = (await member.ok("createProject", organization=org.name, name="churn"))["project"]
    run = (await member.ok("createRun", projectId=project["id"], name="train"))["run"]
    logged = []
    for n in range(3):
        payload = await member.log(
            runId=run["id"],
            name="churn-model",
            type="model",
            files=files(f"{n}", "w"),
        )
        logged.append(payload["artifactVersion"])
    assert [v["version"] for v in logged] == ["v0", "v1", "v2"]

    registry = (
        await admin.ok(
            "createRegistry",
            organization=org.name,
            name="Churn-Models",
            description="Models for churn",
            visibility="ORGANIZATION",
            acceptedTypes=["model", "model"],
            protectedAliases=["production"],
        )
    )["registry"]
    assert registry["name"] == "Churn-Models"
    assert registry["fullName"] == "wandb-registry-Churn-Models"
    assert registry["visibility"] == "ORGANIZATION"
    assert registry["acceptedTypes"] == ["model"]
    assert registry["acceptsAllTypes"] is False
    assert registry["protectedAliases"] == ["production"]
    assert registry["isCore"] is False
    clash = await admin.refused("createRegistry", organization=org.name, name="churn-models")
    assert clash["code"] == "NAME_TAKEN"
    registry_events = await admin.events(registry["id"])
    assert actions(registry_events) == ["CREATE_REGISTRY"]
    assert registry_events[0]["actor"] == {"name": admin.name}
    assert registry_events[0]["targetId"] == registry["id"]
    assert registry_events[0]["after"]["name"] == "Churn-Models"
    assert registry_events[0]["after"]["protectedAliases"] == ["production"]

    # An organization member only views an ORGANIZATION registry until given a role.
    target = "wandb-registry-churn-models/churn"  # registry names match case-insensitively
    denied = await member.refused(
        "linkArtifact", versionId=logged[0]["id"], targetPath=target, aliases=["staging"]
    )
    assert denied["code"] == "PERMISSION_DENIED"
    await org.grant(registry["id"], member, "MEMBER")
    wrong_type = await admin.refused(
        "linkArtifact",
        versionId=logged[0]["id"],
        targetPath=f"{org.name}/wandb-registry-dataset/churn",
    )
    assert wrong_type["code"] == "TYPE_NOT_ACCEPTED"

    # Link v0 to a collection that does not exist yet: it is created with the version's type.
    link0 = (
        await member.ok(
            "linkArtifact", versionId=logged[0]["id"], targetPath=target, aliases=["staging"]
        )
    )["artifactVersion"]
    assert link0["id"] != logged[0]["id"]
    assert link0["versionIndex"] == 0
    assert link0["isLink"] is True
    assert link0["aliases"] == ["latest", "staging"]
    assert link0["digest"] == logged[0]["digest"]
    assert link0["source"] == {"id": logged[0]["id"]}
    assert link0["createdBy"] == {"id": run["id"], "name": "train"}
    assert link0["linkedBy"] == {"name": member.name}
    assert link0["path"] == f"{org.name}/wandb-registry-Churn-Models/churn:v0"
    collection = link0["collection"]
    assert collection["name"] == "churn"
    assert collection["type"] == "model"
    events = await member.events(collection["id"])
    assert actions(events) == ["ADD_ARTIFACT_ALIAS", "LINK_ARTIFACT", "CREATE_COLLECTION"]
    assert {e["actor"]["name"] for e in events} == {member.name}
    assert_newest_first(events)
    assert events[2]["targetId"] == collection["id"]
    assert events[2]["after"] == {"name": "churn", "type": "model"}
    assert events[1]["targetId"] == link0["id"]
    assert events[1]["after"] == {"version": "v0", "digest": link0["digest"]}
    assert events[0]["before"] is None
    assert events[0]["after"] == {"alias": "staging", "version": "v0"}
    assert actions(await member.events(registry["id"])) == [*actions(events), "CREATE_REGISTRY"]

    # Linking the same content again returns the existing version and changes nothing.
    same = (
        await member.ok(
            "linkArtifact",
            sourcePath=f"{org.name}/churn/churn-model:v0",
            targetPath=target,
        )
    )["artifactVersion"]
    assert same["id"] == link0["id"]
    # Linking the linked version links its source: the same content, no new index.
    via_link = (await member.ok("linkArtifact", versionId=link0["id"], targetPath=target))[
        "artifactVersion"
    ]
    assert via_link["id"] == link0["id"]
    assert len(await member.events(collection["id"])) == 3
    # ... and into another collection it links the logged version, not the link.
    archive_link = (
        await member.ok(
            "linkArtifact", versionId=link0["id"], targetPath="wandb-registry-Churn-Models/archive"
        )
    )["artifactVersion"]
    assert archive_link["version"] == "v0"
    assert archive_link["source"] == {"id": logged[0]["id"]}
    assert archive_link["collection"]["name"] == "archive"
    linked = await member.node(
        logged[0]["id"], "... on ArtifactVersion { linkedVersions { nodes { id } } }"
    )
    assert [n["id"] for n in linked["linkedVersions"]["nodes"]] == [
        link0["id"],
        archive_link["id"],
    ]

    # Link v1 by collection ID: index 1, `latest` moves to it.
    link1 = (
        await member.ok("linkArtifact", versionId=logged[1]["id"], collectionId=collection["id"])
    )["artifactVersion"]
    assert link1["versionIndex"] == 1
    assert link1["aliases"] == ["latest"]
    assert (await member.version(link0["id"]))["aliases"] == ["staging"]
    events = await member.events(collection["id"])
    assert actions(events)[:1] == ["LINK_ARTIFACT"]
    assert events[0]["after"] == {"version": "v1", "digest": logged[1]["digest"]}
    assert len(events) == 4

    # addAliases moves `staging` from v0 to v1.
    moved = (await member.ok("addAliases", versionId=link1["id"], aliases=["staging"]))[
        "artifactVersion"
    ]
    assert moved["aliases"] == ["latest", "staging"]
    assert (await member.version(link0["id"]))["aliases"] == []
    events = await member.events(collection["id"])
    assert events[0]["action"] == "MOVE_ARTIFACT_ALIAS"
    assert events[0]["targetId"] == link1["id"]
    assert events[0]["before"] == {"alias": "staging", "version": "v0"}
    assert events[0]["after"] == {"alias": "staging", "version": "v1"}
    assert events[0]["actor"] == {"name": member.name}
    # Giving an alias to the version that holds it changes and records nothing.
    await member.ok("addAliases", versionId=link1["id"], aliases=["staging"])
    assert len(await member.events(collection["id"])) == len(events)

    # `production` is protected: a registry MEMBER may not touch it, the admin may.
    protected = await member.refused(
        "addAliases",
        path=f"{org.name}/wandb-registry-Churn-Models/churn:v0",
        aliases=["production"],
    )
    assert protected["code"] == "PROTECTED_ALIAS"
    assert protected["field"] == ["input", "aliases"]
    assert (
        await member.refused(
            "linkArtifact", versionId=logged[2]["id"], targetPath=target, aliases=["production"]
        )
    )["code"] == "PROTECTED_ALIAS"
    await admin.ok(
        "addAliases",
        path=f"{org.name}/wandb-registry-Churn-Models/churn:v0",
        aliases=["production"],
    )
    await admin.ok("addAliases", versionId=link1["id"], aliases=["production", "champion"])
    events = await member.events(collection["id"])
    assert actions(events)[:3] == [
        "ADD_ARTIFACT_ALIAS",
        "MOVE_ARTIFACT_ALIAS",
        "ADD_ARTIFACT_ALIAS",
    ]
    assert events[0]["after"] == {"alias": "champion", "version": "v1"}
    assert events[1]["before"] == {"alias": "production", "version": "v0"}
    assert events[1]["after"] == {"alias": "production", "version": "v1"}
    assert events[1]["actor"] == {"name": admin.name}
    assert events[2]["before"] is None
    assert events[2]["after"] == {"alias": "production", "version": "v0"}

    # `latest` and v<N> are the server's.
    for alias in ("latest", "v3"):
        for mutation in ("addAliases", "removeAliases"):
            reserved = await admin.refused(mutation, versionId=link0["id"], aliases=[alias])
            assert reserved["code"] == "RESERVED_ALIAS"
    bad = await member.refused("addAliases", versionId=link0["id"], aliases=["no spaces"])
    assert bad["code"] == "INVALID_NAME"
    viewer = await org.viewer.refused("addAliases", versionId=link0["id"], aliases=["mine"])
    assert viewer["code"] == "PERMISSION_DENIED"

    # removeAliases.
    removed = (await member.ok("removeAliases", versionId=link1["id"], aliases=["staging"]))[
        "artifactVersion"
    ]
    assert removed["aliases"] == ["champion", "latest", "production"]
    events = await member.events(collection["id"])
    assert events[0]["action"] == "REMOVE_ARTIFACT_ALIAS"
    assert events[0]["before"] == {"alias": "staging", "version": "v1"}
    assert events[0]["after"] is None
    not_held = await member.refused("removeAliases", versionId=link1["id"], aliases=["staging"])
    assert not_held["code"] == "NOT_FOUND"
    assert len(await member.events(collection["id"])) == len(events)

    # Unlinking v1 (it holds `production`: admins only) moves `latest` to v0.
    holds_protected = await member.refused("unlinkArtifact", versionId=link1["id"])
    assert holds_protected["code"] == "PROTECTED_ALIAS"
    unlinked = await admin.ok("unlinkArtifact", versionId=link1["id"])
    assert unlinked["unlinkedVersionId"] == link1["id"]
    after_unlink = unlinked["collection"]
    assert after_unlink["id"] == collection["id"]
    assert after_unlink["versions"]["totalCount"] == 1
    assert after_unlink["versions"]["nodes"] == [
        {"id": link0["id"], "version": "v0", "aliases": ["latest"]}
    ]
    assert await admin.node(link1["id"], "id") is None
    events = await member.events(collection["id"])
    assert events[0]["action"] == "UNLINK_ARTIFACT"
    assert events[0]["targetId"] == link1["id"]
    assert events[0]["actor"] == {"name": admin.name}
    assert events[0]["before"] == {
        "version": "v1",
        "digest": logged[1]["digest"],
        "aliases": ["champion", "latest", "production"],
    }
    # The logged version stays; unlinking it is refused.
    assert (await member.version(logged[1]["id"]))["aliases"] == []
    logged_unlink = await member.refused("unlinkArtifact", versionId=logged[1]["id"])
    assert logged_unlink["code"] == "INVALID_ARGUMENT"

    # The unlinked index is never reused: the next link is v2, and takes `latest`.
    link2 = (
        await member.ok(
            "linkArtifact",
            sourcePath=f"{org.name}/churn/churn-model:v1",
            targetPath=target,
            aliases=["staging"],
        )
    )["artifactVersion"]
    assert link2["version"] == "v2"
    assert link2["aliases"] == ["latest", "staging"]
    link3 = (
        await member.ok("linkArtifact", versionId=logged[2]["id"], collectionId=collection["id"])
    )["artifactVersion"]
    assert link3["version"] == "v3"
    # Unlinking a version without `latest` leaves `latest` where it is.
    by_path = await member.ok(
        "unlinkArtifact", path=f"{org.name}/wandb-registry-Churn-Models/churn:v2"
    )
    assert by_path["unlinkedVersionId"] == link2["id"]
    state = await member.node(
        collection["id"],
        """... on Collection { versions { nodes { version aliases } }
           aliases { alias version { version } } }""",
    )
    assert state["versions"]["nodes"] == [
        {"version": "v3", "aliases": ["latest"]},
        {"version": "v0", "aliases": []},
    ]
    assert state["aliases"] == [{"alias": "latest", "version": {"version": "v3"}}]
    # Unlinking the newest moves `latest` back to the newest remaining.
    await member.ok("unlinkArtifact", versionId=link3["id"])
    assert (await member.version(link0["id"]))["aliases"] == ["latest"]

    # The whole story, newest first, with the registry's history a superset.
    events = await member.events(collection["id"])
    assert actions(events) == [
        "UNLINK_ARTIFACT",  # v3
        "UNLINK_ARTIFACT",  # v2
        "LINK_ARTIFACT",  # v3
        "ADD_ARTIFACT_ALIAS",  # staging → v2
        "LINK_ARTIFACT",  # v2
        "UNLINK_ARTIFACT",  # v1
        "REMOVE_ARTIFACT_ALIAS",
        "ADD_ARTIFACT_ALIAS",  # champion
        "MOVE_ARTIFACT_ALIAS",  # production v0 → v1
        "ADD_ARTIFACT_ALIAS",  # production → v0
        "MOVE_ARTIFACT_ALIAS",  # staging v0 → v1
        "LINK_ARTIFACT",  # v1
        "ADD_ARTIFACT_ALIAS",  # staging → v0
        "LINK_ARTIFACT",  # v0
        "CREATE_COLLECTION",
    ]
    assert_newest_first(events)
    registry_events = await member.events(registry["id"])
    assert len(registry_events) == len(events) + 2 + 1  # + archive's two events + the registry's
    assert registry_events[-1]["action"] == "CREATE_REGISTRY"
    assert_newest_first(registry_events)

    # deleteCollection: the archive goes with its version; the logged v0 stays.
    archive_id = archive_link["collection"]["id"]
    deleted = await member.ok("deleteCollection", collectionId=archive_id)
    assert deleted["deletedCollectionId"] == archive_id
    assert await member.node(archive_id, "id") is None
    assert await member.node(archive_link["id"], "id") is None
    assert (await member.version(logged[0]["id"]))["id"] == logged[0]["id"]
    registry_events = await member.events(registry["id"])
    assert registry_events[0]["action"] == "DELETE_COLLECTION"
    assert registry_events[0]["before"] == {"name": "archive", "type": "model"}
    assert registry_events[0]["targetId"] == archive_id
    gone = await member.refused("deleteCollection", collectionId=archive_id)
    assert gone["code"] == "NOT_FOUND"


async def test_tags_descriptions_and_collection_edits(org: Org) -> None:
    """addTags/removeTags on versions and collections, updateArtifactVersion (each version's
    description is its own), updateCollection (rename, NAME_TAKEN)."""
    admin = org.admin
    project = (await admin.ok("createProject", organization=org.name, name="p"))["project"]
    logged = (
        await admin.log(
            projectId=project["id"],
            name="m",
            type="model",
            files=files("m", "w"),
            description="old",
        )
    )["artifactVersion"]
    model_registry = await registry_id_of(admin, org.name, "model")
    created = (
        await admin.ok(
            "createCollection",
            registryId=model_registry,
            name="churn",
            type="model",
            description="# Churn",
            tags=["team-a", "team-a"],
        )
    )["collection"]
    assert created["tags"] == ["team-a"]
    assert created["description"] == "# Churn"
    other = (
        await admin.ok("createCollection", registryId=model_registry, name="other", type="model")
    )["collection"]
    assert (
        await admin.refused(
            "createCollection", registryId=model_registry, name="churn", type="model"
        )
    )["code"] == "NAME_TAKEN"
    assert (
        await admin.refused("createCollection", registryId=model_registry, name="d", type="dataset")
    )["code"] == "TYPE_NOT_ACCEPTED"
    link = (await admin.ok("linkArtifact", versionId=logged["id"], collectionId=created["id"]))[
        "artifactVersion"
    ]
    link_other = (await admin.ok("linkArtifact", versionId=logged["id"], collectionId=other["id"]))[
        "artifactVersion"
    ]

    # Tags on a version.
    tagged = await admin.ok("addTags", id=link["id"], tags=["reviewed", "gpu", "gpu"])
    assert tagged["collection"] is None
    assert tagged["artifactVersion"]["tags"] == ["gpu", "reviewed"]
    assert (await admin.version(link_other["id"]))["tags"] == []  # tags are per version
    untagged = await admin.ok("removeTags", id=link["id"], tags=["gpu"])
    assert untagged["artifactVersion"]["tags"] == ["reviewed"]
    # Tags on a collection.
    ctagged = await admin.ok("addTags", id=created["id"], tags=["prod-ready"])
    assert ctagged["artifactVersion"] is None
    assert ctagged["collection"]["tags"] == ["prod-ready", "team-a"]
    cuntagged = await admin.ok("removeTags", id=created["id"], tags=["team-a"])
    assert cuntagged["collection"]["tags"] == ["prod-ready"]
    assert (await admin.refused("addTags", id=created["id"], tags=["bad tag"]))[
        "code"
    ] == "INVALID_NAME"
    assert (await admin.refused("addTags", id=project["id"], tags=["x"]))["code"] == "INVALID_ID"
    events = await admin.events(created["id"])
    assert actions(events)[:4] == ["REMOVE_TAG", "ADD_TAG", "REMOVE_TAG", "ADD_TAG"]
    assert events[0]["after"] == {"tags": ["team-a"]}
    assert events[0]["targetType"] == "Collection"
    assert events[1]["after"] == {"tags": ["prod-ready"]}
    assert events[2]["after"] == {"tags": ["gpu"]}
    assert events[2]["targetType"] == "ArtifactVersion"
    assert events[2]["targetId"] == link["id"]
    assert events[3]["after"] == {"tags": ["reviewed", "gpu"]}

    # A version's description is its own: a link starts with its source's, and a change to one
    # version leaves the content's other versions as they were.
    assert (await admin.version(link["id"]))["description"] == "old"
    described = (
        await admin.ok("updateArtifactVersion", versionId=link["id"], description="new words")
    )["artifactVersion"]
    assert described["description"] == "new words"
    for version_id in (logged["id"], link_other["id"]):
        assert (await admin.version(version_id))["description"] == "old"
    events = await admin.events(created["id"])
    assert events[0]["action"] == "UPDATE_ARTIFACT_VERSION"
    assert events[0]["before"] == {"description": "old"}
    assert events[0]["after"] == {"description": "new words"}

    # Rename and re-describe; a clash is NAME_TAKEN and changes nothing.
    renamed = (await admin.ok("updateCollection", collectionId=created["id"], name="churn-v2"))[
        "collection"
    ]
    assert renamed["name"] == "churn-v2"
    assert renamed["description"] == "# Churn"
    assert (await admin.version(link["id"]))[
        "path"
    ] == f"{org.name}/wandb-registry-model/churn-v2:v0"
    clash = await admin.refused("updateCollection", collectionId=created["id"], name="other")
    assert clash["code"] == "NAME_TAKEN"
    assert clash["field"] == ["input", "name"]
    redescribed = (
        await admin.ok("updateCollection", collectionId=created["id"], description="## Card")
    )["collection"]
    assert redescribed == {**renamed, "description": "## Card"}
    events = await admin.events(created["id"])
    assert actions(events)[:2] == ["UPDATE_COLLECTION", "UPDATE_COLLECTION"]
    assert events[0]["before"] == {"description": "# Churn"}
    assert events[0]["after"] == {"description": "## Card"}
    assert events[1]["before"] == {"name": "churn"}
    assert events[1]["after"] == {"name": "churn-v2"}
    # The organization's viewer may not edit.
    assert (await org.viewer.refused("addTags", id=created["id"], tags=["x"]))[
        "code"
    ] == "PERMISSION_DENIED"
    assert (await org.viewer.refused("updateCollection", collectionId=created["id"], name="mine"))[
        "code"
    ] == "PERMISSION_DENIED"


async def organization_events(api: Api, organization: str) -> list[dict[str, Any]]:
    data = await api.client.data(
        "query($o: String!) { organization(name: $o) { history(first: 100) { "
        f"nodes {{ {EVENT} }} }} }} }}",
        {"o": organization},
    )
    events: list[dict[str, Any]] = data["organization"]["history"]["nodes"]
    return events


async def test_registry_settings_and_deletion(org: Org) -> None:
    """updateRegistry (accepted types only grow; core registries stay ORGANIZATION) and
    deleteRegistry (collections and links go, logged versions and runs stay; core refused)."""
    admin, member = org.admin, org.member
    registry = (
        await admin.ok(
            "createRegistry", organization=org.name, name="evals", acceptedTypes=["report"]
        )
    )["registry"]
    denied = await member.refused("updateRegistry", registryId=registry["id"], description="x")
    assert denied["code"] == "PERMISSION_DENIED"
    updated = (
        await admin.ok(
            "updateRegistry",
            registryId=registry["id"],
            description="Evaluation reports",
            addAcceptedTypes=["dataset"],
            protectedAliases=["approved"],
        )
    )["registry"]
    assert updated["description"] == "Evaluation reports"
    assert updated["acceptedTypes"] == ["dataset", "report"]
    assert updated["protectedAliases"] == ["approved"]
    events = await admin.events(registry["id"])
    assert actions(events) == ["UPDATE_REGISTRY", "CREATE_REGISTRY"]
    assert events[0]["before"] == {
        "description": "",
        "acceptedTypes": ["report"],
        "protectedAliases": [],
    }
    assert events[0]["after"] == {
        "description": "Evaluation reports",
        "acceptedTypes": ["dataset", "report"],
        "protectedAliases": ["approved"],
    }
    # Nothing to change records nothing; visibility changes are recorded.
    await admin.ok("updateRegistry", registryId=registry["id"], addAcceptedTypes=["report"])
    restricted = (
        await admin.ok("updateRegistry", registryId=registry["id"], visibility="RESTRICTED")
    )["registry"]
    assert restricted["visibility"] == "RESTRICTED"
    assert restricted["acceptedTypes"] == ["dataset", "report"]  # kept: types only grow
    events = await admin.events(registry["id"])
    assert len(events) == 3
    assert events[0]["before"] == {"visibility": "ORGANIZATION"}
    assert events[0]["after"] == {"visibility": "RESTRICTED"}
    # A RESTRICTED registry does not exist for the member.
    hidden = await member.refused("updateRegistry", registryId=registry["id"], description="x")
    assert hidden["code"] == "NOT_FOUND"
    everything = (await admin.ok("updateRegistry", registryId=registry["id"], acceptAllTypes=True))[
        "registry"
    ]
    assert everything["acceptsAllTypes"] is True
    assert everything["acceptedTypes"] == []  # the schema: "`acceptedTypes` is then empty"

    # Core registries keep ORGANIZATION visibility and cannot be deleted.
    model = await registry_id_of(admin, org.name, "model")
    core = await admin.refused("updateRegistry", registryId=model, visibility="RESTRICTED")
    assert core["code"] == "INVALID_ARGUMENT"
    assert core["field"] == ["input", "visibility"]
    core_delete = await admin.refused("deleteRegistry", registryId=model)
    assert core_delete["code"] == "INVALID_ARGUMENT"
    model_state = await admin.node(model, "... on Registry { visibility isCore }")
    assert model_state == {"visibility": "ORGANIZATION", "isCore": True}

    # Fill the registry, then delete it.
    project = (await admin.ok("createProject", organization=org.name, name="p"))["project"]
    run = (await admin.ok("createRun", projectId=project["id"], name="r"))["run"]
    logged = (
        await admin.log(runId=run["id"], name="report", type="report", files=files("r", "a"))
    )["artifactVersion"]
    link = (
        await admin.ok(
            "linkArtifact",
            versionId=logged["id"],
            targetPath="wandb-registry-evals/weekly",
            aliases=["approved"],
        )
    )["artifactVersion"]
    collection_id = link["collection"]["id"]
    deleted = await admin.ok("deleteRegistry", registryId=registry["id"])
    assert deleted["deletedRegistryId"] == registry["id"]
    for gone in (registry["id"], collection_id, link["id"]):
        assert await admin.node(gone, "id") is None
    assert (await admin.version(logged["id"]))["aliases"] == ["latest"]
    assert (await admin.node(run["id"], "... on Run { name }")) == {"name": "r"}
    _, registry_row = decode_id(registry["id"])
    assert (
        await count(
            org.pool, "SELECT count(*) FROM collections WHERE registry_id = $1", registry_row
        )
        == 0
    )
    assert (
        await count(
            org.pool,
            "SELECT count(*) FROM audit_events "
            "WHERE registry_id = $1 AND action = 'DELETE_REGISTRY'",
            registry_row,
        )
        == 1
    )
    # Its history stays, in the organization's: the deletion with what went with it, and
    # everything that happened in the registry before.
    org_events = await organization_events(admin, org.name)
    in_registry = [e for e in org_events if e["targetId"] in (registry["id"], link["id"])]
    assert actions(in_registry) == [
        "DELETE_REGISTRY",
        "ADD_ARTIFACT_ALIAS",
        "LINK_ARTIFACT",
        "UPDATE_REGISTRY",
        "UPDATE_REGISTRY",
        "UPDATE_REGISTRY",
        "CREATE_REGISTRY",
    ]
    assert in_registry[0]["before"] == {
        "name": "evals",
        "description": "Evaluation reports",
        "visibility": "RESTRICTED",
        "acceptsAllTypes": True,
        "acceptedTypes": ["dataset", "report"],
        "protectedAliases": ["approved"],
        "collections": 1,
        "versions": 1,
    }
    # Its name is free again.
    again = await admin.ok("createRegistry", organization=org.name, name="evals")
    assert again["registry"]["id"] != registry["id"]
    assert (await admin.refused("deleteRegistry", registryId=registry["id"]))["code"] == "NOT_FOUND"


async def test_history_paging_and_filter(org: Org) -> None:
    """Collection.history and Registry.history: newest first, `actions:` filter, first/after and
    last/before paging, totalCount."""
    admin = org.admin
    versions = await linked_versions(admin, org, "paged", 4, aliases=["staging"])
    collection_id = versions[0]["collection"]["id"]
    # CREATE_COLLECTION, then per link LINK_ARTIFACT and ADD (first) or MOVE of `staging`.
    everything = await admin.events(collection_id)
    assert actions(everything) == [
        "MOVE_ARTIFACT_ALIAS",
        "LINK_ARTIFACT",
        "MOVE_ARTIFACT_ALIAS",
        "LINK_ARTIFACT",
        "MOVE_ARTIFACT_ALIAS",
        "LINK_ARTIFACT",
        "ADD_ARTIFACT_ALIAS",
        "LINK_ARTIFACT",
        "CREATE_COLLECTION",
    ]
    assert_newest_first(everything)

    first = await admin.history(collection_id, first=4)
    assert first["totalCount"] == 9
    assert first["nodes"] == everything[:4]
    assert first["pageInfo"]["hasNextPage"] is True
    second = await admin.history(collection_id, first=4, after=first["pageInfo"]["endCursor"])
    assert second["nodes"] == everything[4:8]
    assert second["totalCount"] == 9
    third = await admin.history(collection_id, first=4, after=second["pageInfo"]["endCursor"])
    assert third["nodes"] == everything[8:]
    assert third["pageInfo"]["hasNextPage"] is False
    # Edge cursors work as `after` too.
    middle = await admin.history(collection_id, first=2, after=first["edges"][1]["cursor"])
    assert middle["nodes"] == everything[2:4]
    last = await admin.history(collection_id, last=3)
    assert last["nodes"] == everything[6:]
    before = await admin.history(collection_id, last=3, before=last["pageInfo"]["startCursor"])
    assert before["nodes"] == everything[3:6]

    links = await admin.history(collection_id, first=10, actions=["LINK_ARTIFACT"])
    assert links["totalCount"] == 4
    assert [e["after"]["version"] for e in links["nodes"]] == ["v3", "v2", "v1", "v0"]
    aliases = await admin.history(
        collection_id, first=2, actions=["ADD_ARTIFACT_ALIAS", "MOVE_ARTIFACT_ALIAS"]
    )
    assert aliases["totalCount"] == 4
    assert [e["after"] for e in aliases["nodes"]] == [
        {"alias": "staging", "version": "v3"},
        {"alias": "staging", "version": "v2"},
    ]
    rest = await admin.history(
        collection_id,
        first=10,
        after=aliases["pageInfo"]["endCursor"],
        actions=["MOVE_ARTIFACT_ALIAS", "ADD_ARTIFACT_ALIAS"],
    )
    assert [e["action"] for e in rest["nodes"]] == ["MOVE_ARTIFACT_ALIAS", "ADD_ARTIFACT_ALIAS"]
    none = await admin.history(collection_id, first=10, actions=["DELETE_REGISTRY"])
    assert none["totalCount"] == 0
    assert none["nodes"] == []
    assert none["pageInfo"]["endCursor"] is None

    # The model registry's history holds the collection's events (a core registry has no
    # CREATE_REGISTRY event: it came with the organization).
    model = await registry_id_of(admin, org.name, "model")
    registry_events = await admin.events(model)
    assert registry_events == everything
    filtered = await admin.history(model, first=100, actions=["CREATE_COLLECTION"])
    assert filtered["totalCount"] == 1
    assert filtered["nodes"][0]["targetId"] == collection_id

    # A bad action name is a GraphQL validation error, and a page over 100 is refused.
    bad = await admin.client.errors(HISTORY, {"id": model, "actions": ["EXPLODE"]})
    assert "EXPLODE" in bad["errors"][0]["message"]
    big = await admin.client.errors(HISTORY, {"id": model, "first": 101})
    assert big["errors"]


async def test_alias_time_travel(org: Org) -> None:
    """version(alias:, asOf:) returns the holder at each moment, null before the first
    assignment and after removal; aliasHistory lists each period, lining up with the moves."""
    admin = org.admin
    links = await linked_versions(admin, org, "tt", 3)
    collection_id = links[0]["collection"]["id"]

    # production: v0, then v1, then v2, then removed, then back on v0.
    for link in links:
        await admin.ok("addAliases", versionId=link["id"], aliases=["production"])
    await admin.ok("removeAliases", versionId=links[2]["id"], aliases=["production"])
    await admin.ok("addAliases", versionId=links[0]["id"], aliases=["production"])

    periods = []
    for link in links:
        found = await admin.node(
            link["id"], "... on ArtifactVersion { aliasHistory { alias assignedAt removedAt } }"
        )
        periods.append([p for p in found["aliasHistory"] if p["alias"] == "production"])
    assert [len(p) for p in periods] == [2, 1, 1]
    t0, t1, t2 = (when(periods[n][0]["assignedAt"]) for n in range(3))
    assert t0 < t1 < t2
    # Each move ends the previous holder's period at the moment the next one starts.
    assert when(periods[0][0]["removedAt"]) == t1
    assert when(periods[1][0]["removedAt"]) == t2
    t_removed = when(periods[2][0]["removedAt"])
    assert t_removed > t2
    t_back = when(periods[0][1]["assignedAt"])
    assert t_back > t_removed
    assert periods[0][1]["removedAt"] is None

    # The audit events happened in the same order, at the same moments or just after.
    moves = await admin.events(
        collection_id,
        actions=["ADD_ARTIFACT_ALIAS", "MOVE_ARTIFACT_ALIAS", "REMOVE_ARTIFACT_ALIAS"],
    )
    moves = list(reversed(moves))
    assert [(e["action"], (e["after"] or e["before"])["version"]) for e in moves] == [
        ("ADD_ARTIFACT_ALIAS", "v0"),
        ("MOVE_ARTIFACT_ALIAS", "v1"),
        ("MOVE_ARTIFACT_ALIAS", "v2"),
        ("REMOVE_ARTIFACT_ALIAS", "v2"),
        ("ADD_ARTIFACT_ALIAS", "v0"),
    ]
    for event, moment in zip(moves, (t0, t1, t2, t_removed, t_back), strict=True):
        assert when(event["createdAt"]) >= moment

    query = """query AsOf($id: ID!, $t: DateTime!) { node(id: $id) { ... on Collection {
        version(alias: "production", asOf: $t) { id version } } } }"""

    async def holder(moment: datetime) -> str | None:
        data = await admin.client.data(query, {"id": collection_id, "t": iso(moment)})
        found = data["node"]["version"]
        return None if found is None else str(found["version"])

    tick = timedelta(microseconds=1)
    expectations = [
        (t0 - timedelta(days=1), None),
        (t0 - tick, None),
        (t0, "v0"),
        (t1 - tick, "v0"),
        (t1, "v1"),
        (t1 + (t2 - t1) / 2, "v1"),
        (t2, "v2"),
        (t_removed - tick, "v2"),
        (t_removed, None),
        (t_back - tick, None),
        (t_back, "v0"),
        (datetime.now(t0.tzinfo) + timedelta(days=1), "v0"),
    ]
    for moment, expected in expectations:
        assert await holder(moment) == expected, (moment, expected)
    # Naive times are UTC; other offsets name the same instant.
    assert await holder((t1 + (t2 - t1) / 2).astimezone(UTC).replace(tzinfo=None)) == "v1"
    assert await holder((t0 + (t1 - t0) / 2).astimezone(timezone(timedelta(hours=5)))) == "v0"

    # asOf resolves aliases only; `latest` has a history too.
    bad = await admin.client.errors(
        """query($id: ID!) { node(id: $id) { ... on Collection {
           version(index: 1, asOf: "2020-01-01T00:00:00Z") { id } } } }""",
        {"id": collection_id},
    )
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
    latest = await admin.client.data(
        """query($id: ID!, $t: DateTime!) { node(id: $id) { ... on Collection {
           version(alias: "latest", asOf: $t) { version } } } }""",
        {"id": collection_id, "t": iso(t0)},
    )
    assert latest["node"]["version"] == {"version": "v2"}

    # After v1 is unlinked it no longer resolves, even for a time it held the alias.
    await admin.ok("unlinkArtifact", versionId=links[1]["id"])
    assert await holder(t1) is None
    assert await holder(t0) == "v0"
