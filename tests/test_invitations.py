"""Joining an organization takes consent: an admin of one organization cannot add a person from
another (nor learn whether a name exists); they invite the name, and the person joins by
accepting. An organization's history shows only what happened while the person belonged to it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from resolvers.accounts import create_user_txn
from tests.support.databases import database_state
from tests.support.graphql import GraphQLClient, codes, mutate
from tests.support.workflow import Org, new_org

INVITATION = "invitation { id userName role organizationName invitedBy { name } }"
MEMBER = "organization { name viewerRole } user { name }"
INVITATIONS = """{ viewer { invitations { totalCount nodes { id userName role organizationName
  invitedBy { name } } } } }"""
HISTORY = """query H($o: String!) { organization(name: $o) {
  history(first: 50) { nodes { action after actor { name } } } } }"""


@pytest.fixture
async def home(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    """Where the invited person (the member) belongs."""
    return await new_org(pool, client, prefix="home")


@pytest.fixture
async def other(pool: asyncpg.Pool, client: httpx.AsyncClient) -> Org:
    """The organization that wants them."""
    return await new_org(pool, client, prefix="away")


def as_(org: Org, role: str) -> GraphQLClient:
    return {"admin": org.admin, "member": org.member, "viewer": org.viewer}[role].client


async def invite(admin: GraphQLClient, org: str, name: str, role: str = "MEMBER") -> Any:
    return await mutate(
        admin,
        "inviteOrganizationMember",
        {"organization": org, "userName": name, "role": role},
        INVITATION,
    )


async def history_of(admin: GraphQLClient, org: str) -> list[dict[str, Any]]:
    data = await admin.data(HISTORY, {"o": org})
    events: list[dict[str, Any]] = data["organization"]["history"]["nodes"]
    return events


async def test_an_admin_cannot_add_someone_from_another_organization(
    home: Org, other: Org, pool: asyncpg.Pool
) -> None:
    """The answer is the same for a person of another organization and for a name nobody has,
    and nothing changes."""
    admin = as_(other, "admin")
    before = await database_state(pool)
    answers = []
    for name in (home.member.name, f"nobody-{uuid.uuid4().hex[:8]}"):
        payload = await mutate(
            admin,
            "addOrganizationMember",
            {"organization": other.name, "userName": name, "role": "VIEWER"},
        )
        (error,) = payload["errors"]
        answers.append((error["code"], error["message"].replace(name, "<name>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == "NOT_FOUND"
    assert "inviteOrganizationMember" in answers[0][1]
    assert await database_state(pool) == before


async def test_an_invited_person_joins_by_accepting(home: Org, other: Org) -> None:
    admin, person = as_(other, "admin"), as_(home, "member")
    sent = await invite(admin, other.name, home.member.name, "VIEWER")
    assert codes(sent) == []
    invitation = sent["invitation"]
    assert (invitation["userName"], invitation["role"]) == (home.member.name, "VIEWER")
    # Not a member yet: the organization does not exist for them.
    assert (
        await person.data(
            "query($o: String!) { organization(name: $o) { name } }", {"o": other.name}
        )
    )["organization"] is None
    pending = (await person.data(INVITATIONS))["viewer"]["invitations"]
    assert pending["totalCount"] == 1
    (seen,) = pending["nodes"]
    assert seen == {
        "id": invitation["id"],
        "userName": home.member.name,
        "role": "VIEWER",
        "organizationName": other.name,
        "invitedBy": {"name": other.admin.name},
    }
    joined = await mutate(person, "acceptInvitation", {"invitationId": seen["id"]}, MEMBER)
    assert codes(joined) == []
    assert joined["organization"] == {"name": other.name, "viewerRole": "VIEWER"}
    assert (await person.data(INVITATIONS))["viewer"]["invitations"]["totalCount"] == 0
    # Used once: a second accept finds nothing.
    again = await mutate(person, "acceptInvitation", {"invitationId": seen["id"]})
    assert codes(again) == ["NOT_FOUND"]
    newest = (await history_of(admin, other.name))[:2]
    assert [(e["action"], e["actor"]["name"]) for e in newest] == [
        ("ADD_ORGANIZATION_MEMBER", home.member.name),
        ("INVITE_ORGANIZATION_MEMBER", other.admin.name),
    ]


async def test_only_the_person_named_may_accept(home: Org, other: Org) -> None:
    sent = await invite(as_(other, "admin"), other.name, home.member.name)
    invitation_id = sent["invitation"]["id"]
    for somebody in (as_(home, "admin"), as_(home, "viewer"), as_(other, "member")):
        refused = await mutate(somebody, "acceptInvitation", {"invitationId": invitation_id})
        assert codes(refused) == ["NOT_FOUND"]
        assert (await somebody.data(INVITATIONS))["viewer"]["invitations"]["totalCount"] == 0
    # The organization's admins see it pending; its members do not see invitations at all.
    listing = """query($o: String!) { organization(name: $o) {
      invitations { nodes { userName } } } }"""
    shown = await as_(other, "admin").data(listing, {"o": other.name})
    assert shown["organization"]["invitations"]["nodes"] == [{"userName": home.member.name}]
    hidden = await as_(other, "member").post(listing, {"o": other.name})
    assert hidden.json()["data"]["organization"]["invitations"] is None


async def test_inviting_a_name_nobody_has_looks_the_same(other: Org) -> None:
    admin = as_(other, "admin")
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    sent = await invite(admin, other.name, nobody)
    assert codes(sent) == []
    assert sent["invitation"]["userName"] == nobody
    # If the name is taken later, its owner finds the invitation waiting.


async def test_an_invitation_waits_for_an_account_made_later(
    other: Org, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    name = f"later-{uuid.uuid4().hex[:8]}"
    await invite(as_(other, "admin"), other.name, name.upper())
    async with pool.acquire() as conn:
        await create_user_txn(conn, name, "Later")
        from resolvers.accounts import create_api_key_txn

        key = await create_api_key_txn(conn, name, key_name="t")
    person = GraphQLClient(client, key)
    (pending,) = (await person.data(INVITATIONS))["viewer"]["invitations"]["nodes"]
    joined = await mutate(person, "acceptInvitation", {"invitationId": pending["id"]}, MEMBER)
    assert joined["organization"]["viewerRole"] == "MEMBER"


async def test_declined_withdrawn_and_expired_invitations_cannot_be_accepted(
    home: Org, other: Org, pool: asyncpg.Pool
) -> None:
    admin, person = as_(other, "admin"), as_(home, "member")
    declined = (await invite(admin, other.name, home.member.name))["invitation"]["id"]
    assert codes(await mutate(person, "declineInvitation", {"invitationId": declined})) == []
    assert codes(await mutate(person, "acceptInvitation", {"invitationId": declined})) == [
        "NOT_FOUND"
    ]
    withdrawn = (await invite(admin, other.name, home.member.name))["invitation"]["id"]
    assert codes(await mutate(admin, "declineInvitation", {"invitationId": withdrawn})) == []
    assert codes(await mutate(person, "acceptInvitation", {"invitationId": withdrawn})) == [
        "NOT_FOUND"
    ]
    expired = (await invite(admin, other.name, home.member.name))["invitation"]["id"]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE organization_invitations SET created_at = created_at - interval '30 days', "
            "expires_at = clock_timestamp() - interval '1 second' WHERE organization_id = $1",
            other.id,
        )
    assert codes(await mutate(person, "acceptInvitation", {"invitationId": expired})) == [
        "NOT_FOUND"
    ]
    assert (await person.data(INVITATIONS))["viewer"]["invitations"]["totalCount"] == 0
    actions = [e["action"] for e in await history_of(admin, other.name)]
    assert actions.count("DECLINE_INVITATION") == 2
    assert "ADD_ORGANIZATION_MEMBER" not in actions


async def test_members_and_existing_members_cannot_be_invited(home: Org, other: Org) -> None:
    refused = await invite(as_(other, "member"), other.name, home.member.name)
    assert codes(refused) == ["PERMISSION_DENIED"]
    already = await invite(as_(other, "admin"), other.name, other.viewer.name)
    assert codes(already) == ["ALREADY_MEMBER"]


async def test_an_admin_of_both_adds_directly(
    home: Org, other: Org, pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    """Someone who already administers the person (an ADMIN of an organization the person is
    in) adds them without an invitation."""
    async with pool.acquire() as conn:
        admin_id = await conn.fetchval("SELECT id FROM users WHERE name = $1", other.admin.name)
        await conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) "
            "VALUES ($1, $2, 'ADMIN')",
            home.id,
            admin_id,
        )
    added = await mutate(
        as_(other, "admin"),
        "addOrganizationMember",
        {"organization": other.name, "userName": home.member.name, "role": "VIEWER"},
        MEMBER,
    )
    assert codes(added) == []


async def test_history_shows_a_persons_key_events_only_from_when_they_joined(
    home: Org, other: Org
) -> None:
    person = as_(home, "member")
    create_key = """mutation M($input: CreateApiKeyInput!) {
      createApiKey(input: $input) { errors { code } } }"""
    assert (await person.data(create_key, {"input": {"name": "before-joining"}}))["createApiKey"][
        "errors"
    ] == []
    sent = await invite(as_(other, "admin"), other.name, home.member.name)
    await mutate(person, "acceptInvitation", {"invitationId": sent["invitation"]["id"]})
    assert (await person.data(create_key, {"input": {"name": "after-joining"}}))["createApiKey"][
        "errors"
    ] == []
    keys = [
        e["after"]["key"]
        for e in await history_of(as_(other, "admin"), other.name)
        if e["action"] == "CREATE_API_KEY" and e["after"]["user"] == home.member.name
    ]
    assert keys == ["after-joining"]
