"""The `/graphql` endpoint: strawberry's ASGI view with our context."""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.accounts.totp import TotpCipher
from app.edges.auth import (
    COOKIE_SESSION,
    RefusedSocket,
    RejectedToken,
    SessionUser,
    deliver_session_cookies,
    socket_session,
)
from app.graphql.context import Context
from app.graphql.ide import graphiql_page
from app.graphql.schema import build_schema
from app.graphql.sockets import SOCKET_OPTIONS, SubscriptionsOnly, TextFrames
from app.graphql.trusted import TrustedDocuments, UntrustedDocument
from app.keysets.keys import KeyMaterial
from app.notifications import live
from app.notifications.mail import Mailer
from app.settings import Settings
from app.verify.service import Verifier
from app.webhooks.signing import WebhookSigning

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_CONTEXT = "keyrack.graphql_context"
# Whether this request runs only trusted documents (app.graphql.trusted), set as it is read.
_TRUSTED: ContextVar[bool] = ContextVar("keyrack_trusted_documents", default=False)
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class KeyrackGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SubscriptionsOnly
    websocket_adapter_class = TextFrames

    def __init__(
        self,
        *,
        settings: Settings,
        keys: KeyMaterial,
        totp: TotpCipher,
        verifier: Verifier,
        webhook_signing: WebhookSigning,
        mailer: Mailer | None,
        **kwargs: object,
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allowed_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            **SOCKET_OPTIONS,
            **kwargs,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.keys = keys
        self.totp = totp
        self.verifier = verifier
        self.webhook_signing = webhook_signing
        self.mailer = mailer
        self.trusted = TrustedDocuments(
            settings.trusted_documents, settings.trusted_document_manifests
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a trusted document is a request, not a person opening GraphiQL.
        named = request.query_params.get("documentId") is not None
        return not named and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_page()

    async def run(  # type: ignore[override]  # one body for strawberry's two overloads
        self,
        request: Request | WebSocket,
        context: Context | None = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        _TRUSTED.set(False)
        try:
            answer = await super().run(request, context, root_value)  # type: ignore[arg-type]
            if isinstance(answer, Response):
                deliver_session_cookies(request, answer, max_age=self.settings.session_ttl_seconds)
            return answer
        except HTTPException as error:
            # Strawberry answers these in plain text; clients parse our errors as JSON.
            # json.dumps escapes what the request may have put in the reason (a lone
            # surrogate in operationName); JSONResponse would fail to encode it.
            body = {
                "errors": [
                    {
                        "message": error.reason,
                        "extensions": {"code": _HTTP_CODES.get(error.status_code, "BAD_REQUEST")},
                    }
                ]
            }
            return Response(
                json.dumps(body), status_code=error.status_code, media_type="application/json"
            )
        finally:
            # The answer is written: what the request loaded can go (`Context.release`).
            finished = request.scope.pop(_CONTEXT, None)
            if isinstance(finished, Context):
                finished.release()

    def encode_json(self, data: object) -> bytes:
        # The same JSON as strawberry's json.dumps, a tenth of the CPU for a large answer.
        try:
            return orjson.dumps(data)
        except TypeError:
            # Text orjson refuses, e.g. a lone surrogate echoed from a variable into an
            # error message: escaped (\ud800), as json.dumps does.
            return json.dumps(data).encode()

    def parse_json(self, data: str | bytes) -> object:
        parsed = self._parse_value(data)
        # `null`, `5`, `"x"` or `true` would reach strawberry's `data.get(...)`: a 500.
        if not isinstance(parsed, dict | list):
            raise HTTPException(
                400, 'The request body must be a JSON object: {"query": "...", "variables": {}}.'
            )
        self._resolve_documents(parsed if isinstance(parsed, list) else [parsed])
        return parsed

    def _parse_value(self, data: str | bytes) -> object:
        return super().parse_json(data)

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        request: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if request.get(name):
                request[name] = self._parse_value(request[name])
        self._resolve_documents([request])
        return request

    def _resolve_documents(self, requests: list[Any]) -> None:
        """Each request's documentId becomes its query; notes whether all are trusted."""
        try:
            trusted = [self.trusted.resolve(r) for r in requests if isinstance(r, dict)]
        except UntrustedDocument as error:
            raise HTTPException(400, str(error)) from None
        _TRUSTED.set(bool(trusted) and all(trusted))

    async def execute_operation(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if (
            self.trusted.mode == "require"
            and request.scope.get(COOKIE_SESSION)
            and not _TRUSTED.get()
        ):
            raise HTTPException(
                400,
                "This server runs only trusted documents for browser sessions "
                "(KEYRACK_TRUSTED_DOCUMENTS=require): send a documentId.",
            )
        return await super().execute_operation(request, *args, **kwargs)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError:  # absurdly nested JSON: a bad request, not a crash
            raise json.JSONDecodeError("nested too deeply", "", 0) from None

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult | None
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)  # type: ignore[arg-type]
        # Errors raised while coercing variables never reach the schema extensions.
        for error in response.get("errors") or []:
            if not isinstance(error, dict):  # always a `GraphQLFormattedError`
                continue
            extensions: dict[str, object] = error.setdefault("extensions", {})
            extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
            if not self.settings.introspection:
                # Validation runs without suggestions (`QueryGuard`); variable coercion
                # has no such switch in strawberry, and its suggestions name enum values.
                error["message"] = _SUGGESTION.sub("", error["message"])
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        user = request.scope.get("user")
        context = Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            settings=self.settings,
            keys=self.keys,
            totp=self.totp,
            verifier=self.verifier,
            webhook_signing=self.webhook_signing,
            mailer=self.mailer,
            session=user.session if isinstance(user, SessionUser) else None,
            token_rejected=isinstance(user, RejectedToken),
        )
        request.scope[_CONTEXT] = context
        return context

    async def on_ws_connect(self, context: Context) -> Any:  # UNSET: a bare connection_ack
        """A socket's `connection_init`: its payload authenticates it (`socket_session`)."""
        try:
            context.session = await socket_session(context.request, context.connection_params)
        except RefusedSocket:
            raise ConnectionRejectionError from None
        context.renew()
        if context.session is not None:
            user_id = context.session.user.id
            context.notifications_since = await live.latest_id(user_id=user_id)
        return UNSET
