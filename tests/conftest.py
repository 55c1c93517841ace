"""Test fixtures: a real PostgreSQL (CAIRN_TEST_DATABASE_URL, else an embedded one), a fresh
database per session, the app over in-process HTTP, and a statement counter."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from db.migrate import migrate
from db.pool import create_pool
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from server.app import create_app
from server.demo import seed_demo
from server.settings import Settings


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server URL (any database on it)."""
    url = os.environ.get("CAIRN_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from server.database import start_embedded

    with tempfile.TemporaryDirectory(prefix="cairn-test-pg-") as data_dir:
        yield start_embedded(Path(data_dir))


async def create_database(server: str) -> str:
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(server, name)


async def drop_database(server: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A migrated database of its own for the session, dropped afterwards."""
    url = await create_database(server_url)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield url
    await drop_database(server_url, url)


@dataclass
class StatementCounter:
    statements: list[str] = field(default_factory=list)

    def __call__(self, query: str) -> None:
        self.statements.append(query)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture(scope="session")
def statement_counter() -> StatementCounter:
    return StatementCounter()


@pytest.fixture(scope="session")
async def pool(
    database_url: str, statement_counter: StatementCounter
) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10, on_statement=statement_counter)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def demo(pool: asyncpg.Pool) -> dict[str, str]:
    """The demo organization `acme`, with an API key per user: ada (admin), bob (member),
    cy (viewer), and dora, who belongs to another organization only."""
    await seed_demo(pool)
    async with pool.acquire() as conn:
        other = await create_organization_txn(conn, "globex", "Globex")
        dora = await create_user_txn(conn, "dora", "Dora")
        await add_member_txn(conn, other, dora, "ADMIN")
        keys = {
            name: await create_api_key_txn(conn, name, key_name="test")
            for name in ("ada", "bob", "cy", "dora")
        }
    return keys


@pytest.fixture(scope="session")
async def app(pool: asyncpg.Pool) -> Any:
    return create_app(Settings(), pool=pool)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cairn.test") as client:
        yield client


class GraphQLClient:
    """Posts GraphQL documents as one user and returns the decoded response body."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.key = key

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        all_headers = {"Accept": "application/graphql-response+json", **headers}
        if self.key is not None:
            all_headers["Authorization"] = f"Bearer {self.key}"
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=all_headers
        )

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The `data` of a response that must have no errors."""
        response = await self.post(query, variables)
        body = response.json()
        assert "errors" not in body, body["errors"]
        assert response.status_code == 200, body
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = (await self.post(query, variables)).json()
        assert body.get("errors"), body
        return body


@pytest.fixture
def ada(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["ada"])


@pytest.fixture
def cy(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["cy"])


@pytest.fixture
def dora(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["dora"])


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client, None)
