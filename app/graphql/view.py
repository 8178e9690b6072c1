"""The `/graphql` endpoint: strawberry's ASGI view with our context."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from app.accounts.totp import TotpCipher
from app.auth import RejectedToken, SessionUser
from app.graphql.context import Context
from app.keysets.keys import KeyMaterial
from app.notifications.mail import Mailer
from app.settings import Settings
from app.verify.service import Verifier
from app.webhooks.signing import WebhookSigning


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
        from app.graphql.schema import build_schema

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
            extensions: dict[str, object] = error.setdefault("extensions", {})  # type: ignore[attr-defined]
            extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        user = request.scope.get("user")
        if not isinstance(request, Request):
            raise TypeError("Keyrack serves GraphQL over HTTP only")
        return Context(
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
