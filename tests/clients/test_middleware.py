"""The ASGI middleware protecting a FastAPI app, and the WSGI one a Flask app, against a
real `keyrack serve`: what a caller of the protected service sees."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import flask
import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse

from keyrack_client import AsyncVerifier, Verifier
from keyrack_client import asgi as keyrack_asgi
from keyrack_client import wsgi as keyrack_wsgi
from tests.clients.conftest import Keyrack


def fastapi_service(verifier: AsyncVerifier, **options: Any) -> FastAPI:
    """What an integrator writes: a FastAPI app, the middleware, a protected route."""
    app = FastAPI()
    app.add_middleware(keyrack_asgi.KeyrackMiddleware, verifier=verifier, **options)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/packages")
    def packages(request: Request) -> dict[str, str]:
        return {"caller": request.state.keyrack.label}

    return app


def flask_service(verifier: Verifier, **options: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.wsgi_app = keyrack_wsgi.KeyrackMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, verifier=verifier, **options
    )

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/packages")
    def packages() -> dict[str, str]:
        return {"caller": flask.request.environ[keyrack_wsgi.RESULT].label}

    return app


@pytest.fixture
async def verifier(keyrack: Keyrack) -> AsyncIterator[AsyncVerifier]:
    async with AsyncVerifier(keyrack.url, keyrack.verifier_token) as verifier:
        yield verifier


@pytest.fixture
def sync_verifier(keyrack: Keyrack) -> Iterator[Verifier]:
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        yield verifier


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_a_fastapi_service_accepts_a_valid_key_and_refuses_a_revoked_one(
    keyrack: Keyrack, verifier: AsyncVerifier
) -> None:
    # given
    key_set = keyrack.key_set("REGISTER_CATALOG_ITEMS")
    revoked = keyrack.key_set("REGISTER_CATALOG_ITEMS")
    keyrack.revoke(revoked)
    app = fastapi_service(verifier, permission="REGISTER_CATALOG_ITEMS")

    # when
    async with client_of(app) as client:
        accepted = await client.get("/packages", headers=bearer(key_set.key))
        refused = await client.get("/packages", headers=bearer(revoked.key))
        without = await client.get("/packages")

    # then
    assert accepted.status_code == 200
    assert accepted.json() == {"caller": key_set.label}
    assert refused.status_code == 401
    assert refused.json() == {"error": "Invalid API key.", "code": "NOT_FOUND"}
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert without.status_code == 401
    assert without.json()["code"] == "MISSING_KEY"


async def test_a_key_without_the_permission_or_from_elsewhere_is_forbidden(
    keyrack: Keyrack, verifier: AsyncVerifier
) -> None:
    # given
    lacking = keyrack.key_set("ADD_SYSTEM")
    elsewhere = keyrack.key_set("REGISTER_CATALOG_ITEMS", allowed_cidrs=("10.0.0.0/8",))
    app = fastapi_service(verifier, permission="REGISTER_CATALOG_ITEMS")

    # when: the test transport's caller is 127.0.0.1
    async with client_of(app) as client:
        insufficient = await client.get("/packages", headers=bearer(lacking.key))
        outside = await client.get("/packages", headers=bearer(elsewhere.key))

    # then
    assert insufficient.status_code == 403
    assert insufficient.json()["code"] == "INSUFFICIENT_PERMISSION"
    assert outside.status_code == 403
    assert outside.json()["code"] == "FORBIDDEN_IP"


async def test_excluded_paths_other_headers_and_the_integrators_own_refusal(
    keyrack: Keyrack, verifier: AsyncVerifier
) -> None:
    # given: the key in X-API-Key, health checks open, refusals in the service's format
    key_set = keyrack.key_set()

    def on_denied(scope: Any, denial: keyrack_asgi.Denial) -> JSONResponse:
        return JSONResponse({"problem": denial.code}, status_code=denial.status)

    app = fastapi_service(verifier, header="X-API-Key", exclude=["/healthz"], on_denied=on_denied)

    # when
    async with client_of(app) as client:
        health = await client.get("/healthz")
        accepted = await client.get("/packages", headers={"x-api-key": key_set.key})
        refused = await client.get("/packages", headers={"x-api-key": "kro_nope"})

    # then
    assert health.json() == {"status": "ok"}
    assert accepted.json() == {"caller": key_set.label}
    assert (refused.status_code, refused.json()) == (401, {"problem": "NOT_FOUND"})


async def test_without_keyrack_the_service_refuses_rather_than_lets_through(
    closed_port: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    key = "kro_" + "D" * 49
    async with AsyncVerifier(closed_port, "krv_x", retries=0) as verifier:
        app = fastapi_service(verifier)

        # when
        async with client_of(app) as client:
            answer = await client.get("/packages", headers=bearer(key))

    # then
    assert answer.status_code == 503
    assert answer.json()["code"] == "UNAVAILABLE"
    assert "Keyrack is unavailable" in caplog.text
    assert key not in caplog.text


def test_a_flask_service_accepts_a_valid_key_and_refuses_a_revoked_one(
    keyrack: Keyrack, sync_verifier: Verifier
) -> None:
    # given
    key_set = keyrack.key_set("ADD_SYSTEM")
    revoked = keyrack.key_set("ADD_SYSTEM")
    keyrack.revoke(revoked)
    lacking = keyrack.key_set()
    app = flask_service(sync_verifier, permission="ADD_SYSTEM", exclude=["/healthz"])
    client = app.test_client()

    # when
    accepted = client.get("/packages", headers=bearer(key_set.key))
    refused = client.get("/packages", headers=bearer(revoked.key))
    insufficient = client.get("/packages", headers=bearer(lacking.key))
    health = client.get("/healthz")

    # then
    assert (accepted.status_code, accepted.json) == (200, {"caller": key_set.label})
    assert (refused.status_code, refused.json) == (
        401,
        {"error": "Invalid API key.", "code": "NOT_FOUND"},
    )
    assert insufficient.status_code == 403
    assert insufficient.json == {
        "error": "This API key may not do this.",
        "code": "INSUFFICIENT_PERMISSION",
    }
    assert health.status_code == 200


def test_a_flask_service_answers_refusals_its_own_way(
    keyrack: Keyrack, sync_verifier: Verifier
) -> None:
    # given
    key_set = keyrack.key_set()

    def on_denied(environ: Any, denial: keyrack_wsgi.Denial) -> flask.Response:
        return flask.Response(f"denied: {denial.code}", status=denial.status)

    client = flask_service(sync_verifier, header="X-API-Key", on_denied=on_denied).test_client()

    # when
    accepted = client.get("/packages", headers={"x-api-key": key_set.key})
    refused = client.get("/packages", headers={"x-api-key": "kro_nope"})
    missing = client.get("/packages", headers=bearer(key_set.key))

    # then
    assert accepted.json == {"caller": key_set.label}
    assert (refused.status_code, refused.text) == (401, "denied: NOT_FOUND")
    assert (missing.status_code, missing.text) == (401, "denied: MISSING_KEY")


async def websocket_handshake(app: FastAPI, key: str) -> list[dict[str, Any]]:
    """What the service sends to a websocket client that connects with `key` and then
    leaves: the ASGI messages, as a server such as Uvicorn would get them."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/feed",
        "raw_path": b"/feed",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("service", 80),
        "subprotocols": [],
    }
    incoming = iter([{"type": "websocket.connect"}, {"type": "websocket.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


async def test_a_websocket_handshake_needs_a_key_too(
    keyrack: Keyrack, verifier: AsyncVerifier
) -> None:
    # given: a service with a websocket route behind the middleware
    key_set = keyrack.key_set()
    app = fastapi_service(verifier)

    @app.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.keyrack.label)
        await websocket.close()

    # when
    accepted = await websocket_handshake(app, key_set.key)
    refused = await websocket_handshake(app, "kro_nope")

    # then: closed before the handshake completes (the server answers HTTP 403)
    assert [m["type"] for m in accepted] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert accepted[1]["text"] == key_set.label
    assert refused == [{"type": "websocket.close", "code": 1008}]
