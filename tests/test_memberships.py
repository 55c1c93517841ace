"""Membership mutations: registry members and roles, organization members, teams, service accounts
and API keys. Each has its happy path, its refusals (non-admins, unknown users and teams, already a
member, the last admin), its audit event, and the lists that show the result. Two admins demoting
each other at once leave exactly one. The `cairn users` and `cairn keys` commands run as
subprocesses against a database of their own.

Each test builds a fresh organization (unique name): admin counts and histories are its own."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from db import organizations, registries
from db.pool import create_pool
from db.records import Organization, Registry, User
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import create_organization_txn
from resolvers.registries import create_registry_txn
from schema.schema import schema as cairn_schema
from tests.support.app import app_client
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient, codes, mutate
from tests.support.ids import gid, missing
from tests.support.processes import KEY, cairn, cairn_env

COUNTER = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(COUNTER)}"


MEMBER, VIEWER = "MEMBER", "VIEWER"


@dataclass
class Org:
    """A fresh organization with an API key per user."""

    pool: asyncpg.Pool
    http: httpx.AsyncClient
    org: Organization
    users: dict[str, User]
    keys: dict[str, str]

    @property
    def name(self) -> str:
        return self.org.name

    def as_(self, who: str) -> GraphQLClient:
        return GraphQLClient(self.http, self.keys[who])

    def uid(self, who: str) -> str:
        return gid("User", self.users[who].id)

    async def add_user(self, who: str, role: str | None, kind: str = "HUMAN") -> User:
        async with self.pool.acquire() as conn, conn.transaction():
            user = await create_user_txn(conn, unique(who), who, kind)
            if role is not None:
                await organizations.set_organization_member(conn, self.org.id, user.id, role)
            self.keys[who] = await create_api_key_txn(conn, user.name, key_name="test")
        self.users[who] = user
        return user

    async def registry(self, visibility: str = "RESTRICTED") -> Registry:
        async with self.pool.acquire() as conn, conn.transaction():
            return await create_registry_txn(
                conn, self.users["admin"], self.org.id, name=unique("reg"), visibility=visibility
            )

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def admins(self) -> int:
        return int(
            await self.scalar(
                "SELECT count(*) FROM organization_members WHERE organization_id = $1 "
                "AND role = 'ADMIN'",
                self.org.id,
            )
        )

    async def org_role(self, user: User) -> str | None:
        role = await self.scalar(
            "SELECT role::text FROM organization_members WHERE organization_id = $1 "
            "AND user_id = $2",
            self.org.id,
            user.id,
        )
        return None if role is None else str(role)


async def new_org(pool: asyncpg.Pool, http: httpx.AsyncClient, **roles: str | None) -> Org:
    """An organization with `admin` (ADMIN) and the given users (role None: not a member)."""
    async with pool.acquire() as conn:
        org = await create_organization_txn(conn, unique("mem"), "Memberships")
    result = Org(pool, http, org, {}, {})
    for who, role in {"admin": "ADMIN", **roles}.items():
        await result.add_user(who, role)
    return result


@pytest.fixture
async def org(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    return await new_org(
        pool, client, member=MEMBER, viewer=VIEWER, amy="MEMBER", ben="MEMBER", stranger=None
    )


# --- registry members --------------------------------------------------------------------------

MEMBERS = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  node(id: $id) { ... on Registry { members(first: $first, after: $after, last: $last,
    before: $before) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { role createdAt user { name } team { name } } } } } }"""


async def members(client: GraphQLClient, registry: Registry, **page: Any) -> dict[str, Any]:
    data = await client.data(MEMBERS, {"id": gid("Registry", registry.id), **page})
    result: dict[str, Any] = data["node"]["members"]
    return result


def summary(connection: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("team", n["team"]["name"], n["role"])
        if n["team"]
        else ("user", n["user"]["name"], n["role"])
        for n in connection["nodes"]
    ]


HISTORY = """query($id: ID!, $actions: [AuditAction!]) { node(id: $id) { ... on Registry {
  history(first: 100, actions: $actions) { nodes { action targetType targetId before after
    actor { name } } } } } }"""


async def registry_history(org: Org, registry: Registry, *actions: str) -> list[dict[str, Any]]:
    data = await org.as_("admin").data(
        HISTORY, {"id": gid("Registry", registry.id), "actions": list(actions) or None}
    )
    events: list[dict[str, Any]] = data["node"]["history"]["nodes"]
    return events[::-1]  # oldest first


async def test_registry_members_added_changed_and_removed_with_audit(org: Org) -> None:
    registry = await org.registry()
    async with org.pool.acquire() as conn:
        team = await organizations.insert_team(conn, org.org.id, "reviewers")
    assert team is not None
    admin = org.as_("admin")
    added = await mutate(
        admin,
        "addRegistryMembers",
        {
            "registryId": gid("Registry", registry.id),
            "members": [
                {"userId": org.uid("amy"), "role": "VIEWER"},
                {"teamId": gid("Team", team.id), "role": "MEMBER"},
            ],
        },
        "registry { id }",
    )
    assert added == {"registry": {"id": gid("Registry", registry.id)}, "errors": []}
    amy, admin_name = org.users["amy"].name, org.users["admin"].name
    # Teams first, then users, by name; the creator of the RESTRICTED registry is its ADMIN.
    listed = summary(await members(admin, registry))
    assert listed == [
        ("team", "reviewers", "MEMBER"),
        *sorted(
            [("user", amy, "VIEWER"), ("user", admin_name, "ADMIN")], key=lambda m: m[1].lower()
        ),
    ]
    # Amy now sees the registry, as VIEWER.
    seen = await org.as_("amy").data(
        "query($id: ID!) { node(id: $id) { ... on Registry { viewerRole } } }",
        {"id": gid("Registry", registry.id)},
    )
    assert seen == {"node": {"viewerRole": "VIEWER"}}

    changed = await mutate(
        admin,
        "updateRegistryMemberRole",
        {"registryId": gid("Registry", registry.id), "userId": org.uid("amy"), "role": "ADMIN"},
    )
    assert changed["errors"] == []
    changed = await mutate(
        admin,
        "updateRegistryMemberRole",
        {
            "registryId": gid("Registry", registry.id),
            "teamId": gid("Team", team.id),
            "role": "RESTRICTED_VIEWER",
        },
    )
    assert changed["errors"] == []
    # addRegistryMembers replaces an existing role too; the same role again changes nothing.
    again = await mutate(
        admin,
        "addRegistryMembers",
        {
            "registryId": gid("Registry", registry.id),
            "members": [
                {"userId": org.uid("amy"), "role": "MEMBER"},
                {"teamId": gid("Team", team.id), "role": "RESTRICTED_VIEWER"},
            ],
        },
    )
    assert again["errors"] == []
    assert ("user", amy, "MEMBER") in summary(await members(admin, registry))

    removed = await mutate(
        admin,
        "removeRegistryMembers",
        {
            "registryId": gid("Registry", registry.id),
            "userIds": [org.uid("amy")],
            "teamIds": [gid("Team", team.id)],
        },
    )
    assert removed["errors"] == []
    assert summary(await members(admin, registry)) == [("user", admin_name, "ADMIN")]
    assert (
        await org.as_("amy").data(
            "query($id: ID!) { node(id: $id) { id } }", {"id": gid("Registry", registry.id)}
        )
    )["node"] is None

    events = await registry_history(
        org,
        registry,
        "ADD_REGISTRY_MEMBER",
        "UPDATE_REGISTRY_MEMBER_ROLE",
        "REMOVE_REGISTRY_MEMBER",
    )
    amy_id, team_id = org.uid("amy"), gid("Team", team.id)
    assert [
        (e["action"], e["targetType"], e["targetId"], e["before"], e["after"]) for e in events
    ] == [
        ("ADD_REGISTRY_MEMBER", "User", amy_id, None, {"role": "VIEWER"}),
        ("ADD_REGISTRY_MEMBER", "Team", team_id, None, {"role": "MEMBER"}),
        ("UPDATE_REGISTRY_MEMBER_ROLE", "User", amy_id, {"role": "VIEWER"}, {"role": "ADMIN"}),
        (
            "UPDATE_REGISTRY_MEMBER_ROLE",
            "Team",
            team_id,
            {"role": "MEMBER"},
            {"role": "RESTRICTED_VIEWER"},
        ),
        ("UPDATE_REGISTRY_MEMBER_ROLE", "User", amy_id, {"role": "ADMIN"}, {"role": "MEMBER"}),
        ("REMOVE_REGISTRY_MEMBER", "User", amy_id, {"role": "MEMBER"}, None),
        ("REMOVE_REGISTRY_MEMBER", "Team", team_id, {"role": "RESTRICTED_VIEWER"}, None),
    ]
    assert {e["actor"]["name"] for e in events} == {admin_name}
    # Role changes are registry history, not organization history.
    org_history = await org.as_("admin").data(
        "query($o: String!) { organization(name: $o) { "
        "history(first: 100) { nodes { action } } } }",
        {"o": org.name},
    )
    assert not {e["action"] for e in org_history["organization"]["history"]["nodes"]} & {
        "ADD_REGISTRY_MEMBER",
        "UPDATE_REGISTRY_MEMBER_ROLE",
        "REMOVE_REGISTRY_MEMBER",
    }


async def test_registry_member_refusals_change_nothing(org: Org) -> None:
    registry = await org.registry()
    other = await new_org(org.pool, org.http)
    async with org.pool.acquire() as conn:
        await registries.set_registry_user_role(conn, registry.id, org.users["member"].id, "MEMBER")
        await registries.set_registry_user_role(conn, registry.id, org.users["ben"].id, "VIEWER")
        foreign_team = await organizations.insert_team(conn, other.org.id, "theirs")
    assert foreign_team is not None
    rid = gid("Registry", registry.id)
    before = summary(await members(org.as_("admin"), registry))
    events_before = await registry_history(org, registry)
    member, admin = org.as_("member"), org.as_("admin")

    def add(*m: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return ("addRegistryMembers", {"registryId": rid, "members": m})

    cases: list[tuple[GraphQLClient, tuple[str, dict[str, Any]], str]] = [
        # A registry MEMBER is not its admin.
        (member, add({"userId": org.uid("amy"), "role": "VIEWER"}), "PERMISSION_DENIED"),
        (
            member,
            (
                "updateRegistryMemberRole",
                {"registryId": rid, "userId": org.uid("ben"), "role": "ADMIN"},
            ),
            "PERMISSION_DENIED",
        ),
        (
            member,
            (
                "removeRegistryMembers",
                {"registryId": rid, "userIds": [org.uid("ben")]},
            ),
            "PERMISSION_DENIED",
        ),
        # Unknown users and teams, and those of another organization, are not found.
        (admin, add({"userId": missing("User"), "role": "VIEWER"}), "NOT_FOUND"),
        (admin, add({"userId": org.uid("stranger"), "role": "VIEWER"}), "NOT_FOUND"),
        (admin, add({"teamId": missing("Team"), "role": "VIEWER"}), "NOT_FOUND"),
        (admin, add({"teamId": gid("Team", foreign_team.id), "role": "VIEWER"}), "NOT_FOUND"),
        (
            admin,
            add(
                {"userId": org.uid("amy"), "role": "VIEWER"},
                {"userId": missing("User"), "role": "VIEWER"},
            ),
            "NOT_FOUND",
        ),
        (
            admin,
            (
                "updateRegistryMemberRole",
                {"registryId": rid, "userId": org.uid("amy"), "role": "ADMIN"},
            ),
            "NOT_FOUND",
        ),
        (
            admin,
            (
                "updateRegistryMemberRole",
                {"registryId": missing("Registry"), "userId": org.uid("ben"), "role": "ADMIN"},
            ),
            "NOT_FOUND",
        ),
        # Malformed requests.
        (
            admin,
            add(
                {"userId": org.uid("amy"), "teamId": gid("Team", foreign_team.id), "role": "VIEWER"}
            ),
            "INVALID_ARGUMENT",
        ),
        (admin, add(), "INVALID_ARGUMENT"),
    ]
    for caller, (mutation, input), code in cases:
        payload = await mutate(caller, mutation, input)
        assert codes(payload) == [code], (mutation, input, payload)
    assert summary(await members(org.as_("admin"), registry)) == before
    assert await registry_history(org, registry) == events_before
    # An unknown user and a user of no shared organization read the same.
    unknown = await mutate(admin, *add({"userId": missing("User"), "role": "VIEWER"}))
    stranger = await mutate(admin, *add({"userId": org.uid("stranger"), "role": "VIEWER"}))
    assert unknown == stranger
    unknown_team = await mutate(admin, *add({"teamId": missing("Team"), "role": "VIEWER"}))
    foreign = await mutate(admin, *add({"teamId": gid("Team", foreign_team.id), "role": "VIEWER"}))
    assert unknown_team == foreign


async def test_registry_members_page_in_a_stable_order(org: Org) -> None:
    registry = await org.registry()
    async with org.pool.acquire() as conn, conn.transaction():
        names = []
        for letter in "edcba":
            user = await create_user_txn(conn, f"{letter}{uuid.uuid4().hex[:6]}")
            await organizations.set_organization_member(conn, org.org.id, user.id, "MEMBER")
            await registries.set_registry_user_role(conn, registry.id, user.id, "VIEWER")
            names.append(user.name)
        for team_name in ("Zeta", "alpha"):
            team = await organizations.insert_team(conn, org.org.id, team_name)
            assert team is not None
            await registries.set_registry_team_role(conn, registry.id, team.id, "MEMBER")
    users = [("user", n, "VIEWER") for n in names] + [("user", org.users["admin"].name, "ADMIN")]
    expected = [
        ("team", "alpha", "MEMBER"),
        ("team", "Zeta", "MEMBER"),
        *sorted(users, key=lambda m: m[1].lower()),
    ]
    admin = org.as_("admin")
    everything = await members(admin, registry, first=100)
    assert summary(everything) == expected
    assert everything["totalCount"] == 8
    forward: list[tuple[str, str, str]] = []
    after = None
    while True:
        page = await members(admin, registry, first=3, after=after)
        assert page["totalCount"] == 8
        forward += summary(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert forward == expected
    backward: list[tuple[str, str, str]] = []
    before = None
    while True:
        page = await members(admin, registry, last=3, before=before)
        backward = summary(page) + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backward == expected


# --- organization members ----------------------------------------------------------------------

ORG_MEMBER = "user { name } organization { name }"


async def org_history(org: Org, *actions: str, who: str = "admin") -> list[dict[str, Any]]:
    data = await org.as_(who).data(
        """query($o: String!, $actions: [AuditAction!]) { organization(name: $o) {
          history(first: 100, actions: $actions) { totalCount nodes { action targetType targetId
            before after actor { name } } } } }""",
        {"o": org.name, "actions": list(actions) or None},
    )
    events: list[dict[str, Any]] = data["organization"]["history"]["nodes"]
    return events[::-1]


async def test_organization_members_added_changed_and_removed_with_audit(org: Org) -> None:
    admin = org.as_("admin")
    stranger = org.users["stranger"]
    added = await mutate(
        admin,
        "addOrganizationMember",
        {"organization": org.name, "userName": stranger.name, "role": "VIEWER"},
        ORG_MEMBER,
    )
    assert added == {
        "user": {"name": stranger.name},
        "organization": {"name": org.name},
        "errors": [],
    }
    assert await org.org_role(stranger) == "VIEWER"
    # At once, the new member sees the organization.
    seen = await org.as_("stranger").data(
        "query($o: String!) { organization(name: $o) { viewerRole } }", {"o": org.name}
    )
    assert seen == {"organization": {"viewerRole": "VIEWER"}}

    changed = await mutate(
        admin,
        "updateOrganizationMemberRole",
        {"organization": org.name, "userId": org.uid("stranger"), "role": "ADMIN"},
        ORG_MEMBER,
    )
    assert changed["errors"] == []
    assert await org.org_role(stranger) == "ADMIN"

    # Removing takes the member's team seats and registry roles in the organization with them.
    registry = await org.registry()
    async with org.pool.acquire() as conn:
        team = await organizations.insert_team(conn, org.org.id, "crew")
        assert team is not None
        await organizations.change_team_members(conn, team.id, [stranger.id], add=True)
        await registries.set_registry_user_role(conn, registry.id, stranger.id, "MEMBER")
    removed = await mutate(
        admin,
        "removeOrganizationMember",
        {"organization": org.name, "userId": org.uid("stranger")},
        "organization { name }",
    )
    assert removed == {"organization": {"name": org.name}, "errors": []}
    assert await org.org_role(stranger) is None
    assert (
        await org.scalar("SELECT count(*) FROM team_members WHERE user_id = $1", stranger.id) == 0
    )
    assert (
        await org.scalar("SELECT count(*) FROM registry_user_roles WHERE user_id = $1", stranger.id)
        == 0
    )
    listed = await admin.data(
        "query($o: String!) { organization(name: $o) { members(first: 100) { totalCount "
        "nodes { role user { name } } } } }",
        {"o": org.name},
    )
    names = [n["user"]["name"] for n in listed["organization"]["members"]["nodes"]]
    assert stranger.name not in names
    assert listed["organization"]["members"]["totalCount"] == len(names) == 5
    assert names == sorted(names, key=str.lower)

    events = await org_history(
        org,
        "ADD_ORGANIZATION_MEMBER",
        "UPDATE_ORGANIZATION_MEMBER_ROLE",
        "REMOVE_ORGANIZATION_MEMBER",
    )
    uid = org.uid("stranger")
    seen = [(e["action"], e["targetType"], e["targetId"], e["before"], e["after"]) for e in events]
    assert seen == [
        ("ADD_ORGANIZATION_MEMBER", "User", uid, None, {"user": stranger.name, "role": "VIEWER"}),
        ("UPDATE_ORGANIZATION_MEMBER_ROLE", "User", uid, {"role": "VIEWER"}, {"role": "ADMIN"}),
        ("REMOVE_ORGANIZATION_MEMBER", "User", uid, {"user": stranger.name, "role": "ADMIN"}, None),
    ]
    assert {e["actor"]["name"] for e in events} == {org.users["admin"].name}


async def test_organization_member_refusals(org: Org) -> None:
    admin, member = org.as_("admin"), org.as_("member")
    ben = org.users["ben"]
    cases: list[tuple[GraphQLClient, str, dict[str, Any], str]] = [
        (
            member,
            "addOrganizationMember",
            {"organization": org.name, "userName": org.users["stranger"].name, "role": "MEMBER"},
            "PERMISSION_DENIED",
        ),
        (
            member,
            "updateOrganizationMemberRole",
            {"organization": org.name, "userId": org.uid("ben"), "role": "ADMIN"},
            "PERMISSION_DENIED",
        ),
        (
            org.as_("viewer"),
            "removeOrganizationMember",
            {"organization": org.name, "userId": org.uid("ben")},
            "PERMISSION_DENIED",
        ),
        (
            admin,
            "addOrganizationMember",
            {"organization": org.name, "userName": ben.name, "role": "ADMIN"},
            "ALREADY_MEMBER",
        ),
        (
            admin,
            "addOrganizationMember",
            {"organization": org.name, "userName": unique("nobody"), "role": "MEMBER"},
            "NOT_FOUND",
        ),
        (
            admin,
            "addOrganizationMember",
            {
                "organization": "no-such-org",
                "userName": org.users["stranger"].name,
                "role": "MEMBER",
            },
            "NOT_FOUND",
        ),
        (
            admin,
            "updateOrganizationMemberRole",
            {"organization": org.name, "userId": missing("User"), "role": "ADMIN"},
            "NOT_FOUND",
        ),
        (
            admin,
            "updateOrganizationMemberRole",
            {"organization": org.name, "userId": org.uid("stranger"), "role": "ADMIN"},
            "NOT_FOUND",
        ),
        (
            admin,
            "removeOrganizationMember",
            {"organization": org.name, "userId": org.uid("stranger")},
            "NOT_FOUND",
        ),
        # The only admin can neither leave nor step down.
        (
            admin,
            "updateOrganizationMemberRole",
            {"organization": org.name, "userId": org.uid("admin"), "role": "MEMBER"},
            "LAST_ADMIN",
        ),
        (
            admin,
            "removeOrganizationMember",
            {"organization": org.name, "userId": org.uid("admin")},
            "LAST_ADMIN",
        ),
    ]
    history_before = await org_history(org)
    for caller, mutation, input, code in cases:
        payload = await mutate(caller, mutation, input)
        assert codes(payload) == [code], (mutation, input, payload)
        if code == "LAST_ADMIN":
            assert "admin" in payload["errors"][0]["message"].lower()
    assert await org.org_role(ben) == "MEMBER"
    assert await org.org_role(org.users["stranger"]) is None
    assert await org.admins() == 1
    assert await org_history(org) == history_before

    # With a second admin, the first may step down; the second is then the last.
    await mutate(
        admin,
        "updateOrganizationMemberRole",
        {"organization": org.name, "userId": org.uid("ben"), "role": "ADMIN"},
    )
    stepped = await mutate(
        admin,
        "updateOrganizationMemberRole",
        {"organization": org.name, "userId": org.uid("admin"), "role": "VIEWER"},
    )
    assert stepped["errors"] == []
    last = await mutate(
        org.as_("ben"),
        "removeOrganizationMember",
        {"organization": org.name, "userId": org.uid("ben")},
    )
    assert codes(last) == ["LAST_ADMIN"]
    assert await org.admins() == 1


@pytest.mark.parametrize("how", ["demote", "remove"])
async def test_two_admins_removing_each_other_at_once_leave_exactly_one(
    pool: asyncpg.Pool, client: httpx.AsyncClient, how: str
) -> None:
    for _ in range(8):
        org = await new_org(pool, client, second="ADMIN")

        async def act(who: str, target: str, org: Org = org) -> dict[str, Any]:
            if how == "demote":
                return await mutate(
                    org.as_(who),
                    "updateOrganizationMemberRole",
                    {"organization": org.name, "userId": org.uid(target), "role": "MEMBER"},
                )
            return await mutate(
                org.as_(who),
                "removeOrganizationMember",
                {"organization": org.name, "userId": org.uid(target)},
            )

        results = await asyncio.gather(act("admin", "second"), act("second", "admin"))
        outcomes = sorted(tuple(codes(r)) for r in results)
        # One wins; the other finds itself the last admin (or, if it authenticated after the
        # winner committed, no longer an admin at all).
        assert outcomes[0] == (), results
        assert outcomes[1] in (("LAST_ADMIN",), ("PERMISSION_DENIED",), ("NOT_FOUND",)), results
        assert await org.admins() == 1
        winner = "admin" if await org.org_role(org.users["admin"]) == "ADMIN" else "second"
        loser = "second" if winner == "admin" else "admin"
        assert await org.org_role(org.users[loser]) == (MEMBER if how == "demote" else None)
        events = await org_history(
            org, "UPDATE_ORGANIZATION_MEMBER_ROLE", "REMOVE_ORGANIZATION_MEMBER", who=winner
        )
        assert [(e["targetId"], e["actor"]["name"]) for e in events] == [
            (org.uid(loser), org.users[winner].name)
        ]


# --- teams -------------------------------------------------------------------------------------

TEAM_MEMBERS = """query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Team {
  name members(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
  nodes { name } } } } }"""


async def test_teams_created_filled_emptied_and_deleted_with_audit(org: Org) -> None:
    admin = org.as_("admin")
    created = await mutate(
        admin,
        "createTeam",
        {"organization": org.name, "name": "platform"},
        "team { id name }",
    )
    assert created["errors"] == []
    team_id = created["team"]["id"]
    assert created["team"]["name"] == "platform"
    filled = await mutate(
        admin,
        "addTeamMembers",
        {"teamId": team_id, "userIds": [org.uid("ben"), org.uid("amy"), org.uid("viewer")]},
        "team { id }",
    )
    assert filled == {"team": {"id": team_id}, "errors": []}
    names = sorted((org.users[w].name for w in ("ben", "amy", "viewer")), key=str.lower)
    listed = await admin.data(TEAM_MEMBERS, {"id": team_id, "first": 100})
    assert listed["node"]["members"]["totalCount"] == 3
    assert [n["name"] for n in listed["node"]["members"]["nodes"]] == names
    paged, after = [], None
    while True:
        page = await admin.data(TEAM_MEMBERS, {"id": team_id, "first": 2, "after": after})
        members_page = page["node"]["members"]
        paged += [n["name"] for n in members_page["nodes"]]
        if not members_page["pageInfo"]["hasNextPage"]:
            break
        after = members_page["pageInfo"]["endCursor"]
    assert paged == names
    # Teams are listed for the organization's members too.
    teams = await org.as_("viewer").data(
        "query($o: String!) { organization(name: $o) { teams { nodes { name } } } }",
        {"o": org.name},
    )
    assert teams["organization"]["teams"]["nodes"] == [{"name": "platform"}]

    emptied = await mutate(
        admin,
        "removeTeamMembers",
        {"teamId": team_id, "userIds": [org.uid("amy")]},
    )
    assert emptied["errors"] == []
    listed = await admin.data(TEAM_MEMBERS, {"id": team_id, "first": 100})
    assert [n["name"] for n in listed["node"]["members"]["nodes"]] == [
        n for n in names if n != org.users["amy"].name
    ]
    deleted = await admin.data(
        """mutation($input: DeleteTeamInput!) { deleteTeam(input: $input) {
          deletedTeamId errors { code } } }""",
        {"input": {"teamId": team_id}},
    )
    assert deleted["deleteTeam"] == {"deletedTeamId": team_id, "errors": []}
    assert (await admin.data("query($id: ID!) { node(id: $id) { id } }", {"id": team_id}))[
        "node"
    ] is None

    events = await org_history(
        org, "CREATE_TEAM", "ADD_TEAM_MEMBERS", "REMOVE_TEAM_MEMBERS", "DELETE_TEAM"
    )
    assert [(e["action"], e["targetType"], e["targetId"]) for e in events] == [
        ("CREATE_TEAM", "Team", team_id),
        ("ADD_TEAM_MEMBERS", "Team", team_id),
        ("REMOVE_TEAM_MEMBERS", "Team", team_id),
        ("DELETE_TEAM", "Team", team_id),
    ]
    assert events[0]["after"] == {"name": "platform"}
    assert events[3]["before"] == {"name": "platform"}
    assert {e["actor"]["name"] for e in events} == {org.users["admin"].name}


async def test_team_refusals(org: Org) -> None:
    admin, member = org.as_("admin"), org.as_("member")
    async with org.pool.acquire() as conn:
        team = await organizations.insert_team(conn, org.org.id, "taken")
    assert team is not None
    other = await new_org(org.pool, org.http)
    async with org.pool.acquire() as conn:
        foreign = await organizations.insert_team(conn, other.org.id, "theirs")
    assert foreign is not None
    tid = gid("Team", team.id)
    cases: list[tuple[GraphQLClient, str, dict[str, Any], str]] = [
        (
            member,
            "createTeam",
            {"organization": org.name, "name": "x"},
            "PERMISSION_DENIED",
        ),
        (
            member,
            "addTeamMembers",
            {"teamId": tid, "userIds": [org.uid("amy")]},
            "PERMISSION_DENIED",
        ),
        (
            member,
            "removeTeamMembers",
            {"teamId": tid, "userIds": [org.uid("amy")]},
            "PERMISSION_DENIED",
        ),
        (member, "deleteTeam", {"teamId": tid}, "PERMISSION_DENIED"),
        (
            admin,
            "createTeam",
            {"organization": org.name, "name": "TAKEN"},
            "NAME_TAKEN",
        ),
        (
            admin,
            "addTeamMembers",
            {"teamId": missing("Team"), "userIds": [org.uid("amy")]},
            "NOT_FOUND",
        ),
        (
            admin,
            "addTeamMembers",
            {"teamId": gid("Team", foreign.id), "userIds": [org.uid("amy")]},
            "NOT_FOUND",
        ),
        (
            admin,
            "addTeamMembers",
            {"teamId": tid, "userIds": [org.uid("stranger")]},
            "NOT_FOUND",
        ),
        (
            admin,
            "addTeamMembers",
            {"teamId": tid, "userIds": [missing("User")]},
            "NOT_FOUND",
        ),
        (admin, "deleteTeam", {"teamId": gid("Team", foreign.id)}, "NOT_FOUND"),
        (
            admin,
            "addTeamMembers",
            {"teamId": tid, "userIds": []},
            "INVALID_ARGUMENT",
        ),
    ]
    history_before = await org_history(org)
    for caller, mutation, input, code in cases:
        payload = await mutate(caller, mutation, input)
        assert codes(payload) == [code], (mutation, input, payload)
    assert await org.scalar("SELECT count(*) FROM team_members WHERE team_id = $1", team.id) == 0
    assert (
        await org.scalar("SELECT count(*) FROM teams WHERE organization_id = $1", org.org.id) == 1
    )
    assert await org_history(org) == history_before
    # Another organization's team reads exactly as a missing one.
    unknown = await mutate(admin, "deleteTeam", {"teamId": missing("Team")})
    theirs = await mutate(admin, "deleteTeam", {"teamId": gid("Team", foreign.id)})
    assert unknown == theirs


# --- service accounts and API keys -------------------------------------------------------------

API_KEY_FIELDS = [
    f["name"]
    for t in cairn_schema.introspect()["__schema"]["types"]
    if t["name"] == "ApiKey"
    for f in t["fields"]
]


async def test_service_accounts_are_made_by_org_admins(org: Org) -> None:
    admin = org.as_("admin")
    name = unique("ci-bot")
    made = await mutate(
        admin,
        "createServiceAccount",
        {"organization": org.name, "name": name, "displayName": "CI"},
        "user { id name displayName kind }",
    )
    assert made["errors"] == []
    assert {k: v for k, v in made["user"].items() if k != "id"} == {
        "name": name,
        "displayName": "CI",
        "kind": "SERVICE",
    }
    bot = await org.scalar("SELECT id FROM users WHERE name = $1", name)
    assert made["user"]["id"] == gid("User", bot)
    assert (
        await org.scalar(
            "SELECT role::text FROM organization_members "
            "WHERE organization_id = $1 AND user_id = $2",
            org.org.id,
            bot,
        )
        == "MEMBER"
    )
    events = await org_history(org, "CREATE_SERVICE_ACCOUNT")
    assert [(e["targetId"], e["after"], e["actor"]["name"]) for e in events] == [
        (gid("User", bot), {"name": name}, org.users["admin"].name)
    ]

    count = await org.scalar("SELECT count(*) FROM users")
    for caller, input, code in [
        (org.as_("member"), {"organization": org.name, "name": unique("x")}, "PERMISSION_DENIED"),
        (org.as_("viewer"), {"organization": org.name, "name": unique("x")}, "PERMISSION_DENIED"),
        (org.as_("stranger"), {"organization": org.name, "name": unique("x")}, "NOT_FOUND"),
        (admin, {"organization": org.name, "name": name.upper()}, "NAME_TAKEN"),
        (admin, {"organization": org.name, "name": "bad name"}, "INVALID_NAME"),
        (admin, {"organization": org.name, "name": "bot\n"}, "INVALID_NAME"),
        (admin, {"organization": org.name, "name": "-bot"}, "INVALID_NAME"),
        (admin, {"organization": org.name, "name": "b" * 65}, "INVALID_NAME"),
    ]:
        payload = await mutate(caller, "createServiceAccount", input)
        assert codes(payload) == [code], (input, payload)
        if code == "INVALID_NAME":
            assert repr(input["name"])[:40] in payload["errors"][0]["message"], payload
            assert payload["errors"][0]["field"] == ["input", "name"]
    assert await org.scalar("SELECT count(*) FROM users") == count


async def test_api_keys_secret_once_list_without_it_and_revoke_at_once(org: Org) -> None:
    amy = org.as_("amy")
    made = await mutate(
        amy,
        "createApiKey",
        {"name": "laptop"},
        "secret apiKey { id name createdAt lastUsedAt revokedAt }",
    )
    assert made["errors"] == []
    secret = made["secret"]
    assert KEY.match(secret)
    assert made["apiKey"]["name"] == "laptop"
    assert made["apiKey"]["lastUsedAt"] is None
    assert made["apiKey"]["revokedAt"] is None
    key_id = made["apiKey"]["id"]

    # It works at once, as amy.
    fresh = GraphQLClient(org.http, secret)
    assert (await fresh.data("{ viewer { name } }"))["viewer"]["name"] == org.users["amy"].name

    # The list shows every field of every key, and never the secret (nor its hash).
    assert not [f for f in API_KEY_FIELDS if re.search("secret|hash|token", f, re.I)]
    query = "{ viewer { apiKeys { " + " ".join(API_KEY_FIELDS) + " } } }"
    listed = (await fresh.post(query)).json()
    keys = listed["data"]["viewer"]["apiKeys"]
    assert [k["name"] for k in keys] == ["laptop", "test"]  # newest first
    assert keys[0]["id"] == key_id
    assert keys[0]["lastUsedAt"] is not None  # it was just used
    text = str(listed)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    for fragment in (secret, secret[len("cairn_") :], secret[-16:], digest):
        assert fragment not in text

    revoked = await mutate(fresh, "revokeApiKey", {"keyId": key_id}, "apiKey { id revokedAt }")
    assert revoked["errors"] == []
    assert revoked["apiKey"]["revokedAt"] is not None
    response = await fresh.post("{ viewer { name } }")
    assert response.status_code == 401
    # Amy's other key still works and lists the revoked one, revoked.
    keys = (await amy.data("{ viewer { apiKeys { id revokedAt } } }"))["viewer"]["apiKeys"]
    assert {k["id"]: k["revokedAt"] is not None for k in keys}[key_id] is True

    events = await org_history(org, "CREATE_API_KEY", "REVOKE_API_KEY")
    mine = [e for e in events if e["after"] == {"user": org.users["amy"].name, "key": "laptop"}]
    assert [(e["action"], e["targetId"], e["actor"]["name"]) for e in mine] == [
        ("CREATE_API_KEY", org.uid("amy"), org.users["amy"].name),
        ("REVOKE_API_KEY", org.uid("amy"), org.users["amy"].name),
    ]


async def test_keys_for_service_accounts(org: Org) -> None:
    bot = await org.add_user("bot", "MEMBER", kind="SERVICE")
    other = await new_org(org.pool, org.http)
    foreign_bot = await other.add_user("foreign-bot", "MEMBER", kind="SERVICE")
    admin = org.as_("admin")

    made = await mutate(
        admin,
        "createApiKey",
        {"name": "ci", "userId": org.uid("bot")},
        "secret apiKey { id name }",
    )
    assert made["errors"] == []
    as_bot = GraphQLClient(org.http, made["secret"])
    me = await as_bot.data("{ viewer { name user { kind } } }")
    assert me == {"viewer": {"name": bot.name, "user": {"kind": "SERVICE"}}}
    # The admin's own key list does not hold the bot's key.
    admin_keys = (await admin.data("{ viewer { apiKeys { id } } }"))["viewer"]["apiKeys"]
    assert made["apiKey"]["id"] not in {k["id"] for k in admin_keys}

    before = await org.scalar("SELECT count(*) FROM api_keys")
    refusals = [
        (org.as_("member"), org.uid("bot"), "PERMISSION_DENIED"),
        (org.as_("viewer"), org.uid("bot"), "PERMISSION_DENIED"),
        (as_bot, org.uid("admin"), "NOT_FOUND"),  # a person, not a service account
        (admin, org.uid("amy"), "NOT_FOUND"),
        (admin, gid("User", foreign_bot.id), "NOT_FOUND"),  # not in an org it administers
        (admin, missing("User"), "NOT_FOUND"),
    ]
    for caller, user_id, code in refusals:
        payload = await mutate(caller, "createApiKey", {"name": "sneaky", "userId": user_id})
        assert codes(payload) == [code], (user_id, payload)
    assert await org.scalar("SELECT count(*) FROM api_keys") == before
    unknown = await mutate(admin, "createApiKey", {"name": "x", "userId": missing("User")})
    foreign = await mutate(
        admin,
        "createApiKey",
        {"name": "x", "userId": gid("User", foreign_bot.id)},
    )
    assert unknown == foreign

    # Someone else's key cannot be revoked: it reads as a missing key, and keeps working.
    key_id = made["apiKey"]["id"]
    for caller in (org.as_("member"), org.as_("amy"), other.as_("admin")):
        payload = await mutate(caller, "revokeApiKey", {"keyId": key_id})
        absent = await mutate(caller, "revokeApiKey", {"keyId": missing("ApiKey")})
        assert codes(payload) == ["NOT_FOUND"]
        assert payload == absent
    amy_key = (await org.as_("amy").data("{ viewer { apiKeys { id } } }"))["viewer"]["apiKeys"]
    payload = await mutate(admin, "revokeApiKey", {"keyId": amy_key[0]["id"]})
    assert codes(payload) == ["NOT_FOUND"]
    assert (await as_bot.data("{ viewer { name } }"))["viewer"]["name"] == bot.name
    assert (await org.as_("amy").data("{ viewer { name } }"))["viewer"]["name"]

    # The org admin may revoke the service account's key: it stops at once.
    revoked = await mutate(admin, "revokeApiKey", {"keyId": key_id})
    assert revoked["errors"] == []
    assert (await as_bot.post("{ viewer { name } }")).status_code == 401
    events = await org_history(org, "CREATE_API_KEY", "REVOKE_API_KEY")
    bots = [
        (e["action"], e["actor"] and e["actor"]["name"])
        for e in events
        if e["targetId"] == org.uid("bot")
    ]
    assert ("CREATE_API_KEY", org.users["admin"].name) in bots
    assert bots[-1] == ("REVOKE_API_KEY", org.users["admin"].name)


async def test_organization_history_is_for_admins_only(org: Org) -> None:
    query = """query($o: String!) { organization(name: $o) { name
      history { totalCount nodes { action } } } }"""
    for who in ("member", "viewer", "amy"):
        body = (await org.as_(who).post(query, {"o": org.name})).json()
        assert body["data"] == {"organization": {"name": org.name, "history": None}}, who
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "PERMISSION_DENIED"
        assert error["path"] == ["organization", "history"]
    seen = await org.as_("admin").data(query, {"o": org.name})
    assert seen["organization"]["history"]["totalCount"] >= 1
    assert (await org.as_("stranger").data(query, {"o": org.name}))["organization"] is None


# --- the command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def cli_database(server_url: str) -> AsyncIterator[str]:
    """A database of the module's own, migrated and holding the demo organization `acme`."""
    async with new_database(server_url, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def cli_env(cli_database: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return cairn_env(tmp_path_factory.mktemp("xdg"), DATABASE_URL=cli_database)


async def test_cli_service_account_key_create_and_revoke(
    cli_env: dict[str, str], cli_database: str
) -> None:
    made = cairn("users", "create", "bot", "--service", "--org", "acme", env=cli_env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "created service account bot in acme as MEMBER"

    created = cairn("keys", "create", "--user", "bot", env=cli_env)
    assert created.returncode == 0, created.stderr
    assert KEY.match(created.stdout.strip())
    assert created.stdout == created.stdout.strip() + "\n", "prints the key and nothing else"
    key = created.stdout.strip()

    pool = await create_pool(cli_database, max_size=2)
    try:
        async with app_client(pool) as http:
            bot = GraphQLClient(http, key)
            me = await bot.data(
                '{ viewer { name user { kind } } organization(name: "acme") { viewerRole } }'
            )
            assert me == {
                "viewer": {"name": "bot", "user": {"kind": "SERVICE"}},
                "organization": {"viewerRole": "MEMBER"},
            }
            keys = (await bot.data("{ viewer { apiKeys { name } } }"))["viewer"]["apiKeys"]
            assert keys == [{"name": "cli"}]

            revoked = cairn("keys", "revoke", "--user", "bot", "--name", "cli", env=cli_env)
            assert revoked.returncode == 0, revoked.stderr
            assert revoked.stdout.strip() == "revoked 1 key(s)"
            response = await bot.post("{ viewer { name } }")
            assert response.status_code == 401, response.text

            # The operator's key events are in acme's history, made by no one.
            ada = GraphQLClient(http, await _key_for(pool, "ada"))
            history = await ada.data(
                """{ organization(name: "acme") { history(actions: [CREATE_API_KEY,
                  REVOKE_API_KEY]) { nodes { action after actor { name } } } } }"""
            )
            bot_events = [
                (e["action"], e["actor"])
                for e in history["organization"]["history"]["nodes"]
                if e["after"].get("user") == "bot"
            ]
            assert bot_events == [("REVOKE_API_KEY", None), ("CREATE_API_KEY", None)]
    finally:
        await pool.close()

    again = cairn("keys", "revoke", "--user", "bot", "--name", "cli", env=cli_env)
    assert again.returncode == 1
    assert again.stdout.strip() == "revoked 0 key(s)"
    unknown = cairn("keys", "revoke", "--key", "cairn_" + "A" * 43, env=cli_env)
    assert unknown.returncode == 1
    assert unknown.stdout.strip() == "revoked 0 key(s)"
    assert "Traceback" not in unknown.stderr
    neither = cairn("keys", "revoke", "--user", "bot", env=cli_env)
    assert neither.returncode != 0
    assert "--key" in neither.stderr


async def _key_for(pool: asyncpg.Pool, user: str) -> str:
    async with pool.acquire() as conn, conn.transaction():
        return await create_api_key_txn(conn, user, key_name="test")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name"], "user name 'bad name'"),
        (["bot\n"], "user name 'bot\\n'"),
        (["-x", "--service"], None),  # argparse reads it as an option: a usage error
        (["_bot"], "user name '_bot'"),
        (["b" * 65], "at most 64"),
        (["ada"], "'ada' already exists"),
        (["ADA"], "'ADA' already exists"),
        (["newbie", "--org", "nope"], "organization 'nope' not found"),
        (["newbie", "--org", "acme", "--role", "OWNER"], "invalid choice"),
    ],
)
async def test_cli_refuses_bad_users_clearly(
    cli_env: dict[str, str], cli_database: str, args: list[str], message: str | None
) -> None:
    async def users() -> list[str]:
        conn = await asyncpg.connect(cli_database)
        try:
            return [r["name"] for r in await conn.fetch("SELECT name FROM users ORDER BY id")]
        finally:
            await conn.close()

    before = await users()
    assert {"ada", "bob", "cy"} <= set(before)
    result = cairn("users", "create", *args, env=cli_env)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if message is not None:
        assert message in result.stderr, result.stderr
    assert await users() == before
