"""Statements per request, counted in process with asyncpg's query logger."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.scenario import Scenario, failed, headers
from db.pool import create_pool
from server.app import create_app
from server.settings import Settings


@dataclass(slots=True)
class StatementLog:
    statements: list[str] = field(default_factory=list)

    def __call__(self, query: str) -> None:
        self.statements.append(query)


@dataclass(slots=True)
class StatementCount:
    statements: int  # the app's own statements
    pool_resets: int  # asyncpg's reset query when a connection goes back to the pool
    texts: list[str]
    # The app's statements in each counted request (after the warm-up one): all equal when the
    # count does not depend on the request's variables.
    per_request: list[int] = field(default_factory=list)

    def as_json(self, *, per_request: bool = True) -> dict[str, Any]:
        """As results.json has it (`per_request`: with the count of each counted request)."""
        found: dict[str, Any] = {"statements": self.statements}
        if per_request:
            found["per_request"] = self.per_request
        found["pool_resets"] = self.pool_resets
        found["sql"] = self.texts
        return found


async def count_statements(
    url: str, key: str, chosen: list[Scenario], *, repeats: int = 1
) -> dict[str, StatementCount]:
    """Runs each scenario through an in-process app whose pool logs statements: one warm-up
    request (or iteration, for a custom scenario), then `repeats` counted ones, each with the
    next variables of the scenario (so that a write scenario's requests each write something
    new)."""
    log = StatementLog()
    pool = await create_pool(url, min_size=1, max_size=10, on_statement=log)
    try:
        async with pool.acquire() as conn:
            reset_query = conn.get_reset_query()
        app = create_app(Settings(run_worker=False), pool=pool)
        transport = httpx.ASGITransport(app=app)
        counts: dict[str, StatementCount] = {}
        # With its lifespan, as a server runs it: the live-event hub listens, so verified keys
        # are kept and a request after the first pays nothing to authenticate.
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://cairn.bench") as client,
        ):
            for scenario in chosen:
                client.headers = headers(scenario.key or key)
                per_request: list[int] = []
                # The first request may record the key's use (at most once a minute).
                for _ in range(1 + repeats):
                    log.statements.clear()
                    response = await scenario.send(client, random.Random(1))
                    if failed(response.status_code, response.content):
                        raise RuntimeError(f"{scenario.name} failed: {response.text[:500]}")
                    per_request.append(sum(1 for s in log.statements if s != reset_query))
                resets = sum(1 for s in log.statements if s == reset_query)
                counts[scenario.name] = StatementCount(
                    statements=len(log.statements) - resets,
                    pool_resets=resets,
                    texts=[" ".join(s.split()) for s in log.statements if s != reset_query],
                    per_request=per_request[1:],
                )
        return counts
    finally:
        await pool.close()


def print_counts(counts: dict[str, StatementCount], *, per_request: bool = True) -> None:
    """One line per scenario: its statements (`per_request`: of each counted request)."""
    for name, count in counts.items():
        shown = count.per_request if per_request else count.statements
        print(f"{name}: {shown} statements (+{count.pool_resets} pool resets)")
