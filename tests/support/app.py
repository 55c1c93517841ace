"""The app in-process: an HTTP client that talks to it over ASGI, on a pool the test owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings

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
