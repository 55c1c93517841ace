"""How the dialect's mutations run. W&B's mutations answer a refusal with a GraphQL error, which
the SDK raises as a `CommError` carrying its message; the same guard as Cairn's own mutations
fails one that never checked a permission."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import strawberry

from resolvers.context import Context
from resolvers.errors import DomainError
from schema.errors import graphql_error


@asynccontextmanager
async def mutation(ctx: Context) -> AsyncIterator[Context]:
    """The body of a mutation field: refusals become GraphQL errors, and one that finishes
    without an authorization check is a bug."""
    ctx.authorization_checked = False
    try:
        yield ctx
    except DomainError as error:
        raise graphql_error(error) from None
    if not ctx.authorization_checked:
        raise RuntimeError("a mutation completed without an authorization check")


# The client's own ID for a mutation, on an input and returned as sent on its payload.
ClientMutationId = strawberry.field(default=None, description="The client's ID for the mutation.")


@strawberry.type(description="Whether a mutation succeeded.")
class SuccessPayload:
    success: bool = strawberry.field(description="True: the change was made.")
    client_mutation_id: str | None = ClientMutationId
