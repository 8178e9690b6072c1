"""Signed checkpoints of an organization's audit chain head (Ed25519).

The signing key's 32-byte seed is an HKDF subkey of the master secret, so every server
process derives the same key and nothing more is stored. Its `keyId` is the first 16
hex digits of SHA-256 over the raw public key: rotating the secret rotates the key and
its id, and a checkpoint names the key that signed it.

The signed message is UTF-8 text, six lines joined by a single LF, no trailing newline::

    keyrack-audit-checkpoint/v1
    <organization global id>
    <sequence, decimal>
    <hash, 64 lowercase hex digits>
    <issuedAt, exactly as the checkpoint carries it>
    <keyId>

The signature is the 64-byte Ed25519 signature in standard base64; the public key is
the raw 32 bytes in standard base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.settings import MasterSecrets
from app.subkeys import derive_subkey

ALGORITHM: Final = "Ed25519"
MESSAGE_HEADER: Final = "keyrack-audit-checkpoint/v1"
_SEED_INFO: Final = b"keyrack/audit-signing/v1"


@dataclass(frozen=True)
class Checkpoint:
    organization_id: str  # global id
    sequence: int
    hash: str
    issued_at: str  # ISO 8601, UTC, seconds
    key_id: str
    signature: str  # base64

    def message(self) -> bytes:
        return checkpoint_message(
            organization_id=self.organization_id,
            sequence=self.sequence,
            hash=self.hash,
            issued_at=self.issued_at,
            key_id=self.key_id,
        )

    def as_json(self) -> dict[str, Any]:
        """The shape `Organization.auditCheckpoint` answers and `audit verify` reads."""
        return {
            "organizationId": self.organization_id,
            "sequence": self.sequence,
            "hash": self.hash,
            "issuedAt": self.issued_at,
            "keyId": self.key_id,
            "signature": self.signature,
        }


def checkpoint_message(
    *, organization_id: str, sequence: int, hash: str, issued_at: str, key_id: str
) -> bytes:
    lines = [MESSAGE_HEADER, organization_id, str(int(sequence)), hash, issued_at, key_id]
    return "\n".join(lines).encode("utf-8")


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(public)).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: Ed25519PublicKey

    @property
    def encoded(self) -> str:
        return base64.b64encode(_raw_public(self.public_key)).decode("ascii")

    def as_json(self) -> dict[str, str]:
        return {"keyId": self.key_id, "algorithm": ALGORITHM, "publicKey": self.encoded}


@dataclass(frozen=True, repr=False)
class CheckpointSigner:
    """The current signing key, and the public keys of previous secrets (newest first)."""

    private_key: Ed25519PrivateKey
    public_keys: tuple[PublicKey, ...]

    def __repr__(self) -> str:
        return f"CheckpointSigner({[k.key_id for k in self.public_keys]})"

    @classmethod
    def derive(cls, secrets: MasterSecrets) -> CheckpointSigner:
        privates = [
            Ed25519PrivateKey.from_private_bytes(derive_subkey(s.encode("utf-8"), _SEED_INFO))
            for s in (secrets.current, *secrets.previous)
        ]
        publics = tuple(PublicKey(key_id_of(p.public_key()), p.public_key()) for p in privates)
        return cls(private_key=privates[0], public_keys=publics)

    @property
    def current(self) -> PublicKey:
        return self.public_keys[0]

    def sign(self, *, organization_id: str, sequence: int, hash: str, issued_at: str) -> Checkpoint:
        key_id = self.current.key_id
        message = checkpoint_message(
            organization_id=organization_id,
            sequence=sequence,
            hash=hash,
            issued_at=issued_at,
            key_id=key_id,
        )
        signature = base64.b64encode(self.private_key.sign(message)).decode("ascii")
        return Checkpoint(organization_id, sequence, hash, issued_at, key_id, signature)

    def signature_valid(self, checkpoint: Checkpoint) -> bool:
        """Whether one of our public keys (the one `keyId` names) signed the checkpoint."""
        for key in self.public_keys:
            if key.key_id == checkpoint.key_id:
                try:
                    signature = base64.b64decode(checkpoint.signature, validate=True)
                    key.public_key.verify(signature, checkpoint.message())
                except (InvalidSignature, binascii.Error, ValueError):
                    return False
                return True
        return False
