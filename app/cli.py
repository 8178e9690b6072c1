"""The `keyrack` command: serve, migrate, create-user, create-verifier, revoke-verifier,
audit verify|export|public-key, rotate-secret."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tortoise import Tortoise

from app.audit import custody
from app.db import apply_migrations
from app.errors import ConfigurationError, UserInputError
from app.logs import json_log_config, quiet_third_party_loggers, uvicorn_log_config
from app.settings import Settings, resolve_secrets, sqlite_file

logger = logging.getLogger("keyrack")


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


async def _with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    try:
        applied = await apply_migrations(
            settings.resolved_database_url, secrets=resolve_secrets(settings)
        )
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
        user = await create_user(
            email=args.email, password=args.password, name=args.name, email_verified=True
        )
        print(f"Created user {user.email}.")

    try:
        asyncio.run(_with_database(settings, create))
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    return 0


class _OutputLost(Exception):
    """Standard output could not take what a command had to print (a closed pipe, a full
    disk): a secret it held would be lost."""


def _emit_or_undo(lines: Sequence[str]) -> None:
    """Prints `lines` and pushes them out at once; inside the transaction that made the
    secret they carry, so that a failure undoes it (raises `_OutputLost`)."""
    try:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()
    except OSError as error:
        # Nothing more can reach that stdout; point it at /dev/null so that the
        # interpreter's own flush at exit cannot print a traceback either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise _OutputLost(error.strerror or type(error).__name__) from None


def _create_verifier(settings: Settings, args: argparse.Namespace) -> int:
    from tortoise.transactions import in_transaction

    from app.keysets.keys import KeyMaterial
    from app.verifiers.service import create_verifier

    keys = KeyMaterial.derive_all(resolve_secrets(settings))

    async def create() -> None:
        # The token exists only in this output: if it cannot be written, the verifier is
        # not created at all (rolled back with its audit entry).
        async with in_transaction():
            created = await create_verifier(
                actor=None,
                keys=keys,
                name=args.name,
                organization_id=args.organization,
                system_id=args.system,
            )
            verifier = created.verifier
            if verifier.system_id is not None:
                where = f"system {_global('System', verifier.system_id)}"
            elif verifier.organization_id is not None:
                where = f"organization {_global('Organization', verifier.organization_id)}"
            else:
                where = "every organization (instance-wide)"
            _emit_or_undo(
                [
                    f"Created verifier {_global('Verifier', verifier.id)} ({verifier.name}) "
                    f"for {where}.",
                    "Its token follows; it is shown only now. Keep it where the service reads it.",
                    created.token,
                ]
            )

    try:
        asyncio.run(_with_database(settings, create))
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    except _OutputLost as exc:
        print(
            f"keyrack: could not write the token to standard output ({exc}); "
            "no verifier was created.",
            file=sys.stderr,
        )
        return 1
    return 0


def _revoke_verifier(settings: Settings, args: argparse.Namespace) -> int:
    from app.verifiers.service import revoke_verifier

    async def revoke() -> None:
        verifier = await revoke_verifier(actor=None, verifier_id=args.verifier)
        print(f"Revoked verifier {_global('Verifier', verifier.id)} ({verifier.name}).")

    try:
        asyncio.run(_with_database(settings, revoke))
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _import_keys(settings: Settings, args: argparse.Namespace) -> int:
    from app.keysets import imports
    from app.keysets.keys import KeyMaterial
    from app.keysets.models import KeySetScope

    try:
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"keyrack: cannot read {args.file}: {type(error).__name__}", file=sys.stderr)
        return 1
    scope = KeySetScope.SYSTEM if args.system is not None else KeySetScope.ORGANIZATION
    numbered, problems = imports.parse_lines(lines, scope=scope)
    for problem in problems:  # never the line itself: it may hold a key
        print(f"keyrack: line {problem.line}: {problem.message}", file=sys.stderr)
    if problems and not args.skip_invalid:
        print("keyrack: nothing imported (--skip-invalid imports the good lines)", file=sys.stderr)
        return 1
    keys = KeyMaterial.derive_all(resolve_secrets(settings))

    async def run() -> None:
        while True:  # all or nothing; with --skip-invalid, again without a refused line
            try:
                created = await imports.import_keys(
                    actor=None,
                    keys=keys,
                    organization_id=args.organization,
                    system_id=args.system,
                    entries=[entry for _, entry in numbered],
                )
            except imports.ImportRefused as exc:
                line, _ = numbered.pop(exc.index)
                print(f"keyrack: line {line}: {exc.message}", file=sys.stderr)
                if not args.skip_invalid:
                    raise
                continue
            print(f"imported {len(created)}")
            return

    try:
        asyncio.run(_with_database(settings, run))
    except imports.ImportRefused:
        print("keyrack: nothing imported (--skip-invalid imports the good lines)", file=sys.stderr)
        return 1
    except UserInputError as exc:
        print(f"keyrack: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _global(type_name: str, pk: int) -> str:
    from app.ids import to_global_id

    return to_global_id(type_name, pk)


def _pk_parser(type_name: str, what: str) -> Callable[[str], int]:
    """An argument given as a global id (as GraphQL shows it) or a plain number."""

    def parse(value: str) -> int:
        from app.ids import pk_of

        if value.isascii() and value.isdigit() and len(value) < 10:
            return int(value)
        pk = pk_of(value, type_name)
        if pk is None:
            raise argparse.ArgumentTypeError(f"{value[:60]!r} is not {what} id")
        return pk

    return parse


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
    if args.checkpoint is not None:
        return _audit_verify_checkpoint(settings, args)
    from app.audit import integrity
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
            result = await integrity.verify_chain(organization_id=organization_id)
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


def _find_checkpoint(value: Any) -> dict[str, Any] | None:
    """The checkpoint object in `value`: itself, or nested in a GraphQL response."""
    if isinstance(value, dict):
        if {"sequence", "hash", "issuedAt", "keyId", "signature"} <= value.keys():
            return value
        for child in value.values():
            found = _find_checkpoint(child)
            if found is not None:
                return found
    return None


def _read_checkpoint(path: Path, organization_gid: str) -> Any:
    """The checkpoint in a JSON file (as auditCheckpoint returns it); ValueError if none."""
    from app.audit.signing import Checkpoint

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read a JSON checkpoint from {str(path)[:200]!r}") from error
    found = _find_checkpoint(document)
    if found is None:
        raise ValueError(
            "the file holds no checkpoint (sequence, hash, issuedAt, keyId, signature)"
        )
    try:
        return Checkpoint(
            organization_id=str(found.get("organizationId") or organization_gid),
            sequence=int(found["sequence"]),
            hash=str(found["hash"]),
            issued_at=str(found["issuedAt"]),
            key_id=str(found["keyId"]),
            signature=str(found["signature"]),
        )
    except (TypeError, ValueError):
        raise ValueError("the checkpoint's sequence is not a number") from None


def _audit_verify_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import integrity
    from app.audit import service as audit
    from app.ids import to_global_id

    if args.organization is None:
        print("keyrack: --checkpoint needs --organization.", file=sys.stderr)
        return 2
    gid = to_global_id("Organization", args.organization)
    try:
        checkpoint = _read_checkpoint(args.checkpoint, gid)
    except ValueError as error:
        print(f"keyrack: {error}", file=sys.stderr)
        return 2
    outcome: list[str] = []

    async def verify() -> None:
        if not await audit.organization_exists(organization_id=args.organization):
            return
        check = await integrity.verify_checkpoint(
            organization_id=args.organization, checkpoint=checkpoint
        )
        if check.holds:
            keyed = await integrity.keyed_from(organization_id=args.organization)
            note = f"; keyed chain from sequence {keyed}" if keyed > 1 else ""
            outcome.append(
                f"{gid}: ok, checkpoint at sequence {checkpoint.sequence} holds, "
                f"{check.integrity.checked_entries} entries{note}"
            )
        else:
            outcome.append(f"{gid}: CHECKPOINT FAILS: {check.problem}")

    asyncio.run(_with_database(settings, verify))
    if not outcome:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
        return 1
    print(outcome[0])
    return 0 if ": ok," in outcome[0] else 1


def _audit_public_key(settings: Settings, args: argparse.Namespace) -> int:
    current, *previous = custody.signer().public_keys
    print(json.dumps({**current.as_json(), "previous": [key.as_json() for key in previous]}))
    return 0


def _audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from collections.abc import AsyncIterator

    from app.audit import export
    from app.audit import service as audit
    from app.audit.checkpoints import issue_checkpoint
    from app.audit.models import AuditEntry

    missing = False
    failed: list[str] = []

    async def write() -> None:
        nonlocal missing
        if not await audit.organization_exists(organization_id=args.organization):
            missing = True
            return
        last: list[int] = []

        async def exported() -> AsyncIterator[AuditEntry]:
            async for entry in audit.iter_entries(
                organization_id=args.organization, since=args.since, until=args.until
            ):
                last[:] = [entry.sequence]
                yield entry

        entries = exported()
        lines = export.csv_lines(entries) if args.format == "csv" else export.jsonl_lines(entries)
        async for line in lines:
            sys.stdout.write(line)
        if args.checkpoint is not None:
            checkpoint = await issue_checkpoint(
                organization_id=args.organization, sequence=last[0] if last else None
            )
            if checkpoint is None:
                failed.append("the audit chain does not verify: no checkpoint was written")
                return
            args.checkpoint.write_text(json.dumps(checkpoint.as_json(), indent=2) + "\n")

    asyncio.run(_with_database(settings, write))
    if missing:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
        return 1
    if failed:
        print(f"keyrack: {failed[0]}", file=sys.stderr)
        return 1
    return 0


def _rotate_secret(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.totp import TotpCipher
    from app.keysets.keys import KeyMaterial
    from app.rotation import rotate_secret

    secrets = resolve_secrets(settings)
    keys, totp = KeyMaterial.derive_all(secrets), TotpCipher.derive_all(secrets)

    async def rotate() -> None:
        report = await rotate_secret(keys=keys, totp=totp)
        for line in report.lines():
            print(line)

    asyncio.run(_with_database(settings, rotate))
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    # Migrate once, before any worker starts.
    asyncio.run(_with_database(settings, _noop))
    if settings.is_sqlite and args.workers > 1:
        # Workers learn of revoked keys and verifiers from each other by PostgreSQL
        # NOTIFY; on SQLite one would go on accepting them until its cache expired.
        print(
            "keyrack: --workers above 1 needs PostgreSQL (KEYRACK_DATABASE_URL): on SQLite a "
            "revoked key or verifier would stay valid in the other workers.",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        log_config=(
            json_log_config(settings.log_level.upper())
            if settings.log_format == "json"
            else uvicorn_log_config()
        ),
        # In JSON, Keyrack's own request lines (app.requestlog) take the access log's place.
        access_log=settings.access_log and settings.log_format == "text",
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

    create_verifier = commands.add_parser(
        "create-verifier",
        help="create a verifier (a credential for /v1/keys/verify); prints its token last",
    )
    create_verifier.add_argument("--name", required=True, help="which service will hold it")
    scope = create_verifier.add_mutually_exclusive_group()
    scope.add_argument(
        "--organization",
        type=_pk_parser("Organization", "an organization"),
        help="scope it to this organization and its systems (global id); default: instance-wide",
    )
    scope.add_argument(
        "--system", type=_pk_parser("System", "a system"), help="scope it to this system"
    )
    create_verifier.set_defaults(handler=_create_verifier)

    revoke_verifier = commands.add_parser("revoke-verifier", help="revoke a verifier at once")
    revoke_verifier.add_argument("verifier", type=_pk_parser("Verifier", "a verifier"))
    revoke_verifier.set_defaults(handler=_revoke_verifier)

    import_keys = commands.add_parser(
        "import-keys",
        help="import existing keys from a JSON-lines file; prints `imported N` last",
    )
    import_scope = import_keys.add_mutually_exclusive_group(required=True)
    import_scope.add_argument(
        "--organization", type=_pk_parser("Organization", "an organization"), help="global id"
    )
    import_scope.add_argument("--system", type=_pk_parser("System", "a system"), help="global id")
    import_keys.add_argument(
        "file", help='one JSON object a line: {"label", "key" | "sha256", "permissionNames", ...}'
    )
    import_keys.add_argument(
        "--skip-invalid", action="store_true", help="import the good lines, report the others"
    )
    import_keys.set_defaults(handler=_import_keys)

    audit = commands.add_parser("audit", help="verify or export the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the hash chains")
    verify.add_argument("--organization", type=_organization_pk, help="id; default: all")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="a checkpoint kept elsewhere (JSON, as auditCheckpoint returns it) to check against",
    )
    verify.set_defaults(handler=_audit_verify)
    public_key = audit_commands.add_parser(
        "public-key", help="print the public key that signs audit checkpoints (JSON)"
    )
    public_key.set_defaults(handler=_audit_public_key)
    export = audit_commands.add_parser("export", help="stream entries, oldest first")
    export.add_argument("--organization", type=_organization_pk, required=True)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--since", type=_timestamp, help="ISO 8601 time, inclusive")
    export.add_argument("--until", type=_timestamp, help="ISO 8601 time, exclusive")
    export.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="also write a signed checkpoint of the last exported entry to FILE",
    )
    export.set_defaults(handler=_audit_export)

    rotate = commands.add_parser(
        "rotate-secret",
        help="move stored values to the current KEYRACK_SECRET_KEY and list what still "
        "depends on KEYRACK_PREVIOUS_SECRET_KEYS",
    )
    rotate.set_defaults(handler=_rotate_secret)
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
        custody.configure(resolve_secrets(settings))
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
