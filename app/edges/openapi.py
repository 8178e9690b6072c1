"""`GET /v1/openapi.json`: the OpenAPI 3.1 description of the REST endpoints.

Built from the declarations below, one `Operation` per endpoint with every status it can
answer; the values the code knows (body limits, codes, permission names) come from the
code. `python -m app.edges.openapi > openapi.json` writes the committed copy, which a test
keeps current. GraphQL (`/graphql`) describes itself: see `schema.graphql`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.audit.signing import ALGORITHM
from app.edges import leaks, verify
from app.keysets.models import KeySlot
from app.keysets.permissions import KeyPermission
from app.storage.db import UNAVAILABLE_RETRY_AFTER_SECONDS
from app.verify.codes import VerifyCode

PATH = "/v1/openapi.json"
# Answered when credits do not cover a verification's cost (CONTRACT.md, "Credits").
_CREDIT_CODES = ("USAGE_EXCEEDED",)
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


_GLOBAL_ID = {"type": "string", "description": "A global id, as GraphQL's `id` fields give it."}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What to change; never a key."}},
    },
    "VerifyRequest": {
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {"type": "string", "description": "The API key to check."},
            "permission": {
                "type": "string",
                "description": (
                    "A permission the key must hold: a built-in or catalog name; one "
                    "that cannot name a permission is a 400."
                ),
                "examples": [p.value for p in KeyPermission][:2],
            },
            "permissions": {
                "type": "string",
                "description": (
                    "A permission query the key must satisfy: names, AND, OR and "
                    "parentheses (at most 32 names, depth 8), e.g. `a AND (b OR c)`. "
                    "A malformed query is a 400 naming the position."
                ),
            },
            "cost": {
                "type": "integer",
                "minimum": 0,
                "description": "Credits this verification spends (default 1).",
            },
            "ip": {
                "type": "string",
                "description": "The caller's IPv4 or IPv6 address, checked against the key "
                "set's allowed networks; not an address is a 400.",
            },
            "organizationId": {
                **_GLOBAL_ID,
                "description": "Only keys of this organization (or its systems) verify.",
            },
            "systemId": {**_GLOBAL_ID, "description": "Only keys of this system verify."},
        },
    },
    "VerifyResult": {
        "type": "object",
        "required": [
            "valid",
            "code",
            "keySet",
            "organizationId",
            "systemId",
            "permissions",
            "slot",
            "expiresAt",
            "deprecated",
            "validUntil",
        ],
        "properties": {
            "valid": {"type": "boolean", "description": "True exactly when code is VALID."},
            "code": {"enum": list(dict.fromkeys([*VerifyCode, *_CREDIT_CODES]))},
            "keySet": _nullable(
                {
                    "type": "object",
                    "required": ["id", "label"],
                    "properties": {"id": _GLOBAL_ID, "label": {"type": "string"}},
                }
            ),
            "organizationId": _nullable(_GLOBAL_ID),
            "systemId": _nullable(_GLOBAL_ID),
            "permissions": _nullable({"type": "array", "items": {"type": "string"}}),
            "slot": _nullable({"enum": [slot.value for slot in KeySlot]}),
            "expiresAt": _nullable(_TIME),
            "deprecated": {
                "type": "boolean",
                "description": "The key was replaced: it verifies until validUntil.",
            },
            "validUntil": _nullable(_TIME),
            "externalId": _nullable({"type": "string", "maxLength": 255}),
            "meta": _nullable({"type": "object"}),
            "remaining": _nullable(
                {
                    "type": "integer",
                    "description": "Credits left; present for a key set with credits.",
                }
            ),
            "missingPermissions": _nullable(
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": (
                        "With INSUFFICIENT_PERMISSION: the names asked for that the key lacks."
                    ),
                }
            ),
        },
    },
    "LeakReport": {
        "type": "array",
        "maxItems": leaks.MAX_TOKENS,
        "items": {
            "type": "object",
            "required": ["token"],
            "properties": {
                name: {"type": "string", "maxLength": leaks.MAX_FIELD_LENGTH}
                for name in ("token", "type", "url", "source")
            },
        },
    },
    "LeakAnswer": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["token_hash", "token_type", "label"],
            "properties": {
                "token_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "token_type": {"type": "string"},
                "label": {"enum": ["true_positive", "false_positive"]},
            },
        },
    },
    "PublicKey": {
        "type": "object",
        "required": ["keyId", "algorithm", "publicKey"],
        "properties": {
            "keyId": {"type": "string"},
            "algorithm": {"const": ALGORITHM},
            "publicKey": {"type": "string", "contentEncoding": "base64"},
        },
    },
    "AuditPublicKeys": {
        "allOf": [_ref("PublicKey")],
        "type": "object",
        "required": ["previous"],
        "properties": {
            "previous": {
                "type": "array",
                "items": _ref("PublicKey"),
                "description": "Keys of previous secrets, newest first.",
            }
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class Answer:
    """One status an operation can answer, and its body."""

    status: int
    description: str
    schema: Schema = field(default_factory=lambda: _ref("Error"))
    media_type: str = "application/json"
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    operation_id: str
    summary: str
    description: str
    answers: tuple[Answer, ...]
    body: Schema | None = None
    security: str | None = None
    parameters: tuple[Schema, ...] = ()


_HEADERS: dict[str, Schema] = {
    "retry-after": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "www-authenticate": {"description": "The Bearer challenge.", "schema": {"type": "string"}},
}

_TOO_LARGE = "The body is over {} bytes."

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        path="/v1/keys/verify",
        method="post",
        operation_id="verifyKey",
        summary="Verify an API key",
        description=(
            "Whether a key is valid, holds a permission and is used from an allowed "
            "address. An unknown key, one outside the verifier's scope and a revoked one "
            "answer alike: NOT_FOUND. Authenticate with a verifier token first: without a "
            "live one the answer is 401, whatever the body."
        ),
        security="verifierToken",
        body=_ref("VerifyRequest"),
        answers=(
            Answer(
                200, "The verdict; `valid` says whether to let the caller in.", _ref("VerifyResult")
            ),
            Answer(
                400, "The body is not JSON of the request's shape (the error says which field)."
            ),
            Answer(
                401,
                "No verifier token, or an unknown or revoked one.",
                headers=("www-authenticate",),
            ),
            Answer(413, _TOO_LARGE.format(verify.MAX_BODY_BYTES)),
            Answer(
                429,
                "The key set's rate limit (a verdict with code RATE_LIMITED), or too many "
                "failed authentications from this address (an error).",
                {"anyOf": [_ref("VerifyResult"), _ref("Error")]},
                headers=("retry-after",),
            ),
            Answer(
                503,
                "The database is unavailable: no verdict either way "
                f"(retry after {UNAVAILABLE_RETRY_AFTER_SECONDS} s).",
                headers=("retry-after",),
            ),
        ),
    ),
    Operation(
        path="/v1/leaks/github",
        method="post",
        operation_id="reportGitHubLeaks",
        summary="GitHub secret scanning: report leaked tokens",
        description=(
            "GitHub's secret-scanning partner protocol: a signed list of tokens found in "
            "public code. Each of ours is revoked or flagged as its key set says. Served "
            "only while KEYRACK_LEAK_SCANNER_KEYS is set."
        ),
        body=_ref("LeakReport"),
        parameters=tuple(
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": description,
            }
            for name, description in (
                (leaks.IDENTIFIER_HEADER, "Names one of the configured scanner keys."),
                (leaks.SIGNATURE_HEADER, "The body's base64 ECDSA P-256 SHA-256 signature."),
            )
        ),
        answers=(
            Answer(200, "One answer per reported token, by its SHA-256.", _ref("LeakAnswer")),
            Answer(400, "The body is not a list of reports (or was cut short)."),
            Answer(401, "The signature is missing or does not match a configured key."),
            Answer(404, "Leak reports are not taken here (KEYRACK_LEAK_SCANNER_KEYS unset)."),
            Answer(413, _TOO_LARGE.format(leaks.MAX_BODY_BYTES)),
            Answer(
                429,
                "Too many unsigned or oversized reports from this address.",
                headers=("retry-after",),
            ),
        ),
    ),
    Operation(
        path="/v1/audit/public-key",
        method="get",
        operation_id="auditPublicKey",
        summary="The audit checkpoints' public keys",
        description=(
            "The Ed25519 key that signs audit checkpoints, and those of previous secrets, "
            "for `keyrack audit verify` and anyone checking a checkpoint."
        ),
        answers=(Answer(200, "The current key and the previous ones.", _ref("AuditPublicKeys")),),
    ),
    Operation(
        path="/healthz",
        method="get",
        operation_id="health",
        summary="Liveness",
        description="The process is alive; reads nothing.",
        answers=(Answer(200, 'Always `{"status": "ok"}`.', _ref("Status")),),
    ),
    Operation(
        path="/readyz",
        method="get",
        operation_id="readiness",
        summary="Readiness",
        description="The database answers a query within two seconds.",
        answers=(
            Answer(200, '`{"status": "ready"}`.', _ref("Status")),
            Answer(503, '`{"status": "unavailable"}`: take this node out.', _ref("Status")),
        ),
    ),
    Operation(
        path="/metrics",
        method="get",
        operation_id="metrics",
        summary="Prometheus metrics",
        description="Prometheus' text format. Served only while KEYRACK_METRICS_TOKEN is set.",
        security="metricsToken",
        answers=(
            Answer(200, "The metrics.", {"type": "string"}, media_type="text/plain"),
            Answer(401, "The metrics token is missing or wrong.", headers=("www-authenticate",)),
            Answer(404, "Metrics are not served (KEYRACK_METRICS_TOKEN unset)."),
        ),
    ),
    Operation(
        path=PATH,
        method="get",
        operation_id="openapi",
        summary="This description",
        description="The OpenAPI 3.1 description of the REST endpoints.",
        answers=(Answer(200, "This document.", {"type": "object"}),),
    ),
)

SECURITY_SCHEMES: dict[str, Schema] = {
    "verifierToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A verifier token (krv_…): createVerifier, or `keyrack create-verifier`.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of KEYRACK_METRICS_TOKEN.",
    },
}


def _operation(operation: Operation) -> Schema:
    built: Schema = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": operation.description,
    }
    if operation.security is not None:
        built["security"] = [{operation.security: []}]
    if operation.parameters:
        built["parameters"] = list(operation.parameters)
    if operation.body is not None:
        built["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.body}},
        }
    responses: Schema = {}
    for answer in operation.answers:
        response: Schema = {
            "description": answer.description,
            "content": {answer.media_type: {"schema": answer.schema}},
        }
        if answer.headers:
            response["headers"] = {name: _HEADERS[name] for name in answer.headers}
        responses[str(answer.status)] = response
    built["responses"] = responses
    return built


@cache
def document() -> Schema:
    paths: dict[str, Schema] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Keyrack REST API",
            "version": version("keyrack"),
            "description": (
                "Key verification for services, GitHub leak reports, the audit public key, "
                "health and metrics. Everything else is GraphQL, at /graphql."
            ),
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def text() -> str:
    """The document as committed in `openapi.json`."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


@cache
def _body() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


async def openapi_endpoint(request: Request) -> Response:
    return Response(_body(), media_type="application/json")


if __name__ == "__main__":
    print(text(), end="")
