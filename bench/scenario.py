"""What a benchmark scenario is, and what one of its requests looks like on the wire."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

# A scenario's variables for its next request, drawn from the requesting task's random numbers.
Variables = Callable[[random.Random], dict[str, Any]]
# What a scenario sends when an iteration is not one GraphQL request (a plain JSON POST such as
# the W&B file stream, or the several requests that log an artifact the SDK's way), on a client
# carrying the scenario's key: the last response, or the first that failed.
Send = Callable[[httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    query: str
    variables: Variables
    # The API key this scenario's requests send; None: the benchmark's member key.
    key: str | None = None
    # Where its requests go: Cairn's own API, or the W&B dialect (`/wandb/graphql`).
    endpoint: str = "/graphql"
    # Sent instead of one GraphQL request (`query` is then empty): see `custom_scenario`.
    custom: Send | None = None

    async def send(self, client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        """Sends one iteration of the scenario; answers the response that tells whether it
        failed."""
        if self.custom is not None:
            return await self.custom(client, rng)
        return await client.post(
            self.endpoint, json=graphql_request(self.query, self.variables(rng))
        )


def custom_scenario(name: str, description: str, send: Send) -> Scenario:
    """A scenario whose iterations `send` makes, rather than one GraphQL request each."""
    return Scenario(name, description, "", lambda rng: {}, custom=send)


def graphql_request(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a GraphQL request."""
    return {"query": query, "variables": variables}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": "application/graphql-response+json"}


def failed(status_code: int, content: bytes) -> bool:
    """A response that is not 200, carries GraphQL `errors`, or a mutation payload's non-empty
    `errors` list (a refused mutation)."""
    return status_code != 200 or b'"errors":[{' in content or content.startswith(b'{"errors"')


def choose(described: dict[str, Scenario], names: str | None) -> list[Scenario]:
    """The scenarios `--scenarios` names (comma-separated; None: all of them), in its order."""
    chosen = names.split(",") if names else list(described)
    unknown = set(chosen) - set(described)
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
    return [described[name] for name in chosen]
