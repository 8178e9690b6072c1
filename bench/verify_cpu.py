"""CPU time per valid key verification, with the endpoint called in-process as ASGI.

Less disturbed by a shared machine than wrk's requests/s: it counts this process's CPU
time only, and leaves out uvicorn's HTTP work (which any endpoint pays). Sets up a user,
an organization, a key set and a verifier on a temporary SQLite file through GraphQL,
then calls POST /v1/keys/verify N times, five rounds, and prints the best round.

    python bench/verify_cpu.py [--calls 20000] [--no-usage-counting] [--ip 203.0.113.7]
                               [--credits] [--permissions "a AND (b OR c)" [--held a,b]]

`--no-usage-counting` measures without usage counts (KEYRACK_USAGE_COUNTING=false);
`--ip` sends a client address in every body, which counting also records;
`--credits` gives the key set credits (each verification spends one, in the database),
an externalId and a meta object, which every answer carries;
`--permissions` defines the query's names in the catalog, gives the key set those of
`--held` (default: all of them) and sends the query in every body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from app.main import create_app  # noqa: E402
from app.permissions.query import compile_query  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage.db import apply_migrations  # noqa: E402

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }"
CREATE_ORGANIZATION = 'mutation { createOrganization(input: {name: "A"}) { organization { id } } }'
CREATE_KEY_SET = "mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { primaryKey } }"
CREATE_VERIFIER = "mutation($i: CreateVerifierInput!) { createVerifier(input: $i) { token } }"
CREATE_PERMISSION = (
    "mutation($i: CreatePermissionInput!) { createPermission(input: $i) { userErrors { code } } }"
)


async def measure(
    calls: int,
    *,
    usage_counting: bool = True,
    ip: str | None = None,
    credits: bool = False,
    permissions: str | None = None,
    held: list[str] | None = None,
) -> float:
    workdir = tempfile.mkdtemp(prefix="keyrack-cpu-")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite://{workdir}/keyrack.db",
        secret_key="bench-" * 8,
        webhook_delivery=False,
        usage_counting=usage_counting,
    )
    await apply_migrations(settings.resolved_database_url)
    await Tortoise.close_connections()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def graphql(
                query: str, variables: dict[str, Any] | None = None, token: str | None = None
            ) -> dict[str, Any]:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                response = await client.post(
                    "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
                )
                data: dict[str, Any] = response.json()["data"]
                return data

            user = {"email": "cpu@example.com", "password": "correct horse battery", "name": "A"}
            token = (await graphql(SIGN_UP, {"i": user}))["signUp"]["token"]
            organization = (await graphql(CREATE_ORGANIZATION, token=token))["createOrganization"]
            organization_id = organization["organization"]["id"]
            names = sorted(compile_query(permissions).names) if permissions else []
            for name in names:
                permission = {"organizationId": organization_id, "name": name}
                await graphql(
                    CREATE_PERMISSION, {"i": permission | {"scopes": ["ORGANIZATION"]}}, token
                )
            key_set: dict[str, Any] = {
                "organizationId": organization_id,
                "label": "b",
                "permissionNames": names if held is None else held,
            }
            if credits:
                key_set.update(
                    remaining=2_000_000_000, externalId="cus_42", meta={"plan": "pro", "seats": 12}
                )
            key = (await graphql(CREATE_KEY_SET, {"i": key_set}, token))["createKeySet"]
            verifier = {"organizationId": organization_id, "name": "bench"}
            created = (await graphql(CREATE_VERIFIER, {"i": verifier}, token))["createVerifier"]

        extra = {"ip": ip} if ip else {}
        if permissions:
            extra["permissions"] = permissions
        body = json.dumps({"key": key["primaryKey"], **extra}).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/keys/verify",
            "headers": [
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {created['token']}".encode()),
            ],
            "client": ("127.0.0.1", 1),
        }
        answers: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                answers.append(message["body"])

        for _ in range(2000):  # warm the caches
            await app(scope, receive, send)
        if b'"VALID"' not in answers[-1]:
            raise RuntimeError(answers[-1].decode())
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            for _ in range(calls):
                await app(scope, receive, send)
            best = min(best, (time.process_time() - started) / calls)
        return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--usage-counting", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ip", default=None)
    parser.add_argument("--credits", action="store_true")
    parser.add_argument("--permissions", default=None)
    parser.add_argument("--held", default=None)
    args = parser.parse_args()
    per_call = asyncio.run(
        measure(
            args.calls,
            usage_counting=args.usage_counting,
            ip=args.ip,
            credits=args.credits,
            permissions=args.permissions,
            held=args.held.split(",") if args.held else None,
        )
    )
    print(f"{per_call:.1f} us CPU per valid verification (best of 5 x {args.calls})")


if __name__ == "__main__":
    main()
