"""TOTP (RFC 6238) secrets and codes, and the secrets' encryption at rest.

A secret is 160 random bits in base32, the form authenticator apps take. It is stored
as AES-256-GCM ciphertext under a key derived from KEYRACK_SECRET_KEY with its own HKDF
info, with the user's id as associated data: a ciphertext copied onto another account
fails to decrypt. Codes are 6 digits for 30-second steps; one step of clock drift either
way is accepted. Nothing in this module puts a secret or a code in an exception message.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app import clock
from app.errors import InvalidInput
from app.subkeys import SUBKEY_LENGTH, derive_subkey

if TYPE_CHECKING:
    from app.settings import MasterSecrets

ISSUER: Final = "Keyrack"
DIGITS: Final = 6
PERIOD_SECONDS: Final = 30
VALID_WINDOW: Final = 1  # steps of clock drift accepted either way
# Longer input is refused before it is even cleaned: no code is that long.
MAX_CODE_INPUT: Final = 32

_NONCE_LENGTH: Final = 12
_HKDF_INFO: Final = b"keyrack/totp-secret/v1"
_CODE_MESSAGE: Final = "Enter the 6-digit code your authenticator app shows."


class TotpDecryptionError(Exception):
    """A stored TOTP secret could not be decrypted (tampered, misbound or wrong secret key)."""


def _associated_data(user_id: int) -> bytes:
    return f"keyrack/totp/v1/{int(user_id)}".encode()


@dataclass(frozen=True, repr=False)
class TotpCipher:
    """Encrypts TOTP secrets with a key derived from KEYRACK_SECRET_KEY; its repr shows nothing."""

    key: bytes
    # The keys of KEYRACK_PREVIOUS_SECRET_KEYS, newest first: decryption falls back on them.
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if any(len(key) != SUBKEY_LENGTH for key in (self.key, *self.previous)):
            raise ValueError("the TOTP encryption key must be 32 bytes")

    def __repr__(self) -> str:
        return "TotpCipher(<redacted>)"

    @classmethod
    def derive(cls, master_secret: str) -> TotpCipher:
        if not master_secret:
            raise ValueError("the master secret must not be empty")
        return cls(key=derive_subkey(master_secret.encode("utf-8"), _HKDF_INFO))

    @classmethod
    def derive_all(cls, secrets: MasterSecrets) -> TotpCipher:
        previous = tuple(cls.derive(secret).key for secret in secrets.previous)
        return cls(key=cls.derive(secrets.current).key, previous=previous)

    def encrypt(self, secret: str, *, user_id: int) -> bytes:
        """nonce + ciphertext of ``secret``, bound to ``user_id``."""
        nonce = secrets.token_bytes(_NONCE_LENGTH)
        return nonce + AESGCM(self.key).encrypt(
            nonce, secret.encode("ascii"), _associated_data(user_id)
        )

    def decrypt(self, blob: bytes, *, user_id: int) -> str:
        """The secret, decrypted under the current key or a previous one."""
        return self.decrypt_with_generation(blob, user_id=user_id)[0]

    def decrypt_with_generation(self, blob: bytes, *, user_id: int) -> tuple[str, int]:
        """The secret and which key opened it: 0 the current, 1 the previous..."""
        nonce, ciphertext = blob[:_NONCE_LENGTH], blob[_NONCE_LENGTH:]
        for generation, key in enumerate((self.key, *self.previous)):
            try:
                plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(user_id))
                return plaintext.decode("ascii"), generation
            except (InvalidTag, ValueError):
                continue
        raise TotpDecryptionError(
            "TOTP secret failed authentication (tampered, another user's, "
            "or a different KEYRACK_SECRET_KEY)"
        ) from None


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str) -> str:
    """The otpauth:// URI authenticator apps read from a QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def clean_code(code: str, *, field: str) -> str:
    """Six ASCII digits; spaces (as apps display "123 456") are dropped. Else `InvalidInput`."""
    if len(code) > MAX_CODE_INPUT:
        raise InvalidInput(_CODE_MESSAGE, field=field)
    cleaned = code.replace(" ", "")
    # isdigit alone would accept other scripts' digits, such as "١٢٣٤٥٦".
    if len(cleaned) != DIGITS or not (cleaned.isascii() and cleaned.isdigit()):
        raise InvalidInput(_CODE_MESSAGE, field=field)
    return cleaned


def current_step(now: float | None = None) -> int:
    return int(clock.time() if now is None else now) // PERIOD_SECONDS


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step, within the drift window, whose code ``code`` is; None if none is."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS)
    step = current_step(now)
    matched = None
    # Every candidate is compared, so the time taken does not tell which one matched.
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            matched = candidate
    return matched
