"""Authentication at the edge: a bearer token becomes `request.user` once per request."""

from __future__ import annotations

import logging

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    UnauthenticatedUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from app.accounts import service as accounts
from app.accounts.models import Session
from app.db import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS, is_unavailable

logger = logging.getLogger("keyrack.auth")

MAX_TOKEN_LENGTH = 200


class SessionUser(BaseUser):
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.session.user.name


class RejectedToken(UnauthenticatedUser):
    """A token was sent but is unknown, expired or ended: the request stays anonymous."""


class DatabaseUnavailable(AuthenticationError):
    """The session could not be looked up: the request can be neither served nor refused."""


def auth_error(conn: HTTPConnection, error: Exception) -> Response:
    """The answer when authentication itself failed: 503, shaped as a GraphQL response."""
    return JSONResponse(
        {
            "data": None,
            "errors": [{"message": str(error), "extensions": {"code": "SERVICE_UNAVAILABLE"}}],
        },
        status_code=503,
        headers={"retry-after": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


class SessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        session = None
        if scheme.lower() == "bearer" and token and len(token) <= MAX_TOKEN_LENGTH:
            try:
                session = await accounts.authenticate(token=token)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                logger.warning("Database unavailable to authenticate: %s", type(error).__name__)
                raise DatabaseUnavailable(UNAVAILABLE_MESSAGE) from None
        if session is None:
            return AuthCredentials(), RejectedToken()
        return AuthCredentials(["authenticated"]), SessionUser(session)
