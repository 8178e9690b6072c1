"""API key format, lookup hashing and at-rest encryption.

A key is ``kro_`` (organization) or ``krs_`` (system), then 32 random bytes in base62,
then a base62 CRC32 of everything before it::

    kro_ + 43 chars (256 random bits) + 6 chars (CRC32)  ->  53 chars

Both base62 parts are fixed width (left-padded with ``0``), so every key has the same
length and a length comparison rejects most garbage before any other work. The checksum
lets verification reject typos and made-up keys with no database round trip. It is not
a secret and not a MAC; the key's strength is the 256 random bits.

Keys are stored as an HMAC-SHA256 lookup hash under a pepper derived from
``KEYRACK_SECRET_KEY``, and optionally as AES-256-GCM ciphertext whose associated data
binds it to its key set and slot, so a ciphertext copied into another row fails to
decrypt. Nothing in this module puts a plaintext key in an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.subkeys import SUBKEY_LENGTH, derive_subkey

if TYPE_CHECKING:
    from app.settings import MasterSecrets

Scope = Literal["ORGANIZATION", "SYSTEM"]

ORG_PREFIX: Final = "kro_"
SYSTEM_PREFIX: Final = "krs_"
# Verifier tokens (app.verifiers): the same format, a prefix no key has, so a token
# passed as a key (or a key as a token) is refused by its shape alone.
VERIFIER_PREFIX: Final = "krv_"
_PREFIX_BY_SCOPE: Final[dict[str, str]] = {"ORGANIZATION": ORG_PREFIX, "SYSTEM": SYSTEM_PREFIX}
_SCOPE_BY_PREFIX: Final[dict[str, Scope]] = {ORG_PREFIX: "ORGANIZATION", SYSTEM_PREFIX: "SYSTEM"}
_KEY_PREFIXES: Final = (ORG_PREFIX, SYSTEM_PREFIX)

# In ASCII order, so comparing two fixed-width base62 strings compares their values.
BASE62_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

RANDOM_BYTES: Final = 32
PREFIX_LENGTH: Final = 4
RANDOM_PART_LENGTH: Final = 43  # smallest n with 62**n >= 2**256
CHECKSUM_LENGTH: Final = 6  # smallest n with 62**n >= 2**32
KEY_LENGTH: Final = PREFIX_LENGTH + RANDOM_PART_LENGTH + CHECKSUM_LENGTH

_BODY_LENGTH: Final = PREFIX_LENGTH + RANDOM_PART_LENGTH
_HINT_EDGE: Final = 4
_NONCE_LENGTH: Final = 12
_PEPPER_INFO: Final = b"keyrack/lookup-pepper/v1"
_ENCRYPTION_INFO: Final = b"keyrack/key-encryption/v1"
_SHA256_BLOCK: Final = 64


def _base62(value: int, width: int) -> str:
    digits = ["0"] * width
    for i in range(width - 1, -1, -1):
        value, remainder = divmod(value, 62)
        digits[i] = BASE62_ALPHABET[remainder]
    if value:
        raise ValueError("value does not fit the base62 width")
    return "".join(digits)


# 62**43 slightly exceeds 2**256; a random part above this cannot come from 32 bytes.
_MAX_RANDOM_PART: Final = _base62(2 ** (8 * RANDOM_BYTES) - 1, RANDOM_PART_LENGTH)


# Every two-digit base62 number, in order: a CRC32 (below 62**6) is three of them, found
# with two divisions instead of six (the checksum is on every verification's path).
_DIGIT_PAIRS: Final = tuple(high + low for high in BASE62_ALPHABET for low in BASE62_ALPHABET)
_PAIR: Final = len(_DIGIT_PAIRS)


def _checksum(body: str) -> str:
    rest, last = divmod(zlib.crc32(body.encode("ascii")), _PAIR)
    first, middle = divmod(rest, _PAIR)
    return _DIGIT_PAIRS[first] + _DIGIT_PAIRS[middle] + _DIGIT_PAIRS[last]


def generate_key(scope: Scope) -> str:
    """Return a new random key for ``scope`` ("ORGANIZATION" or "SYSTEM")."""
    prefix = _PREFIX_BY_SCOPE.get(scope)
    if prefix is None:
        raise ValueError("scope must be 'ORGANIZATION' or 'SYSTEM'")
    return _generate(prefix)


def generate_verifier_token() -> str:
    """Return a new random verifier token (``krv_…``)."""
    return _generate(VERIFIER_PREFIX)


def _generate(prefix: str) -> str:
    random_value = int.from_bytes(secrets.token_bytes(RANDOM_BYTES), "big")
    body = prefix + _base62(random_value, RANDOM_PART_LENGTH)
    return body + _checksum(body)


def is_well_formed(key: object) -> bool:
    """Whether ``key`` has the shape of a Keyrack key with a valid checksum.

    Cheap and total: never raises, whatever ``key`` is.
    """
    return _well_formed(key, _SCOPE_BY_PREFIX)


def has_key_shape(key: str) -> bool:
    """Whether ``key`` has a Keyrack key's prefix and length, in ASCII: what a key found by
    its lookup hash must have. Cheaper than `is_well_formed`, which also reads the checksum."""
    return len(key) == KEY_LENGTH and key.isascii() and key.startswith(_KEY_PREFIXES)


def is_well_formed_verifier_token(token: object) -> bool:
    """Whether ``token`` has the shape of a verifier token with a valid checksum (total)."""
    return _well_formed(token, (VERIFIER_PREFIX,))


def _well_formed(key: object, prefixes: Collection[str]) -> bool:
    if not isinstance(key, str) or len(key) != KEY_LENGTH:
        return False
    if key[:PREFIX_LENGTH] not in prefixes:
        return False
    rest = key[PREFIX_LENGTH:]
    # isalnum alone would accept non-ASCII letters and digits.
    if not (rest.isascii() and rest.isalnum()):
        return False
    if key[PREFIX_LENGTH:_BODY_LENGTH] > _MAX_RANDOM_PART:
        return False
    return _checksum(key[:_BODY_LENGTH]) == key[_BODY_LENGTH:]


def _require_well_formed(key: str) -> None:
    if not is_well_formed(key):
        # Deliberately does not echo the input: it may be a real key with a typo.
        raise ValueError("not a well-formed Keyrack key")


def scope_of(key: str) -> Scope:
    """Return "ORGANIZATION" or "SYSTEM" for a well-formed key; ValueError otherwise."""
    _require_well_formed(key)
    return _SCOPE_BY_PREFIX[key[:PREFIX_LENGTH]]


def hint(key: str) -> str:
    """Return the displayable beginning and end of a well-formed key or verifier token,
    e.g. ``kro_AbCd…wXyZ``."""
    if not is_well_formed_verifier_token(key):
        _require_well_formed(key)
    return key[: PREFIX_LENGTH + _HINT_EDGE] + "…" + key[-_HINT_EDGE:]


class KeyDecryptionError(Exception):
    """A stored key ciphertext could not be decrypted (tampered, misbound or wrong secret)."""


def _associated_data(key_set_id: int, slot: str) -> bytes:
    # key_set_id is an int and cannot contain "/", so the encoding is unambiguous.
    return f"keyrack/key/v1/{int(key_set_id)}/{slot}".encode()


class _Sha256Mac:
    """HMAC-SHA256 under one key (RFC 2104, a key shorter than the block), with the padded
    key's inner and outer states hashed once: each message then costs two state copies
    and three C calls instead of OpenSSL's setup of a new context (a third of the time on
    the verification path). The same digests as `hmac.digest` (tests/keysets/test_keys.py)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            raise ValueError("an HMAC key longer than the block is hashed first; not here")
        padded = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@dataclass(frozen=True, repr=False)
class KeyMaterial:
    """Secrets derived from KEYRACK_SECRET_KEY; its repr shows nothing.

    `previous` holds the material of KEYRACK_PREVIOUS_SECRET_KEYS, newest first: new
    hashes and ciphertexts always use the current secret, while lookups and decryption
    fall back on the previous ones (see `lookup_hashes` and `decrypt`).
    """

    pepper: bytes
    encryption_key: bytes
    previous: tuple[KeyMaterial, ...] = ()
    _lookup_mac: _Sha256Mac = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.pepper) != SUBKEY_LENGTH or len(self.encryption_key) != SUBKEY_LENGTH:
            raise ValueError("pepper and encryption_key must be 32 bytes each")
        object.__setattr__(self, "_lookup_mac", _Sha256Mac(self.pepper))

    def __repr__(self) -> str:
        return "KeyMaterial(<redacted>)"

    @classmethod
    def derive(cls, master_secret: str) -> KeyMaterial:
        """Derive the lookup pepper and encryption key from the master secret (HKDF-SHA256)."""
        if not master_secret:
            raise ValueError("the master secret must not be empty")
        master = master_secret.encode("utf-8")
        return cls(
            pepper=derive_subkey(master, _PEPPER_INFO),
            encryption_key=derive_subkey(master, _ENCRYPTION_INFO),
        )

    @classmethod
    def derive_all(cls, secrets: MasterSecrets) -> KeyMaterial:
        """The current secret's material, with that of the previous secrets behind it."""
        current = cls.derive(secrets.current)
        previous = tuple(cls.derive(secret) for secret in secrets.previous)
        return cls(current.pepper, current.encryption_key, previous)

    @property
    def pepper_id(self) -> str:
        """A public name for the pepper (a MAC of a label under it): which secret hashed."""
        return hmac.digest(self.pepper, b"keyrack/pepper-id", hashlib.sha256).hex()[:16]

    def lookup_hash(self, key: str) -> str:
        """Return the hex HMAC-SHA256 of ``key`` under the pepper (64 chars)."""
        return self._lookup_mac.hexdigest(key.encode("utf-8"))

    def previous_lookup_hashes(self, key: str) -> list[str]:
        """The lookup hashes ``key`` had under the previous secrets, newest first."""
        return [older.lookup_hash(key) for older in self.previous]

    def encrypt(self, key: str, *, key_set_id: int, slot: str) -> bytes:
        """Encrypt ``key`` bound to ``key_set_id`` and ``slot``; returns nonce + ciphertext."""
        nonce = secrets.token_bytes(_NONCE_LENGTH)
        ciphertext = AESGCM(self.encryption_key).encrypt(
            nonce, key.encode("utf-8"), _associated_data(key_set_id, slot)
        )
        return nonce + ciphertext

    def decrypt(self, blob: bytes, *, key_set_id: int, slot: str) -> str:
        """Decrypt a blob from :meth:`encrypt`, under the current secret or a previous one;
        KeyDecryptionError unless everything matches."""
        return self.decrypt_with_generation(blob, key_set_id=key_set_id, slot=slot)[0]

    def decrypt_with_generation(
        self, blob: bytes, *, key_set_id: int, slot: str
    ) -> tuple[str, int]:
        """The plaintext and which secret opened it: 0 the current, 1 the previous..."""
        for generation, material in enumerate((self, *self.previous)):
            try:
                return material._decrypt(blob, key_set_id=key_set_id, slot=slot), generation
            except KeyDecryptionError:
                continue
        raise KeyDecryptionError(
            "key ciphertext failed authentication (tampered, wrong key set or slot, "
            "or a different KEYRACK_SECRET_KEY)"
        ) from None

    def _decrypt(self, blob: bytes, *, key_set_id: int, slot: str) -> str:
        nonce, ciphertext = blob[:_NONCE_LENGTH], blob[_NONCE_LENGTH:]
        if len(nonce) != _NONCE_LENGTH:
            raise KeyDecryptionError("key ciphertext is too short")
        try:
            plaintext = AESGCM(self.encryption_key).decrypt(
                nonce, ciphertext, _associated_data(key_set_id, slot)
            )
            return plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            # from None: the cause adds nothing useful and must not carry plaintext.
            raise KeyDecryptionError(
                "key ciphertext failed authentication (tampered, wrong key set or slot, "
                "or a different KEYRACK_SECRET_KEY)"
            ) from None
