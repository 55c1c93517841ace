"""GraphQL over HTTP: content negotiation, status codes, authentication, a per-request context,
and masking of internal errors.

Clients that accept `application/graphql-response+json` get status codes that say what happened:
4xx with no `data` for requests that never ran, 294 when `data` and `errors` are both present.
Clients that only accept `application/json` keep the legacy behaviour: 200 for every GraphQL
response.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from db import json_values
from db.loaders import Loaders
from db.pool import Executor, RequestConnection
from resolvers.accounts import VerifiedKeys, authenticate
from resolvers.context import Context, Principal
from resolvers.files import Transfers
from resolvers.live import EventHub
from resolvers.throttle import ExecutionBudget, Throttle
from resolvers.webhooks import WebhookPolicy
from schema.limits import MAX_CACHED_DOCUMENT, MAX_TOKENS
from schema.schema import internal_error_message, schema
from server import metrics

logger = logging.getLogger("cairn.http")
access_log = logging.getLogger("cairn.access")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
PARTIAL_SUCCESS = 294
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


@dataclass(slots=True)
class Seen:
    """What the metrics and the access log say about a request, learnt while answering it."""

    operation: str | None = None


class RequestRefused(Exception):
    """A request that never reaches execution, answered with `status` and one error."""

    def __init__(
        self, status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes."""
    if not accept:
        return JSON
    offered: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            offered.append((quality, -position, GRAPHQL_RESPONSE_JSON))
        elif media in (JSON, "application/*", "*/*"):
            offered.append((quality, -position, JSON))
    return max(offered)[2] if offered else None


def wants_graphiql(request: Request) -> bool:
    """A browser opening /graphql: GraphiQL, also for a link that carries a `query` (GraphiQL
    puts it in its editor), unless the request brings its own credentials and so is an API call
    that happens to accept HTML."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and ("query" not in request.query_params or "authorization" not in request.headers)
    )


def _json_param(raw: str | None, name: str) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    try:
        value = json_values.loads(raw)
    except ValueError:
        raise RequestRefused(400, f"`{name}` is not valid JSON", "BAD_REQUEST") from None
    if value is not None and not isinstance(value, dict):
        raise RequestRefused(400, f"`{name}` must be a JSON object", "BAD_REQUEST")
    return value


async def read_json(request: Request, max_body_bytes: int) -> Any:
    """The request's body as JSON, refused (413) past `max_body_bytes` before it is all read,
    or (400) when it is not JSON."""
    declared = request.headers.get("content-length")
    too_large = RequestRefused(
        413, f"the request body is larger than {max_body_bytes} bytes", "BODY_TOO_LARGE"
    )
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_body_bytes:
            raise too_large
    try:
        return json_values.loads(bytes(body))
    except ValueError:
        raise RequestRefused(400, "the request body is not valid JSON", "BAD_REQUEST") from None


async def read_params(request: Request, max_body_bytes: int) -> GraphQLParams:
    if request.method == "GET":
        source: dict[str, Any] = dict(request.query_params)
        source["variables"] = _json_param(source.get("variables"), "variables")
        source["extensions"] = _json_param(source.get("extensions"), "extensions")
    else:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise RequestRefused(
                415, "send the request as application/json", "UNSUPPORTED_MEDIA_TYPE"
            )
        parsed = await read_json(request, max_body_bytes)
        if isinstance(parsed, list):
            raise RequestRefused(400, "batched requests are not supported", "BAD_REQUEST")
        if not isinstance(parsed, dict):
            raise RequestRefused(400, "the request body must be a JSON object", "BAD_REQUEST")
        source = parsed
    query = source.get("query")
    if not isinstance(query, str) or query.strip() == "":
        raise RequestRefused(400, "the request has no `query` string", "BAD_REQUEST")
    variables = source.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, "`variables` must be an object or null", "BAD_REQUEST")
    # The wandb SDK names some operations with "": the same as naming none.
    operation_name = source.get("operationName") or None
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused(400, "`operationName` must be a string or null", "BAD_REQUEST")
    extensions = source.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestRefused(400, "`extensions` must be an object or null", "BAD_REQUEST")
    return GraphQLParams(query, variables, operation_name, extensions)


@dataclass(frozen=True, slots=True)
class DocumentShape:
    operation_types: tuple[str, ...]  # "query", "mutation", "subscription", in document order
    has_empty_selection: bool
    # The name of the document's only operation, when it has one operation and names it.
    only_name: str | None = None


def document_shape(query: str) -> DocumentShape | None:
    """The operations of a parsable document, and whether it has an empty selection set; None
    when it does not parse (execution then reports the syntax error). Kept for small documents
    only, as the schema's document cache is."""
    if len(query) > MAX_CACHED_DOCUMENT:
        return _document_shape(query)
    return _kept_document_shape(query)


@functools.lru_cache(maxsize=512)
def _kept_document_shape(query: str) -> DocumentShape | None:
    return _document_shape(query)


def _document_shape(query: str) -> DocumentShape | None:
    try:
        document = parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    definitions = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operations = tuple(d.operation.value for d in definitions)
    only_name = definitions[0].name.value if len(definitions) == 1 and definitions[0].name else None
    stack: list[SelectionSetNode | None] = [
        getattr(d, "selection_set", None) for d in document.definitions
    ]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        if not selection_set.selections:
            return DocumentShape(operations, True, only_name)
        stack.extend(getattr(s, "selection_set", None) for s in selection_set.selections)
    return DocumentShape(operations, False, only_name)


def document_problem(shape: DocumentShape, operation_name: str | None) -> str | None:
    """What graphql-core lets through but cannot be run: several operations and no name to pick
    one (it would silently run the first), or an empty selection set."""
    if len(shape.operation_types) > 1 and operation_name is None:
        return (
            f"the document has {len(shape.operation_types)} operations: "
            "name one with `operationName`"
        )
    if shape.has_empty_selection:
        return "the document has an empty selection set `{}`: select at least one field"
    return None


def base_url_of(connection: HTTPConnection) -> str:
    """Where the caller reached this server, for the URLs handed back to it."""
    url = connection.base_url
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return str(url.replace(scheme=scheme)).rstrip("/")


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def basic_or_bearer_key(request: Request) -> str | None:
    """The key of `Authorization: Basic base64(api:<key>)`, as the wandb SDK sends it (any user
    name is accepted: the key alone says who is calling), or of a bearer header."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return bearer_key(request)
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeError):
        return None
    _, _, key = decoded.partition(":")
    return key or None


@dataclass(frozen=True, slots=True)
class Credentials:
    """How a GraphQL endpoint reads the caller's API key, and what it answers without one."""

    read: Callable[[Request], str | None]
    missing: str
    challenge: str


BEARER = Credentials(
    bearer_key,
    "a valid API key is required: send `Authorization: Bearer <key>`",
    'Bearer realm="cairn"',
)
WANDB_BASIC = Credentials(
    basic_or_bearer_key,
    "a valid API key is required: set WANDB_API_KEY to a Cairn API key, or send "
    "`Authorization: Basic base64(api:<key>)`",
    'Basic realm="cairn"',
)


class GraphQLEndpoint:
    def __init__(
        self,
        pool: asyncpg.Pool,
        max_body_bytes: int,
        webhook_policy: WebhookPolicy | None = None,
        events: EventHub | None = None,
        throttle: Throttle | None = None,
        transfers: Transfers | None = None,
        public_url: str = "",
        *,
        schema: Schema = schema,
        credentials: Credentials = BEARER,
        path: str = "/graphql",
        verified: VerifiedKeys | None = None,
        budget: ExecutionBudget | None = None,
    ) -> None:
        self.schema = schema
        self.credentials = credentials
        self.path = path
        self.pool = pool
        self.max_body_bytes = max_body_bytes
        self.webhook_policy = webhook_policy or WebhookPolicy()
        self.events = events
        self.throttle = throttle
        self.transfers = transfers
        self.public_url = public_url.rstrip("/")
        self.verified = verified
        self.budget = budget

    def context(
        self,
        principal: Principal,
        request_id: str,
        connection: HTTPConnection,
        reads: Executor | None = None,
    ) -> Context:
        """A context whose reads run on `reads` (a request's own connection), else on the pool."""
        return Context(
            pool=self.pool,
            loaders=Loaders(self.pool if reads is None else reads),
            principal=principal,
            request_id=request_id,
            webhook_policy=self.webhook_policy,
            events=self.events,
            throttle=self.throttle,
            budget=self.budget,
            transfers=self.transfers,
            base_url=self.public_url or base_url_of(connection),
        )

    async def handle(self, request: Request, request_id: str) -> Response:
        """The answer to one request, counted in the metrics and logged with its outcome."""
        started = time.perf_counter()
        seen = Seen()
        response = await self._handle(request, request_id, seen)
        elapsed = time.perf_counter() - started
        metrics.observe(seen.operation, response.status_code, elapsed)
        access_log.info(
            "%s %s %s %.1f ms %s",
            request.method,
            self.path,
            response.status_code,
            elapsed * 1000,
            seen.operation or "-",
        )
        return response

    async def _handle(self, request: Request, request_id: str, seen: Seen) -> Response:
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return self._refusal(
                RequestRefused(406, f"accept {GRAPHQL_RESPONSE_JSON} or {JSON}", "NOT_ACCEPTABLE"),
                JSON,
            )
        reads = RequestConnection(self.pool)
        try:
            return await self._answer(request, request_id, media_type, seen, reads)
        except Exception:
            # A fault outside execution (the database gone while authenticating, an answer
            # that cannot be written): masked like any other, never the traceback's text.
            logger.exception("request %s: internal error", request_id)
            return internal_error(request_id, media_type)
        finally:
            await reads.release()

    async def _answer(
        self,
        request: Request,
        request_id: str,
        media_type: str,
        seen: Seen,
        reads: RequestConnection,
    ) -> Response:
        try:
            params = await read_params(request, self.max_body_bytes)
            seen.operation = params.operation_name
            key = self.credentials.read(request)
            principal = None if key is None else await authenticate(reads, key, self.verified)
            if principal is None:
                raise RequestRefused(
                    401,
                    self.credentials.missing
                    if key is None
                    else "the API key is not valid (unknown or revoked)",
                    "UNAUTHENTICATED",
                    {"WWW-Authenticate": self.credentials.challenge},
                )
            shape = document_shape(params.query)
            if seen.operation is None and shape is not None:
                seen.operation = shape.only_name
            if (
                shape is not None
                and request.method == "GET"
                and "mutation" in shape.operation_types
            ):
                raise RequestRefused(
                    405,
                    "only queries may be sent with GET; send mutations with POST",
                    "METHOD_NOT_ALLOWED",
                    {"Allow": "POST"},
                )
            problem = None if shape is None else document_problem(shape, params.operation_name)
            if problem is not None:
                # A validation failure: 422, or the legacy 200 for application/json clients.
                raise RequestRefused(
                    422 if media_type == GRAPHQL_RESPONSE_JSON else 200,
                    problem,
                    "GRAPHQL_VALIDATION_FAILED",
                )
            context = self.context(principal, request_id, request, reads)
            allowed = (
                {OperationType.QUERY}
                if request.method == "GET"
                else {OperationType.QUERY, OperationType.MUTATION}
            )
            try:
                result = await self.schema.execute(
                    params.query,
                    variable_values=params.variables,
                    context_value=context,
                    operation_name=params.operation_name,
                    allowed_operation_types=allowed,
                    operation_extensions=params.extensions,
                )
            except InvalidOperationTypeError as error:
                raise _wrong_transport(error.operation_type) from None
            except CannotGetOperationTypeError:
                raise RequestRefused(
                    422 if media_type == GRAPHQL_RESPONSE_JSON else 400,
                    _missing_operation(params.query, params.operation_name),
                    "OPERATION_NOT_FOUND",
                ) from None
            except MissingQueryError:
                raise RequestRefused(
                    400, "the request has no `query` string", "BAD_REQUEST"
                ) from None
            finally:
                context.end()
        except RequestRefused as refusal:
            return self._refusal(refusal, media_type)

        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        # A field error (it has a path) means execution ran: `data` is then present, null when
        # the error reached the root. Only request errors (parse, validation, variables) omit it.
        executed = any(e.path is not None for e in result.errors or ())
        if result.data is not None or executed or not result.errors:
            body["data"] = result.data
        if result.extensions:
            body["extensions"] = result.extensions
        throttled = _throttled(result.errors)
        if throttled is not None:
            return Response(
                json_values.dumps(body),
                status_code=429,
                media_type=media_type,
                headers={"Retry-After": str(throttled)},
            )
        status = 200
        if media_type == GRAPHQL_RESPONSE_JSON and result.errors:
            if "data" not in body:
                syntax = any(isinstance(e, GraphQLSyntaxError) for e in result.errors)
                status = 400 if syntax else 422
            else:
                status = PARTIAL_SUCCESS
        return Response(json_values.dumps(body), status_code=status, media_type=media_type)

    @staticmethod
    def _refusal(refusal: RequestRefused, media_type: str) -> Response:
        body = {"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]}
        return Response(
            orjson.dumps(body),
            status_code=refusal.status,
            media_type=media_type,
            headers=refusal.headers,
        )


def _wrong_transport(operation_type: OperationType) -> RequestRefused:
    if operation_type is OperationType.SUBSCRIPTION:
        return RequestRefused(
            405,
            "subscriptions run over WebSocket (graphql-transport-ws) at /graphql, not over "
            "plain HTTP",
            "METHOD_NOT_ALLOWED",
            {"Allow": "GET, POST"},
        )
    return RequestRefused(
        405,
        "only queries may be sent with GET; send mutations with POST",
        "METHOD_NOT_ALLOWED",
        {"Allow": "POST"},
    )


def _missing_operation(query: str, operation_name: str | None) -> str:
    """Why no operation could be chosen: the name given is not in the document, or none was
    given for a document of several."""
    try:
        document = parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        names: list[str] = []
    else:
        names = [
            d.name.value
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.name is not None
        ]
    listed = ", ".join(f"'{n}'" for n in names[:20]) or "none named"
    if operation_name is not None:
        return f"the document has no operation named '{operation_name[:100]}' (it has {listed})"
    return f"cannot tell which operation to run: give `operationName` (the document has {listed})"


def method_not_allowed() -> Response:
    """Any method but GET and POST on /graphql."""
    body = {
        "errors": [
            {
                "message": "send GraphQL requests with POST (or GET for queries)",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }
    return Response(
        orjson.dumps(body), status_code=405, media_type=JSON, headers={"Allow": "GET, POST"}
    )


def _throttled(errors: list[GraphQLError] | None) -> int | None:
    """Seconds to wait, when the request was refused for its key's rate limit."""
    for error in errors or ():
        extensions = error.extensions or {}
        if extensions.get("code") == "THROTTLED":
            return int(extensions["retryAfterSeconds"])
    return None


def internal_error(request_id: str, media_type: str = JSON) -> Response:
    """A fault, masked: the client gets the request id, the log has the rest."""
    body = {
        "errors": [
            {
                "message": internal_error_message(request_id),
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    return Response(orjson.dumps(body), status_code=500, media_type=media_type)


def request_id_of(request: Request) -> str:
    """The caller's X-Request-Id when it is sane, else a new one."""
    incoming = request.headers.get("x-request-id", "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
