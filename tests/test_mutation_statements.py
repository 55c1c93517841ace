"""Statement budgets for mutations: how many SQL statements each write costs, and that the cost
does not grow with the data already there (versions in the collection, files in the manifest).

Counts are of the app's statements as asyncpg's query logger records them, `BEGIN;` and
`COMMIT;` of the mutation's transaction included. asyncpg's type introspection (once per
connection and type) and the API key's `last_used_at` touch (once a minute) are housekeeping,
counted apart. Each payload selects only
`errors` and an ID, so the counts are the mutation's own, not those of a payload's fields.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.introspection import INTRO_LOOKUP_TYPES, INTRO_LOOKUP_TYPES_13

from db.accounts import TOUCH_API_KEY
from tests.support.graphql import mutation_document
from tests.support.manifests import files, upload
from tests.support.statements import StatementCounter, dump
from tests.support.workflow import (
    Api,
    Org,
    linked_versions,
    log_versions,
    new_org,
    new_project,
)

# Shared parts of every budget.
AUTH = 1  # the API key lookup with the caller's organization roles
TRANSACTION = 2  # BEGIN; and COMMIT;
AUDIT = 1  # one INSERT per audit event
# Each registry event automations react to (CREATE_ARTIFACT, LINK_ARTIFACT, UNLINK_ARTIFACT,
# ADD_ARTIFACT_ALIAS, REMOVE_ARTIFACT_ALIAS) is announced in the transaction: one statement that
# notifies listeners and finds the matching automations (there are none here, so no deliveries).
EVENT = 1

# createRun: the project (1); in the transaction the insert and the run read back (2).
BUDGET_CREATE_RUN = AUTH + 1 + TRANSACTION + 2

# logArtifact of a new manifest: the project (1); in the transaction: find the sequence,
# create it and find it again (3), lock it, look the digest up (2), check that the files' bytes
# are stored, holding them (1: one statement however many files), insert the content and its
# files (2, likewise), take the index, insert the version and read it back (3), give it
# `latest` (1).
BUDGET_LOG_NEW = AUTH + 1 + TRANSACTION + 3 + 2 + 1 + 2 + 3 + 1
# The same manifest again: the sequence exists (1), lock and digest lookup (2), its version (1).
BUDGET_LOG_DUPLICATE = AUTH + 1 + TRANSACTION + 1 + 2 + 1
# Each alias given while logging: its upsert (1); logged versions write no audit events.
LOG_PER_ALIAS = 1

# linkArtifact by version ID and a target path naming the organization: the version, the
# organization and the registry the path names, the registry by ID for the role check (4). In the
# transaction: find the collection (1), lock it and look the content up (2), take the index,
# insert the version and read it back (3), `latest` (1), LINK_ARTIFACT's audit and event.
LINK_READS = 4
LINK_WRITE = 1 + 2 + 3 + 1 + AUDIT + EVENT
BUDGET_LINK_EXISTING_COLLECTION = AUTH + LINK_READS + TRANSACTION + LINK_WRITE
# A target path without an organization: the version's organization is looked up too.
PATH_WITHOUT_ORGANIZATION = 1
# A collection that does not exist yet: its insert, CREATE_COLLECTION's audit and the
# CREATE_ARTIFACT event.
BUDGET_LINK_NEW_COLLECTION = BUDGET_LINK_EXISTING_COLLECTION + 1 + AUDIT + EVENT
# By collection ID instead of a path: the version, the collection and its registry (3); no
# collection lookup in the transaction.
BUDGET_LINK_BY_COLLECTION_ID = AUTH + 3 + TRANSACTION + 2 + 3 + 1 + AUDIT + EVENT
# Content already in the collection: nothing is written.
BUDGET_LINK_ALREADY_LINKED = AUTH + LINK_READS + TRANSACTION + 1 + 2
# Each alias given to (or moved onto) a registry version: its upsert, its audit and its event.
PER_ALIAS = 1 + AUDIT + EVENT

# addAliases: the version and its registry for the role check (2); in the transaction: lock the
# collection and check the version is still there (2), then per alias its upsert and event;
# after it, the version and its registry read again for the payload (2).
BUDGET_ADD_ALIASES_BASE = AUTH + 2 + TRANSACTION + 2 + 2

# unlinkArtifact: the version, its registry, the aliases it holds (protected ones need an admin)
# (3); in the transaction: lock and check (2), close its alias periods and delete it (2), find
# the newest remaining version and give it `latest` (2), UNLINK_ARTIFACT's audit and event;
# after it, the collection and its registry for the payload (2).
BUDGET_UNLINK_LATEST = AUTH + 3 + TRANSACTION + 2 + 2 + 2 + AUDIT + EVENT + 2


@dataclass
class Counted:
    count: int
    statements: list[str]
    data: Any


class Meter:
    def __init__(self, counter: StatementCounter) -> None:
        self.counter = counter

    def housekeeping(self, statement: str) -> bool:
        """asyncpg's and the key's own statements, not the mutation's (see the module doc)."""
        return (
            statement == TOUCH_API_KEY
            or statement in (INTRO_LOOKUP_TYPES, INTRO_LOOKUP_TYPES_13)
            or "set_config('jit'" in statement  # asyncpg turns JIT off around introspection
        )

    async def run(self, api: Api, document: str, variables: dict[str, Any]) -> Counted:
        # The key's `last_used_at` is written at most once a minute: a request before the
        # measurement does it, and a touch that still falls into it is housekeeping too.
        await api.client.data("{ viewer { name } }")
        self.counter.reset()
        data = await api.client.data(document, variables)
        statements = [s for s in self.counter.statements if not self.housekeeping(s)]
        # One transaction per mutation.
        assert statements.count("BEGIN;") <= 1, dump(statements)
        assert statements.count("COMMIT;") == statements.count("BEGIN;"), dump(statements)
        return Counted(len(statements), statements, data)

    async def mutation(self, api: Api, name: str, /, **input: Any) -> Counted:
        result = "run { id }" if name == "createRun" else "artifactVersion { id }"
        if name == "unlinkArtifact":
            result = "unlinkedVersionId"
        counted = await self.run(api, mutation_document(name, result), {"input": input})
        payload = counted.data[name]
        assert payload["errors"] == [], payload
        counted.data = payload
        return counted


def within(counted: Counted, budget: int) -> None:
    assert counted.count <= budget, (
        f"{counted.count} statements, budget {budget}:\n{dump(counted.statements)}"
    )


@pytest.fixture
def meter(statement_counter: StatementCounter) -> Meter:
    return Meter(statement_counter)


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(pool, client, prefix="st")


async def test_create_run(org: Org, meter: Meter) -> None:
    project_id = await new_project(org.admin, org)
    counted = await meter.mutation(
        org.admin, "createRun", projectId=project_id, name="r", config={"a": 1}
    )
    within(counted, BUDGET_CREATE_RUN)


async def test_log_artifact(org: Org, meter: Meter) -> None:
    admin = org.admin
    project_id = await new_project(admin, org)
    manifests = {
        seed: files(seed, *names)
        for seed, names in (
            ("a", ["w"]),
            ("b", [f"shard-{i}.bin" for i in range(50)]),
            ("c", ["w"]),
            ("d", ["w"]),
        )
    }
    for manifest in manifests.values():
        await upload(admin.client, manifest, projectId=project_id)
    new = await meter.mutation(
        admin,
        "logArtifact",
        projectId=project_id,
        name="m",
        type="model",
        files=manifests["a"],
    )
    within(new, BUDGET_LOG_NEW)
    duplicate = await meter.mutation(
        admin,
        "logArtifact",
        projectId=project_id,
        name="m",
        type="model",
        files=manifests["a"],
    )
    assert duplicate.data["artifactVersion"] == new.data["artifactVersion"]
    within(duplicate, BUDGET_LOG_DUPLICATE)
    assert duplicate.count < new.count

    # The manifest's size and the sequence's length do not change the count.
    many_files = await meter.mutation(
        admin,
        "logArtifact",
        projectId=project_id,
        name="m",
        type="model",
        files=manifests["b"],
    )
    # The sequence exists now: neither its insert nor its second lookup.
    assert many_files.count == new.count - 2, dump(many_files.statements)
    await log_versions(admin, project_id, "m", 20)
    later = await meter.mutation(
        admin,
        "logArtifact",
        projectId=project_id,
        name="m",
        type="model",
        files=manifests["c"],
    )
    assert later.count == many_files.count

    with_aliases = await meter.mutation(
        admin,
        "logArtifact",
        projectId=project_id,
        name="m",
        type="model",
        files=manifests["d"],
        aliases=["a", "b", "c"],
    )
    assert with_aliases.count == later.count + 3 * LOG_PER_ALIAS


@pytest.mark.parametrize("aliases", [[], ["staging"]])
async def test_link_artifact(org: Org, meter: Meter, aliases: list[str]) -> None:
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", 4)
    target = f"{org.name}/wandb-registry-model/budget"

    async def link(version: dict[str, Any], **where: Any) -> Counted:
        return await meter.mutation(admin, "linkArtifact", versionId=version["id"], **where)

    new = await link(logged[0], targetPath=target, aliases=aliases)
    within(new, BUDGET_LINK_NEW_COLLECTION + len(aliases) * PER_ALIAS)
    existing = await link(logged[1], targetPath=target, aliases=aliases)
    within(existing, BUDGET_LINK_EXISTING_COLLECTION + len(aliases) * PER_ALIAS)
    # The same statements but the collection's insert and its creation's audit (and event).
    extra = Counter(new.statements) - Counter(existing.statements)
    assert not Counter(existing.statements) - Counter(new.statements)
    assert sum(n for s, n in extra.items() if s.lstrip().startswith("INSERT INTO collections")) == 1
    assert sum(n for s, n in extra.items() if "INSERT INTO audit_events" in s) == AUDIT
    assert extra.total() <= 1 + AUDIT + EVENT, dump(list(extra.elements()))
    collection_id = (await admin.version(existing.data["artifactVersion"]["id"]))["collection"][
        "id"
    ]
    by_id = await link(logged[2], collectionId=collection_id, aliases=aliases)
    within(by_id, BUDGET_LINK_BY_COLLECTION_ID + len(aliases) * PER_ALIAS)
    again = await link(logged[2], targetPath=target)
    assert again.data == by_id.data
    within(again, BUDGET_LINK_ALREADY_LINKED)


async def test_link_cost_does_not_grow_with_the_collection(org: Org, meter: Meter) -> None:
    """Linking into a collection of 1 version costs what linking into one of 30 does."""
    admin = org.admin
    logged = await log_versions(admin, await new_project(admin, org), "m", 32)
    for version in logged[:1]:
        await admin.ok(
            "linkArtifact", versionId=version["id"], targetPath="wandb-registry-model/small"
        )
    for version in logged[:30]:
        await admin.ok(
            "linkArtifact", versionId=version["id"], targetPath="wandb-registry-model/large"
        )
    small = await meter.mutation(
        admin,
        "linkArtifact",
        versionId=logged[31]["id"],
        targetPath="wandb-registry-model/small",
        aliases=["staging"],
    )
    large = await meter.mutation(
        admin,
        "linkArtifact",
        versionId=logged[31]["id"],
        targetPath="wandb-registry-model/large",
        aliases=["staging"],
    )
    assert small.count == large.count, f"{dump(small.statements)}\n===\n{dump(large.statements)}"
    within(large, BUDGET_LINK_EXISTING_COLLECTION + PATH_WITHOUT_ORGANIZATION + PER_ALIAS)
    assert (await admin.version(large.data["artifactVersion"]["id"]))["version"] == "v30"


async def test_add_aliases(org: Org, meter: Meter) -> None:
    """addAliases costs a base plus one upsert and one event per alias, whatever the size of the
    collection: 1 alias and 5 aliases, in collections of 2 and of 30 versions."""
    admin = org.admin
    counts = {}
    for size in (2, 30):
        links = await linked_versions(admin, org, f"aliases-{size}", size)
        one = await meter.mutation(admin, "addAliases", versionId=links[0]["id"], aliases=["solo"])
        within(one, BUDGET_ADD_ALIASES_BASE + PER_ALIAS)
        two = await meter.mutation(
            admin, "addAliases", versionId=links[0]["id"], aliases=["x", "y"]
        )
        per_alias = two.count - one.count
        assert 0 < per_alias <= PER_ALIAS, dump(two.statements)
        five = await meter.mutation(
            admin,
            "addAliases",
            versionId=links[-1]["id"],
            aliases=["a", "b", "c", "d", "solo"],  # four new ones, and `solo` moves here
        )
        within(five, BUDGET_ADD_ALIASES_BASE + 5 * PER_ALIAS)
        assert five.count - one.count == 4 * per_alias, dump(five.statements)
        assert (await admin.version(links[-1]["id"]))["aliases"] == [
            "a",
            "b",
            "c",
            "d",
            "latest",
            "solo",
        ]
        # Aliases the version holds already change nothing and cost only their upserts.
        again = await meter.mutation(
            admin, "addAliases", versionId=links[-1]["id"], aliases=["a", "b"]
        )
        assert again.count == one.count - per_alias + 2, dump(again.statements)
        assert not any("INSERT INTO audit_events" in s for s in again.statements)
        counts[size] = (one.count, two.count, five.count, again.count)
    assert counts[2] == counts[30]


async def test_unlink_artifact(org: Org, meter: Meter) -> None:
    """Unlinking the version with `latest` moves `latest` in a fixed number of statements,
    whatever the size of the collection."""
    admin = org.admin
    counts = {}
    for size in (2, 30):
        links = await linked_versions(admin, org, f"unlink-{size}", size)
        counted = await meter.mutation(admin, "unlinkArtifact", versionId=links[-1]["id"])
        assert counted.data["unlinkedVersionId"] == links[-1]["id"]
        within(counted, BUDGET_UNLINK_LATEST)
        assert (await admin.version(links[-2]["id"]))["aliases"] == ["latest"]
        counts[size] = counted.count
    assert counts[2] == counts[30]
