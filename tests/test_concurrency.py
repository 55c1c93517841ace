"""Correct under concurrency, and nothing half-written after a failure: requests racing for the
same objects end as if they had run one at a time, and a request that fails leaves every table as
it was.

Requests really overlap: they go through the app in-process (httpx's ASGI transport) with
`asyncio.gather`, and each runs its transaction on its own connection of the app's pool of 10,
so PostgreSQL sees them at once. A sampler checks that several connections were busy together.

Failure injection: a database function the mutation calls late in its transaction is replaced,
through the module object the command code looks it up on, by one that raises; the response is a
masked INTERNAL_SERVER_ERROR and every table is exactly as it was before the request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import history as history_rows
from db import versions as version_rows
from tests.support.graphql import mutate, mutation_document
from tests.support.ids import row_id
from tests.support.manifests import files, upload
from tests.support.workflow import (
    Api,
    Org,
    linked_versions,
    log_versions,
    new_org,
    new_project,
)

LINKS = 20  # concurrent links into one new collection
MOVES = 10  # concurrent moves of one alias


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(pool, client, prefix="cc")


@dataclass
class Overlap:
    """The most pool connections in use at once while it was sampling."""

    most_busy: int = 0


@asynccontextmanager
async def busy_connections(pool: asyncpg.Pool) -> AsyncIterator[Overlap]:
    overlap = Overlap()
    running = True

    async def sample() -> None:
        while running:
            overlap.most_busy = max(overlap.most_busy, pool.get_size() - pool.get_idle_size())
            await asyncio.sleep(0)

    sampler = asyncio.create_task(sample())
    try:
        yield overlap
    finally:
        running = False
        await sampler


async def gather_overlapping(pool: asyncpg.Pool, calls: Sequence[Awaitable[Any]]) -> list[Any]:
    """Runs the calls at once and checks that PostgreSQL saw several of them together."""
    async with busy_connections(pool) as overlap:
        results = await asyncio.gather(*calls)
    assert overlap.most_busy >= 2, "the requests did not overlap"
    return list(results)


async def fetch(pool: asyncpg.Pool, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


# Links


@pytest.mark.parametrize("attempt", range(3))
async def test_concurrent_links_into_a_new_collection(org: Org, attempt: int) -> None:
    """20 links at once to a collection that does not exist yet: one collection, indexes exactly
    0…19, `latest` on the highest, one CREATE_COLLECTION and 20 LINK_ARTIFACT events."""
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", LINKS)
    target = f"{org.name}/wandb-registry-model/race-{attempt}"

    payloads = await gather_overlapping(
        org.pool,
        [admin.payload("linkArtifact", versionId=v["id"], targetPath=target) for v in logged],
    )
    assert [p["errors"] for p in payloads] == [[]] * LINKS
    links = [p["artifactVersion"] for p in payloads]
    assert sorted(v["versionIndex"] for v in links) == list(range(LINKS))
    assert len({v["id"] for v in links}) == LINKS
    for source, link in zip(logged, links, strict=True):
        assert link["source"] == {"id": source["id"]}
        assert link["digest"] == source["digest"]
    collection_ids = {v["collection"]["id"] for v in links}
    assert len(collection_ids) == 1
    collection_id = collection_ids.pop()

    rows = await fetch(
        org.pool,
        """SELECT c.id, c.next_index FROM collections c JOIN registries r ON r.id = c.registry_id
           WHERE r.organization_id = $1 AND r.name = 'model' AND c.name = $2""",
        org.id,
        f"race-{attempt}",
    )
    assert [(r["id"], r["next_index"]) for r in rows] == [(row_id(collection_id), LINKS)]
    indexes = await fetch(
        org.pool,
        "SELECT version_index FROM artifact_versions WHERE collection_id = $1 ORDER BY 1",
        row_id(collection_id),
    )
    assert [r["version_index"] for r in indexes] == list(range(LINKS))

    # `latest` is on v19, once; its history is one chain of 20 periods, the last one open.
    highest = next(v for v in links if v["versionIndex"] == LINKS - 1)
    state = await admin.node(
        collection_id,
        """... on Collection { version(alias: "latest") { id version }
           aliases { alias version { id } } }""",
    )
    assert state["version"] == {"id": highest["id"], "version": f"v{LINKS - 1}"}
    assert state["aliases"] == [{"alias": "latest", "version": {"id": highest["id"]}}]
    periods = await fetch(
        org.pool,
        """SELECT version_index, assigned_at, removed_at FROM alias_history
           WHERE collection_id = $1 AND alias = 'latest' ORDER BY assigned_at, id""",
        row_id(collection_id),
    )
    assert [p["version_index"] for p in periods] == list(range(LINKS))
    for earlier, later in itertools.pairwise(periods):
        assert earlier["removed_at"] == later["assigned_at"]
    assert periods[-1]["removed_at"] is None

    events = await admin.events(collection_id)
    assert [e["action"] for e in events].count("CREATE_COLLECTION") == 1
    assert events[-1]["action"] == "CREATE_COLLECTION"
    link_events = [e for e in events if e["action"] == "LINK_ARTIFACT"]
    assert len(events) == LINKS + 1
    # Newest first, the links were recorded in index order: v19 … v0.
    assert [e["after"]["version"] for e in link_events] == [f"v{i}" for i in reversed(range(LINKS))]


# Aliases


async def test_concurrent_moves_of_one_alias(org: Org) -> None:
    """10 requests at once each give `production` to another version: one holder, one open
    period, and 10 events forming one chain (each `before` is the previous `after`)."""
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", MOVES)
    links = []
    for version in logged:
        payload = await admin.ok(
            "linkArtifact", versionId=version["id"], targetPath="wandb-registry-model/moves"
        )
        links.append(payload["artifactVersion"])
    collection_id = links[0]["collection"]["id"]
    collection_row = row_id(collection_id)
    by_id = {row_id(v["id"]): v["version"] for v in links}

    async def check(expected_events: int, first_action: str) -> int:
        holders = await fetch(
            org.pool,
            "SELECT version_id FROM aliases WHERE collection_id = $1 AND alias = 'production'",
            collection_row,
        )
        assert len(holders) == 1
        holder = holders[0]["version_id"]
        open_periods = await fetch(
            org.pool,
            """SELECT version_id FROM alias_history
               WHERE collection_id = $1 AND alias = 'production' AND removed_at IS NULL""",
            collection_row,
        )
        assert [p["version_id"] for p in open_periods] == [holder]
        periods = await fetch(
            org.pool,
            """SELECT version_id, assigned_at, removed_at FROM alias_history
               WHERE collection_id = $1 AND alias = 'production' ORDER BY assigned_at, id""",
            collection_row,
        )
        for earlier, later in itertools.pairwise(periods):
            assert earlier["removed_at"] == later["assigned_at"]
            assert earlier["version_id"] != later["version_id"]
        assert periods[-1]["version_id"] == holder

        events = await admin.events(
            collection_id, actions=["ADD_ARTIFACT_ALIAS", "MOVE_ARTIFACT_ALIAS"]
        )
        chain = list(reversed(events))  # oldest first: audit ids follow the commit order
        assert len(chain) == expected_events
        assert chain[0]["action"] == first_action
        for earlier, later in itertools.pairwise(chain):
            assert later["action"] == "MOVE_ARTIFACT_ALIAS"
            assert later["before"] == earlier["after"]
        assert chain[-1]["after"] == {"alias": "production", "version": by_id[holder]}
        # The chain of events and the chain of periods agree.
        assert [e["after"]["version"] for e in chain[-len(periods) :]] == [
            by_id[p["version_id"]] for p in periods
        ]
        shown = await admin.node(
            collection_id, '... on Collection { version(alias: "production") { version } }'
        )
        assert shown["version"] == {"version": by_id[holder]}
        return int(holder)

    # From no holder: one ADD and nine MOVEs, in some order.
    payloads = await gather_overlapping(
        org.pool,
        [admin.payload("addAliases", versionId=v["id"], aliases=["production"]) for v in links],
    )
    assert [p["errors"] for p in payloads] == [[]] * MOVES
    holder = await check(MOVES, "ADD_ARTIFACT_ALIAS")

    # Again, from a holder, to every other version: nine more MOVEs.
    others = [v for v in links if row_id(v["id"]) != holder]
    payloads = await gather_overlapping(
        org.pool,
        [admin.payload("addAliases", versionId=v["id"], aliases=["production"]) for v in others],
    )
    assert [p["errors"] for p in payloads] == [[]] * len(others)
    await check(MOVES + len(others), "ADD_ARTIFACT_ALIAS")


# Logging


@pytest.mark.parametrize("callers", [2, 5])
async def test_concurrent_logs_of_one_manifest(org: Org, callers: int) -> None:
    """The same manifest logged at once to a new artifact name: one sequence, one content,
    one version, and every caller gets it."""
    admin = org.admin
    project_id = await new_project(admin, org)
    manifest = files("same", "a.bin", "b.bin")
    await upload(admin.client, manifest, projectId=project_id)
    payloads = await gather_overlapping(
        org.pool,
        [
            admin.payload(
                "logArtifact", projectId=project_id, name="dup", type="model", files=manifest
            )
            for _ in range(callers)
        ],
    )
    assert [p["errors"] for p in payloads] == [[]] * callers
    versions = [p["artifactVersion"] for p in payloads]
    assert len({v["id"] for v in versions}) == 1
    assert {v["version"] for v in versions} == {"v0"}
    assert versions[0]["aliases"] == ["latest"]
    rows = await fetch(
        org.pool,
        """SELECT c.next_index, count(DISTINCT ac.id) AS contents, count(DISTINCT v.id) AS versions,
                  count(f.path) AS files
           FROM collections c
           LEFT JOIN artifact_contents ac ON ac.sequence_id = c.id
           LEFT JOIN artifact_files f ON f.content_id = ac.id
           LEFT JOIN artifact_versions v ON v.collection_id = c.id
           WHERE c.project_id = $1 AND c.name = 'dup' GROUP BY c.id""",
        row_id(project_id),
    )
    assert [dict(r) for r in rows] == [{"next_index": 1, "contents": 1, "versions": 1, "files": 2}]


async def test_concurrent_logs_of_different_manifests(org: Org) -> None:
    """Ten different manifests logged at once to one new name: v0…v9, `latest` on v9."""
    admin = org.admin
    project_id = await new_project(admin, org)
    manifests = [files(f"{i}", "w") for i in range(10)]
    for manifest in manifests:
        await upload(admin.client, manifest, projectId=project_id)
    payloads = await gather_overlapping(
        org.pool,
        [
            admin.payload(
                "logArtifact", projectId=project_id, name="many", type="model", files=manifest
            )
            for manifest in manifests
        ],
    )
    assert [p["errors"] for p in payloads] == [[]] * 10
    versions = [p["artifactVersion"] for p in payloads]
    assert sorted(v["versionIndex"] for v in versions) == list(range(10))
    latest = await admin.client.data(
        """query($o: String!) { organization(name: $o) { project(name: "p") {
             artifactSequence(name: "many") { version(alias: "latest") { version } } } } }""",
        {"o": org.name},
    )
    assert latest["organization"]["project"]["artifactSequence"]["version"] == {"version": "v9"}


# Names


async def test_concurrent_collections_with_one_name(org: Org) -> None:
    """createCollection with one name at once: one succeeds, the others get NAME_TAKEN."""
    admin = org.admin
    model = (
        await admin.client.data(
            'query($o: String!) { registry(organization: $o, name: "model") { id } }',
            {"o": org.name},
        )
    )["registry"]["id"]
    payloads = await gather_overlapping(
        org.pool,
        [
            admin.payload("createCollection", registryId=model, name="same", type="model")
            for _ in range(8)
        ],
    )
    made = [p for p in payloads if not p["errors"]]
    assert len(made) == 1
    refused = [p for p in payloads if p["errors"]]
    assert [p["errors"][0]["code"] for p in refused] == ["NAME_TAKEN"] * 7
    assert all(p["collection"] is None for p in refused)
    rows = await fetch(
        org.pool,
        "SELECT id FROM collections WHERE registry_id = $1 AND name = 'same'",
        row_id(model),
    )
    assert [r["id"] for r in rows] == [row_id(made[0]["collection"]["id"])]
    events = await admin.events(model, actions=["CREATE_COLLECTION"])
    assert len(events) == 1


async def test_concurrent_registries_with_one_name(org: Org) -> None:
    """createRegistry with one name at once (case-insensitively): one succeeds, the others get
    NAME_TAKEN, never an internal error."""
    admin = org.admin
    names = ["Shared", "shared", "SHARED", "shared", "Shared", "sHaReD"]
    responses = await gather_overlapping(
        org.pool,
        [
            admin.client.post(
                admin.document("createRegistry"),
                {"input": {"organization": org.name, "name": name}},
            )
            for name in names
        ],
    )
    bodies = [r.json() for r in responses]
    assert [b.get("errors") for b in bodies] == [None] * len(names), bodies
    payloads = [b["data"]["createRegistry"] for b in bodies]
    assert len([p for p in payloads if not p["errors"]]) == 1
    assert sorted(p["errors"][0]["code"] for p in payloads if p["errors"]) == ["NAME_TAKEN"] * (
        len(names) - 1
    )
    rows = await fetch(
        org.pool,
        "SELECT count(*) AS n FROM registries "
        "WHERE organization_id = $1 AND lower(name) = 'shared'",
        org.id,
    )
    assert rows[0]["n"] == 1


# Failure injection


class Injected(RuntimeError):
    pass


SECRET = "injected failure: db detail that must not reach the client"


def fail_audit_on(monkeypatch: pytest.MonkeyPatch, action: str) -> list[str]:
    """Makes the audit write for `action` raise; the others go through. Returns the actions
    written before the failure (within the failing transaction)."""
    original = history_rows.insert_audit_event
    seen: list[str] = []

    async def insert_audit_event(conn: Any, **event: Any) -> None:
        seen.append(event["action"])
        await original(conn, **event)
        if event["action"] == action:
            # After the row is written: the rollback has to take it back too.
            raise Injected(SECRET)

    # The audit writer calls `insert_audit_event` on the module object db.history.
    monkeypatch.setattr(history_rows, "insert_audit_event", insert_audit_event)
    return seen


async def snapshot(pool: asyncpg.Pool, organization_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the organization's registry data, in a stable order."""
    queries = {
        "collections": """SELECT id, registry_id, project_id, name, artifact_type, description,
               next_index FROM collections WHERE organization_id = $1 ORDER BY id""",
        "versions": """SELECT v.id, v.collection_id, v.content_id, v.version_index, v.linked_at
               FROM artifact_versions v JOIN collections c ON c.id = v.collection_id
               WHERE c.organization_id = $1 ORDER BY v.id""",
        "contents": """SELECT ac.id, ac.digest, ac.description FROM artifact_contents ac
               JOIN collections c ON c.id = ac.sequence_id WHERE c.organization_id = $1
               ORDER BY ac.id""",
        "files": """SELECT f.content_id, f.path FROM artifact_files f
               JOIN artifact_contents ac ON ac.id = f.content_id
               JOIN collections c ON c.id = ac.sequence_id WHERE c.organization_id = $1
               ORDER BY 1, 2""",
        "aliases": """SELECT a.collection_id, a.alias, a.version_id, a.assigned_at FROM aliases a
               JOIN collections c ON c.id = a.collection_id WHERE c.organization_id = $1
               ORDER BY 1, 2""",
        "alias_history": """SELECT h.id, h.alias, h.version_id, h.assigned_at, h.removed_at
               FROM alias_history h JOIN collections c ON c.id = h.collection_id
               WHERE c.organization_id = $1 ORDER BY h.id""",
        "tags": """SELECT t.version_id, t.tag FROM version_tags t
               JOIN artifact_versions v ON v.id = t.version_id
               JOIN collections c ON c.id = v.collection_id WHERE c.organization_id = $1
               ORDER BY 1, 2""",
        "audit": """SELECT id, action, target_id FROM audit_events WHERE organization_id = $1
               ORDER BY id""",
        "run_inputs": """SELECT ri.run_id, ri.content_id FROM run_inputs ri
               JOIN runs r ON r.id = ri.run_id JOIN projects p ON p.id = r.project_id
               WHERE p.organization_id = $1 ORDER BY 1, 2""",
    }
    async with pool.acquire() as conn:
        return {
            name: [tuple(row) for row in await conn.fetch(sql, organization_id)]
            for name, sql in queries.items()
        }


async def assert_internal_error(
    api: Api, caplog: pytest.LogCaptureFixture, mutation: str, **input: Any
) -> None:
    caplog.clear()
    response = await api.client.post(api.document(mutation), {"input": input})
    body = response.json()
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == [mutation]
    request_id = error["extensions"]["requestId"]
    assert request_id in error["message"]
    assert SECRET not in response.text
    assert "Injected" not in response.text
    assert "Traceback" not in response.text
    # The fault is logged, with the request id the client was given.
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert any(r.exc_info and isinstance(r.exc_info[1], Injected) for r in logged) or any(
        SECRET in r.getMessage() for r in logged
    )


async def test_failed_link_into_a_new_collection_leaves_nothing(
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The link creates a collection, a version, `latest` and an alias, and writes three audit
    events before the last audit write fails: all of it is rolled back."""
    caplog.set_level(logging.ERROR)
    admin = org.admin
    (logged,) = await log_versions(admin, await new_project(admin, org), "m", 1)
    before = await snapshot(org.pool, org.id)
    seen = fail_audit_on(monkeypatch, "ADD_ARTIFACT_ALIAS")
    await assert_internal_error(
        admin,
        caplog,
        "linkArtifact",
        versionId=logged["id"],
        targetPath="wandb-registry-model/doomed",
        aliases=["staging"],
    )
    assert seen == ["CREATE_COLLECTION", "LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS"]
    assert await snapshot(org.pool, org.id) == before
    missing = await admin.client.data(
        """query($o: String!) { registry(organization: $o, name: "model") {
             collection(name: "doomed") { id } } }""",
        {"o": org.name},
    )
    assert missing["registry"]["collection"] is None

    # Without the fault, the same request works and starts at v0.
    monkeypatch.undo()
    link = (
        await admin.ok(
            "linkArtifact",
            versionId=logged["id"],
            targetPath="wandb-registry-model/doomed",
            aliases=["staging"],
        )
    )["artifactVersion"]
    assert link["version"] == "v0"
    assert link["aliases"] == ["latest", "staging"]


async def test_failed_changes_to_an_existing_collection_leave_nothing(
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """linkArtifact, addAliases (a move), unlinkArtifact, removeAliases, addTags and
    updateArtifactVersion, each failing at its audit write: no version, index, alias, period,
    tag, description or audit row changes."""
    caplog.set_level(logging.ERROR)
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", 3)
    links = []
    for version in logged[:2]:
        payload = await admin.ok(
            "linkArtifact",
            versionId=version["id"],
            targetPath="wandb-registry-model/kept",
            aliases=["production"],
        )
        links.append(payload["artifactVersion"])
    collection_id = links[0]["collection"]["id"]
    before = await snapshot(org.pool, org.id)
    next_index = next(r for r in before["collections"] if r[0] == row_id(collection_id))[-1]
    assert next_index == 2

    attempts: list[tuple[str, str, dict[str, Any]]] = [
        (
            "LINK_ARTIFACT",
            "linkArtifact",
            {"versionId": logged[2]["id"], "collectionId": collection_id},
        ),
        (
            "MOVE_ARTIFACT_ALIAS",
            "addAliases",
            {"versionId": links[0]["id"], "aliases": ["production"]},
        ),
        ("UNLINK_ARTIFACT", "unlinkArtifact", {"versionId": links[1]["id"]}),
        (
            "REMOVE_ARTIFACT_ALIAS",
            "removeAliases",
            {"versionId": links[1]["id"], "aliases": ["production"]},
        ),
        ("ADD_TAG", "addTags", {"id": links[1]["id"], "tags": ["t"]}),
        (
            "UPDATE_ARTIFACT_VERSION",
            "updateArtifactVersion",
            {"versionId": links[1]["id"], "description": "changed"},
        ),
    ]
    for action, mutation, input in attempts:
        seen = fail_audit_on(monkeypatch, action)
        await assert_internal_error(admin, caplog, mutation, **input)
        assert seen[-1] == action
        assert await snapshot(org.pool, org.id) == before, mutation
        monkeypatch.undo()

    # Without the fault, the link takes the index the failed one did not use up.
    link = (await admin.ok("linkArtifact", versionId=logged[2]["id"], collectionId=collection_id))[
        "artifactVersion"
    ]
    assert link["version"] == "v2"


async def test_failed_log_leaves_nothing(
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A log that fails after writing its sequence, content, files and version (while giving
    the version its aliases) leaves none of them."""
    caplog.set_level(logging.ERROR)
    admin = org.admin
    project_id = await new_project(admin, org)
    await upload(admin.client, files("d", "a", "b"), projectId=project_id)
    before = await snapshot(org.pool, org.id)
    original = version_rows.assign_alias
    calls: list[str] = []

    async def assign_alias(conn: Any, collection_id: int, alias: str, version_id: int) -> Any:
        calls.append(alias)
        result = await original(conn, collection_id, alias, version_id)
        if alias == "best":
            raise Injected(SECRET)
        return result

    monkeypatch.setattr(version_rows, "assign_alias", assign_alias)
    await assert_internal_error(
        admin,
        caplog,
        "logArtifact",
        projectId=project_id,
        name="doomed",
        type="model",
        files=files("d", "a", "b"),
        aliases=["best"],
    )
    assert calls == ["latest", "best"]
    assert await snapshot(org.pool, org.id) == before
    monkeypatch.undo()
    logged = (
        await admin.ok(
            "logArtifact",
            projectId=project_id,
            name="doomed",
            type="model",
            files=files("d", "a", "b"),
            aliases=["best"],
        )
    )["artifactVersion"]
    assert logged["version"] == "v0"
    assert logged["aliases"] == ["best", "latest"]


# Changes racing a removal


async def bare(api: Api, mutation: str, **input: Any) -> dict[str, Any]:
    """A mutation's payload with its errors only. The changed objects are not selected: one
    removed by a concurrent request right after this one committed cannot be shown anyway."""
    return await mutate(api.client, mutation, input)


def outcomes(payloads: list[dict[str, Any]]) -> list[str]:
    """`ok` or the error code of each payload."""
    return [p["errors"][0]["code"] if p["errors"] else "ok" for p in payloads]


async def leftovers(pool: asyncpg.Pool, collection_row: int) -> dict[str, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM artifact_versions WHERE collection_id = $1) AS versions,
                      (SELECT count(*) FROM aliases WHERE collection_id = $1) AS aliases,
                      (SELECT count(*) FROM alias_history
                       WHERE collection_id = $1 AND removed_at IS NULL) AS open_periods""",
            collection_row,
        )
    assert row is not None
    return dict(row)


@pytest.mark.parametrize("attempt", range(3))
async def test_changes_racing_a_collection_delete(org: Org, attempt: int) -> None:
    """Links, alias changes and unlinks sent together with the collection's deletion: each
    either happens before the delete or is refused with NOT_FOUND, never an internal error."""
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", 8)
    target = f"wandb-registry-model/doomed-{attempt}"
    first = (await admin.ok("linkArtifact", versionId=logged[0]["id"], targetPath=target))[
        "artifactVersion"
    ]
    second = (await admin.ok("linkArtifact", versionId=logged[1]["id"], targetPath=target))[
        "artifactVersion"
    ]
    collection_id = first["collection"]["id"]
    calls = [
        *(
            bare(admin, "linkArtifact", versionId=v["id"], collectionId=collection_id)
            for v in logged[2:5]
        ),
        bare(admin, "deleteCollection", collectionId=collection_id),
        *(
            bare(admin, "linkArtifact", versionId=v["id"], collectionId=collection_id)
            for v in logged[5:]
        ),
        bare(admin, "addAliases", versionId=first["id"], aliases=["staging"]),
        bare(admin, "unlinkArtifact", versionId=second["id"]),
        bare(admin, "removeAliases", versionId=second["id"], aliases=["latest-ok"]),
    ]
    payloads = await gather_overlapping(org.pool, calls)
    results = outcomes(payloads)
    assert results[3] == "ok"  # the delete
    others = results[:3] + results[4:9]
    assert set(others) <= {"ok", "NOT_FOUND"}, results
    assert results[9] == "NOT_FOUND"  # nobody gave `latest-ok` to the version
    assert await admin.node(collection_id, "id") is None
    assert await leftovers(org.pool, row_id(collection_id)) == {
        "versions": 0,
        "aliases": 0,
        "open_periods": 0,
    }


SHOWN = "artifactVersion { id version collection { name ... on Collection { registry { name } } } }"


async def shown(api: Api, mutation: str, **input: Any) -> dict[str, Any]:
    """A mutation's whole answer, selecting the version it changed and what it belongs to."""
    response = await api.client.post(mutation_document(mutation, SHOWN), {"input": input})
    body: dict[str, Any] = response.json()
    return body


def codes_in(body: dict[str, Any], mutation: str) -> set[str]:
    """`ok`, or the codes of the payload's errors and of the answer's field errors."""
    found = {e["extensions"]["code"] for e in body.get("errors", [])}
    payload = (body.get("data") or {}).get(mutation) or {}
    found |= {e["code"] for e in payload.get("errors", [])}
    return found or {"ok"}


@pytest.mark.parametrize("attempt", range(3))
async def test_links_racing_a_collection_delete_answer_consistently(org: Org, attempt: int) -> None:
    """Links that show the version they made, sent with the collection's deletion: a link that
    committed first may find its collection gone when it shows it, and says so with NOT_FOUND on
    that field; one that came second is refused with NOT_FOUND; never an internal error."""
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", 9)
    target = f"wandb-registry-model/vanishing-{attempt}"
    first = (await admin.ok("linkArtifact", versionId=logged[0]["id"], targetPath=target))[
        "artifactVersion"
    ]
    collection_id = first["collection"]["id"]
    links = [
        shown(admin, "linkArtifact", versionId=v["id"], collectionId=collection_id)
        for v in logged[1:]
    ]
    delete = bare(admin, "deleteCollection", collectionId=collection_id)
    bodies = await gather_overlapping(org.pool, [*links[:4], delete, *links[4:]])
    assert outcomes([bodies[4]]) == ["ok"]
    for body in bodies[:4] + bodies[5:]:
        assert codes_in(body, "linkArtifact") <= {"ok", "NOT_FOUND"}, body
        for error in body.get("errors", []):
            assert error["message"].endswith("was deleted while this request ran"), error


async def test_unlinks_racing_alias_and_tag_changes(org: Org) -> None:
    """Each version unlinked twice at once while aliases move onto it and tags are added: one
    unlink of each succeeds (one UNLINK_ARTIFACT event), the other and late alias and tag
    changes get NOT_FOUND."""
    admin = org.admin
    links = await linked_versions(admin, org, "shrinking", 5)
    collection_id = links[0]["collection"]["id"]
    calls = []
    for link in links:
        calls.append(bare(admin, "unlinkArtifact", versionId=link["id"]))
        calls.append(bare(admin, "addAliases", versionId=link["id"], aliases=["staging"]))
        calls.append(bare(admin, "unlinkArtifact", versionId=link["id"]))
        calls.append(bare(admin, "addTags", id=link["id"], tags=["reviewed"]))
    payloads = await gather_overlapping(org.pool, calls)
    results = outcomes(payloads)
    assert set(results) <= {"ok", "NOT_FOUND"}, results
    for n in range(len(links)):
        unlinks = sorted([results[4 * n], results[4 * n + 2]])
        assert unlinks == ["NOT_FOUND", "ok"], results
    events = await admin.events(collection_id, actions=["UNLINK_ARTIFACT"])
    assert sorted(e["targetId"] for e in events) == sorted(v["id"] for v in links)
    assert await leftovers(org.pool, row_id(collection_id)) == {
        "versions": 0,
        "aliases": 0,
        "open_periods": 0,
    }


async def test_concurrent_deletes_of_one_collection_and_registry(org: Org) -> None:
    """Deleting one collection (and one registry) several times at once: one delete happens and
    is recorded once; the others get NOT_FOUND."""
    admin = org.admin
    (logged,) = await log_versions(admin, await new_project(admin, org), "m", 1)
    registry = (await admin.ok("createRegistry", organization=org.name, name="short-lived"))[
        "registry"
    ]
    link = (
        await admin.ok(
            "linkArtifact", versionId=logged["id"], targetPath="wandb-registry-short-lived/c"
        )
    )["artifactVersion"]
    collection_id = link["collection"]["id"]
    payloads = await gather_overlapping(
        org.pool, [bare(admin, "deleteCollection", collectionId=collection_id) for _ in range(4)]
    )
    assert sorted(outcomes(payloads)) == ["NOT_FOUND"] * 3 + ["ok"]
    events = await admin.events(registry["id"], actions=["DELETE_COLLECTION"])
    assert [e["targetId"] for e in events] == [collection_id]

    payloads = await gather_overlapping(
        org.pool, [bare(admin, "deleteRegistry", registryId=registry["id"]) for _ in range(4)]
    )
    assert sorted(outcomes(payloads)) == ["NOT_FOUND"] * 3 + ["ok"]
    rows = await fetch(
        org.pool,
        "SELECT count(*) AS n FROM audit_events WHERE registry_id = $1 AND action = $2",
        row_id(registry["id"]),
        "DELETE_REGISTRY",
    )
    assert rows[0]["n"] == 1
