"""No N+1: the number of SQL statements a request runs depends on the query's shape, never on how
many objects it returns.

Two organizations of the same shape are built through the resolver functions: `small` with one
custom registry x 1 collection x 1 version, and `large` with N x N x N. Every version has aliases,
tags, a creating run, files, runs that used it and a source. Each query below runs against both
over HTTP, and the statement counts must be equal and within the budget stated for it.

Counts are of the app's statements. asyncpg's pool also sends its reset query whenever a connection
goes back to it (once per loader batch); those are counted apart and must not outnumber them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from db.records import ArtifactVersion, Project, User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.collections import create_collection_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import (
    create_project_txn,
    create_run_txn,
    finish_run_txn,
    log_artifact_txn,
    use_artifact_txn,
)
from resolvers.versions import FileEntry, add_aliases_txn, change_version_tags_txn
from tests.support.graphql import GraphQLClient
from tests.support.ids import gid
from tests.support.manifests import stored_entries
from tests.support.statements import StatementCounter, count_request

N = 5  # registries, collections per registry, versions per collection in the large org

# Statement budgets. Every connection costs one statement per depth (all parents' pages at once),
# every loader one statement per batch, whatever the number of parents or children.
AUTH = 1  # the API key lookup, with the caller's organization roles
LOOKUP = 1  # one root lookup by name or id (organization(name:), node(id:), …)
PAGE = 1  # one connection level: the pages of every parent at that depth, in one statement
TOTAL_COUNT = 1  # totalCount on one connection level: the counts of every parent at once
FIELD = 1  # a field loaded through one DataLoader (aliases, tags, createdBy, source, …)
# Authorization (the caller is an organization MEMBER, not an admin):
# lists that can hold registry objects filter in SQL by the registries the caller holds a role
# in, loaded once per request;
ROLE_FILTER = 1
# an object in a registry reached on its own (node(id:), a path, Collection.registry,
# ArtifactVersion.collection, the download check of files) needs its registry, then the
# caller's role there: each one batched statement, however many objects.
REGISTRY_ROLE = 2

BUDGET_ORGANIZATION = AUTH + LOOKUP
BUDGET_REGISTRIES = BUDGET_ORGANIZATION + ROLE_FILTER + PAGE
BUDGET_COLLECTIONS = BUDGET_REGISTRIES + PAGE
BUDGET_VERSIONS = BUDGET_COLLECTIONS + PAGE
# What each field of the versions adds to BUDGET_VERSIONS.
VERSION_FIELD_COST = {
    "aliases": FIELD,
    "tags": FIELD,
    "createdBy": FIELD,
    # files: the registries the content is linked into, then the caller's role in each (no
    # RESTRICTED_VIEWER anywhere, by any route).
    "files": PAGE + FIELD + REGISTRY_ROLE,
    "usedBy": PAGE,
    "source": FIELD,
    "linkedVersions": PAGE,
    "collection": FIELD + REGISTRY_ROLE,
    "linkedBy": FIELD,
    "path": 3 * FIELD,  # the version's collection and organization, then the registry
}
BUDGET_VERSION_TREE = BUDGET_VERSIONS + sum(VERSION_FIELD_COST.values())
# Collection.aliases: the (alias, version) pairs, then the versions they point at.
COLLECTION_ALIASES_FIELD = 2
# artifactVersion(path:) { … aliases }: the organization, registry, the caller's role there,
# collection and the version by alias or index, all in one statement; then its aliases.
PATH_WALK = 1
BUDGET_VERSION_BY_PATH = AUTH + PATH_WALK + FIELD
# organization → project(name:) → runs → {inputs (filtered by role), outputs}.
BUDGET_RUN_LINEAGE = AUTH + LOOKUP + LOOKUP + PAGE + ROLE_FILTER + 2 * PAGE
# nodes(ids:): one lookup per kind of ID (Collection and ArtifactSequence share a table but are
# looked up separately), the registry check of those in registries, plus one for the
# memberships that decide whether a User is visible.
NODE_KINDS = 8
USER_VISIBILITY = 1
BUDGET_NODES = AUTH + NODE_KINDS * LOOKUP + REGISTRY_ROLE + USER_VISIBILITY


@dataclass
class Org:
    name: str
    registry_ids: list[int] = field(default_factory=list)
    collection_ids: list[int] = field(default_factory=list)
    sequence_ids: list[int] = field(default_factory=list)
    versions: list[ArtifactVersion] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    project_id: int = 0
    organization_id: int = 0


@dataclass
class World:
    key: str
    member_id: int
    small: Org
    large: Org


async def _files(conn: Any, project: Project, count: int, seed: str) -> list[FileEntry]:
    names = (f"part-{i}.bin" for i in range(count))
    return await stored_entries(conn, project, seed, *names, size=100)


async def _build(conn: Any, name: str, n: int, member: User) -> Org:
    """An organization with n custom registries x n collections x n versions, each version with
    aliases, tags, a creating run, n files, n runs that used it, and a source version."""
    org = Org(name=name)
    organization = await create_organization_txn(conn, name, name.title())
    org.organization_id = organization.id
    admin = await create_user_txn(conn, f"{name}-admin", "Admin")
    await add_member_txn(conn, organization, admin, "ADMIN")
    await add_member_txn(conn, organization, member, "MEMBER")
    project = await create_project_txn(conn, organization.id, "pipeline")
    org.project_id = project.id
    consumers = [await create_run_txn(conn, admin, project, f"evaluate-{i}") for i in range(n)]
    org.run_ids.extend(run.id for run in consumers)
    for r in range(n):
        registry = await create_registry_txn(
            conn, admin, organization.id, name=f"custom-{r}", protected_aliases=["production"]
        )
        org.registry_ids.append(registry.id)
        for c in range(n):
            collection = await create_collection_txn(
                conn, admin, registry, name=f"model-{c}", artifact_type="model", tags=["tabular"]
            )
            org.collection_ids.append(collection.id)
            previous: ArtifactVersion | None = None
            for v in range(n):
                run = await create_run_txn(conn, admin, project, f"train-{r}-{c}-{v}")
                org.run_ids.append(run.id)
                if previous is not None:
                    await use_artifact_txn(conn, run, previous)
                logged = await log_artifact_txn(
                    conn,
                    admin,
                    project,
                    name=f"model-{r}-{c}",
                    artifact_type="model",
                    run=run,
                    files=await _files(conn, project, n, f"{name}/{r}/{c}/{v}"),
                    metadata={"accuracy": 0.5 + v / 100},
                    aliases=[f"run-{v}"],
                )
                if v == 0:
                    org.sequence_ids.append(logged.collection_id)
                await finish_run_txn(conn, run)
                linked = await link_artifact_txn(
                    conn, admin, logged, registry, collection.name, [f"candidate-{v}"]
                )
                await change_version_tags_txn(
                    conn, admin, linked, ["reviewed", f"round-{v}"], add=True
                )
                for consumer in consumers:
                    await use_artifact_txn(conn, consumer, linked)
                org.versions.append(linked)
                previous = linked
            assert previous is not None
            await add_aliases_txn(conn, admin, previous, ["production"])
    return org


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool) -> World:
    async with pool.acquire() as conn, conn.transaction():
        member = await create_user_txn(conn, "statement-counter", "Member of both")
        small = await _build(conn, "counts-small", 1, member)
        large = await _build(conn, "counts-large", N, member)
        key = await create_api_key_txn(conn, member.name, key_name="counts")
    assert len(large.versions) == N**3
    return World(key=key, member_id=member.id, small=small, large=large)


async def count_statements(
    http: httpx.AsyncClient,
    counter: StatementCounter,
    world: World,
    query: str,
    variables: dict[str, Any],
    *,
    wandb: bool = False,
) -> tuple[int, Any]:
    """The app's statements for one request by the member (to the W&B dialect with `wandb`),
    and its data."""
    client = GraphQLClient(http, world.key, wandb=wandb)
    return await count_request(client, counter, query, variables)


def _objects(data: Any) -> int:
    """How many JSON objects a response holds: the large org's answers must hold more."""
    if isinstance(data, dict):
        return 1 + sum(_objects(v) for v in data.values())
    if isinstance(data, list):
        return sum(_objects(v) for v in data)
    return 0


async def assert_flat(
    http: httpx.AsyncClient,
    counter: StatementCounter,
    world: World,
    query: str,
    budget: int,
    variables: dict[str, Any] | None = None,
    *,
    wandb: bool = False,
) -> int:
    """Runs `query` with `$org` as the small and as the large organization: equal counts, within
    `budget`, and more objects returned for the large one. Returns the count."""
    small, small_data = await count_statements(
        http, counter, world, query, {**(variables or {}), "org": world.small.name}, wandb=wandb
    )
    large, large_data = await count_statements(
        http, counter, world, query, {**(variables or {}), "org": world.large.name}, wandb=wandb
    )
    assert _objects(large_data) > _objects(small_data), "the large org must return more"
    assert small == large, f"{small} statements for the small org, {large} for the large one"
    assert large <= budget, f"{large} statements, budget {budget}:\n{counter.dump()}"
    return large


# The tree, one level deeper each time. Pages of N take every object of the large org, and keep
# the requested cost of every field at once within the limit.
ALL = f"first: {N}"
ORGANIZATION = "query($org: String!) { organization(name: $org) { id name %s } }"
REGISTRIES = "registries(" + ALL + ") { %s nodes { id name %s } }"
COLLECTIONS = "collections(" + ALL + ") { %s nodes { id name %s } }"
VERSIONS = "versions(" + ALL + ") { %s nodes { id version %s } }"

VERSION_FIELDS = {
    "aliases": "aliases",
    "tags": "tags",
    "createdBy": "createdBy { id name }",
    "files": "files(" + ALL + ") { nodes { path digest size } }",
    "usedBy": "usedBy(" + ALL + ") { nodes { id name } }",
    "source": "source { id version digest }",
    "linkedVersions": "linkedVersions(" + ALL + ") { nodes { id version } }",
    "collection": "collection { id name }",
    "linkedBy": "linkedBy { name }",
    "path": "path",
}
assert set(VERSION_FIELDS) == set(VERSION_FIELD_COST)


def tree(versions: str = "", *, counts: tuple[str, str, str] = ("", "", "")) -> str:
    """organization → registries → collections → versions { versions }; `counts` puts a
    selection (e.g. totalCount) on the registries, collections and versions connections."""
    return ORGANIZATION % (
        REGISTRIES % (counts[0], COLLECTIONS % (counts[1], VERSIONS % (counts[2], versions)))
    )


async def test_organization(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    query = ORGANIZATION % "viewerRole"
    small, _ = await count_statements(
        client, statement_counter, world, query, {"org": world.small.name}
    )
    large, _ = await count_statements(
        client, statement_counter, world, query, {"org": world.large.name}
    )
    assert small == large <= BUDGET_ORGANIZATION


@pytest.mark.parametrize(
    ("query", "budget"),
    [
        pytest.param(ORGANIZATION % (REGISTRIES % ("", "")), BUDGET_REGISTRIES, id="registries"),
        pytest.param(
            ORGANIZATION % (REGISTRIES % ("", COLLECTIONS % ("", ""))),
            BUDGET_COLLECTIONS,
            id="collections",
        ),
        pytest.param(tree(), BUDGET_VERSIONS, id="versions"),
    ],
)
async def test_tree_levels(
    client: httpx.AsyncClient,
    statement_counter: StatementCounter,
    world: World,
    query: str,
    budget: int,
) -> None:
    await assert_flat(client, statement_counter, world, query, budget)


@pytest.mark.parametrize("name", list(VERSION_FIELDS))
async def test_version_field(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World, name: str
) -> None:
    budget = BUDGET_VERSIONS + VERSION_FIELD_COST[name]
    await assert_flat(client, statement_counter, world, tree(VERSION_FIELDS[name]), budget)


async def test_every_version_field_at_once(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    query = tree(" ".join(VERSION_FIELDS.values()))
    # At most the sum of the fields alone (they share batches: the collection of `collection` and
    # `path`, the registry of `files`, `collection` and `path`).
    await assert_flat(client, statement_counter, world, query, BUDGET_VERSION_TREE)


async def test_versions_are_all_there(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    """The large org's tree really holds N x N x N versions with their children (so that the
    equal counts above mean something)."""
    query = tree(" ".join(VERSION_FIELDS.values()))
    _, data = await count_statements(
        client, statement_counter, world, query, {"org": world.large.name}
    )
    custom = [
        r for r in data["organization"]["registries"]["nodes"] if r["name"].startswith("custom-")
    ]
    versions = [
        v for r in custom for c in r["collections"]["nodes"] for v in c["versions"]["nodes"]
    ]
    assert len(custom) == N
    assert len(versions) == N**3
    for version in versions:
        assert "latest" in version["aliases"] or version["version"] != f"v{N - 1}"
        assert any(a.startswith("candidate-") for a in version["aliases"])
        assert "reviewed" in version["tags"]
        assert version["createdBy"]["name"].startswith("train-")
        assert len(version["files"]["nodes"]) == N
        assert len(version["usedBy"]["nodes"]) >= N
        assert version["source"]["digest"]
        assert version["linkedVersions"]["nodes"] == [
            {"id": version["id"], "version": version["version"]}
        ]
        assert version["path"].startswith(f"{world.large.name}/wandb-registry-custom-")


@pytest.mark.parametrize(
    ("selection", "cost"),
    [
        pytest.param("tags", FIELD, id="tags"),
        pytest.param("registry { id name }", REGISTRY_ROLE, id="registry"),
        pytest.param(
            'version(alias: "production") { id version }',
            FIELD + REGISTRY_ROLE,
            id="version-by-alias",
        ),
        pytest.param(
            "version(index: 0) { id version }", FIELD + REGISTRY_ROLE, id="version-by-index"
        ),
    ],
)
async def test_collection_field(
    client: httpx.AsyncClient,
    statement_counter: StatementCounter,
    world: World,
    selection: str,
    cost: int,
) -> None:
    query = ORGANIZATION % (REGISTRIES % ("", COLLECTIONS % ("", selection)))
    await assert_flat(client, statement_counter, world, query, BUDGET_COLLECTIONS + cost)


async def test_collection_aliases(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    query = ORGANIZATION % (
        REGISTRIES % ("", COLLECTIONS % ("", "aliases { alias version { id version } }"))
    )
    await assert_flat(
        client, statement_counter, world, query, BUDGET_COLLECTIONS + COLLECTION_ALIASES_FIELD
    )


async def test_registry_organization(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    query = ORGANIZATION % (REGISTRIES % ("", "organization { id name }"))
    await assert_flat(client, statement_counter, world, query, BUDGET_REGISTRIES + FIELD)


# totalCount, on one connection level at a time: exactly one statement more, whatever the size.
TOTAL_COUNT_PLACES = {
    "registries": tree(counts=("totalCount", "", "")),
    "collections": tree(counts=("", "totalCount", "")),
    "versions": tree(counts=("", "", "totalCount")),
    "files": tree("files(first: 1) { totalCount nodes { path } }"),
    "usedBy": tree("usedBy(first: 1) { totalCount nodes { name } }"),
    "linkedVersions": tree("linkedVersions(first: 1) { totalCount nodes { id } }"),
}
WITHOUT_TOTAL_COUNT = {
    "registries": tree(),
    "collections": tree(),
    "versions": tree(),
    "files": tree("files(first: 1) { nodes { path } }"),
    "usedBy": tree("usedBy(first: 1) { nodes { name } }"),
    "linkedVersions": tree("linkedVersions(first: 1) { nodes { id } }"),
}


@pytest.mark.parametrize("place", list(TOTAL_COUNT_PLACES))
async def test_total_count_costs_one_statement(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World, place: str
) -> None:
    without = await assert_flat(
        client, statement_counter, world, WITHOUT_TOTAL_COUNT[place], BUDGET_VERSION_TREE
    )
    with_count = await assert_flat(
        client, statement_counter, world, TOTAL_COUNT_PLACES[place], BUDGET_VERSION_TREE
    )
    assert with_count == without + TOTAL_COUNT


async def test_total_count_on_every_level(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    counts = ("totalCount", "totalCount", "totalCount")
    await assert_flat(
        client, statement_counter, world, tree(counts=counts), BUDGET_VERSIONS + 3 * TOTAL_COUNT
    )
    _, data = await count_statements(
        client, statement_counter, world, tree(counts=counts), {"org": world.large.name}
    )
    registries = data["organization"]["registries"]
    assert registries["totalCount"] == N + 2  # and the core `model` and `dataset`
    custom = [r for r in registries["nodes"] if r["name"].startswith("custom-")]
    assert {r["collections"]["totalCount"] for r in custom} == {N}
    assert {c["versions"]["totalCount"] for r in custom for c in r["collections"]["nodes"]} == {N}


RUN_LINEAGE = """query($org: String!) { organization(name: $org) { project(name: "pipeline") {
  runs(%s) { nodes { id name
    inputs(first: 50) { nodes { id version } }
    outputs(first: 50) { nodes { id version } } } } } } }"""


async def test_run_inputs_and_outputs(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    # The newest 100 runs: training runs, each logged a version and most used the one before.
    newest = RUN_LINEAGE % "first: 100"
    await assert_flat(client, statement_counter, world, newest, BUDGET_RUN_LINEAGE)
    _, data = await count_statements(
        client, statement_counter, world, newest, {"org": world.large.name}
    )
    runs = data["organization"]["project"]["runs"]["nodes"]
    assert len(runs) == 100
    assert sum(len(r["inputs"]["nodes"]) for r in runs) > 50
    assert sum(len(r["outputs"]["nodes"]) for r in runs) == 100

    # The oldest 20: the evaluation runs that used every version, then the first training runs.
    oldest = RUN_LINEAGE % "last: 20"
    await assert_flat(client, statement_counter, world, oldest, BUDGET_RUN_LINEAGE)
    _, data = await count_statements(
        client, statement_counter, world, oldest, {"org": world.large.name}
    )
    evaluations = [
        r for r in data["organization"]["project"]["runs"]["nodes"] if r["name"].startswith("eval")
    ]
    assert len(evaluations) == N
    assert all(len(r["inputs"]["nodes"]) == 50 for r in evaluations)


async def test_run_fields_under_project_runs(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    query = """query($org: String!) { organization(name: $org) { project(name: "pipeline") {
      runs(first: 100) { nodes { user { name } project { name }
        outputs(first: 5) { nodes { createdBy { name } usedBy(first: 5) { nodes { name } } } }
      } } } } }"""
    # user, project; outputs page, then createdBy and usedBy of the outputs.
    budget = AUTH + LOOKUP + LOOKUP + PAGE + 2 * FIELD + PAGE + FIELD + PAGE
    await assert_flat(client, statement_counter, world, query, budget)


PATH_QUERY = """query($path: String!) { artifactVersion(path: $path) {
  id version digest aliases } }"""


@pytest.mark.parametrize("selector", [":production", ":v0", ":latest", ""])
async def test_version_by_path(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World, selector: str
) -> None:
    for org in (world.small, world.large):
        path = f"{org.name}/wandb-registry-custom-0/model-0{selector}"
        count, data = await count_statements(
            client, statement_counter, world, PATH_QUERY, {"path": path}
        )
        assert data["artifactVersion"]["version"]
        assert count <= BUDGET_VERSION_BY_PATH, statement_counter.dump()


WANDB_PATH_QUERY = """query($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) { id versionIndex aliases { alias } } } }"""


@pytest.mark.parametrize("name", ["model-0:production", "model-0:v0", "model-0"])
async def test_version_by_name_through_the_wandb_dialect(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World, name: str
) -> None:
    """What `wandb.Api().artifact("org/wandb-registry-x/name:alias")` sends: the whole path is
    read in one statement, however the dialect nests it."""
    for org in (world.small, world.large):
        variables = {"entity": org.name, "project": "wandb-registry-custom-0", "name": name}
        count, data = await count_statements(
            client, statement_counter, world, WANDB_PATH_QUERY, variables, wandb=True
        )
        assert data["project"]["artifactCollectionMembership"]["versionIndex"] >= 0
        assert count <= BUDGET_VERSION_BY_PATH, statement_counter.dump()


NODE_FRAGMENTS = """
  id
  ... on Organization { name }
  ... on Registry { name }
  ... on Collection { name }
  ... on ArtifactSequence { name }
  ... on ArtifactVersion { version }
  ... on Project { name }
  ... on Run { name }
  ... on User { name }
"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) {" + NODE_FRAGMENTS + "} }"
NODE = "query($id: ID!) { node(id: $id) {" + NODE_FRAGMENTS + "} }"


def _mixed_ids(org: Org, member_id: int, total: int) -> list[str]:
    """`total` IDs taken round-robin over every kind of node (as far as the org has objects)."""
    kinds: list[tuple[str, list[int]]] = [
        ("Organization", [org.organization_id]),
        ("Registry", org.registry_ids),
        ("Collection", org.collection_ids),
        ("ArtifactSequence", org.sequence_ids),
        ("ArtifactVersion", [v.id for v in org.versions]),
        ("Project", [org.project_id]),
        ("Run", org.run_ids),
        ("User", [member_id]),
    ]
    ids: list[str] = []
    for position in range(max(len(row_ids) for _, row_ids in kinds)):
        ids.extend(
            gid(kind, row_ids[position]) for kind, row_ids in kinds if position < len(row_ids)
        )
    assert len(ids) >= total
    return ids[:total]


async def test_node(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    version = world.large.versions[-1]
    count, data = await count_statements(
        client, statement_counter, world, NODE, {"id": gid("ArtifactVersion", version.id)}
    )
    assert data["node"]["version"] == f"v{version.version_index}"
    assert count <= AUTH + LOOKUP + REGISTRY_ROLE


async def test_nodes_one_versus_twenty(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    one = [gid("ArtifactVersion", world.small.versions[0].id)]
    one_count, one_data = await count_statements(
        client, statement_counter, world, NODES, {"ids": one}
    )
    assert one_data["nodes"][0]["version"] == "v0"
    assert one_count <= AUTH + LOOKUP + REGISTRY_ROLE

    versions = [gid("ArtifactVersion", v.id) for v in world.large.versions[:20]]
    twenty_count, twenty_data = await count_statements(
        client, statement_counter, world, NODES, {"ids": versions}
    )
    assert all(node is not None for node in twenty_data["nodes"])
    assert twenty_count == one_count

    # Every kind once (8 IDs) against every kind several times (20 IDs): the same statements.
    few = _mixed_ids(world.small, world.member_id, NODE_KINDS)
    many = _mixed_ids(world.large, world.member_id, 20)
    assert len(set(many)) == 20
    few_count, few_data = await count_statements(
        client, statement_counter, world, NODES, {"ids": few}
    )
    many_count, many_data = await count_statements(
        client, statement_counter, world, NODES, {"ids": many}
    )
    assert all(node is not None for node in few_data["nodes"])
    assert all(node is not None for node in many_data["nodes"])
    assert few_count == many_count <= BUDGET_NODES


async def test_nodes_children(
    client: httpx.AsyncClient, statement_counter: StatementCounter, world: World
) -> None:
    """Fields below `nodes` batch across all the nodes too."""
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id
      ... on ArtifactVersion { aliases tags createdBy { name } }
      ... on Run { project { name } outputs(first: 5) { nodes { id } } } } }"""

    def ids(org: Org, count: int) -> list[str]:
        return [gid("ArtifactVersion", v.id) for v in org.versions[:count]] + [
            gid("Run", r) for r in org.run_ids[:count]
        ]

    small, _ = await count_statements(
        client, statement_counter, world, query, {"ids": ids(world.small, 1)}
    )
    large, _ = await count_statements(
        client, statement_counter, world, query, {"ids": ids(world.large, 10)}
    )
    # versions (and their registry check), runs; aliases, tags, createdBy; project, outputs.
    assert small == large <= AUTH + 2 * LOOKUP + REGISTRY_ROLE + 3 * FIELD + FIELD + PAGE


# The W&B dialect: the SDK's registry searches and a version's files, in shapes like those the
# SDK asks for (its queries are its own; these are written here).
WANDB_REGISTRIES = """query($org: String!) { organization(name: $org) { orgEntity {
  projects(first: 100) { pageInfo { endCursor hasNextPage } edges { node {
    __typename id internalId name description createdAt access
    allowAllArtifactTypesInRegistry entity { name organization { name } }
    artifactTypes(includeAll: true) { edges { node { name } } } } } } } } }"""
WANDB_COLLECTIONS = """query($org: String!) { organization(name: $org) { orgEntity {
  artifactCollections(filters: "{\\"tag\\": \\"tabular\\"}", first: 100) { totalCount
    edges { node { __typename id name description createdAt defaultArtifactType { name }
      project { id internalId name entity { name } } tags { edges { node { id name } } } } } }
} } }"""
WANDB_VERSIONS = """query($org: String!) { organization(name: $org) { orgEntity {
  artifactMemberships(first: 50) { pageInfo { endCursor hasNextPage } edges { node {
    __typename id versionIndex createdAt aliases { id alias }
    artifactCollection { __typename name project { id internalId name entity { name } } }
    artifact { id versionIndex description metadata ttlDurationSeconds state size digest
      fileCount createdAt artifactType { name } tags { id name }
      artifactSequence { name project { name entity { name } } }
      aliases { alias artifactCollection { name project { name } } } }
    files(first: 10) { edges { node { name sizeBytes md5 } } } } } } } } }"""
# projects: the organization, its entity's page of registries (filtered by the caller's roles),
# and the registries' organization (their entity).
BUDGET_WANDB_REGISTRIES = AUTH + LOOKUP + ROLE_FILTER + PAGE + FIELD
# collections: the organization, the registries the caller may search, one page with its count,
# then the collections' projects (their registries), tags and organizations.
BUDGET_WANDB_COLLECTIONS = AUTH + LOOKUP + ROLE_FILTER + PAGE + TOTAL_COUNT + 4 * FIELD
# versions: the organization, the registries the caller may search, one page; then, each one
# batch for every version at once: the memberships' aliases, the artifacts' tags, their logged
# sources, then the artifacts' aliases (their own and their sources' together, a second batch
# as it waits for the sources), the collections (and their registries, with the caller's role
# there), the sources' projects and their organization; the file counts and a page of files.
# (Signed URLs change every second, so the files' URLs stay out of a test that compares two
# answers.)
BUDGET_WANDB_VERSIONS = (
    AUTH + LOOKUP + ROLE_FILTER + PAGE + 7 * FIELD + REGISTRY_ROLE + TOTAL_COUNT + PAGE
)


@pytest.mark.parametrize(
    ("query", "budget"),
    [
        pytest.param(WANDB_REGISTRIES, BUDGET_WANDB_REGISTRIES, id="registries"),
        pytest.param(WANDB_COLLECTIONS, BUDGET_WANDB_COLLECTIONS, id="collections"),
        pytest.param(WANDB_VERSIONS, BUDGET_WANDB_VERSIONS, id="versions"),
    ],
)
async def test_wandb_dialect_searches(
    client: httpx.AsyncClient,
    statement_counter: StatementCounter,
    world: World,
    query: str,
    budget: int,
) -> None:
    await assert_flat(client, statement_counter, world, query, budget, wandb=True)
