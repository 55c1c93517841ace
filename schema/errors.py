"""Turning domain refusals into GraphQL errors for query fields (mutations use payload errors)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

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


Found = TypeVar("Found")


def still_there(found: Found | None, what: str) -> Found:
    """What an object's non-null field points at, which a change committed while the request ran
    may have deleted (a collection deleted just after a link into it): a NOT_FOUND error on the
    field then, the same whichever request wins the race."""
    if found is None:
        raise GraphQLError(
            f"the {what} was deleted while this request ran", extensions={"code": "NOT_FOUND"}
        )
    return found
