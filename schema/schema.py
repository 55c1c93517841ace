"""The Strawberry schema: the root types assembled from the domains' parts, limits, caches, and
error logging with the request id."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from schema.accounts import AccountsMutation, AccountsQuery
from schema.automations import AutomationsMutation
from schema.collections import ArtifactSequence, Collection, CollectionsMutation
from schema.context import OperationContext
from schema.cost import ExecutionBudgetTurn, QueryCost
from schema.files import FilesMutation
from schema.limits import (
    MAX_TOKENS,
    DocumentCache,
    DocumentLimits,
    NoNulInLiterals,
    NoNulInVariables,
)
from schema.links import LinksMutation
from schema.live import Subscription
from schema.nodes import NodesQuery
from schema.organizations import OrganizationsMutation, OrganizationsQuery
from schema.registries import RegistriesMutation, RegistriesQuery, RegistryMembersMutation
from schema.runs import RunsMutation
from schema.scalars import DateTime, Int64, Int64Definition
from schema.search import SearchQuery
from schema.versions import VersionsMutation, VersionsQuery

logger = logging.getLogger("cairn.graphql")


def is_internal_error(error: GraphQLError) -> bool:
    """An error raised by a bug or outage rather than on purpose for the client."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


def internal_error_message(request_id: str) -> str:
    return f"Internal server error. Quote request id {request_id} when reporting it."


def masked(error: GraphQLError, request_id: str) -> GraphQLError:
    """A fault as the client sees it: where it happened, and the request id to quote."""
    return GraphQLError(
        message=internal_error_message(request_id),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def with_code(error: GraphQLError) -> GraphQLError:
    """A request error (one with no path: the document or its variables) with a code saying
    what was wrong: the syntax, the document against the schema, or a variable's value."""
    if error.path is not None or (error.extensions or {}).get("code"):
        return error
    if isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    elif error.nodes and all(isinstance(n, VariableDefinitionNode) for n in error.nodes):
        code = "BAD_USER_INPUT"
    else:
        code = "GRAPHQL_VALIDATION_FAILED"
    error.extensions = {**(error.extensions or {}), "code": code}
    return error


class CairnSchema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        if result.errors:
            # A fault before execution (in parsing or validation) escapes the masking
            # extension, which wraps execution: masked here, so that no internal text reaches a
            # client. Request errors get the code that says which kind they are.
            request_id = getattr(context_value, "request_id", "-")
            result.errors = [
                masked(e, request_id) if is_internal_error(e) else with_code(e)
                for e in result.errors
            ]
        return result

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        extensions = super().get_extensions(sync)
        if sync:  # nothing waits in a synchronous execution: the schema's own introspection
            return [e for e in extensions if not isinstance(e, ExecutionBudgetTurn)]
        return extensions

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
class Query(
    AccountsQuery, OrganizationsQuery, RegistriesQuery, VersionsQuery, SearchQuery, NodesQuery
):
    pass


@strawberry.type(description="Changes to the registry graph.")
class Mutation(
    RunsMutation,
    FilesMutation,
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


class MaskInternalErrors(MaskErrors):
    """Replaces faults (not client errors) with a message carrying the request id, over HTTP and
    WebSocket alike; the original was logged with the same id by `process_errors`."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_internal_error)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, getattr(self.execution_context.context, "request_id", "-"))


# Every schema's limits, caches, masking and cost, in the order they apply.
EXTENSIONS: list[Any] = [
    OperationContext,
    lambda: AddValidationRules([DocumentLimits, NoNulInLiterals]),
    lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    MaskInternalErrors,
    DocumentCache,
    NoNulInVariables,
    QueryCost,
    ExecutionBudgetTurn,
]

schema = CairnSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Collection, ArtifactSequence],
    config=StrawberryConfig(disable_field_suggestions=False),
    scalar_overrides={datetime: DateTime, Int64: Int64Definition},
    extensions=EXTENSIONS,
)
