"""What a caller may not see does not exist for them: every Node type by id, a RESTRICTED
registry by name, path, id, connection, count, history, lineage and linkedVersions, and losing
access (revoked key, removed member, removed role, removed team seat) takes effect at once.

The module builds its own organization (unique name): a RESTRICTED registry `secret` (R) and an
ORGANIZATION registry `shared` (O); content A logged by run `trainer` and linked into both, content
B linked into O only; run `consumer` used A through R and B through O. `member` is an org MEMBER
without a role on R, `holder` has VIEWER on R directly, `teamie` through a team, and `outsider`
belongs to another organization only."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import organizations, registries
from db.collections import collection_in_registry, sequence_in_project
from db.records import ArtifactVersion, Collection, Organization, Project, Registry, Run, Team, User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import create_organization_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn, use_artifact_txn
from tests.support.graphql import GraphQLClient, answer, mutate
from tests.support.ids import gid, missing
from tests.support.manifests import stored_entries
from tests.support.registries import insert_registry

NAMES = itertools.count(1)


@dataclass
class World:
    pool: asyncpg.Pool
    tag: str
    org: Organization
    other: Organization
    users: dict[str, User]
    keys: dict[str, str]
    team: Team
    project: Project
    trainer: Run
    consumer: Run
    r: Registry
    o: Registry
    a_src: ArtifactVersion  # content A, logged
    a_r: ArtifactVersion  # A linked into R (collection `ra`)
    a_o: ArtifactVersion  # A linked into O (collection `oa`)
    b_o: ArtifactVersion  # content B linked into O (collection `ob`)
    ra: Collection
    oa: Collection
    sequence: Collection  # A's artifact sequence


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool) -> World:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"vis-{tag}", "Visibility")
        other = await create_organization_txn(conn, f"vis-other-{tag}", "Other")
        users = {}
        for name, org_role in (
            ("admin", "ADMIN"),
            ("member", "MEMBER"),
            ("holder", "MEMBER"),
            ("teamie", "MEMBER"),
            ("outsider", None),
        ):
            user = await create_user_txn(conn, f"{name}-{tag}")
            users[name] = user
            if org_role is None:
                await organizations.set_organization_member(conn, other.id, user.id, "ADMIN")
            else:
                await organizations.set_organization_member(conn, org.id, user.id, org_role)
        keys = {
            name: await create_api_key_txn(conn, user.name, key_name="vis")
            for name, user in users.items()
        }
        team = await organizations.insert_team(conn, org.id, "readers")
        assert team is not None
        await organizations.change_team_members(conn, team.id, [users["teamie"].id], add=True)
        r = await insert_registry(conn, org.id, "secret", "RESTRICTED")
        o = await insert_registry(conn, org.id, "shared", "ORGANIZATION")
        await registries.set_registry_user_role(conn, r.id, users["holder"].id, "VIEWER")
        await registries.set_registry_team_role(conn, r.id, team.id, "VIEWER")
        admin = users["admin"]
        project = await create_project_txn(conn, org.id, "lab")
        trainer = await create_run_txn(conn, admin, project, "trainer")
        consumer = await create_run_txn(conn, admin, project, "consumer")
        a_src, b_src = [
            await log_artifact_txn(
                conn,
                admin,
                project,
                name=content.lower(),
                artifact_type="model",
                files=await stored_entries(conn, project, content, "model.bin", size=100),
                run=trainer,
            )
            for content in ("A", "B")
        ]
        a_r = await link_artifact_txn(conn, admin, a_src, r, "ra", ["candidate"])
        a_o = await link_artifact_txn(conn, admin, a_src, o, "oa")
        b_o = await link_artifact_txn(conn, admin, b_src, o, "ob")
        await use_artifact_txn(conn, consumer, a_r)
        await use_artifact_txn(conn, consumer, b_o)
        ra = await collection_in_registry(conn, r.id, "ra")
        oa = await collection_in_registry(conn, o.id, "oa")
        sequence = await sequence_in_project(conn, project.id, "a")
        assert ra is not None
        assert oa is not None
        assert sequence is not None
    return World(
        pool,
        tag,
        org,
        other,
        users,
        keys,
        team,
        project,
        trainer,
        consumer,
        r,
        o,
        a_src,
        a_r,
        a_o,
        b_o,
        ra,
        oa,
        sequence,
    )


def as_(world: World, http: httpx.AsyncClient, who: str) -> GraphQLClient:
    return GraphQLClient(http, world.keys[who])


# --- node(id:) and nodes(ids:) for every Node type ---------------------------------------------


def hidden_nodes(world: World) -> list[tuple[str, str, str]]:
    """(caller, type, id of an object of that type the caller may not see)."""
    to_outsider = [
        ("Organization", world.org.id),
        ("Registry", world.o.id),
        ("Registry", world.r.id),
        ("Collection", world.oa.id),
        ("ArtifactSequence", world.sequence.id),
        ("ArtifactVersion", world.a_src.id),
        ("ArtifactVersion", world.b_o.id),
        ("Project", world.project.id),
        ("Run", world.trainer.id),
        ("User", world.users["member"].id),
        ("Team", world.team.id),
    ]
    to_member = [
        ("Registry", world.r.id),
        ("Collection", world.ra.id),
        ("ArtifactVersion", world.a_r.id),
        ("Organization", world.other.id),
        ("User", world.users["outsider"].id),
    ]
    return [("outsider", kind, gid(kind, row)) for kind, row in to_outsider] + [
        ("member", kind, gid(kind, row)) for kind, row in to_member
    ]


NODE_TYPES = (
    "Organization",
    "Registry",
    "Collection",
    "ArtifactSequence",
    "ArtifactVersion",
    "Project",
    "Run",
    "User",
    "Team",
)
NODE_QUERY = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES_QUERY = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def test_every_node_type_has_an_invisible_case(world: World) -> None:
    covered = {kind for _, kind, _ in hidden_nodes(world)}
    assert covered == set(NODE_TYPES)


@pytest.mark.parametrize("caller", ["outsider", "member"])
async def test_invisible_nodes_answer_exactly_as_missing_ones(
    world: World, client: httpx.AsyncClient, caller: str
) -> None:
    viewer = as_(world, client, caller)
    cases = [(kind, node_id) for who, kind, node_id in hidden_nodes(world) if who == caller]
    assert cases
    for kind, node_id in cases:
        # The object exists: someone sees it (users and the other organization: the outsider).
        outsider_sees = node_id == gid("Organization", world.other.id) or kind == "User"
        seer = as_(world, client, "outsider" if caller == "member" and outsider_sees else "admin")
        assert (await seer.data(NODE_QUERY, {"id": node_id}))["node"] == {
            "__typename": kind,
            "id": node_id,
        }
        hidden = await viewer.post(NODE_QUERY, {"id": node_id})
        absent = await viewer.post(NODE_QUERY, {"id": missing(kind)})
        assert answer(hidden) == answer(absent) == {"data": {"node": None}}, (kind, hidden.text)
        # Not even the cost tells them apart.
        assert hidden.json()["extensions"]["cost"]["actualQueryCost"] == 0
        assert absent.json()["extensions"]["cost"]["actualQueryCost"] == 0
    ids = [node_id for _, node_id in cases]
    both = await viewer.data(NODES_QUERY, {"ids": [*ids, *(missing(k) for k, _ in cases)]})
    assert both["nodes"] == [None] * (2 * len(cases))


async def test_nodes_mixes_visible_and_invisible_in_order(
    world: World, client: httpx.AsyncClient
) -> None:
    member = as_(world, client, "member")
    ids = [
        gid("ArtifactVersion", world.a_o.id),
        gid("ArtifactVersion", world.a_r.id),
        gid("Registry", world.o.id),
        gid("Registry", world.r.id),
        gid("Collection", world.ra.id),
        gid("Collection", world.oa.id),
    ]
    data = await member.data(NODES_QUERY, {"ids": ids})
    assert data["nodes"] == [
        {"__typename": "ArtifactVersion", "id": ids[0]},
        None,
        {"__typename": "Registry", "id": ids[2]},
        None,
        None,
        {"__typename": "Collection", "id": ids[5]},
    ]


# --- a restricted registry by name, path, id, connection and count -----------------------------


REGISTRY_BY_NAME = """query($org: String!, $name: String!) {
  registry(organization: $org, name: $name) { id }
  organization(name: $org) { registry(name: $name) { id } }
}"""


@pytest.mark.parametrize("name", ["secret", "SECRET", "Secret"])
async def test_restricted_registry_by_name_reads_as_missing(
    world: World, client: httpx.AsyncClient, name: str
) -> None:
    member = as_(world, client, "member")
    hidden = await member.data(REGISTRY_BY_NAME, {"org": world.org.name, "name": name})
    absent = await member.data(REGISTRY_BY_NAME, {"org": world.org.name, "name": "nope"})
    assert hidden == absent == {"registry": None, "organization": {"registry": None}}
    for who in ("holder", "teamie", "admin"):
        seen = await as_(world, client, who).data(
            REGISTRY_BY_NAME, {"org": world.org.name, "name": name}
        )
        assert seen["registry"] == {"id": gid("Registry", world.r.id)}, who


def _path_error(body: dict[str, Any], replace: str) -> str:
    assert body["data"] == {"artifactVersion": None}, body
    return str(body["errors"]).replace(f"'{replace}'", "'<registry>'")


@pytest.mark.parametrize("selector", ["", ":latest", ":candidate", ":v0", ":v7", ":no-such-alias"])
async def test_restricted_registry_by_path_reads_as_missing(
    world: World, client: httpx.AsyncClient, selector: str
) -> None:
    query = "query($path: String!) { artifactVersion(path: $path) { id } }"
    member = as_(world, client, "member")

    async def ask(who: GraphQLClient, registry: str, collection: str = "ra") -> dict[str, Any]:
        path = f"{world.org.name}/wandb-registry-{registry}/{collection}{selector}"
        body: dict[str, Any] = (await who.post(query, {"path": path})).json()
        return body

    hidden = await ask(member, "secret")
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _path_error(hidden, "secret") == _path_error(await ask(member, "nope"), "nope")
    # A collection that does not exist in it reads the same: nothing of R shows through.
    assert _path_error(await ask(member, "secret", "zz"), "secret") == _path_error(hidden, "secret")
    holder = await ask(as_(world, client, "holder"), "secret")
    if selector in ("", ":latest", ":candidate", ":v0"):
        assert holder["data"]["artifactVersion"] == {"id": gid("ArtifactVersion", world.a_r.id)}
    else:
        assert "'secret'" not in str(holder["errors"]), "the holder's error names a deeper part"


async def test_restricted_registry_is_not_in_connections_or_counts(
    world: World, client: httpx.AsyncClient
) -> None:
    query = """query($org: String!) { organization(name: $org) {
      registries(first: 100) { totalCount nodes { name } }
      page: registries(first: 1) { totalCount pageInfo { hasNextPage endCursor } }
    } }"""

    async def names(who: str) -> tuple[list[str], int]:
        org = (await as_(world, client, who).data(query, {"org": world.org.name}))["organization"]
        total = org["registries"]["totalCount"]
        assert org["page"]["totalCount"] == total
        return [n["name"] for n in org["registries"]["nodes"]], total

    assert await names("member") == (["dataset", "model", "shared"], 3)
    for who in ("holder", "teamie", "admin"):
        assert await names(who) == (["dataset", "model", "secret", "shared"], 4), who

    # Walking the member's list one by one never reaches R.
    member = as_(world, client, "member")
    walked: list[str] = []
    after = None
    while True:
        page = await member.data(
            """query($org: String!, $after: String) { organization(name: $org) {
              registries(first: 1, after: $after) { nodes { name }
                pageInfo { hasNextPage endCursor } } } }""",
            {"org": world.org.name, "after": after},
        )
        registries_page = page["organization"]["registries"]
        walked += [n["name"] for n in registries_page["nodes"]]
        if not registries_page["pageInfo"]["hasNextPage"]:
            break
        after = registries_page["pageInfo"]["endCursor"]
    assert walked == ["dataset", "model", "shared"]


async def test_mutations_on_restricted_objects_answer_as_missing_ones(
    world: World, client: httpx.AsyncClient
) -> None:
    member = as_(world, client, "member")
    cases: list[tuple[str, dict[str, Any], str, str, int]] = [
        (
            "addRegistryMembers",
            {"members": [{"userId": gid("User", world.users["member"].id), "role": "ADMIN"}]},
            "registryId",
            "Registry",
            world.r.id,
        ),
        (
            "updateRegistry",
            {"description": "x"},
            "registryId",
            "Registry",
            world.r.id,
        ),
        ("deleteRegistry", {}, "registryId", "Registry", world.r.id),
        (
            "createCollection",
            {"name": "x", "type": "model"},
            "registryId",
            "Registry",
            world.r.id,
        ),
        (
            "deleteCollection",
            {},
            "collectionId",
            "Collection",
            world.ra.id,
        ),
        ("unlinkArtifact", {}, "versionId", "ArtifactVersion", world.a_r.id),
        (
            "addAliases",
            {"aliases": ["x"]},
            "versionId",
            "ArtifactVersion",
            world.a_r.id,
        ),
        (
            "useArtifact",
            {"runId": gid("Run", world.consumer.id)},
            "versionId",
            "ArtifactVersion",
            world.a_r.id,
        ),
    ]
    for mutation, base, key, kind, row in cases:
        hidden = await mutate(member, mutation, {**base, key: gid(kind, row)})
        absent = await mutate(member, mutation, {**base, key: missing(kind)})
        assert hidden == absent, mutation
        assert hidden["errors"][0]["code"] == "NOT_FOUND", mutation

    # By path: linking into R names R exactly as it names a registry that does not exist.
    document = """mutation($input: LinkArtifactInput!) { linkArtifact(input: $input) {
      artifactVersion { id } errors { code message field } } }"""

    async def link(registry: str) -> str:
        data = await member.data(
            document,
            {
                "input": {
                    "versionId": gid("ArtifactVersion", world.a_src.id),
                    "targetPath": f"{world.org.name}/wandb-registry-{registry}/new",
                }
            },
        )
        assert data["linkArtifact"]["artifactVersion"] is None
        return str(data["linkArtifact"]["errors"]).replace(f"'{registry}'", "'<r>'")

    assert await link("secret") == await link("nope")
    async with world.pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM collections WHERE registry_id = $1", world.r.id
            )
            == 1
        )


# --- history, lineage, linkedVersions ----------------------------------------------------------


async def test_restricted_events_never_show_in_another_history(
    world: World, client: httpx.AsyncClient
) -> None:
    r_targets = {
        gid("Registry", world.r.id),
        gid("Collection", world.ra.id),
        gid("ArtifactVersion", world.a_r.id),
    }
    query = """query($o: ID!, $oa: ID!) {
      o: node(id: $o) { ... on Registry { history(first: 100) {
        totalCount nodes { action targetId after } } } }
      oa: node(id: $oa) { ... on Collection { history(first: 100) { nodes { targetId } } } }
    }"""
    variables = {"o": gid("Registry", world.o.id), "oa": gid("Collection", world.oa.id)}
    for who in ("member", "admin"):
        data = await as_(world, client, who).data(query, variables)
        events = data["o"]["history"]["nodes"]
        assert events, "O has history of its own"
        assert len(events) == data["o"]["history"]["totalCount"]
        assert not r_targets & {e["targetId"] for e in events}, who
        assert "ra" not in str(events)
        assert not r_targets & {e["targetId"] for e in data["oa"]["history"]["nodes"]}
    # The organization's history (admins only) holds no registry events at all.
    admin = await as_(world, client, "admin").data(
        """query($org: String!) { organization(name: $org) {
          history(first: 100) { nodes { action targetId } } } }""",
        {"org": world.org.name},
    )
    org_events = admin["organization"]["history"]["nodes"]
    assert "CREATE_API_KEY" in {e["action"] for e in org_events}
    assert not r_targets & {e["targetId"] for e in org_events}
    assert not {"LINK_ARTIFACT", "CREATE_COLLECTION"} & {e["action"] for e in org_events}
    # The holder sees R's own history.
    holder = await as_(world, client, "holder").data(
        "query($id: ID!) { node(id: $id) { ... on Registry { history { nodes { targetId } } } } }",
        {"id": gid("Registry", world.r.id)},
    )
    assert gid("ArtifactVersion", world.a_r.id) in {
        e["targetId"] for e in holder["node"]["history"]["nodes"]
    }


RUN_INPUTS = """query($id: ID!) { node(id: $id) { ... on Run {
  inputs(first: 10) { totalCount nodes { id path } } } } }"""


async def test_run_inputs_hide_versions_of_an_invisible_registry(
    world: World, client: httpx.AsyncClient
) -> None:
    run_id = gid("Run", world.consumer.id)
    member = await as_(world, client, "member").data(RUN_INPUTS, {"id": run_id})
    assert member["node"]["inputs"] == {
        "totalCount": 1,
        "nodes": [
            {
                "id": gid("ArtifactVersion", world.b_o.id),
                "path": f"{world.org.name}/wandb-registry-shared/ob:v0",
            }
        ],
    }
    for who in ("holder", "teamie", "admin"):
        seen = await as_(world, client, who).data(RUN_INPUTS, {"id": run_id})
        assert seen["node"]["inputs"]["totalCount"] == 2, who
        assert {n["id"] for n in seen["node"]["inputs"]["nodes"]} == {
            gid("ArtifactVersion", world.a_r.id),
            gid("ArtifactVersion", world.b_o.id),
        }


async def test_lineage_of_visible_versions_still_works(
    world: World, client: httpx.AsyncClient
) -> None:
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id ... on ArtifactVersion {
      createdBy { name } usedBy { totalCount nodes { name } } source { id } } } }"""
    ids = [gid("ArtifactVersion", v.id) for v in (world.b_o, world.a_o, world.a_src)]
    data = await as_(world, client, "member").data(query, {"ids": ids})
    b_o, a_o, a_src = data["nodes"]
    assert b_o["createdBy"] == {"name": "trainer"}
    assert b_o["usedBy"] == {"totalCount": 1, "nodes": [{"name": "consumer"}]}
    assert a_o["createdBy"] == {"name": "trainer"}
    assert a_o["source"] == {"id": gid("ArtifactVersion", world.a_src.id)}
    assert a_src["createdBy"] == {"name": "trainer"}
    outputs = await as_(world, client, "member").data(
        "query($id: ID!) { node(id: $id) { ... on Run { outputs { totalCount } } } }",
        {"id": gid("Run", world.trainer.id)},
    )
    assert outputs["node"]["outputs"]["totalCount"] == 2


LINKED = """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
  linkedVersions(first: 10) { totalCount nodes { id } } } } }"""


@pytest.mark.parametrize("start", ["a_src", "a_o"])
async def test_linked_versions_show_only_visible_registries(
    world: World, client: httpx.AsyncClient, start: str
) -> None:
    version_id = gid("ArtifactVersion", getattr(world, start).id)
    a_o, a_r = gid("ArtifactVersion", world.a_o.id), gid("ArtifactVersion", world.a_r.id)
    member = await as_(world, client, "member").data(LINKED, {"id": version_id})
    assert member["node"]["linkedVersions"] == {"totalCount": 1, "nodes": [{"id": a_o}]}
    for who in ("holder", "teamie", "admin"):
        seen = await as_(world, client, who).data(LINKED, {"id": version_id})
        assert seen["node"]["linkedVersions"]["totalCount"] == 2, who
        assert {n["id"] for n in seen["node"]["linkedVersions"]["nodes"]} == {a_o, a_r}


# --- losing access takes effect at once --------------------------------------------------------


async def _new_user(world: World, org_role: str = "MEMBER") -> tuple[User, str]:
    async with world.pool.acquire() as conn, conn.transaction():
        user = await create_user_txn(conn, f"u{next(NAMES)}-{world.tag}")
        await organizations.set_organization_member(conn, world.org.id, user.id, org_role)
        key = await create_api_key_txn(conn, user.name, key_name="mine")
    return user, key


SEES = """query($org: String!) {
  organization(name: $org) { name }
  registry(organization: $org, name: "secret") { id }
}"""


async def test_a_revoked_key_stops_working_at_once(world: World, client: httpx.AsyncClient) -> None:
    _, key = await _new_user(world)
    me = GraphQLClient(client, key)
    keys = (await me.data("{ viewer { apiKeys { id name revokedAt } } }"))["viewer"]["apiKeys"]
    assert [(k["name"], k["revokedAt"]) for k in keys] == [("mine", None)]
    revoked = await me.data(
        """mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) {
          apiKey { id revokedAt } errors { code } } }""",
        {"input": {"keyId": keys[0]["id"]}},
    )
    assert revoked["revokeApiKey"]["errors"] == []
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    response = await me.post("{ viewer { name } }")
    assert response.status_code == 401, response.text
    assert "data" not in response.json()


async def test_a_removed_member_loses_access_at_once(
    world: World, client: httpx.AsyncClient
) -> None:
    user, key = await _new_user(world)
    async with world.pool.acquire() as conn:
        await registries.set_registry_user_role(conn, world.r.id, user.id, "ADMIN")
    me = GraphQLClient(client, key)
    before = await me.data(SEES, {"org": world.org.name})
    assert before == {
        "organization": {"name": world.org.name},
        "registry": {"id": gid("Registry", world.r.id)},
    }
    removed = await as_(world, client, "admin").data(
        """mutation($input: RemoveOrganizationMemberInput!) {
          removeOrganizationMember(input: $input) { errors { code } } }""",
        {"input": {"organization": world.org.name, "userId": gid("User", user.id)}},
    )
    assert removed["removeOrganizationMember"]["errors"] == []
    assert await me.data(SEES, {"org": world.org.name}) == {"organization": None, "registry": None}
    # Its registry roles went with the membership: rejoining does not bring R back.
    async with world.pool.acquire() as conn:
        await organizations.set_organization_member(conn, world.org.id, user.id, "MEMBER")
    assert (await me.data(SEES, {"org": world.org.name}))["registry"] is None


async def test_removing_a_registry_role_hides_the_registry_at_once(
    world: World, client: httpx.AsyncClient
) -> None:
    user, key = await _new_user(world)
    admin = as_(world, client, "admin")
    me = GraphQLClient(client, key)
    given = await admin.data(
        """mutation($input: AddRegistryMembersInput!) { addRegistryMembers(input: $input) {
          errors { code } } }""",
        {
            "input": {
                "registryId": gid("Registry", world.r.id),
                "members": [{"userId": gid("User", user.id), "role": "RESTRICTED_VIEWER"}],
            }
        },
    )
    assert given["addRegistryMembers"]["errors"] == []
    assert (await me.data(SEES, {"org": world.org.name}))["registry"] is not None
    taken = await admin.data(
        """mutation($input: RemoveRegistryMembersInput!) { removeRegistryMembers(input: $input) {
          errors { code } } }""",
        {"input": {"registryId": gid("Registry", world.r.id), "userIds": [gid("User", user.id)]}},
    )
    assert taken["removeRegistryMembers"]["errors"] == []
    assert await me.data(SEES, {"org": world.org.name}) == {
        "organization": {"name": world.org.name},
        "registry": None,
    }
    path = f"{world.org.name}/wandb-registry-secret/ra:v0"
    body = (
        await me.post("query($p: String!) { artifactVersion(path: $p) { id } }", {"p": path})
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("how", ["removeTeamMembers", "deleteTeam"])
async def test_leaving_the_team_that_gave_the_role_hides_the_registry_at_once(
    world: World, client: httpx.AsyncClient, how: str
) -> None:
    user, key = await _new_user(world)
    async with world.pool.acquire() as conn, conn.transaction():
        team = await organizations.insert_team(conn, world.org.id, f"t{next(NAMES)}")
        assert team is not None
        await organizations.change_team_members(conn, team.id, [user.id], add=True)
        await registries.set_registry_team_role(conn, world.r.id, team.id, "MEMBER")
    me = GraphQLClient(client, key)
    role = await me.data(
        """query($org: String!) { registry(organization: $org, name: "secret") {
          viewerRole } }""",
        {"org": world.org.name},
    )
    assert role["registry"] == {"viewerRole": "MEMBER"}
    if how == "removeTeamMembers":
        document = """mutation($input: TeamMembersInput!) { m: removeTeamMembers(input: $input) {
          errors { code } } }"""
        variables = {"teamId": gid("Team", team.id), "userIds": [gid("User", user.id)]}
    else:
        document = """mutation($input: DeleteTeamInput!) { m: deleteTeam(input: $input) {
          errors { code } } }"""
        variables = {"teamId": gid("Team", team.id)}
    done = await as_(world, client, "admin").data(document, {"input": variables})
    assert done["m"]["errors"] == []
    assert await me.data(SEES, {"org": world.org.name}) == {
        "organization": {"name": world.org.name},
        "registry": None,
    }
    # The teamie of the long-lived team still sees it: only this team's seat went.
    assert (await as_(world, client, "teamie").data(SEES, {"org": world.org.name}))["registry"]


async def test_restricting_a_registry_hides_it_at_once(
    world: World, client: httpx.AsyncClient
) -> None:
    async with world.pool.acquire() as conn:
        registry = await insert_registry(conn, world.org.id, f"soon-{next(NAMES)}", "ORGANIZATION")
    member = as_(world, client, "member")
    query = (
        "query($org: String!, $name: String!) { registry(organization: $org, name: $name) { id } }"
    )
    variables = {"org": world.org.name, "name": registry.name}
    try:
        assert (await member.data(query, variables))["registry"] is not None
        changed = await as_(world, client, "admin").data(
            """mutation($input: UpdateRegistryInput!) { updateRegistry(input: $input) {
              registry { visibility } errors { code } } }""",
            {"input": {"registryId": gid("Registry", registry.id), "visibility": "RESTRICTED"}},
        )
        assert changed["updateRegistry"] == {
            "registry": {"visibility": "RESTRICTED"},
            "errors": [],
        }
        assert (await member.data(query, variables))["registry"] is None
    finally:
        async with world.pool.acquire() as conn:
            await registries.delete_registry(conn, registry.id)
