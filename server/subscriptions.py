"""GraphQL over WebSocket (graphql-transport-ws) on /graphql. The client authenticates in
`connection_init`: `{"Authorization": "Bearer <key>"}` in its payload, or the same header on the
handshake.

A socket can stay open for days, so nothing about the caller is decided once for it: each
operation checks the key again and runs with its own context (the roles of that moment, loaders
of its own), live events check again on every event, and a socket whose key is revoked is
closed at its next operation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from resolvers.accounts import authenticate
from resolvers.context import Context, Principal
from schema.schema import schema
from server.graphql_http import GraphQLEndpoint

# Close codes: the protocol's own 4401 (not authenticated) and 4403 (forbidden).
KEY_REVOKED = 4403


@dataclass
class WebSocketSession:
    """One socket: its key, and the principal behind it as of the last check."""

    endpoint: GraphQLEndpoint
    request_id: str
    connection: HTTPConnection
    handshake_authorization: str | None
    connection_params: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    principal: Principal | None = None

    def presented_key(self) -> str | None:
        params = self.connection_params if isinstance(self.connection_params, dict) else {}
        header = params.get("Authorization") or params.get("authorization")
        header = header if isinstance(header, str) else self.handshake_authorization or ""
        scheme, _, key = header.partition(" ")
        return key.strip() if scheme.lower() == "bearer" and key.strip() else None

    async def authenticate(self) -> bool:
        """Checks the key again; False once it is unknown or revoked."""
        self.principal = (
            None
            if self.key is None
            else await authenticate(self.endpoint.pool, self.key, self.endpoint.verified)
        )
        return self.principal is not None

    def for_operation(self) -> Context:
        """A context for one operation: the principal as last checked, loaders of its own."""
        assert self.principal is not None
        return self.endpoint.context(self.principal, self.request_id, self.connection)


class SubscriptionHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        session: WebSocketSession = self.context
        if self.connection_acknowledged and not await session.authenticate():
            await self.websocket.close(
                code=KEY_REVOKED, reason="Forbidden: the API key was revoked"
            )
            return
        await super().handle_subscribe(message)


class SubscriptionApp(GraphQL):
    graphql_transport_ws_handler_class = SubscriptionHandler

    def __init__(self, endpoint: Any) -> None:
        super().__init__(
            schema, graphql_ide=None, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        )
        self._endpoint = endpoint

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Any:
        return WebSocketSession(
            endpoint=self._endpoint(),
            request_id=uuid.uuid4().hex,
            connection=request,
            handshake_authorization=request.headers.get("authorization"),
        )

    async def on_ws_connect(self, context: Any) -> Any:
        session: WebSocketSession = context
        session.key = session.presented_key()
        if not await session.authenticate():
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "a valid API key is required"}
            )
        return None
