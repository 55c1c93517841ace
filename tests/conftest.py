"""Test fixtures: a real PostgreSQL (CAIRN_TEST_DATABASE_URL, else an embedded one), a fresh
database per session, the app over in-process HTTP, and a statement counter. Helpers are in
tests/support."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db.blobs import BlobStore
from db.pool import create_pool
from resolvers.accounts import create_api_key_txn, create_user_txn
from resolvers.organizations import add_member_txn, create_organization_txn
from server.app import create_app
from server.demo import seed_demo
from server.settings import Settings
from server.settings import blob_store as blob_store_of
from tests.support.app import asgi_client
from tests.support.counting import Counting, count_parsing
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient
from tests.support.s3 import moto_s3
from tests.support.search_world import SearchWorld, build_world, fetch_versions
from tests.support.statements import StatementCounter
from tests.support.webhooks import Receiver


@pytest.fixture(scope="session", autouse=True)
def blob_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
    """The blob store of every app in the session (CAIRN_STORAGE), in a folder of its own."""
    folder = tmp_path_factory.mktemp("blobs")
    saved = os.environ.get("CAIRN_STORAGE")
    os.environ["CAIRN_STORAGE"] = f"file://{folder}"
    yield blob_store_of(Settings())
    if saved is None:
        os.environ.pop("CAIRN_STORAGE")
    else:
        os.environ["CAIRN_STORAGE"] = saved


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-protocol server (moto's) for the module, with AWS_* pointing at it."""
    with moto_s3() as endpoint:
        yield endpoint


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


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A migrated database of its own for the session, dropped afterwards."""
    async with new_database(server_url, migrated=True) as url:
        yield url


@pytest.fixture
async def empty_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database of this test's own, dropped at the end."""
    async with new_database(server_url) as url:
        yield url


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
async def demo(pool: asyncpg.Pool, blob_store: BlobStore) -> dict[str, str]:
    """The demo organization `acme`, with an API key per user: ada (admin), bob (member),
    cy (viewer), and dora, who belongs to another organization only."""
    await seed_demo(pool, blob_store)
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
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
def ada(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["ada"])


@pytest.fixture
def bob(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["bob"])


@pytest.fixture
def cy(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["cy"])


@pytest.fixture
def dora(client: httpx.AsyncClient, demo: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(client, demo["dora"])


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client, None)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver listening on 127.0.0.1, closed at the end."""
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
async def search_world(pool: asyncpg.Pool) -> SearchWorld:
    """A search test module's registry world (tests/support/search_world.py)."""
    return await build_world(pool)


@pytest.fixture(scope="module")
async def everything(search_world: SearchWorld, app: Any) -> list[dict[str, Any]]:
    """Every version of `search_world`, as its admin reads them."""
    async with asgi_client(app) as http:
        client = GraphQLClient(http, search_world.keys["admin"])
        return await fetch_versions(client, search_world.org.name)


@pytest.fixture
def parsing(monkeypatch: pytest.MonkeyPatch) -> tuple[Counting, Counting]:
    """Strawberry's parse and validate steps, counted (they run when the caches have nothing)."""
    return count_parsing(monkeypatch)
