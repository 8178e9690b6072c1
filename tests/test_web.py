"""HTTP hardening: strict headers everywhere, CORS for configured origins, size limits,
and no error for a client that hangs up mid-request."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support.processes import serving


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://keyrack.test")


async def test_api_responses_carry_strict_headers(
    http: httpx.AsyncClient, verifier_http: httpx.AsyncClient
) -> None:
    for response in (
        await http.post("/graphql", json={"query": "{ viewer { id } }"}),
        await verifier_http.post("/v1/keys/verify", json={"key": "kro_x"}),
        await http.post("/v1/keys/verify", json={"key": "kro_x"}),
        await http.get("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_graphiql_page_loads_only_its_own_assets(http: httpx.AsyncClient) -> None:
    # when
    page = await http.get("/graphql", headers={"accept": "text/html"})
    script = await http.get("/graphiql/graphiql.min.js", headers={"accept-encoding": "gzip"})

    # then
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unpkg.com" not in page.text
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    assert page.headers["x-frame-options"] == "DENY"
    assert script.status_code == 200
    assert script.headers["content-encoding"] == "gzip"
    assert "GraphiQL" in script.text


async def test_cors_admits_configured_origins_only(settings: Settings, backend: str) -> None:
    # given
    spa = create_app(
        settings.model_copy(update={"cors_origins": "https://app.example.com"}),
        connection_name=backend,
    )
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }

    # when
    async with client_for(spa) as client:
        allowed = await client.options(
            "/graphql", headers={"origin": "https://app.example.com", **preflight}
        )
        refused = await client.options(
            "/graphql", headers={"origin": "https://evil.example.net", **preflight}
        )

    # then
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_no_cors_headers_without_configured_origins(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"origin": "https://app.example.com"},
    )

    assert "access-control-allow-origin" not in response.headers


async def test_an_oversized_graphql_request_gets_413(http: httpx.AsyncClient) -> None:
    query = "{ viewer { id } }" + " " * (1024 * 1024)

    response = await http.post("/graphql", json={"query": query})

    assert response.status_code == 413
    assert "at most" in response.json()["error"]


async def test_malformed_json_to_graphql_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400


async def test_absurdly_nested_json_to_graphql_is_a_400(http: httpx.AsyncClient) -> None:
    body = b'{"query": "{ viewer { id } }", "variables": {"a": ' + b"[" * 200_000 + b"}"

    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400


def test_a_client_that_hangs_up_before_its_body_is_read_is_no_server_error(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a served process logging JSON
    env = {**database, "KEYRACK_LOG_FORMAT": "json"}
    with serving(tmp_path, env) as served:
        host, port = served.base.removeprefix("http://").split(":")

        # when: a client sends part of a GraphQL request and hangs up, as one that gives
        # up waiting on a busy server does (the soak's load generator did)
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(
                b"POST /graphql HTTP/1.1\r\nhost: keyrack.test\r\n"
                b"content-type: application/json\r\ncontent-length: 100\r\n"
                b"x-request-id: hung-up-1\r\n\r\n" + b'{"query": "{ viewer'
            )
        log = served.log_once_it_shows('"hung-up-1"')

    # then: a bad request (nobody is left to read it), not a 500 with a traceback
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    [request] = [line for line in lines if line.get("request_id") == "hung-up-1"]
    assert request["status"] == 400
    assert [line["message"] for line in lines if line["level"] == "ERROR"] == []
