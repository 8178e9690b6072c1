"""The one Tortoise configuration, used by the app, the CLI, aerich and the tests."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError

from app.settings import sqlite_file

if TYPE_CHECKING:
    from app.settings import MasterSecrets

logger = logging.getLogger("keyrack.db")

SQLITE_BUSY_TIMEOUT_MS = 30_000

MODEL_MODULES = [
    "app.accounts.models",
    "app.organizations.models",
    "app.systems.models",
    "app.keysets.models",
    "app.permissions.models",
    "app.audit.models",
    "app.notifications.models",
    "app.webhooks.models",
    "app.verifiers.models",
    "app.leaks.models",
    "app.approvals.models",
    "app.usage.models",
    "app.anomalies.models",
    "aerich.models",
]


def tortoise_config(
    database_url: str, *, connection: str = "default", timeout: float | None = None
) -> dict[str, Any]:
    """Tortoise config; `connection` names the connection (Tortoise caches SQL per name).

    With `timeout`, a PostgreSQL statement, connection attempt or wait for a pooled
    connection that takes longer fails instead of waiting for a server that stopped
    answering (see app/db_postgres.py).
    """
    private_sqlite_file(database_url)
    target: str | dict[str, Any] = database_url
    if database_url.startswith("sqlite"):
        # One writer at a time: a `keyrack` command beside a busy `keyrack serve` waits for
        # the server's write to end (SQLite's own default is 5 s, which a loaded machine
        # outlasted: "database is locked").
        target = expand_db_url(database_url)
        target["credentials"].setdefault("busy_timeout", SQLITE_BUSY_TIMEOUT_MS)
    elif timeout is not None:
        target = expand_db_url(database_url)
        target["engine"] = "app.storage.postgres"
        target["credentials"].update(timeout=timeout, command_timeout=timeout)
    return {
        "connections": {connection: target},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": connection}},
        "use_tz": True,
        "timezone": "UTC",
    }


def private_sqlite_file(database_url: str) -> None:
    """Creates an SQLite database file readable by its owner only (0600, like
    keyrack.secret); SQLite gives its -wal and -shm files the mode of the database file.
    Existing files readable by others are tightened. Other URLs are left alone."""
    database = sqlite_file(database_url)
    if database is None:
        return
    if not database.parent.is_dir():
        return  # SQLite reports that, as before
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            logger.warning("%s was readable by other users: made private (0600).", path)
            path.chmod(stat.S_IMODE(mode) & 0o700)


_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # a statement or connection attempt past the timeout
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.InterfaceError,  # the connection went away under the driver
    asyncpg.exceptions.InternalClientError,
)


UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
UNAVAILABLE_RETRY_AFTER_SECONDS = 1


def is_unavailable(error: BaseException) -> bool:
    """Whether an exception means the database could not be reached or did not answer."""
    seen: BaseException | None = error
    for _ in range(5):  # the error itself, and what it was raised from
        if seen is None:
            return False
        if isinstance(seen, _UNAVAILABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def migrations_location() -> Path:
    """Where aerich's migration files are: in the package when installed, else the repo."""
    package = Path(__file__).resolve().parents[1]  # app/
    packaged = package / "_migrations"
    if packaged.is_dir():
        return packaged
    return package.parent / "migrations"


def __getattr__(name: str) -> Any:
    # aerich reads `TORTOISE_ORM`; computed on access so importing this module reads no env.
    if name == "TORTOISE_ORM":
        from app.settings import Settings

        return tortoise_config(Settings().resolved_database_url)
    raise AttributeError(name)


_migration_secrets: ContextVar[MasterSecrets | None] = ContextVar(
    "keyrack_migration_secrets", default=None
)


def migration_secrets() -> MasterSecrets:
    """The master secrets for a migration's data step (re-chaining needs the chain key):
    those handed to `apply_migrations`, else the settings' (environment, `.env`, or the
    SQLite secret file), exactly as `keyrack migrate` and `keyrack serve` read them."""
    given = _migration_secrets.get()
    if given is not None:
        return given
    from app.settings import Settings, resolve_secrets

    return resolve_secrets(Settings())


async def apply_migrations(
    database_url: str, *, connection: str = "default", secrets: MasterSecrets | None = None
) -> list[str]:
    """Applies pending aerich migrations; returns the files applied. Leaves Tortoise open."""
    from aerich import Command
    from tortoise import Tortoise

    if secrets is not None:
        _migration_secrets.set(secrets)

    config = tortoise_config(database_url, connection=connection)
    # Initialised here rather than by aerich, which skips init when Tortoise already is.
    await Tortoise.init(config=config)
    command = Command(config, app="models", location=str(migrations_location()))
    await command.init()
    applied: list[str] = await command.upgrade(run_in_transaction=True)
    return applied
