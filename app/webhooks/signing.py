"""Webhook signing secrets, derived rather than stored, and the signature header.

A webhook's secret is HKDF(master secret, info="keyrack/webhook-signing/v1:<id>:<nonce>"):
nothing reversible is kept, yet every server process can sign. The signature covers the
timestamp and the exact body: `Keyrack-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
of `f"{t}.{body}"`, keyed with the secret's UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from app.subkeys import derive_subkey

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
_HKDF_INFO: Final = b"keyrack/webhook-signing/v1"


@dataclass(frozen=True, repr=False)
class WebhookSigning:
    """Derives each webhook's signing secret from the master secret; its repr shows nothing."""

    master: bytes

    def __repr__(self) -> str:
        return "WebhookSigning(<redacted>)"

    @classmethod
    def derive(cls, master_secret: str) -> WebhookSigning:
        if not master_secret:
            raise ValueError("the master secret must not be empty")
        return cls(master=master_secret.encode("utf-8"))

    def secret_for(self, *, webhook_id: int, nonce: str) -> str:
        info = _HKDF_INFO + f":{int(webhook_id)}:{nonce}".encode("ascii")
        raw = derive_subkey(self.master, info)
        return SECRET_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def signature_header(secret: str, *, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode("ascii") + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_headers(
    secret: str, *, delivery_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers that identify and sign one delivery."""
    return {
        "keyrack-delivery": delivery_id,
        "keyrack-signature": signature_header(secret, timestamp=timestamp, body=body),
    }
