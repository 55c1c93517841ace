"""The Starlette application: GraphQL over HTTP and WebSocket, GraphiQL, health and readiness,
with the live-event listener and the delivery worker running beside them."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from db.migrate import MigrationError, pending_migrations
from db.pool import create_pool
from resolvers.accounts import VerifiedKeys
from resolvers.files import Transfers
from resolvers.live import EventHub
from schema.wandb.schema import wandb_schema
from server import metrics
from server.graphiql_page import ASSETS_DIR, graphiql_assets_app, render_graphiql
from server.graphql_http import (
    WANDB_BASIC,
    GraphQLEndpoint,
    method_not_allowed,
    request_id_of,
    wants_graphiql,
)
from server.logs import REQUEST_ID
from server.settings import Settings, blob_collector, blob_store
from server.subscriptions import SubscriptionApp
from server.transfers import routes as transfer_routes
from server.ui import ui_routes
from server.wandb_files import artifact_file, file_stream
from server.worker import DeliveryWorker

logger = logging.getLogger("cairn.server")

WANDB_GRAPHQL = "/wandb/graphql"


def tune_garbage_collector() -> None:
    """Measured with bench/: a GraphQL response allocates many short-lived objects, and the
    default collector spent close to half the server's CPU rescanning long-lived ones (modules,
    the schema). Freezing what exists at start-up and collecting the youngest generation less
    often cut the tree query's p50 from 448 to about 270 ms."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


# What `cairn serve --workers N` tells each worker process it starts, in their environment.
APP_FACTORY = "server.app:app_from_environment"
_WORKER_SETTINGS = "CAIRN_SERVE_"


def worker_environment(settings: Settings, database_url: str) -> dict[str, str]:
    """The environment a worker process rebuilds the parent's app from."""
    return {
        f"{_WORKER_SETTINGS}DATABASE_URL": database_url,
        f"{_WORKER_SETTINGS}HOST": settings.host,
        f"{_WORKER_SETTINGS}PORT": str(settings.port),
        f"{_WORKER_SETTINGS}DEMO_KEY": settings.graphiql_demo_key or "",
        f"{_WORKER_SETTINGS}RUN_WORKER": "1" if settings.run_worker else "",
    }


def app_from_environment() -> Starlette:
    """The app of one worker process of `cairn serve --workers N` (see `worker_environment`)."""
    env = os.environ
    settings = Settings(
        host=env[f"{_WORKER_SETTINGS}HOST"],
        port=int(env[f"{_WORKER_SETTINGS}PORT"]),
        graphiql_demo_key=env[f"{_WORKER_SETTINGS}DEMO_KEY"] or None,
        run_worker=bool(env[f"{_WORKER_SETTINGS}RUN_WORKER"]),
    )
    tune_garbage_collector()
    return create_app(settings, database_url=env[f"{_WORKER_SETTINGS}DATABASE_URL"])


def create_app(
    settings: Settings,
    *,
    database_url: str | None = None,
    pool: asyncpg.Pool | None = None,
    graphiql_assets: Path = ASSETS_DIR,
) -> Starlette:
    """The app serves from `pool` when given (tests), else opens one on `database_url`."""
    endpoints: dict[str, GraphQLEndpoint] = {}
    # Trusted only while the live-event hub listens for changes (in the lifespan).
    verified = VerifiedKeys()
    throttle = settings.throttle()
    budget = settings.execution_budget()
    store = blob_store(settings)

    def serve_on(active: asyncpg.Pool, events: EventHub | None) -> None:
        transfers = Transfers(
            store,
            active,
            url_seconds=settings.transfer_url_seconds,
            max_file_bytes=settings.max_file_bytes,
            part_bytes=settings.part_bytes,
        )
        shared = (
            active,
            settings.max_body_bytes,
            settings.webhook_policy,
            events,
            throttle,
            transfers,
            settings.public_url,
        )
        endpoints["graphql"] = GraphQLEndpoint(*shared, verified=verified, budget=budget)
        endpoints["wandb"] = GraphQLEndpoint(
            *shared,
            schema=wandb_schema,
            credentials=WANDB_BASIC,
            path=WANDB_GRAPHQL,
            verified=verified,
            budget=budget,
        )

    if pool is not None:
        serve_on(pool, None)

    def endpoint() -> GraphQLEndpoint:
        return endpoints["graphql"]

    def transfers() -> Transfers:
        found = endpoint().transfers
        assert found is not None
        return found

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = pool is None
        active = pool
        if active is None:
            assert database_url is not None
            active = await create_pool(
                database_url,
                max_size=settings.pool_size,
                statement_timeout_ms=settings.statement_timeout_ms,
            )
        try:
            async with active.acquire() as conn:
                todo = await pending_migrations(conn)
            if todo:
                raise MigrationError(f"{len(todo)} migration(s) pending; run `cairn migrate` first")
            hub = EventHub(active, verified)
            await hub.start()
            serve_on(active, hub)
            worker = DeliveryWorker(active, settings.webhook_policy)
            collector = blob_collector(settings, active)
            if settings.run_worker:
                worker.start()
                collector.start()
            try:
                yield
            finally:
                await collector.stop()
                await worker.stop()
                await hub.stop()
        finally:
            if owned:
                await active.close()

    async def answer(request: Request, answering: GraphQLEndpoint) -> Response:
        if request.method not in ("GET", "POST"):
            return method_not_allowed()
        request_id = request_id_of(request)
        token = REQUEST_ID.set(request_id)
        try:
            response = await answering.handle(request, request_id)
        finally:
            REQUEST_ID.reset(token)
        response.headers["X-Request-Id"] = request_id
        return response

    async def graphql(request: Request) -> Response:
        if request.method in ("GET", "POST") and wants_graphiql(request):
            return render_graphiql(settings.graphiql_demo_key, graphiql_assets)
        return await answer(request, endpoint())

    async def wandb_graphql(request: Request) -> Response:
        return await answer(request, endpoints["wandb"])

    async def wandb_file(request: Request) -> Response:
        return await artifact_file(endpoints["wandb"], request)

    async def wandb_file_stream(request: Request) -> Response:
        return await file_stream(endpoints["wandb"], request)

    async def telemetry(request: Request) -> Response:
        # The wandb SDK reports its own metrics and logs (OpenTelemetry) to the server it talks
        # to; Cairn keeps none of them, and answers at once so that the SDK neither retries nor
        # waits.
        return Response(status_code=204)

    async def prometheus(request: Request) -> Response:
        return await metrics.render(endpoint().pool, endpoint().events, budget)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        events = endpoint().events
        if events is not None and not events.listening:
            return JSONResponse(
                {"status": "unavailable", "reason": "the live-event listener is reconnecting"},
                status_code=503,
            )
        try:
            async with endpoint().pool.acquire(timeout=2) as conn:
                todo = await pending_migrations(conn)
        except (OSError, asyncpg.PostgresError, MigrationError, TimeoutError) as error:
            return JSONResponse(
                {"status": "unavailable", "reason": type(error).__name__}, status_code=503
            )
        if todo:
            return JSONResponse(
                {"status": "unavailable", "reason": f"{len(todo)} pending migration(s)"},
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            # Every method, so that the wrong ones get a GraphQL error body, not plain text.
            Route(
                "/graphql",
                graphql,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            ),
            WebSocketRoute("/graphql", SubscriptionApp(endpoint)),
            # The W&B dialect, where the wandb SDK looks for it under WANDB_BASE_URL=…/wandb.
            Route(
                WANDB_GRAPHQL,
                wandb_graphql,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            ),
            Route("/wandb/artifactsV2/{rest:path}", wandb_file, methods=["GET", "HEAD"]),
            Route(
                "/wandb/files/{entity}/{project}/{run}/file_stream",
                wandb_file_stream,
                methods=["POST"],
            ),
            Route("/wandb/sdk/otel/v1/{signal}", telemetry, methods=["POST"]),
            Route("/sdk/otel/v1/{signal}", telemetry, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Mount("/graphiql/assets", app=graphiql_assets_app(graphiql_assets)),
            *transfer_routes(transfers),
            *ui_routes(),
        ],
        lifespan=lifespan,
    )
