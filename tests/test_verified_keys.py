"""Verified keys: a process keeps the keys it has checked, so that a request does not pay a
statement to authenticate, and forgets them as soon as the database announces a change to the
key, its user or their memberships, whichever process made it; it trusts none while it cannot
hear those announcements."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from db.accounts import SELECT_PRINCIPAL_BY_KEY_HASH, KeyHolder
from db.records import Organization, User
from resolvers.accounts import VerifiedKeys, create_api_key_txn, create_user_txn, revoke_keys_txn
from resolvers.live import EventHub
from resolvers.organizations import add_member_txn, create_organization_txn
from server.app import create_app
from server.settings import Settings
from tests.support.app import asgi_client
from tests.support.databases import new_database
from tests.support.processes import Server, cairn, demo_env, killed_at_exit
from tests.support.statements import StatementCounter

ORG_QUERY = """query($org: String!) { viewer { name }
  organization(name: $org) { name registries(first: 5) { totalCount } } }"""
# Announcements travel through the database to every listener within milliseconds; a test waits
# for one at most this long.
HEARD_WITHIN = 5.0


MADE = datetime(2026, 1, 1, tzinfo=UTC)


def holder(user_id: int) -> KeyHolder:
    user = User(id=user_id, name=f"u{user_id}", display_name="", kind="HUMAN", created_at=MADE)
    return KeyHolder(key_id=user_id, user=user, organization_roles={})


# The cache itself


def test_nothing_is_kept_or_answered_until_notices_are_heard() -> None:
    verified = VerifiedKeys()
    verified.keep(b"k", holder(1), verified.generation)
    assert verified.get(b"k") is None
    assert len(verified) == 0
    verified.trust(True)
    verified.keep(b"k", holder(1), verified.generation)
    assert verified.get(b"k") == holder(1)
    verified.trust(False)
    assert verified.get(b"k") is None
    assert len(verified) == 0


def test_a_key_read_before_a_notice_is_not_kept_after_it() -> None:
    verified = VerifiedKeys()
    verified.trust(True)
    read_at = verified.generation
    verified.forget_user("2")  # someone's membership changed while the key was being read
    verified.keep(b"k", holder(1), read_at)
    assert verified.get(b"k") is None


def test_a_notice_forgets_only_its_users_keys() -> None:
    verified = VerifiedKeys()
    verified.trust(True)
    for user_id in (1, 1, 2):
        verified.keep(f"{user_id}-{len(verified)}".encode(), holder(user_id), verified.generation)
    verified.forget_user("1")
    assert [verified.get(k) for k in (b"1-0", b"1-1", b"2-2")] == [None, None, holder(2)]
    verified.forget_user("not a user id")
    assert len(verified) == 0


def test_the_least_recently_used_key_goes_first_and_entries_lapse() -> None:
    verified = VerifiedKeys(max_keys=2)
    verified.trust(True)
    verified.keep(b"a", holder(1), verified.generation)
    verified.keep(b"b", holder(2), verified.generation)
    assert verified.get(b"a") is not None  # now b is the least recently used
    verified.keep(b"c", holder(3), verified.generation)
    assert (verified.get(b"a"), verified.get(b"b"), len(verified)) == (holder(1), None, 2)
    lapsing = VerifiedKeys(seconds=0)
    lapsing.trust(True)
    lapsing.keep(b"a", holder(1), lapsing.generation)
    assert lapsing.get(b"a") is None


# A server with its live-event hub listening


@dataclass
class Caller:
    org: Organization
    user: User
    key: str


@pytest.fixture
async def caller(pool: asyncpg.Pool) -> Caller:
    tag = uuid.uuid4().hex[:8]
    async with pool.acquire() as conn, conn.transaction():
        org = await create_organization_txn(conn, f"vk-{tag}", "Verified keys")
        user = await create_user_txn(conn, f"vk-{tag}")
        await add_member_txn(conn, org, user, "MEMBER")
        key = await create_api_key_txn(conn, user.name)
    return Caller(org, user, key)


@pytest.fixture
async def listening(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running: the hub listens, so verified keys are trusted."""
    app: Starlette = create_app(Settings(run_worker=False), pool=pool)
    async with app.router.lifespan_context(app), asgi_client(app) as http:
        yield http


async def ask(http: httpx.AsyncClient, caller: Caller) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": ORG_QUERY, "variables": {"org": caller.org.name}},
        headers={"Authorization": f"Bearer {caller.key}"},
    )


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until `check` holds, failing after HEARD_WITHIN."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > HEARD_WITHIN:
            pytest.fail(f"not within {HEARD_WITHIN} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_verified_key_costs_no_statement(
    caller: Caller, listening: httpx.AsyncClient, statement_counter: StatementCounter
) -> None:
    # The caller was made before the hub listened: no notice about them is still on its way.
    statement_counter.reset()
    assert (await ask(listening, caller)).status_code == 200
    assert SELECT_PRINCIPAL_BY_KEY_HASH in statement_counter.statements
    statement_counter.reset()
    answered = await ask(listening, caller)
    assert answered.json()["data"]["viewer"]["name"] == caller.user.name
    assert SELECT_PRINCIPAL_BY_KEY_HASH not in statement_counter.statements
    assert statement_counter.count > 0  # the organization and its registries were still read


async def test_a_key_revoked_elsewhere_is_refused_at_once(
    listening: httpx.AsyncClient, caller: Caller, pool: asyncpg.Pool
) -> None:
    assert (await ask(listening, caller)).status_code == 200
    assert (await ask(listening, caller)).status_code == 200  # answered from the cache
    async with pool.acquire() as conn:  # as `cairn keys revoke` would, from outside the server
        assert await revoke_keys_txn(conn, key=caller.key) == 1

    async def refused() -> bool:
        return (await ask(listening, caller)).status_code == 401

    await until(refused, "the revoked key refused")


async def test_a_member_removed_elsewhere_loses_the_organization_at_once(
    listening: httpx.AsyncClient, caller: Caller, pool: asyncpg.Pool
) -> None:
    assert (await ask(listening, caller)).json()["data"]["organization"] is not None
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM organization_members WHERE user_id = $1 AND organization_id = $2",
            caller.user.id,
            caller.org.id,
        )

    async def gone() -> bool:
        return (await ask(listening, caller)).json()["data"]["organization"] is None

    await until(gone, "the organization hidden from its former member")


async def test_keys_are_not_trusted_while_the_listener_is_lost(pool: asyncpg.Pool) -> None:
    verified = VerifiedKeys()
    hub = EventHub(pool, verified)
    await hub.start()
    try:
        assert verified.trusted
        verified.keep(b"k", holder(1), verified.generation)
        listener = hub._connection
        assert listener is not None
        pid = await listener.fetchval("SELECT pg_backend_pid()")
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)

        async def listening_again() -> bool:
            return hub.listening and hub._connection is not listener

        await until(listening_again, "the hub listening again on a new connection")
        # What was kept before the loss may have missed notices: forgotten.
        assert verified.trusted
        assert verified.get(b"k") is None
    finally:
        await hub.stop()
    assert not verified.trusted


async def test_a_key_revoked_through_one_server_is_refused_by_another(
    tmp_path: Path, server_url: str
) -> None:
    """Two `cairn serve` processes on one database: a key both have verified, revoked with the
    CLI, is refused by both."""
    async with new_database(server_url) as url:
        env, key = demo_env(url, tmp_path, "bob")
        with killed_at_exit() as started:
            servers = [Server(["--no-worker"], env, tmp_path) for _ in range(2)]
            started.extend(servers)
            for server in servers:
                server.wait_healthy()
                for _ in range(2):
                    assert server.graphql(key)["viewer"]["name"] == "bob"
            assert cairn("keys", "revoke", "--key", key, env=env).returncode == 0
            for server in servers:

                async def refused(server: Server = server) -> bool:
                    async with httpx.AsyncClient(timeout=10) as http:
                        response = await http.post(
                            f"{server.base_url}/graphql",
                            json={"query": "{ viewer { name } }"},
                            headers={"Authorization": f"Bearer {key}"},
                        )
                    return response.status_code == 401

                await until(refused, f"the revoked key refused by {server.base_url}")
