"""The `keyrack` command: serve, migrate, create-user, audit verify|export."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError
from tortoise import Tortoise

from app.db import apply_migrations
from app.errors import ConfigurationError, UserInputError
from app.logs import quiet_third_party_loggers, uvicorn_log_config
from app.settings import Settings, resolve_secret, sqlite_file

logger = logging.getLogger("keyrack")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Tortoise announces every connect and shutdown at INFO.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    quiet_third_party_loggers()


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


def _organization_pk(value: str) -> int:
    """An organization given as its global id (as GraphQL shows it) or its number."""
    from app.ids import pk_of

    if value.isascii() and value.isdigit():
        return int(value)
    pk = pk_of(value, "Organization")
    if pk is None:
        raise argparse.ArgumentTypeError(f"{value[:60]!r} is not an organization id")
    return pk


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:60]!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


NO_SUCH_ORGANIZATION = "keyrack: No organization with this id."


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import service as audit
    from app.ids import to_global_id

    broken = 0
    missing = False

    async def verify() -> None:
        nonlocal broken, missing
        if args.organization is not None and not await audit.organization_exists(
            organization_id=args.organization
        ):
            missing = True
            return
        ids = [args.organization] if args.organization else await audit.organization_ids()
        for organization_id in ids:
            result = await audit.verify_chain(organization_id=organization_id)
            gid = to_global_id("Organization", organization_id)
            if result.valid:
                print(f"{gid}: ok, {result.checked_entries} entries")
            else:
                broken += 1
                print(
                    f"{gid}: BROKEN at sequence {result.first_broken_sequence} "
                    f"({result.checked_entries} entries intact before it)"
                )

    asyncio.run(_with_database(settings, verify))
    if missing:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
        return 1
    return 1 if broken else 0


def _audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import export
    from app.audit import service as audit

    missing = False

    async def write() -> None:
        nonlocal missing
        if not await audit.organization_exists(organization_id=args.organization):
            missing = True
            return
        entries = audit.iter_entries(
            organization_id=args.organization, since=args.since, until=args.until
        )
        lines = export.csv_lines(entries) if args.format == "csv" else export.jsonl_lines(entries)
        async for line in lines:
            sys.stdout.write(line)

    asyncio.run(_with_database(settings, write))
    if missing:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
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
        log_config=uvicorn_log_config(),
        access_log=settings.access_log,
        server_header=False,
        # X-Forwarded-For names the client only when a proxy we trust sent it; uvicorn
        # would otherwise believe any caller on loopback.
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list or None,
    )
    return 0


async def _noop() -> None:
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyrack", description="Keyrack API-key manager.")
    commands = parser.add_subparsers(dest="command", required=True)
    # Only these two may create a database; the others work on the one that exists.
    parser.set_defaults(creates_database=False)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=_serve, creates_database=True)

    migrate = commands.add_parser("migrate", help="apply pending migrations and exit")
    migrate.set_defaults(handler=_migrate, creates_database=True)

    create_user = commands.add_parser("create-user", help="create a user account")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--name")
    create_user.set_defaults(handler=_create_user)

    audit = commands.add_parser("audit", help="verify or export the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the hash chains")
    verify.add_argument("--organization", type=_organization_pk, help="id; default: all")
    verify.set_defaults(handler=_audit_verify)
    export = audit_commands.add_parser("export", help="stream entries, oldest first")
    export.add_argument("--organization", type=_organization_pk, required=True)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--since", type=_timestamp, help="ISO 8601 time, inclusive")
    export.add_argument("--until", type=_timestamp, help="ISO 8601 time, exclusive")
    export.set_defaults(handler=_audit_export)
    return parser


def _require_existing_database(settings: Settings) -> None:
    """An SQLite file that is not there is a command run from the wrong directory."""
    path = sqlite_file(settings.resolved_database_url)
    if path is not None and not path.exists():
        raise ConfigurationError(
            f"no database at {path}. Run this in the directory where `keyrack serve` runs "
            "(it keeps keyrack.db there), or set KEYRACK_DATABASE_URL; `keyrack migrate` "
            "creates a new database."
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        _configure_logging(settings)
        if not args.creates_database:
            _require_existing_database(settings)
        # Every command checks the secret first (and, on SQLite, generates it once), so a
        # misconfigured deployment fails at its first command, not at its first key.
        resolve_secret(settings)
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except ConfigurationError as exc:
        print(f"keyrack: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        # Typically a container whose mounted /data belongs to another user.
        print(
            f"keyrack: cannot write {exc.filename or 'a file it needs'}: permission denied. "
            "Make the database's directory writable for this user (the container runs as "
            "uid 10001: `chown 10001 DIR` on the mounted directory), or set "
            "KEYRACK_DATABASE_URL to a PostgreSQL database.",
            file=sys.stderr,
        )
        return 2
    except ValidationError as exc:  # a setting of the wrong form; its value is not echoed
        for error in exc.errors(include_input=False):
            print(f"keyrack: {error['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
