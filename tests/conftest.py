"""The suite runs once per database: embedded SQLite, and a throwaway PostgreSQL server.

Every test that uses `gql`, `http` or `app` is parametrised by the session-scoped
`backend` fixture, so `pytest` runs it on both; `-k sqlite` or `-k postgres` picks one.
PostgreSQL binaries missing: those tests skip with the reason, except in CI (`CI` set),
where they fail.

pytest-xdist runs the suite in worker processes (`-n auto` in pyproject.toml). Session
fixtures are per worker, so each worker has its own SQLite file, its own throwaway
PostgreSQL cluster (started the first time the worker runs a [postgres] test) and its own
log file that `log_file` scans for key values.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise, connections

from app import clock as app_clock
from app.accounts import passwords
from app.audit import custody
from app.clock import MovableClock
from app.main import create_app
from app.settings import Settings, resolve_secrets
from app.storage.db import apply_migrations
from app.verifiers.service import create_verifier
from testbed.pgcluster import PostgresCluster
from tests.support import (
    KEY_PATTERN,
    SECRETS_USED,
    GraphQL,
    remember_secret,
    scenes,
    verifying_client,
)
from tests.support.processes import cluster_or_skip, serving
from tests.support.served import database_env

# argon2's smallest memory (8 KiB a lane) and one pass.
CHEAPEST = passwords.Argon2Parameters(memory_cost=8, rounds=1, parallelism=1)

# The statement text cache and the verdict cache rebuild and compare every hit while the
# suite runs.
pytest_plugins = ["tests.support.statement_check", "tests.support.verdict_check"]

# Property tests draw the same examples on every run, so that the suite is green every
# time; HYPOTHESIS_PROFILE=explore draws new ones (and keeps failures in .hypothesis/).
hypothesis.settings.register_profile("suite", derandomize=True, database=None)
hypothesis.settings.register_profile("explore", derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

BACKENDS = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres_only` (races that need row locks, LISTEN/NOTIFY) exist only
    in their [postgres] variant."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # The few tests of a minute or more go first (a stable sort keeps the rest in order):
    # started last, one of them alone would hold up the end of the run while the other
    # workers sit idle; started first, their waiting overlaps everything else.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
    # A worker's deselections never reach the summary that xdist's controller prints, so
    # the count travels with the worker's results (see pytest_testnodedown).
    workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_DESELECTED_KEY] = len(dropped)


_DESELECTED_KEY = "postgres_only_deselected"
_deselected = pytest.StashKey[int]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker finished; every worker collected the same tests."""
    output: dict[str, Any] = getattr(node, "workeroutput", {})
    if _DESELECTED_KEY in output:
        node.config.stash[_deselected] = output[_DESELECTED_KEY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if count := config.stash.get(_deselected, 0):
        terminalreporter.write_line(
            f"{count} deselected: the [sqlite] variants of postgres_only tests (see README)"
        )


LOG_FILE_NAME = "keyrack-test.log"


@pytest.fixture(scope="session")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Everything logged during the suite; at the end it must hold no key value, nor any
    secret the tests used (`support.SECRETS_USED`: passwords, tokens, keys, secrets).

    Per process: each process logs to its own file and scans it for its own secrets."""
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
    secrets_leaked = [secret for secret in SECRETS_USED if secret in written]
    # Only how many: the message must not print them again.
    assert not secrets_leaked, (
        f"{len(secrets_leaked)} of the {len(SECRETS_USED)} secrets the tests used reached "
        f"the logs (lengths {sorted(len(s) for s in secrets_leaked)})"
    )


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """The suite signs up thousands of people: argon2 at its cheapest parameters (8 KiB,
    1 pass) instead of OWASP's (19 MiB, 2 passes), which cost 70-80 ms of CPU per hash
    here. Served processes keep `PRODUCTION` (tests/accounts/test_password_parameters.py)."""
    passwords.use_parameters(CHEAPEST)
    yield
    passwords.use_parameters(passwords.PRODUCTION)


@pytest.fixture(scope="session", autouse=True)
def _movable_clock() -> Iterator[MovableClock]:
    """Every decision the app takes on time reads `app.clock`: tests move it instead of
    sleeping (`clock` fixture, `tests.support.advance`)."""
    movable = MovableClock()
    previous = app_clock.use(movable)
    yield movable
    app_clock.use(previous)


@pytest.fixture(autouse=True)
def _clock_at_real_time(_movable_clock: MovableClock) -> None:
    """Each test starts at the system's time; the monotonic offset stays (see MovableClock)."""
    _movable_clock.reset()


@pytest.fixture
def clock(_movable_clock: MovableClock) -> MovableClock:
    """The clock the app reads: `clock.advance(seconds)` lets time pass at once."""
    return _movable_clock


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
        return f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'keyrack.db'}?synchronous=OFF"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        # Tests drive the webhook worker (and expiry rounds) themselves: the fuzzer
        # registers webhooks pointing anywhere, and nothing may leave loopback.
        webhook_delivery=False,
        # The receivers of tests/webhooks listen on loopback; tests of the default build
        # their own app or worker with `webhook_allow_private=False`.
        webhook_allow_private=True,
        # A statement or a wait for a pooled connection past 5 s (the default) answers
        # SERVICE_UNAVAILABLE: on a machine loaded tenfold, the 1000-row keys page of
        # tests/graphql/test_query_count.py once did. The in-process app's tests are not
        # about that bound; tests/test_database_outage.py tests it on its own servers.
        database_timeout_seconds=30.0,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, backend: str, log_file: Path) -> AsyncIterator[Starlette]:
    await apply_migrations(
        settings.resolved_database_url, connection=backend, secrets=resolve_secrets(settings)
    )
    await Tortoise.close_connections()
    # Background rounds run when a test drives them (app.state.background), never on
    # their own: a flush or a retirement landing mid-test made counts and "latest entry"
    # checks flaky, and one racing the tables' cleanup deadlocked on PostgreSQL.
    application = create_app(settings, connection_name=backend, schedule_background=False)
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
        # TRUNCATE of every table took 170 ms a test (new files for each table and index);
        # deleting the few rows a test leaves takes 3 ms. The replica role skips the foreign
        # key checks, as `foreign_keys=OFF` does on SQLite; the ids restart as after
        # TRUNCATE ... RESTART IDENTITY.
        statements = "".join(f'DELETE FROM "{table}";' for table in tables)
        serial = [
            model._meta.db_table
            for model in Tortoise.apps["models"].values()
            if model._meta.db_table != "aerich" and model._meta.db_pk_column == "id"
        ]
        names = ", ".join(f"'{table}'" for table in serial)
        await connection.execute_script(
            f"BEGIN;SET LOCAL session_replication_role = replica;{statements}"
            f"SELECT setval(pg_get_serial_sequence(quote_ident(name), 'id'), 1, false)"
            f" FROM unnest(ARRAY[{names}]) AS name;COMMIT;"
        )
    else:
        statements = "".join(f'DELETE FROM "{table}";' for table in tables)
        await connection.execute_script(
            f"PRAGMA foreign_keys=OFF;{statements}PRAGMA foreign_keys=ON;"
        )


@pytest.fixture
async def http(app: Starlette, backend: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, on a clean database."""
    # The audit keys are the process's (app.audit.custody): a test that built an app of
    # its own under another secret left its keys there, and entries written under them
    # failed `keyrack audit verify` in a later test on this worker.
    custody.use(app.state.audit_keys)
    # Whatever the last test left in the verifier belongs to rows about to be deleted.
    await app.state.verifier.usage.flush()
    if app.state.verifier.reuse is not None:  # presentations of keys about to be deleted
        await app.state.verifier.reuse.flush()
    app.state.verifier.cache.clear()
    if app.state.verifier.reuse is not None:
        app.state.verifier.reuse.cache.clear()
    await _truncate_all(backend)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 51000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        scenes.attach(client, backend)
        yield client


@pytest.fixture
def database(request: pytest.FixtureRequest, backend: str) -> dict[str, str]:
    """Settings for a `keyrack serve` on a fresh database of the test's backend."""
    return database_env(request, backend)


@pytest.fixture
def serve_another(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """`serve_another(**env)` starts another `keyrack serve` on the suite's own database
    (with `env`'s settings on top) and gives its address; each is stopped after the test."""
    assert settings.secret_key is not None
    base = {
        "KEYRACK_DATABASE_URL": settings.resolved_database_url,
        "KEYRACK_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    numbers = itertools.count(1)
    with ExitStack() as stack:

        def start(**env: str) -> str:
            directory = tmp_path / f"process-{next(numbers)}"
            directory.mkdir()
            served = stack.enter_context(serving(directory, base | env, ready_path="/readyz"))
            return served.base

        yield start


@pytest.fixture
def second_process(serve_another: Callable[..., str]) -> str:
    """Another `keyrack serve` on the same database, caching answers for ten minutes: what
    it hears of a change comes from the database's notifications, not from its cache."""
    return serve_another(KEYRACK_VERIFY_CACHE_TTL_SECONDS="600")


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQL:
    return GraphQL(http)


@pytest.fixture
async def instance_verifier(app: Starlette, http: httpx.AsyncClient) -> str:
    """The token of an instance-wide verifier, made as `keyrack create-verifier` makes it
    (tests/test_cli.py runs the command itself)."""
    created = await create_verifier(actor=None, keys=app.state.keys, name="test suite")
    remember_secret(created.token)
    return created.token


@pytest.fixture
async def verifier_http(
    app: Starlette, http: httpx.AsyncClient, instance_verifier: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Like `http`, presenting the instance verifier: for tests about keys, not scopes."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 51000))
    async with verifying_client(transport, instance_verifier) as client:
        yield client


Configured = Callable[..., Awaitable[GraphQL]]


@pytest.fixture
async def configured(
    settings: Settings, backend: str, http: httpx.AsyncClient
) -> AsyncIterator[Configured]:
    """`configured(smtp_host=..., signup=...)`: GraphQL over HTTP to a second app built
    with those settings changed, on the same clean database as `gql`."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> GraphQL:
            application = create_app(settings.model_copy(update=overrides), connection_name=backend)
            transport = httpx.ASGITransport(app=application, client=("203.0.113.10", 51000))
            client = httpx.AsyncClient(transport=transport, base_url="http://keyrack.test")
            return GraphQL(await stack.enter_async_context(client))

        yield build
