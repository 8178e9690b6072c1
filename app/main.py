"""The ASGI application: routes, and the lifespan in which the database is open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise

from app.auth import SessionBackend
from app.db import tortoise_config
from app.graphql.view import KeyrackGraphQL
from app.keysets.keys import KeyMaterial
from app.settings import Settings, resolve_secret
from app.verify.endpoint import verify

READINESS_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    try:
        connection = connections.get(request.app.state.connection_name)
        await asyncio.wait_for(connection.execute_query("SELECT 1"), READINESS_TIMEOUT_SECONDS)
    except Exception:  # any failure means "not ready"; the reason is not the caller's business
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def create_app(settings: Settings | None = None, *, connection_name: str = "default") -> Starlette:
    settings = settings or Settings()
    keys = KeyMaterial.derive(resolve_secret(settings).value)
    graphql = KeyrackGraphQL(settings=settings, keys=keys)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config = tortoise_config(settings.resolved_database_url, connection=connection_name)
        async with RegisterTortoise(app, config=config):
            yield

    app = Starlette(
        routes=[
            Route("/graphql", AuthenticationMiddleware(graphql, backend=SessionBackend())),
            Route("/v1/keys/verify", verify, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.connection_name = connection_name
    return app
