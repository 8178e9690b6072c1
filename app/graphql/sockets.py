"""GraphQL over WebSocket (`graphql-transport-ws`, strawberry's): subscriptions only.

Queries and mutations keep to HTTP, where every request passes the CSRF check, the body
limit and the per-request rules; a socket runs nothing but subscriptions. A subscribe
message may name a trusted document (`documentId`) as an HTTP request may, and under
`KEYRACK_TRUSTED_DOCUMENTS=require` a cookie session's socket must. The socket itself is
authenticated once, by `connection_init` (`KeyrackGraphQL.on_ws_connect`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol, cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from app.edges.auth import COOKIE_SESSION
from app.graphql.context import Context
from app.graphql.trusted import TrustedDocuments, UntrustedDocument
from app.settings import Settings

SOCKET_OPTIONS: dict[str, Any] = {
    "subscription_protocols": (GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    # A socket that never says who it is goes soon; a person has a few tabs open.
    "connection_init_wait_timeout": timedelta(seconds=10),
    "max_subscriptions_per_connection": 5,
}
ONLY_SUBSCRIPTIONS = (
    "Over WebSocket this server runs subscriptions only: send queries and mutations with "
    "POST /graphql."
)


class SocketView(Protocol):
    """What a socket reads from the view that serves it (`KeyrackGraphQL`, which imports
    this module: named here by what it offers, so the arrow points one way)."""

    settings: Settings
    trusted: TrustedDocuments


class TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws speaks in text frames; the view's JSON encoder (orjson) makes
    bytes, which strawberry would send as binary frames that browsers hand out as Blobs."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        try:
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class SubscriptionsOnly(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's handler, refusing what is not a subscription before it runs."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if not self.connection_acknowledged or not isinstance(payload, dict):
            await super().handle_subscribe(message)  # closes the socket, as the protocol says
            return
        refusal = self._refusal(payload)
        if refusal is None:
            await super().handle_subscribe(message)
            return
        error = GraphQLError(refusal, extensions={"code": "BAD_REQUEST"})
        refused = {"id": message["id"], "type": "error", "payload": [error.formatted]}
        await self.send_message(refused)  # type: ignore[arg-type]

    def _refusal(self, payload: dict[str, Any]) -> str | None:
        """Why the subscribe message's operation may not run here; None if it may."""
        view = cast(SocketView, self.view)
        try:
            trusted = view.trusted.resolve(payload)
        except UntrustedDocument as error:
            return str(error)
        cookie = self.context.request.scope.get(COOKIE_SESSION)
        if view.trusted.mode == "require" and cookie and not trusted:
            return (
                "This server runs only trusted documents for browser sessions "
                "(KEYRACK_TRUSTED_DOCUMENTS=require): send a documentId."
            )
        query, name = payload.get("query"), payload.get("operationName")
        if not isinstance(query, str) or not isinstance(name, str | None):
            return "A subscribe message needs a query (or a documentId) to run."
        try:
            document = parse(query, max_tokens=view.settings.max_query_tokens)
        except GraphQLError:
            return None  # strawberry answers a syntax error itself
        operation = get_operation_ast(document, name)
        if operation is not None and operation.operation != OperationType.SUBSCRIPTION:
            return ONLY_SUBSCRIPTIONS
        return None
