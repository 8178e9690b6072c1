"""A verification's verdict, and its answer as `/v1/keys/verify` sends it.

Verdicts are frozen values. A found key's are built once per cache entry
(`app.verify.cache.Lookup.verdicts`) and each encodes its answer once, around a place for
`remaining`, the one part that changes with every spend: a metered verification's
answer is then one copy of the verdict and one bytes splice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from app.ids import to_global_id
from app.verify.codes import VerifyCode

# Where an answer's `remaining` goes: no key set's meta or label can hold it (\x00).
_REMAINING = "\x00remaining\x00"
_REMAINING_ENCODED = json.dumps(_REMAINING).encode()


@dataclass(frozen=True)
class Verdict:
    code: VerifyCode
    key_set_id: int | None = None
    key_set_label: str | None = None
    organization_id: int | None = None
    system_id: int | None = None
    permissions: tuple[str, ...] = ()
    slot: str | None = None
    expires_at: datetime | None = None
    deprecated: bool = False
    valid_until: datetime | None = None
    retry_after: int | None = None
    external_id: str | None = None
    # Compared but not hashed (a dict is not hashable).
    meta: dict[str, object] | None = field(default=None, hash=False)
    # Neither compared nor hashed: it changes with every spend, and the answer is encoded
    # once per verdict with a place for it (`encoded`).
    remaining: int | None = field(default=None, compare=False)
    # INSUFFICIENT_PERMISSION: the names asked for that the key does not hold. Answered to
    # the verifier, never logged.
    missing: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.code == "VALID"  # a str comparison: VerifyCode.VALID is a slower lookup

    def with_remaining(self, remaining: int | None) -> Verdict:
        """This verdict with `remaining` set: a copy of its fields and of its encoded
        answer, not `replace` (which runs every field through `__init__` and would encode
        the answer again, a cost on each metered verification)."""
        fields = self.__dict__.copy()  # one C copy, not a merge key by key
        fields["_parts"] = self._parts
        fields["remaining"] = remaining
        copy = object.__new__(Verdict)
        object.__setattr__(copy, "__dict__", fields)
        return copy

    def encoded(self) -> bytes:
        """The answer's JSON, as `/v1/keys/verify` sends it."""
        left = self.remaining
        if left is None:
            return self._without_credits
        before, after = self._parts
        return before + str(left).encode() + after

    @cached_property
    def _without_credits(self) -> bytes:
        """The answer of a key set without credits (`remaining` null): the same bytes every
        time, joined once."""
        before, after = self._parts
        return before + b"null" + after

    @cached_property
    def _parts(self) -> tuple[bytes, bytes]:
        """The answer's JSON before and after `remaining`, encoded once per verdict (a
        frozen value, so never stale)."""
        payload = {**self.as_json(), "remaining": _REMAINING}
        encoded = json.dumps(payload, separators=(",", ":")).encode()
        # The last one: `remaining` comes after every text a person wrote (label,
        # externalId, meta), and what follows it (permission names) cannot hold \x00.
        before, _, after = encoded.rpartition(_REMAINING_ENCODED)
        return before, after

    def as_json(self) -> dict[str, object]:
        """The wire shape of the contract, with global ids."""
        found = self.key_set_id is not None
        return {
            "valid": self.valid,
            "code": self.code.value,
            "keySet": (
                {"id": to_global_id("KeySet", self.key_set_id), "label": self.key_set_label}
                if self.key_set_id is not None
                else None
            ),
            "organizationId": (
                to_global_id("Organization", self.organization_id) if self.organization_id else None
            ),
            "systemId": to_global_id("System", self.system_id) if self.system_id else None,
            "permissions": list(self.permissions) if found else None,
            "slot": self.slot,
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
            "deprecated": self.deprecated,
            "validUntil": self.valid_until.isoformat() if self.valid_until else None,
            "externalId": self.external_id,
            "meta": self.meta,
            "remaining": self.remaining,
            "missingPermissions": list(self.missing) if self.missing else None,
        }


NOT_FOUND = Verdict(VerifyCode.NOT_FOUND)
