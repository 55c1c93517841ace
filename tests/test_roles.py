"""Who may see and change what: every cell of the role matrix, through GraphQL.

A fresh organization (unique name) holds a RESTRICTED registry `secret` (R: every type, protected
alias `production`) and an ORGANIZATION registry `shared` (O: the same settings). Each principal
holds its role in a different way: org ADMIN, direct registry roles, roles through a team, a
direct role plus a better team role, org MEMBER and org VIEWER without any role, service accounts
(at least MEMBER wherever they have a role), and an outsider from another organization.

`test_registry_matrix` walks principal x registry x operation. The expected outcome of a cell is
written down by hand, not computed by the code under test: the principal's effective role on each
registry is a hand-written table. Every mutating cell acts on objects made for it alone (through
the resolvers' `*_txn` functions, as the org admin), checks through the org admin's eyes that the
change happened exactly when it was allowed, and for an invisible target, that the answer is the
one a random non-existent id gets. `test_organization_matrix` does the same for organization-level
mutations. The guard tests then check that every mutation of the schema was seen refusing, and
that a mutation whose authorization check does nothing fails loudly and writes nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from db import automations, organizations, registries
from db.collections import collection_in_registry
from db.records import ArtifactVersion, Collection, Organization, Project, Registry, Run, Team, User
from resolvers import authorization, secrets, webhooks
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.collections import create_collection_txn
from resolvers.links import link_artifact_txn
from resolvers.organizations import create_organization_txn
from resolvers.runs import create_project_txn, create_run_txn, log_artifact_txn, use_artifact_txn
from resolvers.versions import change_collection_tags_txn, change_version_tags_txn
from tests.support.databases import database_state
from tests.support.graphql import GraphQLClient, input_types, mutate, mutation_document
from tests.support.ids import gid, missing, row_id
from tests.support.manifests import file, stored_entries
from tests.support.registries import insert_registry

RV, VIEWER, MEMBER, ADMIN = "RESTRICTED_VIEWER", "VIEWER", "MEMBER", "ADMIN"
RANK = {RV: 0, VIEWER: 1, MEMBER: 2, ADMIN: 3}
ORG_RANK = {VIEWER: 0, MEMBER: 1, ADMIN: 2}
ALLOWED, HIDDEN = "ALLOWED", "NOT_FOUND"  # a refusal is its error code, e.g. PERMISSION_DENIED
KINDS = ("R", "O")
REGISTRY_NAMES = {"R": "secret", "O": "shared"}
VISIBILITY = {"R": "RESTRICTED", "O": "ORGANIZATION"}
READ_FILES = {"weights.bin": 128, "config.json": 256}
NAMES = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(NAMES)}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- principals and their roles (written down, not computed) ---------------------------------


@dataclass(frozen=True)
class Principal:
    name: str
    how: str  # how the role is held, for the table
    org_role: str | None  # None: not in the organization (the outsider)
    roles: dict[str, str | None]  # effective role on R and on O
    kind: str = "HUMAN"


PRINCIPALS = (
    Principal("admin", "org ADMIN, no registry role", ADMIN, {"R": ADMIN, "O": ADMIN}),
    Principal("rv", "direct RESTRICTED_VIEWER (on O too)", MEMBER, {"R": RV, "O": VIEWER}),
    Principal("v", "direct VIEWER", MEMBER, {"R": VIEWER, "O": VIEWER}),
    Principal("m", "direct MEMBER (on O too)", MEMBER, {"R": MEMBER, "O": MEMBER}),
    Principal("a", "direct ADMIN (on O too)", MEMBER, {"R": ADMIN, "O": ADMIN}),
    Principal("team_rv", "team RESTRICTED_VIEWER (on O too)", MEMBER, {"R": RV, "O": VIEWER}),
    Principal("team_v", "team VIEWER", MEMBER, {"R": VIEWER, "O": VIEWER}),
    Principal("team_m", "team MEMBER", MEMBER, {"R": MEMBER, "O": VIEWER}),
    Principal("team_a", "team ADMIN", MEMBER, {"R": ADMIN, "O": VIEWER}),
    Principal(
        "mixed", "direct RESTRICTED_VIEWER + team MEMBER", MEMBER, {"R": MEMBER, "O": VIEWER}
    ),
    Principal("viewer_m", "org VIEWER + direct MEMBER", VIEWER, {"R": MEMBER, "O": VIEWER}),
    Principal("member", "org MEMBER, no role", MEMBER, {"R": None, "O": VIEWER}),
    Principal("viewer", "org VIEWER, no role", VIEWER, {"R": None, "O": VIEWER}),
    Principal("svc", "SERVICE with direct VIEWER", MEMBER, {"R": MEMBER, "O": MEMBER}, "SERVICE"),
    Principal("svc_none", "SERVICE, no role", MEMBER, {"R": None, "O": MEMBER}, "SERVICE"),
    Principal("outsider", "ADMIN of another org", None, {"R": None, "O": None}),
)
BY_NAME = {p.name: p for p in PRINCIPALS}

# The grants behind the table above, applied to R, O and every registry a cell makes of a kind.
TEAMS = {"t-rv": ["team_rv"], "t-v": ["team_v"], "t-m": ["team_m", "mixed"], "t-a": ["team_a"]}
GRANTS: dict[str, dict[str, dict[str, str]]] = {
    "R": {
        "users": {
            "rv": RV,
            "v": VIEWER,
            "m": MEMBER,
            "a": ADMIN,
            "mixed": RV,
            "viewer_m": MEMBER,
            "svc": VIEWER,
        },
        "teams": {"t-rv": RV, "t-v": VIEWER, "t-m": MEMBER, "t-a": ADMIN},
    },
    "O": {"users": {"rv": RV, "m": MEMBER, "a": ADMIN}, "teams": {"t-rv": RV}},
}


# --- the world ---------------------------------------------------------------------------------


@dataclass
class ReadFixture:
    """A version in `read-coll` of a registry, never changed by any cell."""

    source: ArtifactVersion
    version: ArtifactVersion
    collection: Collection


@dataclass
class World:
    pool: asyncpg.Pool
    tag: str
    org: Organization
    users: dict[str, User]
    keys: dict[str, str]
    teams: dict[str, Team]
    target: User  # an org MEMBER without roles, the subject of member changes
    project: Project
    trainer: Run
    consumer: Run
    registries: dict[str, Registry]
    reads: dict[str, ReadFixture]


async def _grant(
    conn: Any, world_users: dict[str, User], teams: dict[str, Team], registry: Registry, kind: str
) -> None:
    for user, role in GRANTS[kind]["users"].items():
        await registries.set_registry_user_role(conn, registry.id, world_users[user].id, role)
    for team, role in GRANTS[kind]["teams"].items():
        await registries.set_registry_team_role(conn, registry.id, teams[team].id, role)


async def _insert_registry(conn: Any, org: Organization, name: str, kind: str) -> Registry:
    return await insert_registry(
        conn, org.id, name, VISIBILITY[kind], protected_aliases=["production"]
    )


@pytest.fixture(scope="module")
async def world(pool: asyncpg.Pool) -> World:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"roles-{tag}", "Roles")
        other = await create_organization_txn(conn, f"roles-other-{tag}", "Other")
        users: dict[str, User] = {}
        for p in PRINCIPALS:
            user = await create_user_txn(conn, f"{p.name.replace('_', '-')}-{tag}", p.how, p.kind)
            users[p.name] = user
            if p.org_role is None:
                await organizations.set_organization_member(conn, other.id, user.id, ADMIN)
            else:
                await organizations.set_organization_member(conn, org.id, user.id, p.org_role)
        target = await create_user_txn(conn, f"target-{tag}")
        await organizations.set_organization_member(conn, org.id, target.id, MEMBER)
        teams: dict[str, Team] = {}
        for name, members in TEAMS.items():
            team = await organizations.insert_team(conn, org.id, name)
            assert team is not None
            await organizations.change_team_members(
                conn, team.id, [users[m].id for m in members], add=True
            )
            teams[name] = team
        keys = {
            p.name: await create_api_key_txn(conn, users[p.name].name, key_name="roles")
            for p in PRINCIPALS
        }
        admin = users["admin"]
        project = await create_project_txn(conn, org.id, "lab")
        trainer = await create_run_txn(conn, admin, project, "trainer")
        consumer = await create_run_txn(conn, admin, project, "consumer")
        regs: dict[str, Registry] = {}
        reads: dict[str, ReadFixture] = {}
        for kind in KINDS:
            registry = await _insert_registry(conn, org, REGISTRY_NAMES[kind], kind)
            await _grant(conn, users, teams, registry, kind)
            regs[kind] = registry
            source = await log_artifact_txn(
                conn,
                admin,
                project,
                name=f"read-{kind.lower()}",
                artifact_type="model",
                files=await stored_entries(conn, project, f"read/{kind}", *READ_FILES, size=128),
                run=trainer,
                metadata={"accuracy": 0.9},
                description="read me",
            )
            version = await link_artifact_txn(
                conn, admin, source, registry, "read-coll", ["production", "staging"]
            )
            await change_version_tags_txn(conn, admin, version, ["gold"], add=True)
            collection = await collection_in_registry(conn, registry.id, "read-coll")
            assert collection is not None
            await change_collection_tags_txn(conn, admin, collection, ["reviewed"], add=True)
            await use_artifact_txn(conn, consumer, version)
            reads[kind] = ReadFixture(source, version, collection)
    return World(
        pool, tag, org, users, keys, teams, target, project, trainer, consumer, regs, reads
    )


@dataclass
class Env:
    """One cell: the world, the registry kind, who asks, and the org admin to check with."""

    world: World
    kind: str
    principal: Principal
    client: GraphQLClient
    admin: GraphQLClient
    made_registries: list[int] = field(default_factory=list)

    @property
    def registry(self) -> Registry:
        return self.world.registries[self.kind]

    @property
    def read(self) -> ReadFixture:
        return self.world.reads[self.kind]

    @property
    def org_name(self) -> str:
        return self.world.org.name

    @property
    def admin_user(self) -> User:
        return self.world.users["admin"]

    async def fresh_source(self) -> ArtifactVersion:
        async with self.world.pool.acquire() as conn, conn.transaction():
            return await log_artifact_txn(
                conn,
                self.admin_user,
                self.world.project,
                name="src",
                artifact_type="model",
                files=await stored_entries(conn, self.world.project, fresh("content"), "w.bin"),
            )

    async def fresh_collection(self) -> Collection:
        async with self.world.pool.acquire() as conn, conn.transaction():
            return await create_collection_txn(
                conn, self.admin_user, self.registry, name=fresh("coll"), artifact_type="model"
            )

    async def fresh_link(self, aliases: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Any:
        source = await self.fresh_source()
        async with self.world.pool.acquire() as conn, conn.transaction():
            version = await link_artifact_txn(
                conn, self.admin_user, source, self.registry, fresh("coll"), aliases
            )
            if tags:
                await change_version_tags_txn(conn, self.admin_user, version, tags, add=True)
        return version

    async def fresh_run(self) -> Run:
        async with self.world.pool.acquire() as conn, conn.transaction():
            return await create_run_txn(conn, self.admin_user, self.world.project, fresh("run"))

    async def fresh_registry(self, target_role: str | None = None) -> Registry:
        """A registry of this cell's kind with the same grants as R or O; removed after."""
        async with self.world.pool.acquire() as conn, conn.transaction():
            registry = await _insert_registry(conn, self.world.org, fresh(self.kind), self.kind)
            await _grant(conn, self.world.users, self.world.teams, registry, self.kind)
            if target_role is not None:
                await registries.set_registry_user_role(
                    conn, registry.id, self.world.target.id, target_role
                )
        self.made_registries.append(registry.id)
        return registry

    async def fresh_automation(self, owner: str = "admin") -> int:
        """A disabled automation in this cell's registry (it sends nothing on its own), made by
        `owner`, whose webhook is a loopback address the default policy never sends to."""
        async with self.world.pool.acquire() as conn:
            created = await automations.insert_automation(
                conn,
                organization_id=self.world.org.id,
                registry_id=self.registry.id,
                collection_id=None,
                name=fresh("auto"),
                description="",
                enabled=False,
                events=["LINK_ARTIFACT"],
                filter_regex=None,
                webhook_url="http://127.0.0.1:9/hook",
                headers=None,
                secret=secrets.seal("shh"),
                payload_template=webhooks.DEFAULT_TEMPLATE,
                created_by=self.world.users[owner].id,
            )
        assert created is not None
        return created.id

    async def fresh_delivery(self) -> int:
        """A FAILED delivery of a fresh automation."""
        automation_id = await self.fresh_automation()
        async with self.world.pool.acquire() as conn:
            delivery_id: int = await conn.fetchval(
                "INSERT INTO deliveries (automation_id, event_type, body, status, finished_at) "
                "VALUES ($1, 'LINK_ARTIFACT', '{}', 'FAILED', clock_timestamp()) RETURNING id",
                automation_id,
            )
        return delivery_id

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.world.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def cleanup(self) -> None:
        """Removes the cell's registries and automations (with their deliveries, which other
        modules' workers would otherwise find queued)."""
        async with self.world.pool.acquire() as conn:
            for registry_id in self.made_registries:
                await registries.delete_registry(conn, registry_id)
            await conn.execute(
                "DELETE FROM automations WHERE organization_id = $1", self.world.org.id
            )


def make_env(world: World, http: httpx.AsyncClient, kind: str, principal: Principal) -> Env:
    return Env(
        world,
        kind,
        principal,
        GraphQLClient(http, world.keys[principal.name]),
        GraphQLClient(http, world.keys["admin"]),
    )


# --- GraphQL helpers ---------------------------------------------------------------------------


async def errors_of(
    client: GraphQLClient, name: str, input: dict[str, Any]
) -> list[dict[str, Any]]:
    """The payload errors of one mutation (a successful one has none)."""
    errors: list[dict[str, Any]] = (await mutate(client, name, input))["errors"]
    return errors


def outcome_of(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return ALLOWED
    assert len(errors) == 1, errors
    return str(errors[0]["code"])


async def node(client: GraphQLClient, node_id: str, selection: str) -> Any:
    data = await client.data(
        f"query($id: ID!) {{ node(id: $id) {{ id {selection} }} }}", {"id": node_id}
    )
    return data["node"]


# --- read operations ---------------------------------------------------------------------------


async def read_registry_by_name(env: Env) -> str:
    query = """query($org: String!, $name: String!) {
      registry(organization: $org, name: $name) { id viewerRole }
      organization(name: $org) { registry(name: $name) { id } }
    }"""
    data = await env.client.data(query, {"org": env.org_name, "name": env.registry.name})
    if data["registry"] is None:
        twin = await env.client.data(query, {"org": env.org_name, "name": f"nope-{env.world.tag}"})
        assert data == twin, "an invisible registry must read exactly as a missing one"
        return HIDDEN
    assert data["registry"] == {
        "id": gid("Registry", env.registry.id),
        "viewerRole": env.principal.roles[env.kind],
    }
    assert data["organization"]["registry"] == {"id": gid("Registry", env.registry.id)}
    return ALLOWED


async def list_registries(env: Env) -> str:
    query = """query($org: String!) { organization(name: $org) {
      registries(first: 100) { totalCount nodes { id name } }
      firstOnly: registries(first: 1) { totalCount }
    } }"""
    org = (await env.client.data(query, {"org": env.org_name}))["organization"]
    if org is None:
        return HIDDEN
    names = [n["name"] for n in org["registries"]["nodes"]]
    # The count is of what the caller sees, whatever the page size.
    assert org["registries"]["totalCount"] == len(names) == org["firstOnly"]["totalCount"]
    assert {"model", "dataset", "shared"} <= set(names) <= {"model", "dataset", "shared", "secret"}
    return ALLOWED if env.registry.name in names else HIDDEN


async def read_collection(env: Env) -> str:
    query = """query($id: ID!, $ids: [ID!]!) {
      node(id: $id) { id ... on Collection { name tags registry { id } } }
      nodes(ids: $ids) { id }
    }"""
    coll_id = gid("Collection", env.read.collection.id)
    data = await env.client.data(query, {"id": coll_id, "ids": [coll_id, missing("Collection")]})
    if data["node"] is None:
        assert data["nodes"] == [None, None]
        return HIDDEN
    assert data["node"] == {
        "id": coll_id,
        "name": "read-coll",
        "tags": ["reviewed"],
        "registry": {"id": gid("Registry", env.registry.id)},
    }
    assert data["nodes"] == [{"id": coll_id}, None]
    return ALLOWED


async def read_version_by_path(env: Env) -> str:
    query = "query($path: String!) { artifactVersion(path: $path) { id } }"

    async def ask(registry_name: str) -> dict[str, Any]:
        path = f"{env.org_name}/wandb-registry-{registry_name}/read-coll:production"
        body: dict[str, Any] = (await env.client.post(query, {"path": path})).json()
        return body

    body = await ask(env.registry.name)
    if "errors" not in body:
        assert body["data"]["artifactVersion"] == {
            "id": gid("ArtifactVersion", env.read.version.id)
        }
        return ALLOWED
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    other = f"nope-{env.world.tag}"
    twin = await ask(other)
    normalized = str(body).replace(f"'{env.registry.name}'", "'<registry>'")
    assert normalized == str(twin).replace(f"'{other}'", "'<registry>'")
    return HIDDEN


async def read_metadata(env: Env) -> str:
    found = await node(
        env.client,
        gid("ArtifactVersion", env.read.version.id),
        """... on ArtifactVersion { metadata description aliases tags version
             aliasHistory { alias } collection { ... on Collection { aliases { alias } } } }""",
    )
    if found is None:
        return HIDDEN
    assert found["metadata"] == {"accuracy": 0.9}
    assert found["description"] == "read me"
    assert found["aliases"] == ["latest", "production", "staging"]
    assert found["tags"] == ["gold"]
    assert found["version"] == "v0"
    assert {"production", "staging"} <= {p["alias"] for p in found["aliasHistory"]}
    assert {"production", "staging"} <= {a["alias"] for a in found["collection"]["aliases"]}
    return ALLOWED


async def read_history(env: Env) -> str:
    query = """query($r: ID!, $c: ID!) {
      r: node(id: $r) { ... on Registry { history(first: 5) { totalCount nodes { action } } } }
      c: node(id: $c) { ... on Collection { history(first: 100) { nodes { action } } } }
    }"""
    data = await env.client.data(
        query,
        {"r": gid("Registry", env.registry.id), "c": gid("Collection", env.read.collection.id)},
    )
    if data["r"] is None:
        assert data["c"] is None
        return HIDDEN
    assert data["r"]["history"]["totalCount"] >= 1
    assert data["r"]["history"]["nodes"]
    actions = {n["action"] for n in data["c"]["history"]["nodes"]}
    assert {"LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS", "ADD_TAG"} <= actions, actions
    return ALLOWED


async def read_lineage(env: Env) -> str:
    query = """query($v: ID!, $run: ID!) {
      v: node(id: $v) { ... on ArtifactVersion {
        createdBy { name } usedBy(first: 100) { nodes { name } } source { id }
        linkedVersions(first: 100) { nodes { id } } } }
      run: node(id: $run) { ... on Run { inputs(first: 100) { totalCount nodes { id } } } }
    }"""
    version_id = gid("ArtifactVersion", env.read.version.id)
    data = await env.client.data(query, {"v": version_id, "run": gid("Run", env.world.consumer.id)})
    inputs = [] if data["run"] is None else [n["id"] for n in data["run"]["inputs"]["nodes"]]
    if data["run"] is not None:
        assert data["run"]["inputs"]["totalCount"] == len(inputs)
    if data["v"] is None:
        assert version_id not in inputs, "Run.inputs shows a version of an invisible registry"
        return HIDDEN
    assert data["v"]["createdBy"] == {"name": "trainer"}
    assert "consumer" in {n["name"] for n in data["v"]["usedBy"]["nodes"]}
    assert data["v"]["source"] == {"id": gid("ArtifactVersion", env.read.source.id)}
    assert version_id in {n["id"] for n in data["v"]["linkedVersions"]["nodes"]}
    assert version_id in inputs
    return ALLOWED


async def read_files(env: Env) -> str:
    """Downloading: everyone who sees the version sees its files' names and sizes; their
    download URLs are the part the role decides."""
    query = """query($id: ID!) { node(id: $id) { id ... on ArtifactVersion {
      files { totalCount nodes { path size downloadUrl } } } } }"""
    version_id = gid("ArtifactVersion", env.read.version.id)
    body = (await env.client.post(query, {"id": version_id})).json()
    if body["data"]["node"] is None:
        assert "errors" not in body, body
        return HIDDEN
    files = body["data"]["node"]["files"]
    assert files["totalCount"] == len(READ_FILES)
    assert {n["path"]: n["size"] for n in files["nodes"]} == READ_FILES
    if "errors" in body:
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert len(codes) == 1, body
        assert [e["path"][-1] for e in body["errors"]] == ["downloadUrl"] * len(READ_FILES)
        assert all(n["downloadUrl"] is None for n in files["nodes"])
        return str(codes.pop())
    downloaded = await env.client.http.get(files["nodes"][0]["downloadUrl"])
    assert downloaded.status_code == 200
    assert len(downloaded.content) == files["nodes"][0]["size"]
    return ALLOWED


# --- mutating operations -----------------------------------------------------------------------

State = dict[str, Any]


@dataclass(frozen=True)
class MutationCell:
    """How to run one mutation in a cell: fresh objects, the input, the same input with the
    target replaced by a non-existent id, and whether the change is there (as the org admin)."""

    mutation: str
    setup: Callable[[Env], Awaitable[State]]
    input: Callable[[Env, State], dict[str, Any]]
    missing: Callable[[Env, State], dict[str, Any]]
    applied: Callable[[Env, State], Awaitable[bool]]
    # For a mutation that changes nothing stored (testAutomation): what to ask of the payload,
    # and whether it shows the action was done.
    selection: str = ""
    done: Callable[[dict[str, Any]], bool] | None = None

    async def __call__(self, env: Env) -> str:
        state = await self.setup(env)
        payload = await mutate(env.client, self.mutation, self.input(env, state), self.selection)
        errors = payload["errors"]
        outcome = outcome_of(errors)
        applied = await self.applied(env, state) if self.done is None else self.done(payload)
        assert applied == (outcome == ALLOWED), (outcome, errors, applied)
        if outcome == HIDDEN:
            twin = await errors_of(env.client, self.mutation, self.missing(env, state))
            assert errors == twin, "an invisible object must answer exactly as a missing one"
        return outcome


def vid(state: State, key: str = "version") -> str:
    return gid("ArtifactVersion", state[key].id)


def cid(state: State) -> str:
    return gid("Collection", state["collection"].id)


def rid(state: State) -> str:
    return gid("Registry", state["registry"].id)


async def version_field(env: Env, state: State, selection: str) -> Any:
    return await node(env.admin, vid(state), f"... on ArtifactVersion {{ {selection} }}")


async def aliases_of(env: Env, state: State) -> list[str]:
    found = await version_field(env, state, "aliases")
    return list(found["aliases"])


async def members_of(env: Env, state: State) -> dict[str, str]:
    found = await node(
        env.admin,
        rid(state),
        "... on Registry { members(first: 100) { nodes { role user { name } } } }",
    )
    return {
        n["user"]["name"]: n["role"] for n in found["members"]["nodes"] if n["user"] is not None
    }


async def link_setup(env: Env, aliases: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> State:
    return {"version": await env.fresh_link(aliases, tags)}


async def use_setup(env: Env) -> State:
    return {"version": await env.fresh_link(), "run": await env.fresh_run()}


async def use_applied(env: Env, state: State) -> bool:
    found = await node(
        env.admin,
        gid("Run", state["run"].id),
        "... on Run { inputs { nodes { id } } }",
    )
    return vid(state) in {n["id"] for n in found["inputs"]["nodes"]}


async def link_target_setup(env: Env) -> State:
    return {"source": await env.fresh_source(), "collection": await env.fresh_collection()}


async def collection_versions(env: Env, state: State) -> int:
    found = await node(env.admin, cid(state), "... on Collection { versions { totalCount } }")
    return int(found["versions"]["totalCount"])


async def collection_setup(env: Env) -> State:
    return {"collection": await env.fresh_collection()}


async def collection_field(env: Env, state: State, selection: str) -> Any:
    return await node(env.admin, cid(state), f"... on Collection {{ {selection} }}")


async def registry_setup(env: Env, target_role: str | None = None) -> State:
    return {"registry": await env.fresh_registry(target_role)}


async def registry_field(env: Env, state: State, selection: str) -> Any:
    return await node(env.admin, rid(state), f"... on Registry {{ {selection} }}")


def alias_cell(mutation: str, alias: str, *, held: bool) -> MutationCell:
    return MutationCell(
        mutation,
        lambda env: link_setup(env, (alias,) if held else ()),
        lambda env, s: {"versionId": vid(s), "aliases": [alias]},
        lambda env, s: {"versionId": missing("ArtifactVersion"), "aliases": [alias]},
        lambda env, s: _has_alias(env, s, alias, want=not held),
    )


async def _has_alias(env: Env, state: State, alias: str, *, want: bool) -> bool:
    return (alias in await aliases_of(env, state)) == want


async def _version_tags(env: Env, state: State) -> list[str]:
    return list((await version_field(env, state, "tags"))["tags"])


async def _created_collection(env: Env, state: State) -> bool:
    data = await env.admin.data(
        "query($id: ID!, $name: String!) { node(id: $id) { ... on Registry { "
        "collection(name: $name) { id } } } }",
        {"id": gid("Registry", env.registry.id), "name": state["name"]},
    )
    return data["node"]["collection"] is not None


async def _named_setup(env: Env) -> State:
    return {"name": fresh("made")}


def _automation(state: State) -> dict[str, Any]:
    return {
        "name": state["name"],
        "events": ["LINK_ARTIFACT"],
        "enabled": False,
        "webhookUrl": "https://1.1.1.1/hook",
        "secret": "shh",
    }


async def _scalar_is(env: Env, expected: Any, sql: str, *args: Any) -> bool:
    return bool(await env.scalar(sql, *args) == expected)


async def _automation_setup(env: Env, owned: bool) -> State:
    owner = env.principal.name if owned else "admin"
    return {"automation": await env.fresh_automation(owner)}


async def _delivery_setup(env: Env) -> State:
    return {"delivery": await env.fresh_delivery()}


def _automation_change_cell(mutation: str, *, owned: bool) -> MutationCell:
    extra: dict[str, Any] = {"description": "changed"} if mutation == "updateAutomation" else {}
    checks = {
        "updateAutomation": "SELECT description = 'changed' FROM automations WHERE id = $1",
        "deleteAutomation": "SELECT NOT EXISTS (SELECT 1 FROM automations WHERE id = $1)",
        "testAutomation": "SELECT false",  # nothing stored: the payload tells (see `done`)
    }
    return MutationCell(
        mutation,
        lambda env: _automation_setup(env, owned),
        lambda env, s: {"automationId": gid("Automation", s["automation"]), **extra},
        lambda env, s: {"automationId": missing("Automation"), **extra},
        lambda env, s: _scalar_is(env, True, checks[mutation], s["automation"]),
        selection="statusCode error" if mutation == "testAutomation" else "",
        done=(lambda p: p["statusCode"] is not None or p["error"] is not None)
        if mutation == "testAutomation"
        else None,
    )


MUTATION_CELLS: dict[str, MutationCell] = {
    "useArtifact": MutationCell(
        "useArtifact",
        use_setup,
        lambda env, s: {"runId": gid("Run", s["run"].id), "versionId": vid(s)},
        lambda env, s: {"runId": gid("Run", s["run"].id), "versionId": missing("ArtifactVersion")},
        use_applied,
    ),
    "linkArtifact": MutationCell(
        "linkArtifact",
        link_target_setup,
        lambda env, s: {"versionId": vid(s, "source"), "collectionId": cid(s)},
        lambda env, s: {"versionId": vid(s, "source"), "collectionId": missing("Collection")},
        lambda env, s: _equals(collection_versions(env, s), 1),
    ),
    "unlinkArtifact": MutationCell(
        "unlinkArtifact",
        link_setup,
        lambda env, s: {"versionId": vid(s)},
        lambda env, s: {"versionId": missing("ArtifactVersion")},
        lambda env, s: _equals(node(env.admin, vid(s), ""), None),
    ),
    "addAliases (plain)": alias_cell("addAliases", "staging", held=False),
    "addAliases (protected)": alias_cell("addAliases", "production", held=False),
    "removeAliases (plain)": alias_cell("removeAliases", "staging", held=True),
    "removeAliases (protected)": alias_cell("removeAliases", "production", held=True),
    "addTags (version)": MutationCell(
        "addTags",
        link_setup,
        lambda env, s: {"id": vid(s), "tags": ["fresh"]},
        lambda env, s: {"id": missing("ArtifactVersion"), "tags": ["fresh"]},
        lambda env, s: _contains(_version_tags(env, s), "fresh"),
    ),
    "addTags (collection)": MutationCell(
        "addTags",
        collection_setup,
        lambda env, s: {"id": cid(s), "tags": ["fresh"]},
        lambda env, s: {"id": missing("Collection"), "tags": ["fresh"]},
        lambda env, s: _contains(_field(collection_field(env, s, "tags"), "tags"), "fresh"),
    ),
    "removeTags (version)": MutationCell(
        "removeTags",
        lambda env: link_setup(env, tags=("old",)),
        lambda env, s: {"id": vid(s), "tags": ["old"]},
        lambda env, s: {"id": missing("ArtifactVersion"), "tags": ["old"]},
        lambda env, s: _not(_contains(_version_tags(env, s), "old")),
    ),
    "updateArtifactVersion": MutationCell(
        "updateArtifactVersion",
        link_setup,
        lambda env, s: {"versionId": vid(s), "description": "changed"},
        lambda env, s: {"versionId": missing("ArtifactVersion"), "description": "changed"},
        lambda env, s: _equals(
            _field(version_field(env, s, "description"), "description"), "changed"
        ),
    ),
    "setArtifactMetadata": MutationCell(
        "setArtifactMetadata",
        link_setup,
        lambda env, s: {"versionId": vid(s), "metadata": {"reviewed": True}},
        lambda env, s: {"versionId": missing("ArtifactVersion"), "metadata": {"reviewed": True}},
        lambda env, s: _equals(
            _field(version_field(env, s, "metadata"), "metadata"), {"reviewed": True}
        ),
    ),
    "setArtifactTtl": MutationCell(
        "setArtifactTtl",
        link_setup,
        lambda env, s: {"versionId": vid(s), "ttlSeconds": 86_400},
        lambda env, s: {"versionId": missing("ArtifactVersion"), "ttlSeconds": 86_400},
        lambda env, s: _equals(_field(version_field(env, s, "ttlSeconds"), "ttlSeconds"), 86_400),
    ),
    "createCollection": MutationCell(
        "createCollection",
        _named_setup,
        lambda env, s: {
            "registryId": gid("Registry", env.registry.id),
            "name": s["name"],
            "type": "model",
        },
        lambda env, s: {"registryId": missing("Registry"), "name": s["name"], "type": "model"},
        _created_collection,
    ),
    "updateCollection": MutationCell(
        "updateCollection",
        collection_setup,
        lambda env, s: {"collectionId": cid(s), "description": "changed"},
        lambda env, s: {"collectionId": missing("Collection"), "description": "changed"},
        lambda env, s: _equals(
            _field(collection_field(env, s, "description"), "description"), "changed"
        ),
    ),
    "deleteCollection": MutationCell(
        "deleteCollection",
        collection_setup,
        lambda env, s: {"collectionId": cid(s)},
        lambda env, s: {"collectionId": missing("Collection")},
        lambda env, s: _equals(node(env.admin, cid(s), ""), None),
    ),
    "updateRegistry": MutationCell(
        "updateRegistry",
        registry_setup,
        lambda env, s: {"registryId": rid(s), "description": "changed"},
        lambda env, s: {"registryId": missing("Registry"), "description": "changed"},
        lambda env, s: _equals(
            _field(registry_field(env, s, "description"), "description"), "changed"
        ),
    ),
    "addRegistryMembers": MutationCell(
        "addRegistryMembers",
        registry_setup,
        lambda env, s: {
            "registryId": rid(s),
            "members": [{"userId": gid("User", env.world.target.id), "role": "VIEWER"}],
        },
        lambda env, s: {
            "registryId": missing("Registry"),
            "members": [{"userId": gid("User", env.world.target.id), "role": "VIEWER"}],
        },
        lambda env, s: _contains(_keys(members_of(env, s)), env.world.target.name),
    ),
    "updateRegistryMemberRole": MutationCell(
        "updateRegistryMemberRole",
        lambda env: registry_setup(env, RV),
        lambda env, s: {
            "registryId": rid(s),
            "userId": gid("User", env.world.target.id),
            "role": "VIEWER",
        },
        lambda env, s: {
            "registryId": missing("Registry"),
            "userId": gid("User", env.world.target.id),
            "role": "VIEWER",
        },
        lambda env, s: _equals(_get(members_of(env, s), env.world.target.name), VIEWER),
    ),
    "removeRegistryMembers": MutationCell(
        "removeRegistryMembers",
        lambda env: registry_setup(env, RV),
        lambda env, s: {"registryId": rid(s), "userIds": [gid("User", env.world.target.id)]},
        lambda env, s: {
            "registryId": missing("Registry"),
            "userIds": [gid("User", env.world.target.id)],
        },
        lambda env, s: _not(_contains(_keys(members_of(env, s)), env.world.target.name)),
    ),
    "createAutomation": MutationCell(
        "createAutomation",
        _named_setup,
        lambda env, s: {"registryId": gid("Registry", env.registry.id), **_automation(s)},
        lambda env, s: {"registryId": missing("Registry"), **_automation(s)},
        lambda env, s: _scalar_is(
            env,
            True,
            "SELECT EXISTS (SELECT 1 FROM automations WHERE registry_id = $1 AND name = $2)",
            env.registry.id,
            s["name"],
        ),
    ),
    "updateAutomation (another's)": _automation_change_cell("updateAutomation", owned=False),
    "updateAutomation (own)": _automation_change_cell("updateAutomation", owned=True),
    "deleteAutomation (another's)": _automation_change_cell("deleteAutomation", owned=False),
    "deleteAutomation (own)": _automation_change_cell("deleteAutomation", owned=True),
    "testAutomation (another's)": _automation_change_cell("testAutomation", owned=False),
    "testAutomation (own)": _automation_change_cell("testAutomation", owned=True),
    "redeliver": MutationCell(
        "redeliver",
        _delivery_setup,
        lambda env, s: {"deliveryId": gid("Delivery", s["delivery"])},
        lambda env, s: {"deliveryId": missing("Delivery")},
        lambda env, s: _scalar_is(
            env, "PENDING", "SELECT status::text FROM deliveries WHERE id = $1", s["delivery"]
        ),
    ),
    "deleteRegistry": MutationCell(
        "deleteRegistry",
        registry_setup,
        lambda env, s: {"registryId": rid(s)},
        lambda env, s: {"registryId": missing("Registry")},
        lambda env, s: _equals(node(env.admin, rid(s), ""), None),
    ),
}


async def _equals(value: Awaitable[Any], expected: Any) -> bool:
    return bool(await value == expected)


async def _contains(values: Awaitable[Any], item: Any) -> bool:
    return item in await values


async def _not(value: Awaitable[bool]) -> bool:
    return not await value


async def _field(value: Awaitable[Any], name: str) -> Any:
    return (await value)[name]


async def _keys(value: Awaitable[dict[str, Any]]) -> list[str]:
    return list(await value)


async def _get(value: Awaitable[dict[str, Any]], key: str) -> Any:
    return (await value).get(key)


# --- the matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    label: str
    minimum: str  # the least registry role that may do it
    run: Callable[[Env], Awaitable[str]]
    mutation: str | None = None
    protected_alias: bool = False  # MEMBERs get PROTECTED_ALIAS; only ADMINs may


def _mutation_op(label: str, minimum: str, *, protected_alias: bool = False) -> Operation:
    cell = MUTATION_CELLS[label]
    return Operation(label, minimum, cell, cell.mutation, protected_alias)


OPERATIONS = (
    Operation("registry by name", RV, read_registry_by_name),
    Operation("Organization.registries", RV, list_registries),
    Operation("read collection", RV, read_collection),
    Operation("version by path", RV, read_version_by_path),
    Operation("metadata/aliases/tags", RV, read_metadata),
    Operation("history", RV, read_history),
    Operation("lineage", RV, read_lineage),
    Operation("files", VIEWER, read_files),
    _mutation_op("useArtifact", VIEWER),
    _mutation_op("linkArtifact", MEMBER),
    _mutation_op("unlinkArtifact", MEMBER),
    _mutation_op("addAliases (plain)", MEMBER),
    _mutation_op("addAliases (protected)", MEMBER, protected_alias=True),
    _mutation_op("removeAliases (plain)", MEMBER),
    _mutation_op("removeAliases (protected)", MEMBER, protected_alias=True),
    _mutation_op("addTags (version)", MEMBER),
    _mutation_op("addTags (collection)", MEMBER),
    _mutation_op("removeTags (version)", MEMBER),
    _mutation_op("updateArtifactVersion", MEMBER),
    _mutation_op("setArtifactMetadata", MEMBER),
    _mutation_op("setArtifactTtl", MEMBER),
    _mutation_op("createCollection", MEMBER),
    _mutation_op("updateCollection", MEMBER),
    _mutation_op("deleteCollection", MEMBER),
    _mutation_op("updateRegistry", ADMIN),
    _mutation_op("addRegistryMembers", ADMIN),
    _mutation_op("updateRegistryMemberRole", ADMIN),
    _mutation_op("removeRegistryMembers", ADMIN),
    _mutation_op("createAutomation", MEMBER),
    _mutation_op("updateAutomation (own)", MEMBER),
    _mutation_op("updateAutomation (another's)", ADMIN),
    _mutation_op("deleteAutomation (own)", MEMBER),
    _mutation_op("deleteAutomation (another's)", ADMIN),
    _mutation_op("testAutomation (own)", MEMBER),
    _mutation_op("testAutomation (another's)", ADMIN),
    _mutation_op("redeliver", MEMBER),
    _mutation_op("deleteRegistry", ADMIN),
)


def expected_outcome(op: Operation, principal: Principal, kind: str) -> str:
    role = principal.roles[kind]
    if role is None:
        return HIDDEN
    if op.label == "useArtifact" and principal.org_role == VIEWER:
        # Recording a use writes to a run of a project: that needs the org role MEMBER.
        return "PERMISSION_DENIED"
    if RANK[role] < RANK[op.minimum]:
        return "PERMISSION_DENIED"
    if op.protected_alias and role != ADMIN:
        return "PROTECTED_ALIAS"
    return ALLOWED


REGISTRY_CELLS = [
    (kind, principal, op, expected_outcome(op, principal, kind))
    for kind in KINDS
    for principal in PRINCIPALS
    for op in OPERATIONS
]


def cell_id(kind: str, principal: Principal, op: Operation, expected: str) -> str:
    role = principal.roles[kind] or "no role"
    return f"{kind}|{principal.name}={role}|{op.label}=>{expected}"


# Which mutations a cell saw refused (filled as the cells run; checked by the guard test).
REFUSED_SEEN: set[str] = set()
CELLS_RUN: set[str] = set()


def _record(cell: str, mutation: str | None, outcome: str) -> None:
    CELLS_RUN.add(cell)
    if mutation is not None and outcome != ALLOWED:
        REFUSED_SEEN.add(mutation)


@pytest.mark.parametrize(
    ("kind", "principal", "op", "expected"),
    REGISTRY_CELLS,
    ids=[cell_id(*cell) for cell in REGISTRY_CELLS],
)
async def test_registry_matrix(
    world: World,
    client: httpx.AsyncClient,
    kind: str,
    principal: Principal,
    op: Operation,
    expected: str,
) -> None:
    env = make_env(world, client, kind, principal)
    try:
        outcome = await op.run(env)
    finally:
        await env.cleanup()
    assert outcome == expected, (
        f"{principal.name} ({principal.how}) on {kind}: {op.label} was {outcome}, "
        f"expected {expected}"
    )
    _record(cell_id(kind, principal, op, expected), op.mutation, outcome)


def test_the_matrix_as_a_table() -> None:
    """The table the matrix test walks, printed (run with -s to read it); every cell has one
    expected outcome and the principals hold the roles PRINCIPALS describes."""
    width = max(len(op.label) for op in OPERATIONS)
    short = {ALLOWED: "ok", HIDDEN: "--", "PERMISSION_DENIED": "DENY", "PROTECTED_ALIAS": "PROT"}
    lines = []
    for kind in KINDS:
        lines.append(
            f"registry {kind} ({VISIBILITY[kind]}); ok allowed, DENY PERMISSION_DENIED, "
            "PROT PROTECTED_ALIAS, -- invisible (NOT_FOUND / null)"
        )
        lines.append(" " * width + " " + " ".join(f"{p.name[:8]:>8}" for p in PRINCIPALS))
        lines.append(
            " " * width + " " + " ".join(f"{(p.roles[kind] or '-')[:8]:>8}" for p in PRINCIPALS)
        )
        for op in OPERATIONS:
            row = [short[expected_outcome(op, p, kind)] for p in PRINCIPALS]
            lines.append(f"{op.label:<{width}} " + " ".join(f"{c:>8}" for c in row))
    table = "\n".join(lines)
    print(table)
    assert len(REGISTRY_CELLS) == len(KINDS) * len(PRINCIPALS) * len(OPERATIONS)
    # Sanity of the written-down roles: every role is reached both directly and through a team,
    # and both registries have principals with and without access.
    reached = {(p.roles["R"], "team" in p.how) for p in PRINCIPALS}
    for role in (RV, VIEWER, MEMBER, ADMIN):
        assert (role, True) in reached
        assert (role, False) in reached
    # MEMBERs (5 on R, 3 on O) are refused protected aliases (2 operations); plus the legends.
    cells = [c for line in lines[1:] if not line.startswith("registry") for c in line.split()]
    assert cells.count("PROT") == 2 * (5 + 3)


# --- organization-level mutations --------------------------------------------------------------


@dataclass(frozen=True)
class OrgOperation:
    label: str
    mutation: str
    minimum: str | None  # the least org role; None: anyone signed in
    setup: Callable[[OrgEnv], Awaitable[State]]
    input: Callable[[OrgEnv, State], dict[str, Any]]
    missing: Callable[[OrgEnv, State], dict[str, Any]]
    applied: Callable[[OrgEnv, State], Awaitable[bool]]
    refused_as_missing: bool = False  # every refusal reads as NOT_FOUND (keys of others)
    # Who may, when it is not a matter of organization role (an invitation is its invitee's).
    outcome: Callable[[Principal], str] | None = None


@dataclass
class OrgEnv:
    world: World
    principal: Principal
    client: GraphQLClient
    made_registries: list[str] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.world.pool

    @property
    def org_name(self) -> str:
        return self.world.org.name

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def fresh_user(self, *, org_role: str | None, kind: str = "HUMAN") -> User:
        async with self.pool.acquire() as conn, conn.transaction():
            user = await create_user_txn(conn, f"{fresh('u')}-{self.world.tag}", "", kind)
            if org_role is not None:
                await organizations.set_organization_member(
                    conn, self.world.org.id, user.id, org_role
                )
        return user

    async def fresh_team(self, members: list[User]) -> Team:
        async with self.pool.acquire() as conn, conn.transaction():
            team = await organizations.insert_team(conn, self.world.org.id, fresh("team"))
            assert team is not None
            await organizations.change_team_members(
                conn, team.id, [m.id for m in members], add=True
            )
        return team

    async def fresh_run(self) -> Run:
        async with self.pool.acquire() as conn, conn.transaction():
            return await create_run_txn(
                conn, self.world.users["admin"], self.world.project, fresh("run")
            )


OTHER_ORG = "no-such-org"


async def _invitation_setup(env: OrgEnv) -> State:
    """An invitation into the organization for a new user, who is none of the principals."""
    user = await env.fresh_user(org_role=None)
    invitation = await env.scalar(
        "INSERT INTO organization_invitations (organization_id, user_name, role, expires_at) "
        "VALUES ($1, $2, 'VIEWER', clock_timestamp() + interval '1 day') RETURNING id",
        env.world.org.id,
        user.name,
    )
    return {"user": user, "invitation": gid("OrganizationInvitation", invitation)}


async def _invitation_gone(env: OrgEnv, s: State) -> bool:
    return not await _exists(
        env, "SELECT 1 FROM organization_invitations WHERE id = $1", row_id(s["invitation"])
    )


async def _org_setup(env: OrgEnv) -> State:
    return {"name": fresh("made")}


def _prepare_input(project_id: str, s: State) -> dict[str, Any]:
    return {"projectId": project_id, "files": [file(s["name"], s["name"].encode())]}


async def _upload_granted(env: OrgEnv, s: State) -> bool:
    payload = await mutate(
        env.client,
        "prepareArtifactFiles",
        _prepare_input(gid("Project", env.world.project.id), s),
        "uploads { uploadUrl }",
    )
    return payload["uploads"] is not None and payload["uploads"][0]["uploadUrl"] is not None


async def _log_setup(env: OrgEnv) -> State:
    """A name to log, and a file whose bytes are stored."""
    async with env.world.pool.acquire() as conn, conn.transaction():
        (entry,) = await stored_entries(conn, env.world.project, fresh("logged"), "a.bin")
    return {
        "name": fresh("made"),
        "file": {"path": entry.path, "digest": entry.digest, "size": entry.size},
    }


async def _logged_version_setup(env: OrgEnv) -> State:
    """A version freshly logged in the project, linked nowhere."""
    async with env.world.pool.acquire() as conn, conn.transaction():
        name = fresh("doomed")
        (entry,) = await stored_entries(conn, env.world.project, name, "a.bin")
        logged = await log_artifact_txn(
            conn,
            env.world.users["admin"],
            env.world.project,
            name=name,
            artifact_type="model",
            files=[entry],
        )
    return {"version": logged}


async def _not_exists(env: OrgEnv, sql: str, *args: Any) -> bool:
    return not await _exists(env, sql, *args)


async def _run_setup(env: OrgEnv) -> State:
    return {"run": await env.fresh_run()}


async def _user_setup(env: OrgEnv, org_role: str | None) -> State:
    return {"user": await env.fresh_user(org_role=org_role)}


async def _team_setup(env: OrgEnv, with_member: bool) -> State:
    user = await env.fresh_user(org_role=MEMBER)
    return {"user": user, "team": await env.fresh_team([user] if with_member else [])}


async def _service_setup(env: OrgEnv, with_key: bool) -> State:
    user = await env.fresh_user(org_role=MEMBER, kind="SERVICE")
    state: State = {"user": user}
    if with_key:
        async with env.pool.acquire() as conn, conn.transaction():
            await create_api_key_txn(conn, user.name, key_name="ci")
        state["key_id"] = await env.scalar("SELECT id FROM api_keys WHERE user_id = $1", user.id)
    return state


def uid(state: State) -> str:
    return gid("User", state["user"].id)


def tid(state: State) -> str:
    return gid("Team", state["team"].id)


async def _exists(env: OrgEnv, sql: str, *args: Any) -> bool:
    return bool(await env.scalar(f"SELECT EXISTS ({sql})", *args))


async def _created_registry(env: OrgEnv, state: State) -> bool:
    found = await _exists(
        env,
        "SELECT 1 FROM registries WHERE organization_id = $1 AND name = $2",
        env.world.org.id,
        state["name"],
    )
    if found:
        env.made_registries.append(state["name"])
    return found


ORG_OPERATIONS: tuple[OrgOperation, ...] = (
    OrgOperation(
        "createProject",
        "createProject",
        MEMBER,
        _org_setup,
        lambda env, s: {"organization": env.org_name, "name": s["name"]},
        lambda env, s: {"organization": OTHER_ORG, "name": s["name"]},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM projects WHERE organization_id = $1 AND name = $2",
            env.world.org.id,
            s["name"],
        ),
    ),
    OrgOperation(
        "createRun",
        "createRun",
        MEMBER,
        _org_setup,
        lambda env, s: {"projectId": gid("Project", env.world.project.id), "name": s["name"]},
        lambda env, s: {"projectId": missing("Project"), "name": s["name"]},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM runs WHERE project_id = $1 AND name = $2",
            env.world.project.id,
            s["name"],
        ),
    ),
    OrgOperation(
        "updateRun",
        "updateRun",
        MEMBER,
        _run_setup,
        lambda env, s: {"runId": gid("Run", s["run"].id), "summary": {"loss": 1}},
        lambda env, s: {"runId": missing("Run"), "summary": {"loss": 1}},
        lambda env, s: _exists(
            env, "SELECT 1 FROM runs WHERE id = $1 AND summary ? 'loss'", s["run"].id
        ),
    ),
    OrgOperation(
        "finishRun",
        "finishRun",
        MEMBER,
        _run_setup,
        lambda env, s: {"runId": gid("Run", s["run"].id)},
        lambda env, s: {"runId": missing("Run")},
        lambda env, s: _exists(
            env, "SELECT 1 FROM runs WHERE id = $1 AND state = 'FINISHED'", s["run"].id
        ),
    ),
    OrgOperation(
        "logArtifact",
        "logArtifact",
        MEMBER,
        _log_setup,
        lambda env, s: {
            "projectId": gid("Project", env.world.project.id),
            "name": s["name"],
            "type": "model",
            "files": [s["file"]],
        },
        lambda env, s: {
            "projectId": missing("Project"),
            "name": s["name"],
            "type": "model",
            "files": [s["file"]],
        },
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM collections WHERE project_id = $1 AND name = $2",
            env.world.project.id,
            s["name"],
        ),
    ),
    OrgOperation(
        "deleteArtifactVersion",
        "deleteArtifactVersion",
        MEMBER,
        _logged_version_setup,
        lambda env, s: {"versionId": gid("ArtifactVersion", s["version"].id)},
        lambda env, s: {"versionId": missing("ArtifactVersion")},
        lambda env, s: _not_exists(
            env, "SELECT 1 FROM artifact_versions WHERE id = $1", s["version"].id
        ),
    ),
    OrgOperation(
        "updateArtifactSequence",
        "updateArtifactSequence",
        MEMBER,
        _logged_version_setup,
        lambda env, s: {
            "sequenceId": gid("ArtifactSequence", s["version"].collection_id),
            "description": "described",
        },
        lambda env, s: {"sequenceId": missing("ArtifactSequence"), "description": "described"},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM collections WHERE id = $1 AND description = 'described'",
            s["version"].collection_id,
        ),
    ),
    OrgOperation(
        "deleteArtifactSequence",
        "deleteArtifactSequence",
        MEMBER,
        _logged_version_setup,
        lambda env, s: {"sequenceId": gid("ArtifactSequence", s["version"].collection_id)},
        lambda env, s: {"sequenceId": missing("ArtifactSequence")},
        lambda env, s: _not_exists(
            env, "SELECT 1 FROM collections WHERE id = $1", s["version"].collection_id
        ),
    ),
    OrgOperation(
        "prepareArtifactFiles",
        "prepareArtifactFiles",
        MEMBER,
        _org_setup,
        lambda env, s: _prepare_input(gid("Project", env.world.project.id), s),
        lambda env, s: _prepare_input(missing("Project"), s),
        # It stores nothing: what it grants is an upload URL, which the caller got or not.
        lambda env, s: _upload_granted(env, s),
    ),
    OrgOperation(
        "createRegistry",
        "createRegistry",
        MEMBER,
        _org_setup,
        lambda env, s: {"organization": env.org_name, "name": s["name"]},
        lambda env, s: {"organization": OTHER_ORG, "name": s["name"]},
        _created_registry,
    ),
    OrgOperation(
        "addOrganizationMember",
        "addOrganizationMember",
        ADMIN,
        lambda env: _user_setup(env, None),
        lambda env, s: {"organization": env.org_name, "userName": s["user"].name, "role": "VIEWER"},
        lambda env, s: {"organization": OTHER_ORG, "userName": s["user"].name, "role": "VIEWER"},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM organization_members WHERE organization_id = $1 AND user_id = $2",
            env.world.org.id,
            s["user"].id,
        ),
    ),
    OrgOperation(
        "updateOrganizationMemberRole",
        "updateOrganizationMemberRole",
        ADMIN,
        lambda env: _user_setup(env, VIEWER),
        lambda env, s: {"organization": env.org_name, "userId": uid(s), "role": "MEMBER"},
        lambda env, s: {"organization": OTHER_ORG, "userId": uid(s), "role": "MEMBER"},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM organization_members WHERE "
            "organization_id = $1 AND user_id = $2 AND role = 'MEMBER'",
            env.world.org.id,
            s["user"].id,
        ),
    ),
    OrgOperation(
        "removeOrganizationMember",
        "removeOrganizationMember",
        ADMIN,
        lambda env: _user_setup(env, VIEWER),
        lambda env, s: {"organization": env.org_name, "userId": uid(s)},
        lambda env, s: {"organization": OTHER_ORG, "userId": uid(s)},
        lambda env, s: _not(
            _exists(
                env,
                "SELECT 1 FROM organization_members WHERE organization_id = $1 AND user_id = $2",
                env.world.org.id,
                s["user"].id,
            )
        ),
    ),
    OrgOperation(
        "createTeam",
        "createTeam",
        ADMIN,
        _org_setup,
        lambda env, s: {"organization": env.org_name, "name": s["name"]},
        lambda env, s: {"organization": OTHER_ORG, "name": s["name"]},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM teams WHERE organization_id = $1 AND name = $2",
            env.world.org.id,
            s["name"],
        ),
    ),
    OrgOperation(
        "addTeamMembers",
        "addTeamMembers",
        ADMIN,
        lambda env: _team_setup(env, with_member=False),
        lambda env, s: {"teamId": tid(s), "userIds": [uid(s)]},
        lambda env, s: {"teamId": missing("Team"), "userIds": [uid(s)]},
        lambda env, s: _exists(env, "SELECT 1 FROM team_members WHERE team_id = $1", s["team"].id),
    ),
    OrgOperation(
        "removeTeamMembers",
        "removeTeamMembers",
        ADMIN,
        lambda env: _team_setup(env, with_member=True),
        lambda env, s: {"teamId": tid(s), "userIds": [uid(s)]},
        lambda env, s: {"teamId": missing("Team"), "userIds": [uid(s)]},
        lambda env, s: _not(
            _exists(env, "SELECT 1 FROM team_members WHERE team_id = $1", s["team"].id)
        ),
    ),
    OrgOperation(
        "deleteTeam",
        "deleteTeam",
        ADMIN,
        lambda env: _team_setup(env, with_member=True),
        lambda env, s: {"teamId": tid(s)},
        lambda env, s: {"teamId": missing("Team")},
        lambda env, s: _not(_exists(env, "SELECT 1 FROM teams WHERE id = $1", s["team"].id)),
    ),
    OrgOperation(
        "createServiceAccount",
        "createServiceAccount",
        ADMIN,
        _org_setup,
        lambda env, s: {"organization": env.org_name, "name": f"{s['name']}-{env.world.tag}"},
        lambda env, s: {"organization": OTHER_ORG, "name": f"{s['name']}-{env.world.tag}"},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM users WHERE name = $1 AND kind = 'SERVICE'",
            f"{s['name']}-{env.world.tag}",
        ),
    ),
    OrgOperation(
        "createApiKey (service account)",
        "createApiKey",
        ADMIN,
        lambda env: _service_setup(env, with_key=False),
        lambda env, s: {"name": "ci", "userId": uid(s)},
        lambda env, s: {"name": "ci", "userId": missing("User")},
        lambda env, s: _exists(env, "SELECT 1 FROM api_keys WHERE user_id = $1", s["user"].id),
    ),
    OrgOperation(
        "revokeApiKey (service account's)",
        "revokeApiKey",
        ADMIN,
        lambda env: _service_setup(env, with_key=True),
        lambda env, s: {"keyId": gid("ApiKey", s["key_id"])},
        lambda env, s: {"keyId": missing("ApiKey")},
        lambda env, s: _exists(
            env, "SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NOT NULL", s["key_id"]
        ),
        refused_as_missing=True,
    ),
    OrgOperation(
        "createApiKey (own)",
        "createApiKey",
        None,
        _org_setup,
        lambda env, s: {"name": s["name"]},
        lambda env, s: {"name": s["name"]},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM api_keys WHERE user_id = $1 AND name = $2",
            env.world.users[env.principal.name].id,
            s["name"],
        ),
    ),
)
ORG_OPERATIONS += (
    OrgOperation(
        "inviteOrganizationMember",
        "inviteOrganizationMember",
        ADMIN,
        lambda env: _user_setup(env, None),
        lambda env, s: {"organization": env.org_name, "userName": s["user"].name, "role": "VIEWER"},
        lambda env, s: {"organization": OTHER_ORG, "userName": s["user"].name, "role": "VIEWER"},
        lambda env, s: _exists(
            env,
            "SELECT 1 FROM organization_invitations WHERE organization_id = $1 AND user_name = $2",
            env.world.org.id,
            s["user"].name,
        ),
    ),
    OrgOperation(
        "acceptInvitation (someone else's)",
        "acceptInvitation",
        None,
        _invitation_setup,
        lambda env, s: {"invitationId": s["invitation"]},
        lambda env, s: {"invitationId": missing("OrganizationInvitation")},
        _invitation_gone,
        outcome=lambda principal: HIDDEN,
    ),
    OrgOperation(
        "declineInvitation (withdraw)",
        "declineInvitation",
        ADMIN,
        _invitation_setup,
        lambda env, s: {"invitationId": s["invitation"]},
        lambda env, s: {"invitationId": missing("OrganizationInvitation")},
        _invitation_gone,
        refused_as_missing=True,
    ),
)
ORG_PRINCIPALS = tuple(BY_NAME[n] for n in ("admin", "member", "viewer", "svc", "outsider"))


def expected_org_outcome(op: OrgOperation, principal: Principal) -> str:
    if op.outcome is not None:
        return op.outcome(principal)
    if op.minimum is None:
        return ALLOWED
    if principal.org_role is None:
        return HIDDEN
    if ORG_RANK[principal.org_role] < ORG_RANK[op.minimum]:
        return HIDDEN if op.refused_as_missing else "PERMISSION_DENIED"
    return ALLOWED


ORG_CELLS = [
    (principal, op, expected_org_outcome(op, principal))
    for principal in ORG_PRINCIPALS
    for op in ORG_OPERATIONS
]


def org_cell_id(principal: Principal, op: OrgOperation, expected: str) -> str:
    return f"org|{principal.name}={principal.org_role or 'not a member'}|{op.label}=>{expected}"


def _normalize(errors: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    text = str(errors)
    for name in names:
        text = text.replace(f"'{name}'", "'<name>'")
    return [{"text": text}]


@pytest.mark.parametrize(
    ("principal", "op", "expected"), ORG_CELLS, ids=[org_cell_id(*c) for c in ORG_CELLS]
)
async def test_organization_matrix(
    world: World,
    client: httpx.AsyncClient,
    principal: Principal,
    op: OrgOperation,
    expected: str,
) -> None:
    env = OrgEnv(world, principal, GraphQLClient(client, world.keys[principal.name]))
    try:
        state = await op.setup(env)
        errors = await errors_of(env.client, op.mutation, op.input(env, state))
        outcome = outcome_of(errors)
        applied = await op.applied(env, state)
        if outcome == HIDDEN:
            twin = await errors_of(env.client, op.mutation, op.missing(env, state))
            assert _normalize(errors, env.org_name) == _normalize(twin, OTHER_ORG), (errors, twin)
    finally:
        async with world.pool.acquire() as conn:
            for name in env.made_registries:
                await conn.execute(
                    "DELETE FROM registries WHERE organization_id = $1 AND name = $2",
                    world.org.id,
                    name,
                )
    assert outcome == expected, (principal.name, op.label, errors)
    assert applied == (outcome == ALLOWED), (outcome, errors)
    _record(org_cell_id(principal, op, expected), op.mutation, outcome)


# --- creating registries -----------------------------------------------------------------------


async def test_the_creator_of_a_restricted_registry_becomes_its_admin(
    world: World, client: httpx.AsyncClient
) -> None:
    creator = GraphQLClient(client, world.keys["member"])
    other = GraphQLClient(client, world.keys["viewer"])
    name = fresh("mine")
    created = await creator.data(
        """mutation($input: CreateRegistryInput!) { createRegistry(input: $input) {
             registry { id visibility viewerRole } errors { code } } }""",
        {"input": {"organization": world.org.name, "name": name, "visibility": "RESTRICTED"}},
    )
    try:
        payload = created["createRegistry"]
        assert payload["errors"] == []
        registry_id = payload["registry"]["id"]
        assert payload["registry"]["visibility"] == "RESTRICTED"
        assert payload["registry"]["viewerRole"] == ADMIN
        query = """query($org: String!, $name: String!) { registry(organization: $org, name: $name)
          { id viewerRole members { totalCount nodes { role user { name } team { name } } } } }"""
        seen = (await creator.data(query, {"org": world.org.name, "name": name}))["registry"]
        assert seen["id"] == registry_id
        assert seen["viewerRole"] == ADMIN
        assert seen["members"] == {
            "totalCount": 1,
            "nodes": [{"role": ADMIN, "user": {"name": world.users["member"].name}, "team": None}],
        }
        errors = await errors_of(
            creator, "updateRegistry", {"registryId": registry_id, "description": "mine"}
        )
        assert errors == []
        # Nobody else without a role sees it; the org admin does.
        assert (await other.data(query, {"org": world.org.name, "name": name}))["registry"] is None
        admin = GraphQLClient(client, world.keys["admin"])
        as_admin = (await admin.data(query, {"org": world.org.name, "name": name}))["registry"]
        assert as_admin["viewerRole"] == ADMIN
    finally:
        async with world.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM registries WHERE organization_id = $1 AND name = $2",
                world.org.id,
                name,
            )


async def test_org_viewers_cannot_create_registries(
    world: World, client: httpx.AsyncClient
) -> None:
    viewer = GraphQLClient(client, world.keys["viewer"])
    name = fresh("nope")
    errors = await errors_of(
        viewer,
        "createRegistry",
        {"organization": world.org.name, "name": name, "visibility": "RESTRICTED"},
    )
    assert [e["code"] for e in errors] == ["PERMISSION_DENIED"]
    assert "MEMBER" in errors[0]["message"]
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM registries WHERE name = $1", name) == 0


# --- guards ------------------------------------------------------------------------------------


def _declared_refusals() -> set[str]:
    registry = {
        op.mutation
        for kind, principal, op, expected in REGISTRY_CELLS
        if op.mutation is not None and expected != ALLOWED
    }
    org = {op.mutation for principal, op, expected in ORG_CELLS if expected != ALLOWED}
    return registry | org


def test_every_mutation_is_seen_refusing() -> None:
    """Every field of the Mutation type has a cell above that expects (and, when the whole file
    ran, saw) an authorization refusal. A new mutation without such a cell fails here."""
    all_mutations = set(input_types())
    assert len(all_mutations) >= 30
    assert _declared_refusals() == all_mutations
    if {cell_id(*c) for c in REGISTRY_CELLS} | {org_cell_id(*c) for c in ORG_CELLS} <= CELLS_RUN:
        assert all_mutations == REFUSED_SEEN


async def test_a_mutation_whose_authorization_check_does_nothing_fails_and_writes_nothing(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(world, client, "R", BY_NAME["v"])
    collection = await env.fresh_collection()
    registry = await env.fresh_registry()
    automation = gid("Automation", await env.fresh_automation())
    async with world.pool.acquire() as conn:
        loner = await create_user_txn(conn, f"{fresh('loner')}-{world.tag}", "")
    cases: list[tuple[str, str, dict[str, Any]]] = [
        # Sends a sample event without writing: the check after it runs catches it.
        ("rv", "testAutomation", {"automationId": automation}),
        ("m", "deleteAutomation", {"automationId": automation}),
        (
            "v",
            "updateCollection",
            {"collectionId": gid("Collection", collection.id), "description": "sneaky"},
        ),
        (
            "rv",
            "addRegistryMembers",
            {
                "registryId": gid("Registry", registry.id),
                "members": [{"userId": gid("User", world.target.id), "role": "ADMIN"}],
            },
        ),
        ("m", "deleteRegistry", {"registryId": gid("Registry", registry.id)}),
        ("viewer", "createProject", {"organization": world.org.name, "name": "sneaky"}),
        ("member", "createTeam", {"organization": world.org.name, "name": "sneaky"}),
        (
            "viewer",
            "addOrganizationMember",
            # A user in no organization yet: one an admin may add without an invitation.
            {"organization": world.org.name, "userName": loner.name, "role": "ADMIN"},
        ),
    ]
    try:
        # Checked: each is refused as a payload error.
        for who, mutation, input in cases:
            errors = await errors_of(GraphQLClient(client, world.keys[who]), mutation, input)
            assert [e["code"] for e in errors] == ["PERMISSION_DENIED"], (mutation, errors)

        async def no_registry_check(*args: Any) -> str:
            return ADMIN

        def no_organization_check(*args: Any) -> None:
            return None

        # Every resolver asks through the module, so this turns off every such check.
        monkeypatch.setattr(authorization, "require_registry_role", no_registry_check)
        monkeypatch.setattr(authorization, "require_organization_role", no_organization_check)

        before = await database_state(world.pool)
        for who, mutation, input in cases:
            caller = GraphQLClient(client, world.keys[who])
            body = (await caller.post(mutation_document(mutation), {"input": input})).json()
            assert body.get("data") is None, (mutation, body)
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", (mutation, body)
            assert error["message"].startswith("Internal server error"), body
            assert "authorization" not in error["message"].lower()
        assert await database_state(world.pool) == before
    finally:
        await env.cleanup()
