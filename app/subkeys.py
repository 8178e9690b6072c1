"""Keys derived from KEYRACK_SECRET_KEY: one HKDF-SHA256 per purpose, told apart by `info`.

The key-lookup pepper, the key-value encryption key, the TOTP secret encryption key and
each webhook's signing secret all come from here, so that none of them is ever stored
and none can be computed from another.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SUBKEY_LENGTH: Final = 32
_SALT: Final = b"keyrack"


def derive_subkey(master: bytes, info: bytes) -> bytes:
    """A 32-byte key for the purpose `info` names."""
    return HKDF(algorithm=hashes.SHA256(), length=SUBKEY_LENGTH, salt=_SALT, info=info).derive(
        master
    )
