"""`GET /v1/openapi.json`: the OpenAPI 3.1 description of the REST endpoints.

Built from the declarations below, one `Operation` per endpoint with every status it can
answer, and the bodies' schemas (app.edges.openapi_schemas); the values the code knows
(body limits, codes, permission names) come from the code. `python -m app.edges.openapi >
openapi.json` writes the committed copy, which a test keeps current. GraphQL (`/graphql`)
describes itself: see `schema.graphql`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version

from starlette.requests import Request
from starlette.responses import Response

from app.edges import leaks, verify
from app.edges.openapi_schemas import SCHEMAS, Schema, ref
from app.storage.db import UNAVAILABLE_RETRY_AFTER_SECONDS

PATH = "/v1/openapi.json"


@dataclass(frozen=True)
class Answer:
    """One status an operation can answer, and its body."""

    status: int
    description: str
    schema: Schema = field(default_factory=lambda: ref("Error"))
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
        body=ref("VerifyRequest"),
        answers=(
            Answer(
                200, "The verdict; `valid` says whether to let the caller in.", ref("VerifyResult")
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
                {"anyOf": [ref("VerifyResult"), ref("Error")]},
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
        body=ref("LeakReport"),
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
            Answer(200, "One answer per reported token, by its SHA-256.", ref("LeakAnswer")),
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
        answers=(Answer(200, "The current key and the previous ones.", ref("AuditPublicKeys")),),
    ),
    Operation(
        path="/healthz",
        method="get",
        operation_id="health",
        summary="Liveness",
        description="The process is alive; reads nothing.",
        answers=(Answer(200, 'Always `{"status": "ok"}`.', ref("Status")),),
    ),
    Operation(
        path="/readyz",
        method="get",
        operation_id="readiness",
        summary="Readiness",
        description="The database answers a query within two seconds.",
        answers=(
            Answer(200, '`{"status": "ready"}`.', ref("Status")),
            Answer(503, '`{"status": "unavailable"}`: take this node out.', ref("Status")),
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
