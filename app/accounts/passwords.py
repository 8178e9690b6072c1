"""Password hashing with passlib's argon2 scheme, kept off the event loop.

The parameters are OWASP's recommended argon2id ones (`PRODUCTION`). The test suite,
which signs up thousands of people, swaps in the cheapest argon2 parameters with
`use_parameters` (every hash names its own parameters, so verifying is unaffected); a test
holds the served process, which never calls it, to `PRODUCTION`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from passlib.context import CryptContext


@dataclass(frozen=True)
class Argon2Parameters:
    memory_cost: int  # KiB
    rounds: int
    parallelism: int


# OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
PRODUCTION = Argon2Parameters(memory_cost=19456, rounds=2, parallelism=1)


class _Hasher:
    def __init__(self, parameters: Argon2Parameters) -> None:
        self.context = CryptContext(
            schemes=["argon2"],
            deprecated="auto",
            argon2__memory_cost=parameters.memory_cost,
            argon2__rounds=parameters.rounds,
            argon2__parallelism=parameters.parallelism,
        )
        # Verified against when an email is unknown, so that a failed login costs the
        # same time whether or not the account exists.
        self.dummy_hash = self.context.hash("keyrack-dummy-password")


_hasher = _Hasher(PRODUCTION)


def use_parameters(parameters: Argon2Parameters) -> None:
    """Hash new passwords (and the unknown-email dummy) with `parameters` from now on."""
    global _hasher
    _hasher = _Hasher(parameters)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.context.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True if the password matches; with no hash, spends the same time and says False."""
    hasher = _hasher
    if password_hash is None:
        await asyncio.to_thread(hasher.context.verify, password, hasher.dummy_hash)
        return False
    return bool(await asyncio.to_thread(hasher.context.verify, password, password_hash))
