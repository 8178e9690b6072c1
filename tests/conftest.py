"""The suite runs once per database: embedded SQLite, and a throwaway PostgreSQL server.

Every test that uses `gql`, `http` or `app` is parametrised by the session-scoped
`backend` fixture, so `pytest` runs it on both; `-k sqlite` or `-k postgres` picks one.
PostgreSQL binaries missing: those tests skip with the reason, except in CI (`CI` set),
where they fail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise, connections

from app.db import apply_migrations
from app.main import create_app
from app.settings import Settings, resolve_secrets
from pgcluster import PostgresCluster
from processes import cluster_or_skip
from support import KEY_PATTERN, GraphQL

BACKENDS = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres_only` (races that need row locks, LISTEN/NOTIFY) exist only
    in their [postgres] variant."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


LOG_FILE_NAME = "keyrack-test.log"


@pytest.fixture(scope="session")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything logged during the suite; at the end it must hold no key value."""
    path = tmp_path_factory.getbasetemp() / LOG_FILE_NAME
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous_level)
    handler.close()
    written = path.read_text(encoding="utf-8")
    assert written, "nothing was logged: the scan below would prove nothing"
    leaked = KEY_PATTERN.findall(written)
    assert not leaked, f"{len(leaked)} key value(s) reached the logs"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = cluster_or_skip()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'keyrack.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        # Tests drive the webhook worker (and expiry rounds) themselves: the fuzzer
        # registers webhooks pointing anywhere, and nothing may leave loopback.
        webhook_delivery=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, backend: str, log_file: Path) -> AsyncIterator[Starlette]:
    await apply_migrations(
        settings.resolved_database_url, connection=backend, secrets=resolve_secrets(settings)
    )
    await Tortoise.close_connections()
    application = create_app(settings, connection_name=backend)
    # httpx's ASGI transport does not run the lifespan, so the session runs it.
    async with application.router.lifespan_context(application):
        yield application


async def _truncate_all(connection_name: str) -> None:
    connection = connections.get(connection_name)
    tables = [
        model._meta.db_table
        for model in Tortoise.apps["models"].values()
        if model._meta.db_table != "aerich"
    ]
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE;")
    else:
        statements = "".join(f'DELETE FROM "{table}";' for table in tables)
        await connection.execute_script(
            f"PRAGMA foreign_keys=OFF;{statements}PRAGMA foreign_keys=ON;"
        )


@pytest.fixture
async def http(app: Starlette, backend: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, on a clean database."""
    # Whatever the last test left in the verifier belongs to rows about to be deleted.
    await app.state.verifier.usage.flush()
    app.state.verifier.cache.clear()
    await _truncate_all(backend)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQL:
    return GraphQL(http)
