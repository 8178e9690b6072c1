"""`POST /v1/keys/verify`: the hot path every service calls on every request it serves.

A plain ASGI app rather than a Starlette request/response pair: it reads the body
straight from `receive` and sends prebuilt headers, which is most of what makes it
cheap. Errors are JSON; the key is never echoed.

The caller authenticates first, with a verifier token (`Authorization: Bearer krv_…`):
without a live one the answer is 401 before the body is even read.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from time import perf_counter
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from app import metrics
from app.edges.web import SECURITY_HEADER_PAIRS
from app.ids import pk_of, to_global_id
from app.keysets import keys as keyformat
from app.keysets.owners import MAX_CREDITS
from app.permissions.names import is_permission_name
from app.permissions.query import QuerySyntaxError, compile_query
from app.requestlog import REQUEST_INFO, note
from app.storage.db import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER_SECONDS, is_unavailable
from app.verify.service import Verifier

logger = logging.getLogger("keyrack.verify")

MAX_BODY_BYTES = 64 * 1024
_JSON_HEADERS = [(b"content-type", b"application/json"), *SECURITY_HEADER_PAIRS]
# The headers of an answer without extras, by its length: answers of a verdict have a few
# lengths only (`remaining` is the part that varies), so nearly every one is built once.
_Headers = tuple[tuple[bytes, bytes], ...]
_HEADERS_BY_LENGTH: dict[int, _Headers] = {}
_MAX_LENGTHS_KEPT = 4096
_RETRY_AFTER = [(b"retry-after", str(UNAVAILABLE_RETRY_AFTER_SECONDS).encode())]
_CHALLENGE = [(b"www-authenticate", b'Bearer realm="keyrack-verify"')]
_REJECTED = [(b"www-authenticate", b'Bearer realm="keyrack-verify", error="invalid_token"')]
_ASK_FOR_VERIFIER = (
    "Send 'Authorization: Bearer krv_…' with a verifier token "
    "(createVerifier, or keyrack create-verifier)."
)
_KEY_IN_HEADER = (
    "This is an API key, not a verifier token: send the key in the body and a "
    "verifier token (krv_…) in the Authorization header."
)
_UNKNOWN_VERIFIER = "Unknown or revoked verifier token."
_ID_FIELDS = (
    ("organizationId", "Organization", "an organization"),
    ("systemId", "System", "a system"),
)


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class BodyTooLarge(Exception):
    pass


def _loads(body: bytes) -> Any:
    """The body's JSON. orjson reads in a tenth of the standard library's time; what it
    refuses (a lone surrogate escape, NaN, a byte order mark, nesting past 1024) goes to
    the standard library, so that what is accepted, and how, is as it always was."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _parse(body: bytes) -> tuple[dict[str, Any] | None, str | dict[str, Any] | None]:
    """The body's fields, or what is wrong with it: a message, or a whole error answer."""
    try:
        data = _loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, 'Body must be JSON: {"key": "...", "permission": ..., "ip": ...}.'
    if not isinstance(data, dict):
        return None, "Body must be a JSON object."
    if not isinstance(data.get("key"), str):
        return None, '"key" is required and must be a string.'
    for name in ("permission", "permissions", "ip"):
        if data.get(name) is not None and not isinstance(data[name], str):
            return None, f'"{name}" must be a string when given.'
    cost = data["cost"] = 1 if data.get("cost") is None else data["cost"]
    if type(cost) is not int or not 0 <= cost <= MAX_CREDITS:  # bool is no count
        return None, f'"cost" must be an integer from 0 to {MAX_CREDITS} (default 1).'
    permission = data.get("permission")
    if permission is not None and not is_permission_name(permission):
        return None, (
            '"permission" cannot name a permission: a built-in name, or up to 64 lowercase '
            "letters, digits and ._:- starting with a letter."
        )
    if data.get("permissions") is not None:
        try:
            data["permissions"] = compile_query(data["permissions"])
        except QuerySyntaxError as error:
            return None, {"error": f'"permissions": {error}', "position": error.position}
    for name, type_name, what in _ID_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return None, f'"{name}" must be a string when given.'
        pk = pk_of(value, type_name)
        if pk is None:
            return None, f'"{name}" is not the id of {what}.'
        data[name] = pk
    return data, None


def _read_headers(scope: Scope) -> tuple[str | None, bool]:
    """The token of an `Authorization: Bearer …` header, if there is one, and whether a
    declared `Content-Length` is over the limit: one pass over the headers for both."""
    token: str | None = None
    seen_authorization = too_large = False
    for name, value in scope["headers"]:
        if name == b"authorization" and not seen_authorization:
            seen_authorization = True
            scheme, _, given = value.decode("latin-1").partition(" ")
            token = given.strip() if scheme.lower() == "bearer" else None
        elif name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
            too_large = True
    return token, too_large


def _headers(length: int) -> _Headers:
    headers = _HEADERS_BY_LENGTH.get(length)
    if headers is None:
        headers = (*_JSON_HEADERS, (b"content-length", str(length).encode()))
        if len(_HEADERS_BY_LENGTH) < _MAX_LENGTHS_KEPT:
            _HEADERS_BY_LENGTH[length] = headers
    return headers


def _answer(
    status: int, payload: dict[str, Any] | bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> tuple[Message, Message]:
    """The two ASGI messages of a JSON answer."""
    body = payload if isinstance(payload, bytes) else _encode(payload)
    headers = _headers(len(body))
    if extra:
        headers = (*headers, *extra)
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


class VerifyEndpoint:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    async def _read_rest(self, first: Message, receive: Receive) -> bytes:
        """The body of a request that sent it in several messages, `first` the first."""
        body: bytes = first.get("body", b"")
        chunks = [body]
        size = len(body)
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _send(
        self,
        send: Send,
        status: int,
        payload: dict[str, Any] | bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        start, body = _answer(status, payload, extra)
        await send(start)
        await send(body)

    async def _refuse(self, send: Send, token: str | None, address: str | None) -> None:
        """401 for a missing or bad verifier token; 429 for an address that keeps failing."""
        if address is not None:
            retry_after = await self.verifier.limits.hit_address(address)
            if retry_after is not None:
                retry = [(b"retry-after", str(retry_after).encode())]
                await self._send(send, 429, {"error": "Too many failed authentications."}, retry)
                return
        if not token:
            await self._send(send, 401, {"error": _ASK_FOR_VERIFIER}, _CHALLENGE)
            return
        message = _KEY_IN_HEADER if keyformat.is_well_formed(token) else _UNKNOWN_VERIFIER
        await self._send(send, 401, {"error": message}, _REJECTED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except Exception as error:
            # Served ahead of Starlette's error middleware: answer and log here.
            if is_unavailable(error):
                # The caller cannot tell a valid key from an invalid one: fail closed.
                logger.warning("Database unavailable in key verification: %s", type(error).__name__)
                await self._send(send, 503, {"error": UNAVAILABLE_MESSAGE}, _RETRY_AFTER)
                return
            logger.exception("Unexpected error in key verification")
            await self._send(send, 500, {"error": "Internal server error."})

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self._send(send, 405, {"error": "Use POST."}, [(b"allow", b"POST")])
            return
        client = scope.get("client")
        token, too_large = _read_headers(scope)
        audience = await self.verifier.authenticate(token) if token else None
        if audience is None:
            metrics.VERIFIER_REFUSALS.inc()
            note(scope, operation="verify", outcome="UNAUTHENTICATED")
            await self._refuse(send, token, client[0] if client else None)
            return
        try:
            if too_large:
                raise BodyTooLarge
            message = await receive()
            if message.get("more_body", False):
                body = await self._read_rest(message, receive)
            else:  # the common case: the whole body in one message
                body = message.get("body", b"")
                if len(body) > MAX_BODY_BYTES:
                    raise BodyTooLarge
        except BodyTooLarge:
            await self._send(send, 413, {"error": f"Body must be at most {MAX_BODY_BYTES} bytes."})
            return
        data, problem = _parse(body)
        if data is None:
            await self._send(
                send, 400, problem if isinstance(problem, dict) else {"error": problem}
            )
            return
        ip = None
        if data.get("ip") is not None:
            try:
                ip = ipaddress.ip_address(data["ip"])
            except ValueError:
                await self._send(send, 400, {"error": '"ip" is not a valid IPv4 or IPv6 address.'})
                return
        started = perf_counter()
        verdict = await self.verifier.verify(
            key=data["key"],
            audience=audience,
            permission=data.get("permission"),
            ip=ip,
            organization_id=data.get("organizationId"),
            system_id=data.get("systemId"),
            cost=data["cost"],
            query=data.get("permissions"),
        )
        seconds = perf_counter() - started
        metrics.verification(verdict.code, audience, seconds)
        info = scope.get(REQUEST_INFO)
        if info is not None:  # JSON request lines or tracing only: nothing to pay otherwise
            info["operation"] = "verify"
            info["outcome"] = verdict.code.value
            info["verified"] = (started, seconds, metrics.verifier_scope(audience))
            if audience.verifier_id is not None:
                info["caller"] = to_global_id("Verifier", audience.verifier_id)
        if verdict.retry_after is not None:
            retry = [(b"retry-after", str(verdict.retry_after).encode())]
            await self._send(send, 429, verdict.encoded(), retry)
            return
        # The messages sent from here: one await fewer than `_send` on the common path.
        start, answer = _answer(200, verdict.encoded())
        await send(start)
        await send(answer)
