"""`keyrack rotate-secret`."""

from __future__ import annotations

import argparse
import asyncio

from app.accounts.totp import TotpCipher
from app.cli.running import with_database
from app.keysets.keys import KeyMaterial
from app.rotation import rotate_secret
from app.settings import Settings, resolve_secrets


def rotate(settings: Settings, args: argparse.Namespace) -> int:
    secrets = resolve_secrets(settings)
    keys, totp = KeyMaterial.derive_all(secrets), TotpCipher.derive_all(secrets)

    async def rotate_all() -> None:
        report = await rotate_secret(keys=keys, totp=totp)
        for line in report.lines():
            print(line)

    asyncio.run(with_database(settings, rotate_all))
    return 0
