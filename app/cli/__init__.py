"""The `keyrack` command: serve, migrate, create-user, create-verifier, revoke-verifier,
import-keys, audit verify|export|public-key, rotate-secret.

This module is the table of commands and their arguments; each command group's work is
a module beside it (`server`, `accounts`, `verifiers`, `keys`, `audit`, `secrets`),
named in the table as `module:function` and imported only when one of its commands runs,
so that `keyrack --help` and a mistyped argument load no domain code."""

from __future__ import annotations

import argparse
import importlib
import logging
import logging.config
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from app.audit import custody
from app.cli.arguments import organization_pk, pk_parser, timestamp
from app.errors import ConfigurationError
from app.logs import json_log_config, quiet_third_party_loggers
from app.settings import Settings, resolve_secrets, sqlite_file

Handler = Callable[[Settings, argparse.Namespace], int]


def _handler(name: str) -> Handler:
    """`module:function` of this package, imported now."""
    module, _, function = name.partition(":")
    found: Handler = getattr(importlib.import_module(f"app.cli.{module}"), function)
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyrack", description="Keyrack API-key manager.")
    commands = parser.add_subparsers(dest="command", required=True)
    # Only these two may create a database; the others work on the one that exists.
    parser.set_defaults(creates_database=False)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler="server:serve", creates_database=True)

    migrate = commands.add_parser("migrate", help="apply pending migrations and exit")
    migrate.set_defaults(handler="server:migrate", creates_database=True)

    create_user = commands.add_parser("create-user", help="create a user account")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--name")
    create_user.set_defaults(handler="accounts:create_user")

    create_verifier = commands.add_parser(
        "create-verifier",
        help="create a verifier (a credential for /v1/keys/verify); prints its token last",
    )
    create_verifier.add_argument("--name", required=True, help="which service will hold it")
    scope = create_verifier.add_mutually_exclusive_group()
    scope.add_argument(
        "--organization",
        type=pk_parser("Organization", "an organization"),
        help="scope it to this organization and its systems (global id); default: instance-wide",
    )
    scope.add_argument(
        "--system", type=pk_parser("System", "a system"), help="scope it to this system"
    )
    create_verifier.set_defaults(handler="verifiers:create")

    revoke_verifier = commands.add_parser("revoke-verifier", help="revoke a verifier at once")
    revoke_verifier.add_argument("verifier", type=pk_parser("Verifier", "a verifier"))
    revoke_verifier.set_defaults(handler="verifiers:revoke")

    import_keys = commands.add_parser(
        "import-keys",
        help="import existing keys from a JSON-lines file; prints `imported N` last",
    )
    import_scope = import_keys.add_mutually_exclusive_group(required=True)
    import_scope.add_argument(
        "--organization", type=pk_parser("Organization", "an organization"), help="global id"
    )
    import_scope.add_argument("--system", type=pk_parser("System", "a system"), help="global id")
    import_keys.add_argument(
        "file", help='one JSON object a line: {"label", "key" | "sha256", "permissionNames", ...}'
    )
    import_keys.add_argument(
        "--skip-invalid", action="store_true", help="import the good lines, report the others"
    )
    import_keys.set_defaults(handler="keys:import_keys")

    audit = commands.add_parser("audit", help="verify or export the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the hash chains")
    verify.add_argument("--organization", type=organization_pk, help="id; default: all")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="a checkpoint kept elsewhere (JSON, as auditCheckpoint returns it) to check against",
    )
    verify.set_defaults(handler="audit:verify")
    public_key = audit_commands.add_parser(
        "public-key", help="print the public key that signs audit checkpoints (JSON)"
    )
    public_key.set_defaults(handler="audit:public_key")
    export = audit_commands.add_parser("export", help="stream entries, oldest first")
    export.add_argument("--organization", type=organization_pk, required=True)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--since", type=timestamp, help="ISO 8601 time, inclusive")
    export.add_argument("--until", type=timestamp, help="ISO 8601 time, exclusive")
    export.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="also write a signed checkpoint of the last exported entry to FILE",
    )
    export.set_defaults(handler="audit:export")

    rotate = commands.add_parser(
        "rotate-secret",
        help="move stored values to the current KEYRACK_SECRET_KEY and list what still "
        "depends on KEYRACK_PREVIOUS_SECRET_KEYS",
    )
    rotate.set_defaults(handler="secrets:rotate")
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


def _configure_logging(settings: Settings) -> None:
    if settings.log_format == "json":
        logging.config.dictConfig(json_log_config(settings.log_level.upper()))
        return
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Tortoise announces every connect and shutdown at INFO.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    quiet_third_party_loggers()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        _configure_logging(settings)
        if not args.creates_database:
            _require_existing_database(settings)
        # Every command checks the secret first (and, on SQLite, generates it once), so a
        # misconfigured deployment fails at its first command, not at its first key.
        custody.configure(resolve_secrets(settings))
        return _handler(args.handler)(settings, args)
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
