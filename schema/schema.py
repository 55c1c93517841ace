"""The Strawberry schema: the root types assembled from the domains' parts, limits, caches, and
error logging with the request id."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.accounts import AccountsMutation, AccountsQuery
from schema.automations import AutomationsMutation
from schema.collections import ArtifactSequence, Collection, CollectionsMutation
from schema.links import LinksMutation
from schema.live import Subscription
from schema.nodes import NodesQuery
from schema.organizations import OrganizationsMutation, OrganizationsQuery
from schema.registries import RegistriesMutation, RegistriesQuery, RegistryMembersMutation
from schema.runs import RunsMutation
from schema.versions import VersionsMutation, VersionsQuery

logger = logging.getLogger("cairn.graphql")

MAX_DEPTH = 15
MAX_ALIASES = 50
MAX_TOKENS = 5_000


def is_internal_error(error: GraphQLError) -> bool:
    """An error raised by a bug or outage rather than on purpose for the client."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class CairnSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes are the client's to read; only faults are logged, with the request id
        # that the masked message hands the client.
        context: Any = execution_context.context if execution_context else None
        request_id = getattr(context, "request_id", "-")
        for error in errors:
            if is_internal_error(error):
                logger.error(
                    "request %s: internal error at %s",
                    request_id,
                    error.path,
                    exc_info=error.original_error,
                )


@strawberry.type(description="Entry points for reading the registry graph.")
class Query(AccountsQuery, OrganizationsQuery, RegistriesQuery, VersionsQuery, NodesQuery):
    pass


@strawberry.type(description="Changes to the registry graph.")
class Mutation(
    RunsMutation,
    RegistriesMutation,
    CollectionsMutation,
    LinksMutation,
    VersionsMutation,
    RegistryMembersMutation,
    OrganizationsMutation,
    AccountsMutation,
    AutomationsMutation,
):
    pass


# The limit rules are built once and shared: each limiter instance makes a new rule class, and
# ValidationCache keys on the rule classes, so per-request limiters would never hit the cache.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


def internal_error_message(request_id: str) -> str:
    return f"Internal server error. Quote request id {request_id} when reporting it."


class MaskInternalErrors(MaskErrors):
    """Replaces faults (not client errors) with a message carrying the request id, over HTTP and
    WebSocket alike; the original was logged with the same id by `process_errors`."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_internal_error)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "-")
        return GraphQLError(
            message=internal_error_message(request_id),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )


schema = CairnSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Collection, ArtifactSequence],
    config=StrawberryConfig(disable_field_suggestions=False),
    extensions=[
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaskInternalErrors,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ],
)
