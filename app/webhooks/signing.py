"""Webhook signing secrets, derived rather than stored, and the headers that sign deliveries.

A webhook's secret is HKDF(master secret, info="keyrack/webhook-signing/v1:<id>:<nonce>"):
nothing reversible is kept, yet every server process can sign. It is handed out as
`whsec_` and the derived bytes in base64, as the Standard Webhooks specification has it
(webhooks registered before that have URL-safe base64; their bytes are the same).

Each delivery carries two signatures over the exact body:
- Standard Webhooks: `webhook-id` (the delivery, the same on every retry),
  `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` of
  `f"{id}.{timestamp}.{body}"`, keyed with the secret's decoded bytes; any Standard
  Webhooks library verifies it.
- Keyrack's own, kept for one release: `Keyrack-Delivery` and `Keyrack-Signature:
  t=<unix seconds>,v1=<hex HMAC-SHA256>` of `f"{t}.{body}"`, keyed with the secret's
  UTF-8 bytes.

Rotating the master secret therefore changes every webhook's secret. While the old one
is in KEYRACK_PREVIOUS_SECRET_KEYS a delivery carries one signature per secret, current
first (`v1=` pairs in Keyrack-Signature, space-separated `v1,` entries in
webhook-signature), so a receiver still holding the old webhook secret keeps accepting
deliveries until it is given the new one.
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
# Marks the nonce of a webhook whose secret is written in standard base64.
STANDARD_NONCE_PREFIX: Final = "s1."
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
    if nonce.startswith(STANDARD_NONCE_PREFIX):
        return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")
    # Secrets handed out before the standard headers: they must stay what they were.
    return SECRET_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    """The bytes a secret stands for, whichever base64 alphabet wrote it."""
    body = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    body += "=" * (-len(body) % 4)
    return base64.urlsafe_b64decode(body) if "-" in body or "_" in body else base64.b64decode(body)


def _all(secret: str | list[str]) -> list[str]:
    return [secret] if isinstance(secret, str) else secret


def signature_header(secret: str | list[str], *, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode("ascii") + body
    digests = [
        hmac.new(s.encode("utf-8"), signed, hashlib.sha256).hexdigest() for s in _all(secret)
    ]
    return ",".join([f"t={timestamp}", *(f"v1={digest}" for digest in digests)])


def standard_signature(
    secret: str | list[str], *, message_id: str, timestamp: int, body: bytes
) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(_secret_bytes(s), signed, hashlib.sha256).digest()).decode()
        for s in _all(secret)
    )


def delivery_headers(
    secret: str | list[str], *, delivery_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers that identify and sign one delivery, both ways."""
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(
            secret, message_id=delivery_id, timestamp=timestamp, body=body
        ),
        "keyrack-delivery": delivery_id,
        "keyrack-signature": signature_header(secret, timestamp=timestamp, body=body),
    }
