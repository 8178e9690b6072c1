"""One log line per request, for machines (`KEYRACK_LOG_FORMAT=json`).

The outermost layer of the application. It gives each request an id (the caller's
`X-Request-Id` when it is a short token of safe characters, else a new one), returns it in
`x-request-id`, and when the response is done logs the request id, the operation, the
caller, the latency and the outcome. The endpoints name the operation, the caller and the
outcome in the scope's `REQUEST_INFO` dict: `/v1/keys/verify` its verdict code and the key
set, `/graphql` the operation name, the signed-in user and the first error code. A caller is
an id, never a key, token or address. While tracing is on, the line carries the trace id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("keyrack.request")

REQUEST_INFO = "keyrack.request"
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def note(scope: Scope, **fields: Any) -> None:
    """Adds what an endpoint knows to the request's log line (nothing if none is kept)."""
    info = scope.get(REQUEST_INFO)
    if info is not None:
        info.update(fields)


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value
                break
        if not request_id:
            request_id = uuid.uuid4().hex.encode()
        info: dict[str, Any] = {}
        scope[REQUEST_INFO] = info
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id.decode(),
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "operation": info.get("operation") or f"{scope['method']} {scope['path']}",
                    "caller": info.get("caller"),
                    "outcome": info.get("outcome") or ("ok" if status < 400 else "error"),
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    **({"trace_id": info["trace_id"]} if "trace_id" in info else {}),
                },
            )
