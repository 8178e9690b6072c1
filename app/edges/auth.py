"""Authentication at the edge: a session token becomes `request.user` once per request.

Scripts send the token as `Authorization: Bearer <token>`. The console keeps it in an
HttpOnly cookie that its scripts cannot read (`SESSION_COOKIE`), and proves each request
its own with a CSRF token (`CSRF_HEADER`): a value derived from the session token, which
the console reads from a cookie of its own (`CSRF_COOKIE`) and another site can neither
read nor compute. A request with the cookie but no CSRF header is anonymous (GraphiQL on
the same origin keeps working); with a wrong one, or for an ended session, refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping

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
from app.storage.db import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS, is_unavailable

logger = logging.getLogger("keyrack.auth")

MAX_TOKEN_LENGTH = 200
SESSION_COOKIE = "keyrack_session"
CSRF_COOKIE = "keyrack_csrf"
# Outside loopback the cookies are Secure and named with this prefix, which browsers
# accept only from this very host: a sibling subdomain cannot plant a session of its own.
HOST_PREFIX = "__Host-"
CSRF_HEADER = "x-csrf-token"
COOKIE_SESSION = "keyrack.cookie_session"  # in the request's scope: authenticated by cookie


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: computable only by whoever holds the session token."""
    return hmac.new(session_token.encode(), b"keyrack-csrf", hashlib.sha256).hexdigest()


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


SESSION_MODE_HEADER = "x-keyrack-session"  # "cookie": signUp and login answer in cookies
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def cookie_names(conn: HTTPConnection) -> tuple[str, str, bool]:
    """The session and CSRF cookies' names here, and whether they are Secure: plain on
    loopback, where a newcomer's browser talks plain HTTP to `keyrack serve`."""
    if conn.url.hostname in _LOOPBACK_HOSTS:
        return SESSION_COOKIE, CSRF_COOKIE, False
    return HOST_PREFIX + SESSION_COOKIE, HOST_PREFIX + CSRF_COOKIE, True


def set_session_cookies(
    conn: HTTPConnection, response: Response, token: str | None, *, max_age: int
) -> None:
    """Hands the session to the browser (`token`), or takes it back (None)."""
    session_name, csrf_name, secure = cookie_names(conn)
    for name, value, http_only in (
        (session_name, token, True),
        (csrf_name, csrf_token(token) if token else None, False),
    ):
        if value is None:
            response.delete_cookie(
                name, path="/", secure=secure, httponly=http_only, samesite="strict"
            )
        else:
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path="/",
                secure=secure,
                httponly=http_only,
                samesite="strict",
            )


_COOKIES = "keyrack.session_cookies"  # in the request's scope: a token to set, or None to clear


def answer_session(conn: HTTPConnection, token: str) -> str | None:
    """The new session's token as the answer gives it: None where the console asked for
    it in cookies (`x-keyrack-session: cookie`), which `deliver_session_cookies` then sets,
    so that no script of the page ever reads it, whatever the field's alias."""
    if conn.headers.get(SESSION_MODE_HEADER) != "cookie":
        return token
    conn.scope[_COOKIES] = token
    return None


def take_back_session(conn: HTTPConnection) -> None:
    """The session ended: a browser that held it in cookies gets them cleared."""
    if conn.scope.get(COOKIE_SESSION):
        conn.scope[_COOKIES] = None


def deliver_session_cookies(conn: HTTPConnection, response: Response, *, max_age: int) -> None:
    """What the request's resolvers decided about the session cookies, onto the answer;
    a cookie session that was refused (ended, a wrong CSRF token) has them cleared."""
    if conn.scope.get(COOKIE_SESSION) and isinstance(conn.scope.get("user"), RejectedToken):
        conn.scope.setdefault(_COOKIES, None)
    if _COOKIES in conn.scope:
        set_session_cookies(conn, response, conn.scope[_COOKIES], max_age=max_age)


def _from_cookie(conn: HTTPConnection) -> str | None:
    """The cookie's session token, if the request proves it comes from the console: None
    without the cookie or the CSRF header; "" (refused) for a wrong CSRF token."""
    token = conn.cookies.get(cookie_names(conn)[0])
    sent = conn.headers.get(CSRF_HEADER)
    if not token or sent is None:
        return None
    conn.scope[COOKIE_SESSION] = True
    expected = csrf_token(token).encode()
    # Starlette decodes headers as latin-1: any header encodes back.
    if len(token) > MAX_TOKEN_LENGTH or not hmac.compare_digest(sent.encode("latin-1"), expected):
        return ""
    return token


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _session_for(token: str) -> Session | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        return await accounts.authenticate(token=token)
    except Exception as error:
        if not is_unavailable(error):
            raise
        logger.warning("Database unavailable to authenticate: %s", type(error).__name__)
        raise DatabaseUnavailable(UNAVAILABLE_MESSAGE) from None


class SessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header:
            token = _bearer(header)
        else:
            cookie_token = _from_cookie(conn)
            if cookie_token is None:
                return None
            token = cookie_token
        session = await _session_for(token)
        if session is None:
            return AuthCredentials(), RejectedToken()
        return AuthCredentials(["authenticated"]), SessionUser(session)


# WebSockets (GraphQL subscriptions) -------------------------------------------------------
# A browser sends no header of its own on a WebSocket, so the socket authenticates in the
# graphql-transport-ws `connection_init` payload: `authorization` (as the header), or, for
# the console, its session cookie with the CSRF token as `csrfToken`. Browsers do not apply
# CORS to WebSockets and send the cookie along from any page of the same site, so the
# cookie counts only from a page of this very origin.
CSRF_PARAM = "csrfToken"
AUTHORIZATION_PARAM = "authorization"
_HTTP_SCHEMES = {"ws": "http", "wss": "https"}


class RefusedSocket(Exception):
    """The socket's credentials are wrong, ended, or a cookie from another origin."""


def same_origin(conn: HTTPConnection) -> bool:
    """Whether the request's Origin header names this server's own origin."""
    origin = conn.headers.get("origin")
    scheme = _HTTP_SCHEMES.get(conn.url.scheme, conn.url.scheme)
    return origin is not None and origin.lower() == f"{scheme}://{conn.url.netloc}".lower()


async def socket_session(conn: HTTPConnection, params: Mapping[str, object]) -> Session | None:
    """The session a WebSocket's `connection_init` payload (`params`) proves; None when it
    proves none (anonymous); `RefusedSocket` when it tries and fails."""
    authorization = params.get(AUTHORIZATION_PARAM)
    csrf = params.get(CSRF_PARAM)
    user = conn.scope.get("user")
    if isinstance(authorization, str):
        token = _bearer(authorization)
    elif isinstance(user, SessionUser):  # a script's Authorization header on the handshake
        return user.session
    elif isinstance(user, RejectedToken) or authorization is not None:
        raise RefusedSocket
    elif csrf is not None:
        token = conn.cookies.get(cookie_names(conn)[0]) or ""
        conn.scope[COOKIE_SESSION] = True
        if not (
            isinstance(csrf, str)
            and token
            and same_origin(conn)
            and hmac.compare_digest(csrf.encode("utf-8", "replace"), csrf_token(token).encode())
        ):
            raise RefusedSocket
    else:
        return None
    session = await _session_for(token)
    if session is None:
        raise RefusedSocket
    return session
