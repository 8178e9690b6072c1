"""Bearer secrets handed to people: sessions, invitations, password resets.

Each carries 256 random bits, so a plain SHA-256 is enough to make the stored value
useless to whoever reads the table, and it depends on no secret that could be rotated.
"""

from __future__ import annotations

import hashlib
import secrets

# Longer than any token we issue, far shorter than anything worth hashing.
MAX_TOKEN_LENGTH = 200


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def plausible(token: str) -> bool:
    """False for what cannot be a token of ours: not worth a database round trip."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii() and token.isprintable()
