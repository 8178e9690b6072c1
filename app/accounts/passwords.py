"""Password hashing with passlib's argon2 scheme, kept off the event loop."""

from __future__ import annotations

import asyncio

from passlib.context import CryptContext

# OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
_context = CryptContext(
    schemes=["argon2"],
    deprecated="auto",
    argon2__memory_cost=19456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
# Verified against when an email is unknown, so that a failed login costs the same
# time whether or not the account exists.
_DUMMY_HASH = _context.hash("keyrack-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_context.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True if the password matches; with no hash, spends the same time and says False."""
    if password_hash is None:
        await asyncio.to_thread(_context.verify, password, _DUMMY_HASH)
        return False
    return bool(await asyncio.to_thread(_context.verify, password, password_hash))
