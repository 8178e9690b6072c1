"""`keyrack create-verifier` and `keyrack revoke-verifier`."""

from __future__ import annotations

import argparse
import sys

from tortoise.transactions import in_transaction

from app.cli.running import OutputLost, emit_or_undo, global_id, run
from app.keysets.keys import KeyMaterial
from app.settings import Settings, resolve_secrets
from app.verifiers import service as verifiers


def create(settings: Settings, args: argparse.Namespace) -> int:
    keys = KeyMaterial.derive_all(resolve_secrets(settings))

    async def create_it() -> None:
        # The token exists only in this output: if it cannot be written, the verifier is
        # not created at all (rolled back with its audit entry).
        async with in_transaction():
            created = await verifiers.create_verifier(
                actor=None,
                keys=keys,
                name=args.name,
                organization_id=args.organization,
                system_id=args.system,
            )
            verifier = created.verifier
            if verifier.system_id is not None:
                where = f"system {global_id('System', verifier.system_id)}"
            elif verifier.organization_id is not None:
                where = f"organization {global_id('Organization', verifier.organization_id)}"
            else:
                where = "every organization (instance-wide)"
            emit_or_undo(
                [
                    f"Created verifier {global_id('Verifier', verifier.id)} ({verifier.name}) "
                    f"for {where}.",
                    "Its token follows; it is shown only now. Keep it where the service reads it.",
                    created.token,
                ]
            )

    try:
        return run(settings, create_it)
    except OutputLost as exc:
        print(
            f"keyrack: could not write the token to standard output ({exc}); "
            "no verifier was created.",
            file=sys.stderr,
        )
        return 1


def revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def revoke_it() -> None:
        verifier = await verifiers.revoke_verifier(actor=None, verifier_id=args.verifier)
        print(f"Revoked verifier {global_id('Verifier', verifier.id)} ({verifier.name}).")

    return run(settings, revoke_it)
