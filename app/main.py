"""The ASGI application: routes, and the lifespan in which the database is open."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise

from app import clock, metrics
from app.audit import custody
from app.background import Background
from app.edges.auth import SessionBackend, auth_error
from app.edges.console import console_routes
from app.edges.leaks import GitHubLeakEndpoint
from app.edges.openapi import PATH as OPENAPI_PATH
from app.edges.openapi import openapi_endpoint
from app.edges.verify import VerifyEndpoint
from app.edges.web import BodySizeLimit, SecurityHeaders, body_cut_short
from app.graphql.ide import ASSETS_PATH, graphiql_assets
from app.graphql.view import KeyrackGraphQL
from app.jobs import background_tasks
from app.keysets import events
from app.leaks.scanner import ScannerKeys
from app.logs import quiet_third_party_loggers
from app.notifications import live
from app.parts import Parts, build_parts
from app.requestlog import RequestLog
from app.settings import Settings
from app.storage.db import tortoise_config
from app.tracing import from_environment as start_tracing
from app.verifiers import events as verifier_events
from app.verify.listener import ChangeListener, asyncpg_dsn
from app.verify.service import Verifier
from app.webhooks.worker import due_count

if TYPE_CHECKING:
    from app.tracing.spans import Tracing

READINESS_TIMEOUT_SECONDS = 2.0


GC_YOUNG_THRESHOLD = 50_000


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def _forget(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so that a late failure is not reported as unhandled


async def readyz(request: Request) -> JSONResponse:
    connection = connections.get(request.app.state.connection_name)
    probe = asyncio.ensure_future(connection.execute_query("SELECT 1"))
    probe.add_done_callback(_forget)
    try:
        # Shielded: cancelling the probe would wait for the driver to clean up after it,
        # which, against a server that stopped answering, takes as long as the server.
        # The probe itself ends at the statement timeout.
        await asyncio.wait_for(asyncio.shield(probe), READINESS_TIMEOUT_SECONDS)
    except Exception:  # any failure means "not ready"; the reason is not the caller's business
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def _pool_sizes(connection_name: str) -> tuple[int | None, int | None, int | None]:
    """(open, idle, max) connections of the PostgreSQL pool; Nones on SQLite."""
    pool = getattr(connections.get(connection_name), "_pool", None)
    if pool is None:
        return None, None, None
    return pool.get_size(), pool.get_idle_size(), pool.get_max_size()


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus' text format, for a caller with `Authorization: Bearer <KEYRACK_METRICS_TOKEN>`;
    not served at all while no token is set."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        return JSONResponse({"error": "Not found."}, status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return JSONResponse(
            {"error": "Send the metrics token: Authorization: Bearer <KEYRACK_METRICS_TOKEN>."},
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="keyrack-metrics"'},
        )
    verifier: Verifier = request.app.state.verifier
    queue = None
    if settings.webhook_delivery:
        with contextlib.suppress(Exception):  # the database away: the gauge is left out
            queue = await asyncio.wait_for(due_count(clock.now()), READINESS_TIMEOUT_SECONDS)
    pool_open, pool_idle, pool_max = _pool_sizes(request.app.state.connection_name)
    snapshot = metrics.Snapshot(
        cache_hits=verifier.cache.hits,
        cache_misses=verifier.cache.misses,
        cache_evictions=verifier.cache.evictions,
        cache_entries=len(verifier.cache),
        usage_buffer=len(verifier.usage),
        usage_rows=verifier.usage.unwritten_rows,
        webhook_queue=queue,
        pool_size=pool_open,
        pool_idle=pool_idle,
        pool_max=pool_max,
    )
    return Response(metrics.exposition(snapshot), media_type=CONTENT_TYPE_LATEST)


async def audit_public_key(request: Request) -> JSONResponse:
    """The key that signs audit checkpoints, and those of previous secrets."""
    signer = custody.signer()
    current, *previous = signer.public_keys
    return JSONResponse({**current.as_json(), "previous": [key.as_json() for key in previous]})


class KeyrackApp(Starlette):
    """Starlette, with the verification hot path answered before its middleware stack.

    `/v1/keys/verify` sets its own headers and handles its own errors, so the generic
    layers (error pages, exception handlers, header rewriting, routing) only cost it time.
    CORS does not apply to it either: it is for services, not browsers.
    """

    verify_path = "/v1/keys/verify"

    def __init__(
        self,
        *,
        verify: VerifyEndpoint,
        request_log: bool = False,
        tracing: Tracing | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.verify = verify

        def layered(app: ASGIApp) -> ASGIApp:
            # The layers every request passes, when they are on, put around each branch of
            # the dispatch rather than before it: by default a verification then awaits
            # the endpoint straight from here.
            if tracing is not None:
                app = tracing.middleware(app, verify_path=self.verify_path)
            if request_log:
                app = RequestLog(app)
            return app

        self._verification = layered(verify)
        self._everything_else = layered(super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.verify_path:
            await self._verification(scope, receive, send)
        else:
            await self._everything_else(scope, receive, send)


def _lifespan(
    parts: Parts,
    background: Background,
    tracing: Tracing | None,
    *,
    connection_name: str,
    schedule_background: bool,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    settings, verifier = parts.settings, parts.verifier

    def forget_everything() -> None:
        verifier.cache.clear()
        verifier.verifiers.clear()
        # Rings missed while not listening: every open subscription looks again.
        live.DOORBELLS.ring_all()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config = tortoise_config(
            settings.resolved_database_url,
            connection=connection_name,
            timeout=settings.database_timeout_seconds,
        )
        # Each part's stop is pushed as it starts: leaving stops them in the reverse order,
        # the background tasks first and Tortoise after them.
        async with AsyncExitStack() as stack:
            if tracing is not None:
                stack.push_async_callback(tracing.shutdown)
            stack.callback(events.subscribe(verifier.cache.evict_key_set))
            stack.callback(verifier_events.subscribe(verifier.verifiers.evict_verifier))
            await stack.enter_async_context(RegisterTortoise(app, config=config))
            _freeze_what_lives_as_long_as_the_process()
            if not settings.is_sqlite:
                # Other processes' changes arrive by NOTIFY; on SQLite the cache TTL bounds
                # them.
                listener = ChangeListener(
                    asyncpg_dsn(settings.resolved_database_url),
                    on_change=verifier.cache.evict_key_set,
                    on_reconnect=forget_everything,
                    others={
                        verifier_events.CHANNEL: verifier.verifiers.evict_verifier,
                        live.CHANNEL: live.DOORBELLS.ring,
                    },
                )
                listener.start()
                stack.push_async_callback(listener.stop)
            await stack.enter_async_context(background.running(scheduled=schedule_background))
            yield

    return lifespan


def _freeze_what_lives_as_long_as_the_process() -> None:
    # Everything built so far (schema, models, settings) lives as long as the process: keep
    # it out of the collector's full scans, whose pauses would otherwise show up as latency
    # spikes on the verification hot path.
    gc.collect()
    gc.freeze()
    # A request allocates tens of thousands of short-lived objects; with many requests in
    # flight they outlive the default 700-allocation young generation and get promoted,
    # and the older generations' scans then eat the throughput.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _middleware(settings: Settings) -> list[Middleware]:
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    cors = Middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        max_age=600,
    )
    return [Middleware(SecurityHeaders), *([cors] if origins else [])]


def _routes(parts: Parts) -> list[BaseRoute]:
    settings = parts.settings
    graphql = KeyrackGraphQL(
        settings=settings,
        keys=parts.keys,
        totp=parts.totp,
        verifier=parts.verifier,
        webhook_signing=parts.webhook_signing,
        mailer=parts.mailer,
    )
    graphql_endpoint = BodySizeLimit(
        AuthenticationMiddleware(graphql, backend=SessionBackend(), on_error=auth_error),
        max_bytes=settings.max_request_bytes,
    )
    leaks = GitHubLeakEndpoint(
        scanner_keys=ScannerKeys.parse(settings.leak_scanner_keys),
        keys=parts.keys,
        limits=parts.leak_limits,
        mailer=parts.mailer,
    )
    return [
        Route("/graphql", graphql_endpoint),
        # Subscriptions (graphql-transport-ws): the same endpoint, the same authentication.
        WebSocketRoute("/graphql", graphql_endpoint),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *([Mount(ASSETS_PATH, graphiql_assets())] if settings.graphiql else []),
        *console_routes(),
        Route("/v1/audit/public-key", audit_public_key, methods=["GET"]),
        Route(OPENAPI_PATH, openapi_endpoint, methods=["GET"]),
        Route("/v1/leaks/github", leaks.handle, methods=["POST"]),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    connection_name: str = "default",
    schedule_background: bool = True,
) -> Starlette:
    """The Keyrack ASGI app. `schedule_background=False` keeps the background tasks
    (app.background) from running on their own: the test suite drives their rounds."""
    settings = settings or Settings()
    quiet_third_party_loggers()
    parts = build_parts(settings)
    background = Background(background_tasks(parts))
    tracing = start_tracing()
    app = KeyrackApp(
        verify=VerifyEndpoint(parts.verifier),
        request_log=settings.log_format == "json",
        tracing=tracing,
        middleware=_middleware(settings),
        routes=_routes(parts),
        exception_handlers={ClientDisconnect: body_cut_short},
        lifespan=_lifespan(
            parts,
            background,
            tracing,
            connection_name=connection_name,
            schedule_background=schedule_background,
        ),
    )
    app.state.settings = settings
    app.state.audit_keys = parts.audit
    app.state.keys = parts.keys
    app.state.verifier = parts.verifier
    app.state.retirer = parts.retirer
    app.state.usage_pruner = parts.usage_pruner
    app.state.webhook_signing = parts.webhook_signing
    app.state.background = background
    app.state.connection_name = connection_name
    app.state.leak_limits = parts.leak_limits
    return app
