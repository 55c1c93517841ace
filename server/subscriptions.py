"""GraphQL subscriptions over WebSocket (graphql-transport-ws) on /graphql. The client
authenticates in `connection_init`: `{"Authorization": "Bearer <key>"}` in its payload, or the
same header on the handshake."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from resolvers.accounts import authenticate
from resolvers.context import Context
from schema.schema import schema
from server.graphql_http import GraphQLEndpoint


@dataclass
class WebSocketSession:
    """What a subscription sees as `info.context`: the authenticated context, once known."""

    endpoint: GraphQLEndpoint
    request_id: str
    handshake_authorization: str | None
    connection_params: dict[str, Any] = field(default_factory=dict)
    context: Context | None = None

    def __getattr__(self, name: str) -> Any:
        # Fields resolve against `info.context`: once authenticated, that is the Context.
        if name == "context" or self.context is None:
            raise AttributeError(name)
        return getattr(self.context, name)


class SubscriptionApp(GraphQL):
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
            handshake_authorization=request.headers.get("authorization"),
        )

    async def on_ws_connect(self, context: Any) -> Any:
        session: WebSocketSession = context
        params = session.connection_params if isinstance(session.connection_params, dict) else {}
        header = params.get("Authorization") or params.get("authorization")
        header = header if isinstance(header, str) else session.handshake_authorization or ""
        scheme, _, key = header.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and key.strip():
            principal = await authenticate(session.endpoint.pool, key.strip())
        if principal is None:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "a valid API key is required"}
            )
        session.context = session.endpoint.context(principal, session.request_id)
        return None
