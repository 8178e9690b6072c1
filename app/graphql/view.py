"""The `/graphql` endpoint: strawberry's ASGI view with our context."""

from __future__ import annotations

import json
import re

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.accounts.totp import TotpCipher
from app.auth import RejectedToken, SessionUser
from app.graphql.context import Context
from app.graphql.ide import graphiql_page
from app.graphql.schema import build_schema
from app.keysets.keys import KeyMaterial
from app.notifications.mail import Mailer
from app.settings import Settings
from app.verify.service import Verifier
from app.webhooks.signing import WebhookSigning

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_CONTEXT = "keyrack.graphql_context"
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class KeyrackGraphQL(GraphQL[Context, None]):
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
            **kwargs,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.keys = keys
        self.totp = totp
        self.verifier = verifier
        self.webhook_signing = webhook_signing
        self.mailer = mailer

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_page()

    async def run(  # type: ignore[override]  # one body for strawberry's two overloads
        self,
        request: Request | WebSocket,
        context: Context | None = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        try:
            return await super().run(request, context, root_value)  # type: ignore[arg-type]
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
            # The answer is written: what the request loaded can go (`Loaders.close`).
            finished = request.scope.pop(_CONTEXT, None)
            if isinstance(finished, Context):
                finished.loaders.close()

    def encode_json(self, data: object) -> bytes:
        # The same JSON as strawberry's json.dumps, a tenth of the CPU for a large answer.
        try:
            return orjson.dumps(data)
        except TypeError:
            # Text orjson refuses, e.g. a lone surrogate echoed from a variable into an
            # error message: escaped (\ud800), as json.dumps does.
            return json.dumps(data).encode()

    def parse_json(self, data: str | bytes) -> object:
        parsed = super().parse_json(data)
        # `null`, `5`, `"x"` or `true` would reach strawberry's `data.get(...)`: a 500.
        if not isinstance(parsed, dict | list):
            raise HTTPException(
                400, 'The request body must be a JSON object: {"query": "...", "variables": {}}.'
            )
        return parsed

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
        if not isinstance(request, Request):
            raise TypeError("Keyrack serves GraphQL over HTTP only")
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
