"""`KeyrackMiddleware` for ASGI apps (Starlette, FastAPI, ...).

    app.add_middleware(KeyrackMiddleware, verifier=AsyncVerifier(url, token),
                       permission="DEPLOY_PACKAGES", exclude=["/healthz"])

A request with a valid key goes on with the result in `scope["state"]["keyrack"]`
(`request.state.keyrack`); any other is answered here. Websocket handshakes are checked
the same way and closed (HTTP 403) when refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from keyrack_client._async import AsyncVerifier
from keyrack_client._errors import KeyrackError
from keyrack_client._middleware import Denial, Guard, failed, judge, missing, usable_ip

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
OnDenied = Callable[[Scope, Denial], ASGIApp]

__all__ = ["Denial", "KeyrackMiddleware"]


class KeyrackMiddleware:
    """Lets through only requests that carry a key Keyrack says is valid.

    `header` names where the key is: `Authorization` (default, `Bearer <key>`) or any
    other header, whose whole value is the key (`X-API-Key`). `permission` (one
    permission name) and `permissions` (a permission query) are checked with the key.
    `exclude` lists paths served without a key (and their subpaths). `on_denied(scope,
    denial)` returns the ASGI app (a Starlette `Response` is one) that answers a refused
    request; by default a JSON `{"error", "code"}` with the denial's status.
    `client_ip(scope)` says which address to check against a key's allow-list (default:
    the connection's peer, which Uvicorn's `--proxy-headers` sets from trusted proxies).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: AsyncVerifier,
        header: str = "Authorization",
        permission: str | None = None,
        permissions: str | None = None,
        exclude: Iterable[str] = (),
        on_denied: OnDenied | None = None,
        client_ip: Callable[[Scope], str | None] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.guard = Guard(
            header=header, permission=permission, permissions=permissions, exclude=exclude
        )
        self.on_denied = on_denied or _json_denial
        self.client_ip = client_ip or _peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.guard.excluded(scope["path"]):
            await self.app(scope, receive, send)
            return
        denial = await self._check(scope)
        if denial is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await self.on_denied(scope, denial)(scope, receive, send)

    async def _check(self, scope: Scope) -> Denial | None:
        key = self.guard.key_from(_header(scope, self.guard.header))
        if key is None:
            return missing()
        try:
            result = await self.verifier.verify(
                key,
                permission=self.guard.permission,
                permissions=self.guard.permissions,
                ip=usable_ip(self.client_ip(scope)),
            )
        except KeyrackError as error:
            return failed(error)
        scope.setdefault("state", {})["keyrack"] = result
        return judge(result)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for header, value in scope["headers"]:
        if header.lower() == wanted:
            text: str = value.decode("latin-1")
            return text
    return None


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _json_denial(scope: Scope, denial: Denial) -> ASGIApp:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        body = denial.json_body()
        headers = [(k.encode(), v.encode()) for k, v in denial.headers]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": denial.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return respond
