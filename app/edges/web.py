"""HTTP hardening shared by every route: strict headers, request size limits, and a
request whose body never all arrives."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "cross-origin-opener-policy": "same-origin",
    # Responses can carry key values: never keep them in a cache.
    "cache-control": "no-store",
}
# Every response but the GraphiQL page (which sets its own) is data only.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADER_PAIRS = [
    (name.encode(), value.encode())
    for name, value in [*SECURITY_HEADERS.items(), ("content-security-policy", API_CSP)]
]
_OWN_NAMES = frozenset(name for name, _ in SECURITY_HEADER_PAIRS)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                if not present >= _OWN_NAMES:  # the verify endpoint sends them itself
                    # A page that declares its own policy (GraphiQL, the console) keeps it;
                    # any other response, an HTML file among the console's included,
                    # gets the API's, which lets nothing run.
                    headers.extend(
                        (name, value)
                        for name, value in SECURITY_HEADER_PAIRS
                        if name not in present
                    )
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 to a request body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": f"Request body must be at most {self.max_bytes} bytes."}, status_code=413
        )
        await response(scope, receive, send)


async def body_cut_short(request: Request, exc: Exception) -> JSONResponse:
    """The answer to a request whose client hung up before its body was read (Starlette's
    `ClientDisconnect`), on any route: 400, which nobody may be left to read. Unhandled,
    it was a 500 with a traceback in the log: a client giving up on a busy server, or
    sending half a body, looked like a fault of the server's."""
    return JSONResponse({"error": "The request body was cut short."}, status_code=400)
