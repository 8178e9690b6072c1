"""What the commands share: a database opened (and migrated) around their work, and output
that must reach its reader before a secret it carries is kept."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from app.errors import UserInputError
from app.ids import to_global_id
from app.settings import Settings, resolve_secrets
from app.storage.db import apply_migrations

logger = logging.getLogger("keyrack")
NO_SUCH_ORGANIZATION = "keyrack: No organization with this id."
BUSY = "keyrack: The database stayed locked by another writer for 30 s; nothing changed. Try again."


async def with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    try:
        applied = await apply_migrations(
            settings.resolved_database_url, secrets=resolve_secrets(settings)
        )
        for name in applied:
            logger.info("Applied migration %s", name)
        await work()
    finally:
        await Tortoise.close_connections()


def run(settings: Settings, work: Callable[[], Awaitable[None]]) -> int:
    """`work` on the database; 1 with its message on one line if the input was refused."""
    try:
        asyncio.run(with_database(settings, work))
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        if "database is locked" not in str(exc):
            raise
        print(BUSY, file=sys.stderr)
        return 1
    return 0


async def noop() -> None:
    return None


class OutputLost(Exception):
    """Standard output could not take what a command had to print (a closed pipe, a full
    disk): a secret it held would be lost."""


def emit_or_undo(lines: Sequence[str]) -> None:
    """Prints `lines` and pushes them out at once; inside the transaction that made the
    secret they carry, so that a failure undoes it (raises `OutputLost`)."""
    try:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()
    except OSError as error:
        # Nothing more can reach that stdout; point it at /dev/null so that the
        # interpreter's own flush at exit cannot print a traceback either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise OutputLost(error.strerror or type(error).__name__) from None


def global_id(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)
