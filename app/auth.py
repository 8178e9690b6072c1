"""Authentication at the edge: a bearer token becomes `request.user` once per request."""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    UnauthenticatedUser,
)
from starlette.requests import HTTPConnection

from app.accounts import service as accounts
from app.accounts.models import Session

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


class SessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        session = None
        if scheme.lower() == "bearer" and token and len(token) <= MAX_TOKEN_LENGTH:
            session = await accounts.authenticate(token=token)
        if session is None:
            return AuthCredentials(), RejectedToken()
        return AuthCredentials(["authenticated"]), SessionUser(session)
