"""The app in-process: an HTTP client that talks to it over ASGI, on a pool the test owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from starlette.applications import Starlette

from db.pool import create_pool
from resolvers.accounts import create_api_key_txn
from server.app import create_app
from server.settings import Settings
from tests.support.databases import new_database
from tests.support.graphql import GraphQLClient

BASE_URL = "http://cairn.test"


@asynccontextmanager
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` over ASGI: real HTTP semantics, no sockets. The app's lifespan does not
    run, so it has no delivery worker and no live events of its own."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


@asynccontextmanager
async def app_client(
    pool: asyncpg.Pool, settings: Settings | None = None, *, graphiql_assets: Path | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app on `pool`, with `settings` (default ones if none)."""
    if graphiql_assets is None:
        app = create_app(settings or Settings(), pool=pool)
    else:
        app = create_app(settings or Settings(), pool=pool, graphiql_assets=graphiql_assets)
    async with asgi_client(app) as http:
        yield http


@asynccontextmanager
async def own_demo(server_url: str) -> AsyncIterator[GraphQLClient]:
    """ada's client of an app on a demo database of its own, dropped afterwards: for tests whose
    changes must not show in the demo data that other tests share."""
    async with new_database(server_url, demo=True) as url:
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            async with pool.acquire() as conn:
                key = await create_api_key_txn(conn, "ada", key_name="own")
            async with app_client(pool) as client:
                yield GraphQLClient(client, key)
        finally:
            await pool.close()
