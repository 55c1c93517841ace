"""Turning domain refusals into GraphQL errors for query fields (mutations use payload errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from graphql import GraphQLError

from resolvers.errors import DomainError


def graphql_error(error: DomainError) -> GraphQLError:
    extensions: dict[str, object] = {"code": error.code.value}
    if error.field:
        extensions["field"] = list(error.field)
    return GraphQLError(error.message, extensions=extensions)


@contextmanager
def raise_domain_errors() -> Iterator[None]:
    try:
        yield
    except DomainError as error:
        raise graphql_error(error) from None
