"""`keyrack audit verify | public-key | export`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.audit import custody, integrity
from app.audit import export as exports
from app.audit import service as audit
from app.audit.checkpoints import issue_checkpoint
from app.audit.models import AuditEntry
from app.audit.signing import Checkpoint
from app.cli.running import NO_SUCH_ORGANIZATION, with_database
from app.ids import to_global_id
from app.settings import Settings


def verify(settings: Settings, args: argparse.Namespace) -> int:
    if args.checkpoint is not None:
        return _verify_checkpoint(settings, args)

    broken = 0
    missing = False

    async def check() -> None:
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

    asyncio.run(with_database(settings, check))
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


def _verify_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
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

    async def check() -> None:
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

    asyncio.run(with_database(settings, check))
    if not outcome:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
        return 1
    print(outcome[0])
    return 0 if ": ok," in outcome[0] else 1


def public_key(settings: Settings, args: argparse.Namespace) -> int:
    current, *previous = custody.signer().public_keys
    print(json.dumps({**current.as_json(), "previous": [key.as_json() for key in previous]}))
    return 0


def export(settings: Settings, args: argparse.Namespace) -> int:
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
        lines = exports.csv_lines(entries) if args.format == "csv" else exports.jsonl_lines(entries)
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

    asyncio.run(with_database(settings, write))
    if missing:
        print(NO_SUCH_ORGANIZATION, file=sys.stderr)
        return 1
    if failed:
        print(f"keyrack: {failed[0]}", file=sys.stderr)
        return 1
    return 0
