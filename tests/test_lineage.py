"""Lineage over GraphQL: `ArtifactVersion.lineage`, `Run.lineage`, impact (`affectedVersions`)
and `lineageDiff`, on hand-built graphs in fresh organizations, and on the demo.

Graphs are built with the resolver functions (as the CLI and the demo do) on a pool connection;
the large graph of the statement-count test is written with bulk SQL. Every answer is read over
HTTP and compared, node by node and edge by edge, with what the graph must give.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from db import registries
from db.collections import insert_collection
from db.records import ArtifactVersion, Organization, Project, Registry, Run, User
from db.versions import versions_by_id
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.registries import create_registry_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn, use_artifact_txn
from schema.nodes import global_id
from tests.support.graphql import GraphQLClient
from tests.support.manifests import stored_entries
from tests.support.statements import StatementCounter, count_request

GRAPH = """
fragment graph on LineageGraph {
  nodes { id depth node { __typename ... on ArtifactVersion { id path } ... on Run { id name } } }
  edges { from to kind }
  truncated
  hiddenNodeCount
}
"""
LINEAGE = (
    """
query Lineage($id: ID!, $direction: LineageDirection!, $maxDepth: Int, $maxNodes: Int) {
  node(id: $id) {
    ... on ArtifactVersion {
      lineage(direction: $direction, maxDepth: $maxDepth, maxNodes: $maxNodes) { ...graph }
    }
    ... on Run {
      lineage(direction: $direction, maxDepth: $maxDepth, maxNodes: $maxNodes) { ...graph }
    }
  }
}
"""
    + GRAPH
)
# No arguments at all: the defaults (UPSTREAM, depth 5, 200 nodes).
LINEAGE_DEFAULTS = (
    """
query Lineage($id: ID!) {
  node(id: $id) {
    ... on ArtifactVersion { lineage { ...graph } }
    ... on Run { lineage { ...graph } }
  }
}
"""
    + GRAPH
)
IMPACT = """
query Impact($id: ID!, $direction: LineageDirection!) {
  node(id: $id) {
    ... on ArtifactVersion {
      lineage(direction: $direction, maxDepth: 20, maxNodes: 2000) {
        nodes { id }
        affectedVersions { id path aliases isLink }
        hiddenAffectedVersionCount
      }
    }
  }
}
"""
DIFF = """
query Diff($id: ID!, $against: ID!, $maxDepth: Int) {
  node(id: $id) {
    ... on ArtifactVersion {
      lineageDiff(against: $against, maxDepth: $maxDepth) {
        addedVersions { id }
        removedVersions { id }
        changed { artifact before { id } after { id } }
        unchangedVersions { id }
        addedRuns { id }
        removedRuns { id }
      }
    }
  }
}
"""

DIRECTIONS = ("UPSTREAM", "DOWNSTREAM", "BOTH")


def version_id(version: ArtifactVersion) -> str:
    return global_id("ArtifactVersion", version.id)


def run_id(run: Run) -> str:
    return global_id("Run", run.id)


@dataclass
class Org:
    """A fresh organization with a project `pipe`, an ADMIN and a MEMBER (each with a key), and
    the names given to each run and version built in it, by global ID."""

    organization: Organization
    project: Project
    admin_user: User
    member_user: User
    admin: GraphQLClient
    member: GraphQLClient
    pool: asyncpg.Pool
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.organization.name


async def new_org(pool: asyncpg.Pool, http: httpx.AsyncClient, prefix: str = "lin") -> Org:
    tag = uuid.uuid4().hex[:10]
    name = f"{prefix}-{tag}"
    async with pool.acquire() as conn, conn.transaction():
        organization = await create_organization_txn(conn, name, f"Lineage {tag}")
        users: dict[str, User] = {}
        keys: dict[str, str] = {}
        for role in ("ADMIN", "MEMBER"):
            user = await create_user_txn(conn, f"{prefix}-{role.lower()}-{tag}")
            await add_member_txn(conn, organization, user, role)
            users[role] = user
            keys[role] = await create_api_key_txn(conn, user.name, organization=name)
        project = await create_project_txn(conn, organization.id, "pipe")
    return Org(
        organization=organization,
        project=project,
        admin_user=users["ADMIN"],
        member_user=users["MEMBER"],
        admin=GraphQLClient(http, keys["ADMIN"]),
        member=GraphQLClient(http, keys["MEMBER"]),
        pool=pool,
    )


class Builder:
    """Builds lineage with the resolver functions, as the org's admin, naming what it makes:
    a run by its name, a logged version `name:vN`, a linked one `registry/collection:vN`."""

    def __init__(self, conn: Any, org: Org) -> None:
        self.conn = conn
        self.org = org

    async def run(self, name: str) -> Run:
        run = await create_run_txn(self.conn, self.org.admin_user, self.org.project, name)
        self.org.labels[run_id(run)] = name
        return run

    async def log(
        self, name: str, run: Run | None, *, artifact_type: str = "dataset", seed: str = ""
    ) -> ArtifactVersion:
        version = await log_artifact_txn(
            self.conn,
            self.org.admin_user,
            self.org.project,
            name=name,
            artifact_type=artifact_type,
            files=await stored_entries(
                self.conn, self.org.project, f"{self.org.name}/{name}/{seed}", "data.bin", size=42
            ),
            run=run,
        )
        self.org.labels[version_id(version)] = f"{name}:v{version.version_index}"
        return version

    async def use(self, run: Run, *versions: ArtifactVersion) -> None:
        for version in versions:
            await use_artifact_txn(self.conn, run, version)

    async def registry(self, name: str, visibility: str = "ORGANIZATION") -> Registry:
        return await create_registry_txn(
            self.conn,
            self.org.admin_user,
            self.org.organization.id,
            name=name,
            visibility=visibility,
        )

    async def core(self, name: str) -> Registry:
        (found,) = await registries.registries_by_organization_name(
            self.conn, [(self.org.organization.id, name)]
        )
        assert found is not None
        return found

    async def link(
        self, version: ArtifactVersion, registry: Registry, collection: str, *aliases: str
    ) -> ArtifactVersion:
        linked = await link_artifact_txn(
            self.conn, self.org.admin_user, version, registry, collection, aliases
        )
        self.org.labels[version_id(linked)] = (
            f"{registry.name}/{collection}:v{linked.version_index}"
        )
        return linked


@dataclass
class Pipeline:
    """ingest → raw:v0 → prep → clean:v0 → train → model:v0 (linked as model/clf:v0,
    `production`) → evaluate (which used the linked version) → report:v0."""

    org: Org
    ingest: Run
    raw: ArtifactVersion
    prep: Run
    clean: ArtifactVersion
    train: Run
    model: ArtifactVersion
    linked_model: ArtifactVersion
    evaluate: Run
    report: ArtifactVersion


async def pipeline(pool: asyncpg.Pool, http: httpx.AsyncClient) -> Pipeline:
    org = await new_org(pool, http)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        ingest = await b.run("ingest")
        raw = await b.log("raw", ingest)
        prep = await b.run("prep")
        await b.use(prep, raw)
        clean = await b.log("clean", prep)
        train = await b.run("train")
        await b.use(train, clean)
        model = await b.log("model", train, artifact_type="model")
        linked_model = await b.link(model, await b.core("model"), "clf", "production")
        evaluate = await b.run("evaluate")
        await b.use(evaluate, linked_model)
        report = await b.log("report", evaluate, artifact_type="report")
    return Pipeline(org, ingest, raw, prep, clean, train, model, linked_model, evaluate, report)


async def lineage(
    client: GraphQLClient,
    start: str,
    direction: str = "UPSTREAM",
    max_depth: int | None = None,
    max_nodes: int | None = None,
) -> dict[str, Any]:
    data = await client.data(
        LINEAGE,
        {"id": start, "direction": direction, "maxDepth": max_depth, "maxNodes": max_nodes},
    )
    assert data["node"] is not None, start
    graph: dict[str, Any] = data["node"]["lineage"]
    check_shape(graph)
    return graph


def check_shape(graph: dict[str, Any]) -> None:
    """What holds for every graph: nodes nearest first, the start alone at depth 0, no node
    twice, each node's id its entity's, and edges only among the nodes, of the right kinds."""
    nodes = graph["nodes"]
    assert nodes, graph
    depths = [n["depth"] for n in nodes]
    assert depths == sorted(depths), depths
    assert depths[0] == 0
    assert 0 not in depths[1:], depths
    ids = [n["id"] for n in nodes]
    assert len(set(ids)) == len(ids), ids
    kinds = {}
    for n in nodes:
        assert n["id"] == n["node"]["id"], n
        kinds[n["id"]] = n["node"]["__typename"]
        # A graph shows logged versions: lineage belongs to the content.
        if n["node"]["__typename"] == "ArtifactVersion":
            assert "/wandb-registry-" not in n["node"]["path"], n
    for edge in graph["edges"]:
        assert edge["from"] in kinds, edge
        assert edge["to"] in kinds, edge
        expected = (
            ("ArtifactVersion", "Run") if edge["kind"] == "INPUT" else ("Run", "ArtifactVersion")
        )
        assert (kinds[edge["from"]], kinds[edge["to"]]) == expected, edge
    assert len({(e["from"], e["to"], e["kind"]) for e in graph["edges"]}) == len(graph["edges"])


def named(
    org: Org, graph: dict[str, Any]
) -> tuple[set[tuple[str, int]], set[tuple[str, str, str]]]:
    """The graph by the builder's names: {(node, depth)} and {(from, kind, to)}."""
    nodes = {(org.labels[n["id"]], n["depth"]) for n in graph["nodes"]}
    edges = {(org.labels[e["from"]], e["kind"], org.labels[e["to"]]) for e in graph["edges"]}
    return nodes, edges


def error_code(body: dict[str, Any]) -> str:
    (error,) = body["errors"]
    code: str = error["extensions"]["code"]
    return code


# The pipeline's edges, by name.
E_INGEST = ("ingest", "OUTPUT", "raw:v0")
E_RAW = ("raw:v0", "INPUT", "prep")
E_PREP = ("prep", "OUTPUT", "clean:v0")
E_CLEAN = ("clean:v0", "INPUT", "train")
E_TRAIN = ("train", "OUTPUT", "model:v0")
E_MODEL = ("model:v0", "INPUT", "evaluate")
E_EVALUATE = ("evaluate", "OUTPUT", "report:v0")


async def test_version_lineage_upstream_downstream_and_both(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    p = await pipeline(pool, client)
    start = version_id(p.model)
    upstream = await lineage(p.org.member, start, "UPSTREAM")
    assert named(p.org, upstream) == (
        {
            ("model:v0", 0),
            ("train", 1),
            ("clean:v0", 2),
            ("prep", 3),
            ("raw:v0", 4),
            ("ingest", 5),
        },
        {E_TRAIN, E_CLEAN, E_PREP, E_RAW, E_INGEST},
    )
    assert upstream["truncated"] is False
    assert upstream["hiddenNodeCount"] == 0

    downstream = await lineage(p.org.member, start, "DOWNSTREAM")
    assert named(p.org, downstream) == (
        {("model:v0", 0), ("evaluate", 1), ("report:v0", 2)},
        {E_MODEL, E_EVALUATE},
    )
    assert downstream["truncated"] is False

    both = await lineage(p.org.member, start, "BOTH")
    assert named(p.org, both) == (
        named(p.org, upstream)[0] | named(p.org, downstream)[0],
        named(p.org, upstream)[1] | named(p.org, downstream)[1],
    )
    assert both["truncated"] is False
    assert both["hiddenNodeCount"] == 0

    # The entities are the real ones: the nodes carry paths and names.
    paths = {n["node"].get("path") for n in both["nodes"]} - {None}
    assert paths == {f"{p.org.name}/pipe/{n}" for n in ("raw:v0", "clean:v0", "model:v0")} | {
        f"{p.org.name}/pipe/report:v0"
    }
    runs = {n["node"].get("name") for n in both["nodes"]} - {None}
    assert runs == {"ingest", "prep", "train", "evaluate"}

    # The admin sees the same graph.
    assert await lineage(p.org.admin, start, "BOTH") == both


async def test_lineage_of_a_version_from_the_middle_and_ends(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    p = await pipeline(pool, client)
    raw_down = await lineage(p.org.member, version_id(p.raw), "DOWNSTREAM", max_depth=20)
    assert named(p.org, raw_down) == (
        {
            ("raw:v0", 0),
            ("prep", 1),
            ("clean:v0", 2),
            ("train", 3),
            ("model:v0", 4),
            ("evaluate", 5),
            ("report:v0", 6),
        },
        {E_RAW, E_PREP, E_CLEAN, E_TRAIN, E_MODEL, E_EVALUATE},
    )
    assert raw_down["truncated"] is False
    # The start of everything: upstream, only its creating run.
    raw_up = await lineage(p.org.member, version_id(p.raw), "UPSTREAM")
    assert named(p.org, raw_up) == ({("raw:v0", 0), ("ingest", 1)}, {E_INGEST})
    assert raw_up["truncated"] is False
    # The end of everything: downstream, nothing but itself.
    report_down = await lineage(p.org.member, version_id(p.report), "DOWNSTREAM")
    assert named(p.org, report_down) == ({("report:v0", 0)}, set())
    assert report_down["truncated"] is False


async def test_run_lineage(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    p = await pipeline(pool, client)
    start = run_id(p.train)
    upstream = await lineage(p.org.member, start, "UPSTREAM")
    assert named(p.org, upstream) == (
        {("train", 0), ("clean:v0", 1), ("prep", 2), ("raw:v0", 3), ("ingest", 4)},
        {E_CLEAN, E_PREP, E_RAW, E_INGEST},
    )
    assert upstream["truncated"] is False
    downstream = await lineage(p.org.member, start, "DOWNSTREAM")
    assert named(p.org, downstream) == (
        {("train", 0), ("model:v0", 1), ("evaluate", 2), ("report:v0", 3)},
        {E_TRAIN, E_MODEL, E_EVALUATE},
    )
    both = await lineage(p.org.member, start, "BOTH")
    assert named(p.org, both) == (
        named(p.org, upstream)[0] | named(p.org, downstream)[0],
        named(p.org, upstream)[1] | named(p.org, downstream)[1],
    )
    assert both["nodes"][0]["node"] == {"__typename": "Run", "id": start, "name": "train"}
    # A run with no inputs has no upstream; its outputs are downstream at depth 1.
    ingest = await lineage(p.org.member, run_id(p.ingest), "UPSTREAM")
    assert named(p.org, ingest) == ({("ingest", 0)}, set())
    assert ingest["truncated"] is False
    ingest_down = await lineage(p.org.member, run_id(p.ingest), "DOWNSTREAM", max_depth=1)
    assert named(p.org, ingest_down) == ({("ingest", 0), ("raw:v0", 1)}, {E_INGEST})
    assert ingest_down["truncated"] is True  # prep lies at depth 2


async def test_lineage_is_invisible_outside_the_organization(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    p = await pipeline(pool, client)
    stranger = await new_org(pool, client, "str")
    for start in (version_id(p.model), run_id(p.train)):
        data = await stranger.admin.data(LINEAGE, {"id": start, "direction": "BOTH"})
        assert data == {"node": None}


UPSTREAM_OF_REPORT = [
    ("report:v0", 0),
    ("evaluate", 1),
    ("model:v0", 2),
    ("train", 3),
    ("clean:v0", 4),
    ("prep", 5),
    ("raw:v0", 6),
    ("ingest", 7),
]


async def test_defaults_upstream_depth_five(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    p = await pipeline(pool, client)
    data = await p.org.member.data(LINEAGE_DEFAULTS, {"id": version_id(p.report)})
    graph = data["node"]["lineage"]
    check_shape(graph)
    # Default direction UPSTREAM, default depth 5: down to `prep`, which has more behind it.
    assert named(p.org, graph)[0] == set(UPSTREAM_OF_REPORT[:6])
    assert graph["truncated"] is True
    assert graph == await lineage(p.org.member, version_id(p.report), "UPSTREAM", max_depth=5)
    # The same defaults for a run.
    data = await p.org.member.data(LINEAGE_DEFAULTS, {"id": run_id(p.evaluate)})
    run_graph = data["node"]["lineage"]
    assert named(p.org, run_graph)[0] == {(n, d - 1) for n, d in UPSTREAM_OF_REPORT[1:7]}
    assert run_graph["truncated"] is True
    # Deep enough, the whole chain and nothing cut.
    for depth in (7, 20):
        deep = await lineage(p.org.member, version_id(p.report), "UPSTREAM", max_depth=depth)
        assert named(p.org, deep)[0] == set(UPSTREAM_OF_REPORT)
        assert deep["truncated"] is False


@pytest.mark.parametrize(
    ("max_depth", "max_nodes", "kept", "truncated"),
    [
        (0, 200, 1, True),  # the start alone; it has a creating run
        (1, 200, 2, True),
        (6, 200, 7, True),  # `ingest` at depth 7 is cut
        (7, 200, 8, False),  # exactly deep enough
        (20, 1, 1, True),  # the node limit: nearest first
        (20, 3, 3, True),
        (20, 7, 7, True),
        (20, 8, 8, False),  # exactly enough nodes
        (3, 3, 3, True),
        (3, 4, 4, True),  # 4 nodes within depth 3, but more beyond it
    ],
)
async def test_truncated_by_max_depth_and_max_nodes(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    max_depth: int,
    max_nodes: int,
    kept: int,
    truncated: bool,
) -> None:
    p = await pipeline(pool, client)
    graph = await lineage(
        p.org.member, version_id(p.report), "UPSTREAM", max_depth=max_depth, max_nodes=max_nodes
    )
    nodes, edges = named(p.org, graph)
    assert nodes == set(UPSTREAM_OF_REPORT[:kept])
    assert graph["truncated"] is truncated
    # Edges only among the nodes kept: a chain of `kept` nodes has `kept - 1` of them.
    assert len(edges) == kept - 1


async def test_truncated_when_nothing_fits_but_the_start(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """maxDepth 0 is truncated only when the start has a neighbour that way."""
    org = await new_org(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        uploaded = await b.log("upload", None)  # logged outside any run
    for direction in DIRECTIONS:
        graph = await lineage(org.member, version_id(uploaded), direction, max_depth=0)
        assert named(org, graph) == ({("upload:v0", 0)}, set())
        assert graph["truncated"] is False
        graph = await lineage(org.member, version_id(uploaded), direction, max_depth=20)
        assert named(org, graph) == ({("upload:v0", 0)}, set())
        assert graph["truncated"] is False


FAN = 250


async def test_default_node_limit_and_the_caps(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """A dataset used by 250 runs: 200 nodes by default, nearest first; every node with
    maxNodes 2000; maxDepth 20 and maxNodes 2000 are the largest accepted."""
    org = await new_org(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        data = await b.log("popular", None)
        await conn.execute(
            "INSERT INTO runs (project_id, name) SELECT $1, 'user-' || i "
            "FROM generate_series(1, $2) AS i",
            org.project.id,
            FAN,
        )
        await conn.execute(
            "INSERT INTO run_inputs (run_id, content_id, version_id) "
            "SELECT id, $2, $3 FROM runs WHERE project_id = $1",
            org.project.id,
            data.content_id,
            data.id,
        )
    start = version_id(data)
    default = await org.member.data(LINEAGE_DEFAULTS, {"id": start})
    assert named(org, default["node"]["lineage"])[0] == {("popular:v0", 0)}  # upstream
    graph = await lineage(org.member, start, "DOWNSTREAM")
    assert len(graph["nodes"]) == 200
    assert graph["truncated"] is True
    assert [n["depth"] for n in graph["nodes"]] == [0] + [1] * 199
    assert len(graph["edges"]) == 199
    assert all(e["kind"] == "INPUT" and e["from"] == start for e in graph["edges"])

    everything = await lineage(org.member, start, "DOWNSTREAM", max_depth=20, max_nodes=2000)
    assert len(everything["nodes"]) == FAN + 1
    assert len(everything["edges"]) == FAN
    assert {n["node"]["__typename"] for n in everything["nodes"][1:]} == {"Run"}
    assert everything["truncated"] is False
    # The default 200 are the first 200 of the whole answer.
    assert graph["nodes"] == everything["nodes"][:200]
    exact = await lineage(org.member, start, "DOWNSTREAM", max_nodes=FAN + 1)
    assert exact == everything
    one_short = await lineage(org.member, start, "DOWNSTREAM", max_nodes=FAN)
    assert one_short["truncated"] is True
    assert one_short["nodes"] == everything["nodes"][:FAN]


BAD_LIMITS = [
    {"maxDepth": 21},
    {"maxDepth": -1},
    {"maxDepth": 1000},
    {"maxNodes": 2001},
    {"maxNodes": 0},
    {"maxNodes": -5},
    {"maxDepth": 21, "maxNodes": 0},
]


@pytest.mark.parametrize("limits", BAD_LIMITS)
async def test_limits_out_of_range_are_invalid_arguments(
    client: httpx.AsyncClient, pool: asyncpg.Pool, limits: dict[str, int]
) -> None:
    p = await pipeline(pool, client)
    for start in (version_id(p.model), run_id(p.train)):
        body = await p.org.member.errors(LINEAGE, {"id": start, "direction": "BOTH", **limits})
        assert error_code(body) == "INVALID_ARGUMENT", body
        assert body["data"] == {"node": None}
        field_name = next(iter(limits))
        assert body["errors"][0]["extensions"]["field"] == [field_name]
    if "maxNodes" not in limits:
        body = await p.org.member.errors(
            DIFF, {"id": version_id(p.model), "against": version_id(p.model), **limits}
        )
        assert error_code(body) == "INVALID_ARGUMENT", body


async def test_largest_limits_are_accepted(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    p = await pipeline(pool, client)
    for start in (version_id(p.model), run_id(p.train)):
        graph = await lineage(p.org.member, start, "BOTH", max_depth=20, max_nodes=2000)
        assert len(graph["nodes"]) == 8
        smallest = await lineage(p.org.member, start, "BOTH", max_depth=0, max_nodes=1)
        assert len(smallest["nodes"]) == 1
        assert smallest["truncated"] is True


async def test_linked_version_shows_its_sources_lineage(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    p = await pipeline(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, p.org)
        custom = await b.registry("zoo")
        zoo_model = await b.link(p.model, custom, "animals", "best")
    for direction in DIRECTIONS:
        source = await lineage(p.org.member, version_id(p.model), direction)
        for linked in (p.linked_model, zoo_model):
            graph = await lineage(p.org.member, version_id(linked), direction)
            assert graph == source, direction
            # The start is shown as the logged version, not the link.
            assert graph["nodes"][0]["id"] == version_id(p.model)
    # The run that used the link shows the logged version as its input.
    evaluate = await lineage(p.org.member, run_id(p.evaluate), "UPSTREAM", max_depth=1)
    assert named(p.org, evaluate) == ({("evaluate", 0), ("model:v0", 1)}, {E_MODEL})
    ids = {n["id"] for n in evaluate["nodes"]}
    assert version_id(p.linked_model) not in ids


async def test_cycles_terminate_and_list_each_node_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    org = await new_org(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        # A run that uses a version it logged itself.
        selfie = await b.run("selfie")
        loop = await b.log("loop", selfie)
        await b.use(selfie, loop)
        # A longer cycle: a logs x, b uses x and logs y, a then uses y.
        ra = await b.run("a")
        rb = await b.run("b")
        x = await b.log("x", ra)
        await b.use(rb, x)
        y = await b.log("y", rb)
        await b.use(ra, y)
        # Something outside the cycle on each side.
        seed = await b.log("seed", None)
        await b.use(ra, seed)
        rc = await b.run("c")
        await b.use(rc, y)
        await b.log("z", rc)

    for direction in DIRECTIONS:
        graph = await lineage(org.member, version_id(loop), direction, max_depth=20, max_nodes=2000)
        assert named(org, graph) == (
            {("loop:v0", 0), ("selfie", 1)},
            {("selfie", "OUTPUT", "loop:v0"), ("loop:v0", "INPUT", "selfie")},
        )
        assert graph["truncated"] is False
        run_graph = await lineage(org.member, run_id(selfie), direction, max_depth=20)
        assert named(org, run_graph)[0] == {("selfie", 0), ("loop:v0", 1)}
        assert run_graph["truncated"] is False

    cycle_edges = {
        ("a", "OUTPUT", "x:v0"),
        ("x:v0", "INPUT", "b"),
        ("b", "OUTPUT", "y:v0"),
        ("y:v0", "INPUT", "a"),
    }
    down = await lineage(org.member, version_id(x), "DOWNSTREAM", max_depth=20)
    assert named(org, down) == (
        {("x:v0", 0), ("b", 1), ("y:v0", 2), ("a", 3), ("c", 3), ("z:v0", 4)},
        cycle_edges | {("y:v0", "INPUT", "c"), ("c", "OUTPUT", "z:v0")},
    )
    assert down["truncated"] is False
    up = await lineage(org.member, version_id(x), "UPSTREAM", max_depth=20)
    assert named(org, up) == (
        {("x:v0", 0), ("a", 1), ("y:v0", 2), ("seed:v0", 2), ("b", 3)},
        cycle_edges | {("seed:v0", "INPUT", "a")},
    )
    assert up["truncated"] is False
    both = await lineage(org.member, version_id(x), "BOTH", max_depth=20)
    # Each node at its smallest depth in either direction: `a` is 1 upstream (3 downstream).
    assert named(org, both)[0] == {
        ("x:v0", 0),
        ("a", 1),
        ("b", 1),
        ("y:v0", 2),
        ("seed:v0", 2),
        ("c", 3),
        ("z:v0", 4),
    }
    # Going round the cycle only cuts at the depth limit when something new lies beyond it.
    shallow = await lineage(org.member, version_id(x), "DOWNSTREAM", max_depth=3)
    assert named(org, shallow)[0] == {("x:v0", 0), ("b", 1), ("y:v0", 2), ("a", 3), ("c", 3)}
    assert shallow["truncated"] is True  # z lies at depth 4
    shallow_up = await lineage(org.member, version_id(x), "UPSTREAM", max_depth=3)
    assert shallow_up["truncated"] is False  # beyond depth 3 only x again
    assert named(org, shallow_up) == named(org, up)


async def test_lineage_is_pinned_to_content(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """Moving an alias or logging new versions does not change an earlier version's lineage:
    not through its logged version, nor through its link that the alias used to name."""
    p = await pipeline(pool, client)
    # `evaluate` used model/clf:v0 while it held `production`.
    starts = (
        version_id(p.model),
        version_id(p.linked_model),
        version_id(p.clean),
        run_id(p.evaluate),
    )

    async def snapshot() -> dict[tuple[str, str], Any]:
        return {
            (start, direction): await lineage(p.org.member, start, direction, max_depth=20)
            for start in starts
            for direction in DIRECTIONS
        }

    before = await snapshot()
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, p.org)
        ingest2 = await b.run("ingest-2")
        raw2 = await b.log("raw", ingest2, seed="second")
        prep2 = await b.run("prep-2")
        await b.use(prep2, raw2)
        clean2 = await b.log("clean", prep2, seed="second")
        train2 = await b.run("train-2")
        await b.use(train2, clean2)
        model2 = await b.log("model", train2, artifact_type="model", seed="second")
        # `production` and `latest` move to the new model.
        await b.link(model2, await b.core("model"), "clf", "production")
    assert (raw2.version_index, clean2.version_index, model2.version_index) == (1, 1, 1)
    assert await snapshot() == before

    # Not vacuous: the alias did move, and what it names now has the new lineage.
    data = await p.org.member.data(
        """query($path: String!) { artifactVersion(path: $path) {
             id lineage(maxDepth: 20) { nodes { id depth } } } }""",
        {"path": f"{p.org.name}/wandb-registry-model/clf:production"},
    )
    now = data["artifactVersion"]
    assert now["id"] != version_id(p.linked_model)
    assert {(p.org.labels[n["id"]], n["depth"]) for n in now["lineage"]["nodes"]} == {
        ("model:v1", 0),
        ("train-2", 1),
        ("clean:v1", 2),
        ("prep-2", 3),
        ("raw:v1", 4),
        ("ingest-2", 5),
    }
    old = await p.org.member.data(
        """query($path: String!) { artifactVersion(path: $path) { id aliases } }""",
        {"path": f"{p.org.name}/wandb-registry-model/clf:v0"},
    )
    assert old["artifactVersion"] == {"id": version_id(p.linked_model), "aliases": []}


@dataclass
class ImpactWorld:
    org: Org
    raw: ArtifactVersion
    clf_v0: ArtifactVersion
    clf_v1: ArtifactVersion
    secret: ArtifactVersion
    secret_registry: Registry
    unrelated: ArtifactVersion


async def impact_world(pool: asyncpg.Pool, http: httpx.AsyncClient) -> ImpactWorld:
    """raw:v0 (not in any registry) → prep → clean:v0 → train-a → model:v0, and clean:v0 →
    train-b → model:v1. model:v0 is model/clf:v0 (`production`); model:v1 is model/clf:v1
    (`staging`, `latest`) and also secret/vault:v0 in a RESTRICTED registry the member has no
    role in. other:v0, from other data, is model/other-clf:v0 (`production`, `latest`)."""
    org = await new_org(pool, http)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        ingest = await b.run("ingest")
        raw = await b.log("raw", ingest)
        prep = await b.run("prep")
        await b.use(prep, raw)
        clean = await b.log("clean", prep)
        models = []
        for name in ("train-a", "train-b"):
            train = await b.run(name)
            await b.use(train, clean)
            models.append(await b.log("model", train, artifact_type="model", seed=name))
        core = await b.core("model")
        clf_v0 = await b.link(models[0], core, "clf", "production")
        clf_v1 = await b.link(models[1], core, "clf", "staging")
        secret_registry = await b.registry("secret", "RESTRICTED")
        secret = await b.link(models[1], secret_registry, "vault")
        other_run = await b.run("train-other")
        await b.use(other_run, await b.log("other-data", None))
        other = await b.log("other", other_run, artifact_type="model")
        unrelated = await b.link(other, core, "other-clf", "production")
    return ImpactWorld(org, raw, clf_v0, clf_v1, secret, secret_registry, unrelated)


async def impact(client: GraphQLClient, start: ArtifactVersion, direction: str) -> Any:
    data = await client.data(IMPACT, {"id": version_id(start), "direction": direction})
    return data["node"]["lineage"]


async def test_impact_downstream_of_a_raw_dataset(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await impact_world(pool, client)
    org = w.org
    found = await impact(org.member, w.raw, "DOWNSTREAM")
    assert len(found["nodes"]) == 7  # raw, prep, clean, train-a, train-b, model:v0, model:v1
    assert found["affectedVersions"] == [
        {
            "id": version_id(w.clf_v0),
            "path": f"{org.name}/wandb-registry-model/clf:v0",
            "aliases": ["production"],
            "isLink": True,
        },
        {
            "id": version_id(w.clf_v1),
            "path": f"{org.name}/wandb-registry-model/clf:v1",
            "aliases": ["latest", "staging"],
            "isLink": True,
        },
    ]
    # secret/vault:v0 does not exist for the member, not even as a count.
    assert found["hiddenAffectedVersionCount"] == 0

    # The admin sees every registry in the organization.
    admin = await impact(org.admin, w.raw, "DOWNSTREAM")
    assert {v["id"] for v in admin["affectedVersions"]} == {
        version_id(w.clf_v0),
        version_id(w.clf_v1),
        version_id(w.secret),
    }
    assert admin["hiddenAffectedVersionCount"] == 0

    # Given a role there, even the least one, the member sees it too.
    async with pool.acquire() as conn:
        await registries.set_registry_user_role(
            conn, w.secret_registry.id, org.member_user.id, "RESTRICTED_VIEWER"
        )
    granted = await impact(org.member, w.raw, "DOWNSTREAM")
    assert granted["affectedVersions"] == admin["affectedVersions"]
    assert granted["hiddenAffectedVersionCount"] == 0

    # Upstream of the raw data nothing is registered; the impact follows the graph's direction.
    up = await impact(org.member, w.raw, "UPSTREAM")
    assert up["affectedVersions"] == []
    assert up["hiddenAffectedVersionCount"] == 0
    # From a model, upstream: its own links (the start's content is in the graph), no others.
    model_up = await impact(org.admin, w.clf_v1, "UPSTREAM")
    assert {v["id"] for v in model_up["affectedVersions"]} == {
        version_id(w.clf_v1),
        version_id(w.secret),
    }


async def test_both_merges_two_walks_and_leaves_out_siblings(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """BOTH is the upstream walk and the downstream walk from the start, merged: not a walk
    along edges either way, which would reach model:v1 (a sibling through clean:v0)."""
    w = await impact_world(pool, client)
    org = w.org
    both = await lineage(org.member, version_id(w.clf_v0), "BOTH", max_depth=20)
    assert named(org, both)[0] == {
        ("model:v0", 0),
        ("train-a", 1),
        ("clean:v0", 2),
        ("prep", 3),
        ("raw:v0", 4),
        ("ingest", 5),
    }
    assert both["truncated"] is False
    middle = await lineage(org.member, version_id(w.raw), "BOTH", max_depth=2)
    assert named(org, middle)[0] == {("raw:v0", 0), ("ingest", 1), ("prep", 1), ("clean:v0", 2)}
    assert middle["truncated"] is True  # the training runs lie at depth 3


async def test_nodes_the_caller_cannot_see_are_counted_not_shown(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """The API refuses a run using another organization's version, but the graph must not
    leak one if the data holds it: an input written behind the API's back, from another
    organization, is left out of the nodes and edges, and not even counted."""
    p = await pipeline(pool, client)
    other = await new_org(pool, client, "oth")
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, other)
        foreign_run = await b.run("foreign")
        foreign = await b.log("foreign-data", foreign_run)
        await conn.execute(
            "INSERT INTO run_inputs (run_id, content_id) VALUES ($1, $2)",
            p.train.id,
            foreign.content_id,
        )
    p.org.labels.update(other.labels)
    graph = await lineage(p.org.member, version_id(p.model), "UPSTREAM", max_depth=20)
    assert named(p.org, graph) == (
        {
            ("model:v0", 0),
            ("train", 1),
            ("clean:v0", 2),
            ("prep", 3),
            ("raw:v0", 4),
            ("ingest", 5),
        },
        {E_TRAIN, E_CLEAN, E_PREP, E_RAW, E_INGEST},
    )
    assert graph["hiddenNodeCount"] == 0  # foreign-data:v0 and its run do not exist here
    assert graph["truncated"] is False
    # From the other side, the pipeline's run is the hidden one.
    down = await lineage(other.member, version_id(foreign), "DOWNSTREAM", max_depth=20)
    assert named(other, down) == ({("foreign-data:v0", 0)}, set())
    assert down["hiddenNodeCount"] == 0  # nor the pipeline's nodes from the other side


async def test_impact_counts_only_what_the_limits_keep(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await impact_world(pool, client)
    data = await w.org.member.data(
        """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
             lineage(direction: DOWNSTREAM, maxDepth: 3) {
               truncated affectedVersions { id } hiddenAffectedVersionCount } } } }""",
        {"id": version_id(w.raw)},
    )
    graph = data["node"]["lineage"]
    assert graph == {"truncated": True, "affectedVersions": [], "hiddenAffectedVersionCount": 0}


@dataclass
class DiffWorld:
    org: Org
    model_a: ArtifactVersion
    model_b: ArtifactVersion
    linked_a: ArtifactVersion
    data_v0: ArtifactVersion
    data_v1: ArtifactVersion
    vocab: ArtifactVersion
    features: ArtifactVersion
    labels: ArtifactVersion
    runs: dict[str, Run]


async def diff_world(pool: asyncpg.Pool, http: httpx.AsyncClient) -> DiffWorld:
    """model:v0 ← train-a ← {train-data:v0 ← ingest-0, vocab:v0 ← make-vocab,
    features:v0 ← featurize}; model:v1 ← train-b ← {train-data:v1 ← ingest-1, vocab:v0,
    labels:v0 ← label}."""
    org = await new_org(pool, http)
    runs: dict[str, Run] = {}
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        for name in ("ingest-0", "ingest-1", "make-vocab", "featurize", "label"):
            runs[name] = await b.run(name)
        data_v0 = await b.log("train-data", runs["ingest-0"], seed="0")
        data_v1 = await b.log("train-data", runs["ingest-1"], seed="1")
        vocab = await b.log("vocab", runs["make-vocab"])
        features = await b.log("features", runs["featurize"])
        labels = await b.log("labels", runs["label"])
        runs["train-a"] = await b.run("train-a")
        await b.use(runs["train-a"], data_v0, vocab, features)
        model_a = await b.log("model", runs["train-a"], artifact_type="model", seed="a")
        runs["train-b"] = await b.run("train-b")
        await b.use(runs["train-b"], data_v1, vocab, labels)
        model_b = await b.log("model", runs["train-b"], artifact_type="model", seed="b")
        linked_a = await b.link(model_a, await b.core("model"), "clf", "production")
    return DiffWorld(
        org, model_a, model_b, linked_a, data_v0, data_v1, vocab, features, labels, runs
    )


async def lineage_diff(client: GraphQLClient, version: str, against: str, **extra: Any) -> Any:
    data = await client.data(DIFF, {"id": version, "against": against, **extra})
    return data["node"]["lineageDiff"]


def ids(*objects: ArtifactVersion | Run) -> list[dict[str, str]]:
    return [{"id": run_id(o) if isinstance(o, Run) else version_id(o)} for o in objects]


def as_set(items: list[dict[str, str]]) -> set[str]:
    found = {i["id"] for i in items}
    assert len(found) == len(items), items
    return found


async def test_lineage_diff_between_models_trained_on_different_data(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await diff_world(pool, client)
    r = w.runs
    forward = await lineage_diff(w.org.member, version_id(w.model_b), version_id(w.model_a))
    assert forward["changed"] == [
        {"artifact": "train-data", "before": ids(w.data_v0), "after": ids(w.data_v1)}
    ]
    assert forward["addedVersions"] == ids(w.labels)
    assert forward["removedVersions"] == ids(w.features)
    assert forward["unchangedVersions"] == ids(w.vocab)
    assert as_set(forward["addedRuns"]) == {
        run_id(r["train-b"]),
        run_id(r["ingest-1"]),
        run_id(r["label"]),
    }
    assert as_set(forward["removedRuns"]) == {
        run_id(r["train-a"]),
        run_id(r["ingest-0"]),
        run_id(r["featurize"]),
    }

    backward = await lineage_diff(w.org.member, version_id(w.model_a), version_id(w.model_b))
    assert backward["changed"] == [
        {"artifact": "train-data", "before": ids(w.data_v1), "after": ids(w.data_v0)}
    ]
    assert backward["addedVersions"] == ids(w.features)
    assert backward["removedVersions"] == ids(w.labels)
    assert backward["unchangedVersions"] == ids(w.vocab)
    assert as_set(backward["addedRuns"]) == as_set(forward["removedRuns"])
    assert as_set(backward["removedRuns"]) == as_set(forward["addedRuns"])

    # Against a link of model:v0, the same as against model:v0: lineage belongs to content.
    via_link = await lineage_diff(w.org.member, version_id(w.model_b), version_id(w.linked_a))
    assert via_link == forward
    # And from the link.
    from_link = await lineage_diff(w.org.member, version_id(w.linked_a), version_id(w.model_b))
    assert from_link == backward

    # Against itself: nothing changed, every input unchanged.
    same = await lineage_diff(w.org.member, version_id(w.model_a), version_id(w.linked_a))
    assert same["changed"] == []
    assert same["addedVersions"] == same["removedVersions"] == []
    assert same["addedRuns"] == same["removedRuns"] == []
    assert as_set(same["unchangedVersions"]) == {
        version_id(w.data_v0),
        version_id(w.vocab),
        version_id(w.features),
    }

    # maxDepth 1 sees only the training runs; 2 sees the inputs but not their creators.
    shallow = await lineage_diff(
        w.org.member, version_id(w.model_b), version_id(w.model_a), maxDepth=1
    )
    assert shallow == {
        "addedVersions": [],
        "removedVersions": [],
        "changed": [],
        "unchangedVersions": [],
        "addedRuns": ids(r["train-b"]),
        "removedRuns": ids(r["train-a"]),
    }
    two = await lineage_diff(w.org.member, version_id(w.model_b), version_id(w.model_a), maxDepth=2)
    assert two["changed"] == forward["changed"]
    assert as_set(two["addedRuns"]) == {run_id(r["train-b"])}


async def test_lineage_diff_of_an_artifact_used_at_several_versions(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """model:v0 trained on shards v0 and v1, model:v1 on shards v0 and v2: the artifact
    changed from v1 to v2, and v0, in both upstreams, is unchanged."""
    org = await new_org(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, org)
        shards = [await b.log("shards", None, seed=str(i)) for i in range(3)]
        train_a, train_b = await b.run("train-a"), await b.run("train-b")
        await b.use(train_a, shards[0], shards[1])
        await b.use(train_b, shards[0], shards[2])
        model_a = await b.log("model", train_a, artifact_type="model", seed="a")
        model_b = await b.log("model", train_b, artifact_type="model", seed="b")
    found = await lineage_diff(org.member, version_id(model_b), version_id(model_a))
    assert found == {
        "addedVersions": [],
        "removedVersions": [],
        "changed": [{"artifact": "shards", "before": ids(shards[1]), "after": ids(shards[2])}],
        "unchangedVersions": ids(shards[0]),
        "addedRuns": ids(train_b),
        "removedRuns": ids(train_a),
    }


async def test_lineage_diff_against_what_cannot_be_compared(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await diff_world(pool, client)
    async with pool.acquire() as conn, conn.transaction():
        b = Builder(conn, w.org)
        hidden = await b.link(w.model_a, await b.registry("vault", "RESTRICTED"), "kept")
    stranger = await new_org(pool, client, "str")
    async with pool.acquire() as conn, conn.transaction():
        elsewhere = await Builder(conn, stranger).log("theirs", None)
    start = version_id(w.model_b)
    cases = {
        "a version in a restricted registry the member has no role in": (
            version_id(hidden),
            "NOT_FOUND",
        ),
        "a version in another organization": (version_id(elsewhere), "NOT_FOUND"),
        "a run's ID": (run_id(w.runs["train-a"]), "NOT_FOUND"),
        "a version that does not exist": (global_id("ArtifactVersion", 2**62), "NOT_FOUND"),
        "garbage": ("not-an-id", "INVALID_ID"),
        "an empty ID": ("", "INVALID_ID"),
    }
    for what, (against, code) in cases.items():
        body = await w.org.member.errors(DIFF, {"id": start, "against": against})
        assert body["data"] == {"node": None}, what
        assert error_code(body) == code, (what, body)
    # A version hidden from the member and one that does not exist read the same.
    hidden_body, missing_body = [
        await w.org.member.errors(DIFF, {"id": start, "against": against})
        for against in (version_id(hidden), global_id("ArtifactVersion", 2**62))
    ]
    assert hidden_body["errors"][0]["message"] == missing_body["errors"][0]["message"]
    # The admin, who sees the restricted registry, may compare with it.
    seen = await lineage_diff(w.org.admin, start, version_id(hidden))
    assert seen == await lineage_diff(w.org.admin, start, version_id(w.model_a))


# Statement counts ------------------------------------------------------------------------

# A lineage query costs the same whatever the graph's size:
AUTH = 1  # the API key lookup
LOOKUP = 1  # node(id:): the start version or run
WALK = 1  # the one recursive statement that walks the graph
ENTITIES = 2  # the logged versions of the contents, and the runs (two loaders)
FIELD = 1  # one field loaded through a DataLoader, however many objects
# aliases of the nodes' versions, then (a batch of their own, resolved later) of the affected
# versions
ALIASES = 2 * FIELD
IMPACT_LOOKUPS = 2  # the registry versions of the contents: for the list and for the count
REGISTRY_ROLE = 2  # the affected versions' registries, then the caller's roles there
BUDGET_LINEAGE = AUTH + LOOKUP + WALK + ENTITIES + ALIASES + IMPACT_LOOKUPS + REGISTRY_ROLE

COUNTED = """
query Counted($id: ID!, $direction: LineageDirection!) {
  node(id: $id) {
    ... on ArtifactVersion { lineage(direction: $direction, maxDepth: 20, maxNodes: 2000) {
      ...counted } }
    ... on Run { lineage(direction: $direction, maxDepth: 20, maxNodes: 2000) { ...counted } }
  }
}
fragment counted on LineageGraph {
  nodes { id depth node { ... on ArtifactVersion { id version aliases } ... on Run { id name } } }
  edges { from to kind }
  truncated
  hiddenNodeCount
  affectedVersions { id aliases }
  hiddenAffectedVersionCount
}
"""


@dataclass
class BulkGraph:
    nodes: int
    branches: int
    start_version: str  # c0
    first_step: str  # c(0,0)
    start_run: str  # the loop run
    key: str


async def bulk_graph(pool: asyncpg.Pool, prefix: str, branches: int, length: int) -> BulkGraph:
    """A run `loop` logs c0, then `branches` chains c0 → r(b,0) → c(b,0) → r(b,1) → … →
    c(b,length-1), and `loop` used the end of every chain: a cycle through each, so that the
    whole graph lies upstream and downstream of everything. Written with a few bulk statements.
    c0 is linked into the core dataset registry as `production` and into a RESTRICTED
    registry; every c(b,0) is linked into the dataset registry's collection `steps`. A MEMBER
    of the organization (no role in the restricted registry) holds the key."""
    tag = uuid.uuid4().hex[:10]
    name = f"{prefix}-{tag}"
    count = 1 + branches * length
    async with pool.acquire() as conn, conn.transaction():
        organization = await create_organization_txn(conn, name, name)
        admin = await create_user_txn(conn, f"{prefix}-admin-{tag}")
        member = await create_user_txn(conn, f"{prefix}-member-{tag}")
        await add_member_txn(conn, organization, admin, "ADMIN")
        await add_member_txn(conn, organization, member, "MEMBER")
        key = await create_api_key_txn(conn, member.name, organization=name)
        project = await create_project_txn(conn, organization.id, "bulk")
        (dataset,) = await registries.registries_by_organization_name(
            conn, [(organization.id, "dataset")]
        )
        assert dataset is not None
        sequence, steps = [
            await insert_collection(
                conn,
                organization_id=organization.id,
                registry_id=registry_id,
                project_id=project_id,
                name=collection,
                artifact_type="dataset",
                description="",
            )
            for registry_id, project_id, collection in (
                (None, project.id, "data"),
                (dataset.id, None, "steps"),
            )
        ]
        assert sequence is not None
        assert steps is not None
        # Node i (content i, run i) for i >= 1 is step (b, k) of chain b, i = 1 + b * length + k.
        reserved = await conn.fetchrow(
            """SELECT array(SELECT nextval('artifact_contents_id_seq')
                            FROM generate_series(1, $1)),
                      array(SELECT nextval('runs_id_seq') FROM generate_series(1, $1))""",
            count,
        )
        assert reserved is not None
        content_ids, run_ids = reserved
        await conn.execute(
            "INSERT INTO runs (id, project_id, name) "
            "SELECT id, $2, 'run-' || n FROM unnest($1::bigint[]) WITH ORDINALITY AS t (id, n)",
            run_ids,
            project.id,
        )
        await conn.execute(
            """INSERT INTO artifact_contents (id, sequence_id, digest, size, created_by_run_id)
               SELECT c, $3, encode(sha256(convert_to($4 || c, 'UTF8')), 'hex'), 1, r
               FROM unnest($1::bigint[], $2::bigint[]) AS t (c, r)""",
            content_ids,
            run_ids,
            sequence.id,
            name,
        )
        firsts = [content_ids[1 + b * length] for b in range(branches)]
        for collection_id, contents in ((sequence.id, content_ids), (steps.id, firsts)):
            await conn.execute(
                """INSERT INTO artifact_versions (collection_id, content_id, version_index)
                   SELECT $2, c, n - 1 FROM unnest($1::bigint[]) WITH ORDINALITY AS t (c, n)""",
                contents,
                collection_id,
            )
            await conn.execute(
                "UPDATE collections SET next_index = $2 WHERE id = $1",
                collection_id,
                len(contents),
            )
        used = [
            content_ids[0] if k == 0 else content_ids[b * length + k]
            for b in range(branches)
            for k in range(length)
        ]
        ends = [content_ids[(b + 1) * length] for b in range(branches)]
        await conn.execute(
            """INSERT INTO run_inputs (run_id, content_id)
               SELECT r, c FROM unnest($1::bigint[], $2::bigint[]) AS t (r, c)""",
            [*run_ids[1:], *[run_ids[0]] * branches],
            [*used, *ends],
        )
        start_version_id, first_step_id = [
            await conn.fetchval(
                "SELECT id FROM artifact_versions WHERE collection_id = $1 AND content_id = $2",
                sequence.id,
                content_id,
            )
            for content_id in (content_ids[0], content_ids[1])
        ]
        (start,) = await versions_by_id(conn, [start_version_id])
        assert start is not None
        await link_artifact_txn(conn, admin, start, dataset, "raw", ["production"])
        vault = await create_registry_txn(
            conn, admin, organization.id, name="vault", visibility="RESTRICTED"
        )
        await link_artifact_txn(conn, admin, start, vault, "raw")
    return BulkGraph(
        nodes=2 * count,
        branches=branches,
        start_version=global_id("ArtifactVersion", start_version_id),
        first_step=global_id("ArtifactVersion", first_step_id),
        start_run=global_id("Run", run_ids[0]),
        key=key,
    )


Measure = Callable[[BulkGraph, str, dict[str, Any]], Awaitable[tuple[int, Any]]]


@pytest.fixture
def measure(client: httpx.AsyncClient, statement_counter: StatementCounter) -> Measure:
    """The app's statements for one request on a bulk graph (by its member), and its data."""

    async def measure(graph: BulkGraph, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
        client_of_graph = GraphQLClient(client, graph.key)
        return await count_request(client_of_graph, statement_counter, query, variables)

    return measure


@pytest.fixture(scope="module")
async def bulk_graphs(pool: asyncpg.Pool) -> tuple[BulkGraph, BulkGraph]:
    small = await bulk_graph(pool, "lin-small", branches=2, length=2)
    large = await bulk_graph(pool, "lin-large", branches=500, length=10)
    assert small.nodes == 10
    assert large.nodes == 10_002
    return small, large


@pytest.mark.parametrize(
    ("start", "direction", "large_affected"),
    [
        # c0's links, and those of every c(b,0) at depth 2.
        ("start_version", "DOWNSTREAM", 501),
        # c0's links only: upstream, the c(b,0) lie at depth 20, past the first 2000 nodes.
        ("start_version", "UPSTREAM", 1),
        ("start_version", "BOTH", 501),
        ("start_run", "DOWNSTREAM", 501),
        ("start_run", "BOTH", 250),  # depth 3 is cut half-way through
    ],
)
async def test_lineage_statement_count_does_not_grow_with_the_graph(
    measure: Measure,
    statement_counter: StatementCounter,
    bulk_graphs: tuple[BulkGraph, BulkGraph],
    start: str,
    direction: str,
    large_affected: int,
) -> None:
    counts = []
    for graph in bulk_graphs:
        variables = {"id": getattr(graph, start), "direction": direction}
        count, data = await measure(graph, COUNTED, variables)
        context = (graph.nodes, count, statement_counter.statements)
        counts.append(count)
        answer = data["node"]["lineage"]
        # Not vacuous: the large graph gives 2000 nodes (cut), the small one all of its own,
        # with every c(b,0) and c0 affected (c0's restricted link hidden).
        affected = answer["affectedVersions"]
        if graph.nodes == 10:
            assert len(answer["nodes"]) == 10, context
            assert answer["truncated"] is False, context
            assert len(affected) == 3, context
        else:
            assert len(answer["nodes"]) == 2000, context
            assert answer["truncated"] is True, context
            assert len(affected) == large_affected, context
        assert len(answer["edges"]) >= len(answer["nodes"]) - 1, context
        assert ["latest", "production"] in [v["aliases"] for v in affected], context
        assert answer["hiddenAffectedVersionCount"] == 0, context  # hidden, not even counted
        assert answer["hiddenNodeCount"] == 0, context
    assert counts[0] == counts[1], counts
    assert counts[1] <= BUDGET_LINEAGE, (counts, statement_counter.statements)


# lineageDiff: the `against` lookup, two traversals (each a walk and its two loaders; run
# concurrently, their loaders share a batch when both walks end in the same turn of the event
# loop, and skip what the other already loaded, so fewer statements is possible, never more),
# the artifacts' names, and the versions' aliases.
AGAINST = 1
NAMES = 1
BUDGET_DIFF = AUTH + LOOKUP + AGAINST + 2 * (WALK + ENTITIES) + NAMES + FIELD

COUNTED_DIFF = """
query CountedDiff($id: ID!, $against: ID!) {
  node(id: $id) {
    ... on ArtifactVersion { lineageDiff(against: $against, maxDepth: 20) {
      addedVersions { id aliases }
      removedVersions { id aliases }
      changed { artifact before { id aliases } after { id aliases } }
      unchangedVersions { id aliases }
      addedRuns { id name }
      removedRuns { id name }
    } }
  }
}
"""


async def test_lineage_diff_statement_count_does_not_grow_with_the_graph(
    measure: Measure,
    statement_counter: StatementCounter,
    bulk_graphs: tuple[BulkGraph, BulkGraph],
) -> None:
    """c0 against c(0,0): both upstreams hold the whole graph (through the cycles), up to
    2000 nodes each. Within the budget for both graphs; not necessarily equal (see
    BUDGET_DIFF)."""
    counts = []
    for graph in bulk_graphs:
        variables = {"id": graph.start_version, "against": graph.first_step}
        count, data = await measure(graph, COUNTED_DIFF, variables)
        counts.append(count)
        found = data["node"]["lineageDiff"]
        listed = sum(len(v) for v in found.values() if v and "artifact" not in v[0])
        listed += sum(len(c["before"]) + len(c["after"]) for c in found["changed"])
        # Not vacuous: the large graph's diff lists far more. (The small one: the three
        # contents other than the starts, unchanged.)
        if graph.nodes == 10:
            assert listed == 3, found
        else:
            assert listed >= 1000, listed
    assert max(counts) <= BUDGET_DIFF, (counts, statement_counter.statements)


# The demo ------------------------------------------------------------------------------------


async def test_demo_raw_customers_reach_the_evaluation_reports_at_depth_six(
    ada: GraphQLClient, cy: GraphQLClient, dora: GraphQLClient
) -> None:
    query = """
    query($path: String!, $maxDepth: Int) {
      artifactVersion(path: $path, organization: "acme") {
        lineage(direction: DOWNSTREAM, maxDepth: $maxDepth) {
          nodes { id depth node { __typename
            ... on ArtifactVersion { version collection { name } }
            ... on Run { name } } }
          edges { from to kind }
          truncated
          affectedVersions { path aliases }
          hiddenAffectedVersionCount
        }
      }
    }"""
    path = "acme/churn/customers-raw:v0"
    data = await ada.data(query, {"path": path, "maxDepth": 6})
    graph = data["artifactVersion"]["lineage"]
    by_depth: dict[int, set[str]] = {}
    for n in graph["nodes"]:
        entity = n["node"]
        label = (
            entity["name"]
            if entity["__typename"] == "Run"
            else f"{entity['collection']['name']}:{entity['version']}"
        )
        by_depth.setdefault(n["depth"], set()).add(label)
    assert by_depth[0] == {"customers-raw:v0"}
    assert by_depth[1] == {f"preprocess-{i}" for i in range(4)}
    assert by_depth[2] == {f"customers-clean:v{i}" for i in range(4)}
    assert by_depth[3] == {f"train-{i}" for i in range(10)}
    assert by_depth[4] == {f"churn-model:v{i}" for i in range(10)}
    assert by_depth[5] == {f"evaluate-{i}" for i in range(4)}
    assert by_depth[6] == {f"churn-eval-report:v{i}" for i in range(4)}
    assert set(by_depth) == set(range(7))
    assert graph["truncated"] is False
    assert len(graph["edges"]) == 4 + 4 + 10 + 10 + 4 + 4

    # One level less and the reports are cut off.
    shallow = (await ada.data(query, {"path": path, "maxDepth": 5}))["artifactVersion"]["lineage"]
    assert max(n["depth"] for n in shallow["nodes"]) == 5
    assert len(shallow["nodes"]) == len(graph["nodes"]) - 4
    assert shallow["truncated"] is True

    # Impact: the raw data, the cleaned datasets, the churn models and the reports.
    affected = graph["affectedVersions"]
    by_collection: dict[str, int] = {}
    for v in affected:
        collection = v["path"].rsplit(":", 1)[0]
        by_collection[collection] = by_collection.get(collection, 0) + 1
    assert by_collection == {
        "acme/wandb-registry-dataset/customers-raw": 1,
        "acme/wandb-registry-dataset/customers": 4,
        "acme/wandb-registry-model/churn-classifier": 10,
        "acme/wandb-registry-eval-reports/churn-evals": 4,
    }
    aliases = {v["path"]: v["aliases"] for v in affected}
    assert "production" in aliases["acme/wandb-registry-dataset/customers-raw:v0"]
    assert "production" in aliases["acme/wandb-registry-model/churn-classifier:v7"]
    assert "approved" in aliases["acme/wandb-registry-eval-reports/churn-evals:v1"]
    assert graph["hiddenAffectedVersionCount"] == 0
    # cy, an organization VIEWER, sees the same graph but not the restricted reports registry.
    seen = (await cy.data(query, {"path": path, "maxDepth": 6}))["artifactVersion"]["lineage"]
    assert seen["nodes"] == graph["nodes"]
    assert seen["hiddenAffectedVersionCount"] == 0  # the four reports, not even counted
    assert [v for v in affected if "eval-reports" not in v["path"]] == seen["affectedVersions"]
    # dora, from another organization, sees nothing of it.
    body = await dora.errors(query, {"path": path, "maxDepth": 6})
    assert body["data"] == {"artifactVersion": None}
    assert error_code(body) == "NOT_FOUND"
