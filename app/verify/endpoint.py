"""`POST /v1/keys/verify`: the hot path every service calls on every request it serves."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.keysets.permissions import KeyPermission
from app.verify.service import Verifier

MAX_BODY_BYTES = 64 * 1024
_PERMISSIONS = frozenset(p.value for p in KeyPermission)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, 'Body must be JSON: {"key": "...", "permission": ..., "ip": ...}.'
    if not isinstance(data, dict):
        return None, "Body must be a JSON object."
    if not isinstance(data.get("key"), str):
        return None, '"key" is required and must be a string.'
    for name in ("permission", "ip"):
        if data.get(name) is not None and not isinstance(data[name], str):
            return None, f'"{name}" must be a string when given.'
    return data, None


async def verify(request: Request) -> Response:
    try:
        body = await _read_body(request)
    except BodyTooLarge:
        return _error(413, f"Body must be at most {MAX_BODY_BYTES} bytes.")
    data, problem = _parse(body)
    if data is None:
        return _error(400, problem or "Bad request.")
    permission = data.get("permission")
    if permission is not None and permission not in _PERMISSIONS:
        return _error(400, '"permission" is not a known permission name.')
    ip = None
    if data.get("ip") is not None:
        try:
            ip = ipaddress.ip_address(data["ip"])
        except ValueError:
            return _error(400, '"ip" is not a valid IPv4 or IPv6 address.')
    verifier: Verifier = request.app.state.verifier
    verdict = await verifier.verify(
        key=data["key"],
        permission=permission,
        ip=ip,
        client_address=request.client.host if request.client else None,
    )
    if verdict.retry_after is not None:
        return JSONResponse(
            verdict.as_json(), status_code=429, headers={"Retry-After": str(verdict.retry_after)}
        )
    return JSONResponse(verdict.as_json())
