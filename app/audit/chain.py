"""The keyed hash chain: what an entry's hash covers, and the keys it is computed under.

An entry's hash is HMAC-SHA256, under a subkey of the master secret, of the previous
entry's hash followed by the entry's canonical content. Without the secret nobody can
compute a hash that verifies, so whoever can write the database but not read the
server's secret cannot rewrite an entry, drop one or forge one and recompute the chain.

Each entry records the id of the chain key it was hashed under (`chain_key_id`), so that
after `KEYRACK_SECRET_KEY` is rotated the entries written before still verify under the
previous secrets in `KEYRACK_PREVIOUS_SECRET_KEYS`. Along a chain the keys only ever
move forward (older key, then newer): an entry under a retired key after one under a
newer key is refused, so a leaked old secret cannot extend a chain that has moved on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final

from app.settings import MasterSecrets
from app.subkeys import derive_subkey

if TYPE_CHECKING:
    from app.audit.models import AuditEntry

GENESIS_HASH: Final = "0" * 64
_CHAIN_INFO: Final = b"keyrack/audit-chain/v1"
_KEY_ID_LABEL: Final = b"keyrack/audit-chain-key-id"
KEY_ID_LENGTH: Final = 16


@dataclass(frozen=True, repr=False)
class ChainKey:
    """One chain key and its public id (a MAC of a label, so it says nothing of the key)."""

    key_id: str
    key: bytes

    def __repr__(self) -> str:
        return f"ChainKey({self.key_id})"

    @classmethod
    def derive(cls, master_secret: str) -> ChainKey:
        key = derive_subkey(master_secret.encode("utf-8"), _CHAIN_INFO)
        key_id = hmac.digest(key, _KEY_ID_LABEL, hashlib.sha256).hex()[:KEY_ID_LENGTH]
        return cls(key_id=key_id, key=key)

    def mac(self, prev_hash: str, content: str) -> str:
        return hmac.digest(self.key, (prev_hash + content).encode(), hashlib.sha256).hex()


@dataclass(frozen=True, repr=False)
class ChainKeyring:
    """The current chain key and those of previous secrets, newest first."""

    keys: tuple[ChainKey, ...]

    def __repr__(self) -> str:
        return f"ChainKeyring({[k.key_id for k in self.keys]})"

    @classmethod
    def derive(cls, secrets: MasterSecrets) -> ChainKeyring:
        return cls(tuple(ChainKey.derive(s) for s in (secrets.current, *secrets.previous)))

    @property
    def current(self) -> ChainKey:
        return self.keys[0]

    def generation(self, key_id: str) -> int | None:
        """0 for the current key, 1 for the previous one...; None for a key not configured."""
        for index, key in enumerate(self.keys):
            if hmac.compare_digest(key.key_id, key_id):
                return index
        return None


# The columns `content` covers, as `AuditEntry.values()` names them.
CONTENT_FIELDS: Final = (
    "organization_id",
    "sequence",
    "action",
    "occurred_at",
    "actor_id",
    "system_id",
    "key_set_id",
    "target_label",
    "ip_address",
    "user_agent",
    "details",
)


def content(entry: AuditEntry) -> str:
    """The canonical text the entry's hash covers."""
    return content_of({name: getattr(entry, name) for name in CONTENT_FIELDS})


def content_of(row: Mapping[str, Any]) -> str:
    """`content` of a row read with `values()` (reading a million models is slow)."""
    return json.dumps(
        {
            "organization": row["organization_id"],
            "sequence": row["sequence"],
            "action": row["action"],
            "occurred_at": row["occurred_at"].astimezone(UTC).isoformat(),
            "actor": row["actor_id"],
            "system": row["system_id"],
            "key_set": row["key_set_id"],
            "target_label": row["target_label"],
            "ip_address": row["ip_address"],
            "user_agent": row["user_agent"],
            "details": row["details"],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def entry_hash(entry: AuditEntry, key: ChainKey) -> str:
    return key.mac(entry.prev_hash, content(entry))
