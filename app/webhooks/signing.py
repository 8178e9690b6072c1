"""Webhook signing secrets, derived rather than stored, and the signature header.

A webhook's secret is HKDF(master secret, info="keyrack/webhook-signing/v1:<id>:<nonce>"):
nothing reversible is kept, yet every server process can sign. The signature covers the
timestamp and the exact body: `Keyrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
of `f"{t}.{body}"`, keyed with the secret's UTF-8 bytes.

Rotating the master secret therefore changes every webhook's secret. While the old one
is in KEYRACK_PREVIOUS_SECRET_KEYS a delivery carries one `v1=` per secret, current
first, so a receiver still holding the old webhook secret keeps accepting deliveries
until it is given the new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from app.subkeys import derive_subkey

if TYPE_CHECKING:
    from app.settings import MasterSecrets

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
_HKDF_INFO: Final = b"keyrack/webhook-signing/v1"


@dataclass(frozen=True, repr=False)
class WebhookSigning:
    """Derives each webhook's signing secret from the master secret; its repr shows nothing."""

    master: bytes
    previous: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        return "WebhookSigning(<redacted>)"

    @classmethod
    def derive(cls, master_secret: str) -> WebhookSigning:
        if not master_secret:
            raise ValueError("the master secret must not be empty")
        return cls(master=master_secret.encode("utf-8"))

    @classmethod
    def derive_all(cls, secrets: MasterSecrets) -> WebhookSigning:
        previous = tuple(secret.encode("utf-8") for secret in secrets.previous)
        return cls(master=secrets.current.encode("utf-8"), previous=previous)

    def secret_for(self, *, webhook_id: int, nonce: str) -> str:
        return _secret(self.master, webhook_id=webhook_id, nonce=nonce)

    def secrets_for(self, *, webhook_id: int, nonce: str) -> list[str]:
        """The webhook's secret under the current master secret, then the previous ones."""
        return [
            _secret(master, webhook_id=webhook_id, nonce=nonce)
            for master in (self.master, *self.previous)
        ]


def _secret(master: bytes, *, webhook_id: int, nonce: str) -> str:
    info = _HKDF_INFO + f":{int(webhook_id)}:{nonce}".encode("ascii")
    raw = derive_subkey(master, info)
    return SECRET_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def signature_header(secret: str | list[str], *, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode("ascii") + body
    secrets = [secret] if isinstance(secret, str) else secret
    digests = [hmac.new(s.encode("utf-8"), signed, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={timestamp}", *(f"v1={digest}" for digest in digests)])
