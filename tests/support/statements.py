"""Counting the SQL statements the app sends for one request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.graphql import GraphQLClient


@dataclass
class StatementCounter:
    """Records every statement the pool's connections send (asyncpg's query logger)."""

    statements: list[str] = field(default_factory=list)

    def __call__(self, query: str) -> None:
        self.statements.append(query)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()

    def dump(self) -> str:
        return dump(self.statements)


def dump(statements: list[str]) -> str:
    """Statements for an assertion message, one per paragraph, each on one line."""
    return "\n---\n".join(" ".join(statement.split()) for statement in statements)


async def count_request(
    client: GraphQLClient,
    counter: StatementCounter,
    query: str,
    variables: Mapping[str, Any],
) -> tuple[int, Any]:
    """The app's statements for one request, and its data.

    A warm-up request first: authentication records a key's use at most once a minute, and that
    write must not land in the measured request.
    """
    warm = await client.data(query, variables)
    counter.reset()
    data = await client.data(query, variables)
    assert data == warm
    return counter.count, data
