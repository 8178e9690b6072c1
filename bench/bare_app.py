"""The yardstick for bench/verify.py: a bare Starlette endpoint returning the same JSON."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ANSWER = {
    "valid": True,
    "code": "VALID",
    "keySet": {"id": "S2V5U2V0OjE", "label": "bench"},
    "organizationId": "T3JnYW5pemF0aW9uOjE",
    "systemId": None,
    "permissions": ["REGISTER_CATALOG_ITEMS"],
    "slot": "PRIMARY",
    "expiresAt": None,
    "deprecated": False,
    "validUntil": None,
}


async def verify(request: Request) -> JSONResponse:
    # Like Keyrack, refuse a request without a bearer credential (but check nothing more).
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return JSONResponse({"error": "Send a verifier token."}, status_code=401)
    return JSONResponse(ANSWER)


def create_app() -> Starlette:
    return Starlette(routes=[Route("/v1/keys/verify", verify, methods=["POST"])])
