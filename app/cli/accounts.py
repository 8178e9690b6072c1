"""`keyrack create-user`."""

from __future__ import annotations

import argparse

from app.accounts.service import create_user as create_account
from app.cli.running import run
from app.settings import Settings


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    async def create() -> None:
        user = await create_account(
            email=args.email, password=args.password, name=args.name, email_verified=True
        )
        print(f"Created user {user.email}.")

    return run(settings, create)
