"""The `keyrack` command: serve, migrate, create-user."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from tortoise import Tortoise

from app.db import apply_migrations
from app.errors import ConfigurationError, UserInputError
from app.settings import Settings, resolve_secret

logger = logging.getLogger("keyrack")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Tortoise announces every connect and shutdown at INFO.
    logging.getLogger("tortoise").setLevel(logging.WARNING)


async def _with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    try:
        applied = await apply_migrations(settings.resolved_database_url)
        for name in applied:
            logger.info("Applied migration %s", name)
        await work()
    finally:
        await Tortoise.close_connections()


def _migrate(settings: Settings, args: argparse.Namespace) -> int:

    asyncio.run(_with_database(settings, _noop))
    print("Database is up to date.")
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.service import create_user

    async def create() -> None:
        user = await create_user(email=args.email, password=args.password, name=args.name)
        print(f"Created user {user.email}.")

    try:
        asyncio.run(_with_database(settings, create))
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    # Migrate once, before any worker starts.
    asyncio.run(_with_database(settings, _noop))
    if settings.is_sqlite and args.workers > 1:
        logger.warning("SQLite serves one writer at a time: use PostgreSQL for several workers.")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    return 0


async def _noop() -> None:
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyrack", description="Keyrack API-key manager.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply pending migrations and exit")
    migrate.set_defaults(handler=_migrate)

    create_user = commands.add_parser("create-user", help="create a user account")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--name")
    create_user.set_defaults(handler=_create_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        _configure_logging(settings)
        # Every command checks the secret first (and, on SQLite, generates it once), so a
        # misconfigured deployment fails at its first command, not at its first key.
        resolve_secret(settings)
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except ConfigurationError as exc:
        print(f"keyrack: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
