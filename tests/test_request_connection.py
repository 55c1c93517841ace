"""A request's reads share one pooled connection, taken at its first statement and given back
at its end; a write gives it back before taking a connection for its transaction, so that a
request never holds two; and connections go back to the pool without a reset round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from db.pool import RequestConnection, create_pool
from server.app import create_app
from server.settings import Settings
from tests.support.app import asgi_client
from tests.support.graphql import GraphQLClient
from tests.support.statements import StatementCounter

NESTED = """{ registry(organization: "acme", name: "model") { collections(first: 5) {
  nodes { name versions(first: 3) { nodes { version aliases tags } } } } } }"""
REMOVE = """mutation($input: AliasesInput!) {
  removeAliases(input: $input) { errors { message } } }"""
RESET_QUERY_PARTS = ("RESET ALL", "UNLISTEN", "pg_advisory_unlock_all")


@dataclass
class SmallPool:
    """A pool of two connections over the demo data, its statements recorded."""

    pool: asyncpg.Pool
    counter: StatementCounter
    checkouts: int = 0


@pytest.fixture
async def small(
    database_url: str, demo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SmallPool]:
    counter = StatementCounter()
    pool = await create_pool(database_url, min_size=1, max_size=2, on_statement=counter)
    small = SmallPool(pool, counter)
    lend = asyncpg.pool.Pool.acquire

    def counted(self: asyncpg.Pool, *args: Any, **kwargs: Any) -> Any:
        if self is pool:
            small.checkouts += 1
        return lend(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.pool.Pool, "acquire", counted)
    yield small
    await pool.close()


async def test_statements_on_a_request_connection_share_one_backend(small: SmallPool) -> None:
    reads = RequestConnection(small.pool)
    pids = await asyncio.gather(*(reads.fetchval("SELECT pg_backend_pid()") for _ in range(5)))
    assert len(set(pids)) == 1, pids
    assert small.checkouts == 1
    await reads.release()
    await reads.release()  # a second release is a no-op
    assert small.checkouts == 1


async def test_a_request_reads_on_one_connection(small: SmallPool, demo: dict[str, str]) -> None:
    async with asgi_client(create_app(Settings(), pool=small.pool)) as http:
        ada = GraphQLClient(http, demo["ada"])
        await ada.data(NESTED)  # connections opened, types introspected, the key's use recorded
        small.counter.reset()
        small.checkouts = 0
        data = await ada.data(NESTED)
    assert data["registry"]["collections"]["nodes"], data
    # Authentication, the registry, its role, the collections' page, their versions' page,
    # aliases and tags: one statement after another, on one connection.
    assert small.counter.count >= 5, small.counter.dump()
    assert small.checkouts == 1


async def test_a_connection_goes_back_to_the_pool_without_a_reset_round_trip(
    small: SmallPool, demo: dict[str, str]
) -> None:
    async with asgi_client(create_app(Settings(), pool=small.pool)) as http:
        small.counter.reset()
        await GraphQLClient(http, demo["bob"]).data(NESTED)
    assert small.counter.count > 0
    sent = [s for s in small.counter.statements if any(p in s for p in RESET_QUERY_PARTS)]
    assert sent == [], sent


async def test_writes_after_reads_never_wait_for_a_second_connection(
    small: SmallPool, demo: dict[str, str]
) -> None:
    """Eight requests at once on a pool of two: each reads (the version by its path), then
    writes (an alias) and reads the result. Holding the reading connection while waiting for
    the transaction's would leave two requests each holding one and waiting forever."""
    mutation = """mutation($input: AliasesInput!) { addAliases(input: $input) {
      artifactVersion { version aliases } errors { message } } }"""
    async with asgi_client(create_app(Settings(), pool=small.pool)) as http:
        ada = GraphQLClient(http, demo["ada"])

        async def tag(i: int) -> Any:
            path = f"acme/wandb-registry-model/churn-classifier:v{i % 3}"
            return await ada.data(mutation, {"input": {"path": path, "aliases": [f"one-conn-{i}"]}})

        try:
            answers = await asyncio.wait_for(asyncio.gather(*(tag(i) for i in range(8))), 60)
        finally:
            for i in range(8):
                path = f"acme/wandb-registry-model/churn-classifier:one-conn-{i}"
                await ada.post(REMOVE, {"input": {"path": path, "aliases": [f"one-conn-{i}"]}})
    for i, answer in enumerate(answers):
        payload = answer["addAliases"]
        assert payload["errors"] == [], payload
        assert f"one-conn-{i}" in payload["artifactVersion"]["aliases"]
