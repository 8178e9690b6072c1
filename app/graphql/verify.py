"""`verifyKey`: the `/v1/keys/verify` answer from GraphQL, for integrators' tests."""

from __future__ import annotations

import ipaddress
from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot, documented
from app.graphql.errors import BadUserInput
from app.verify.service import Verdict, VerifyCode

documented(
    VerifyCode,
    "The outcome of a key verification; only VALID means the key may be used.",
    {
        "VALID": "The key is live, allowed from this address and holds the permission asked.",
        "NOT_FOUND": (
            "No such key for this caller: unknown, malformed, bad checksum, out of scope, "
            "revoked, or replaced and past its grace period. Never says which."
        ),
        "EXPIRED": "The key set is past its expiry.",
        "DISABLED": "The key set is switched off.",
        "FORBIDDEN_IP": "The key set has an IP allow-list; the address is missing or outside it.",
        "INSUFFICIENT_PERMISSION": "The key set does not hold the permission asked for.",
        "RATE_LIMITED": "Too many verifications of this key set (or unknown keys): retry later.",
    },
)


@strawberry.type
class VerifiedKeySet:
    id: strawberry.ID
    label: str


@strawberry.type
class KeyVerification:
    valid: bool
    code: VerifyCode
    key_set: VerifiedKeySet | None
    organization_id: strawberry.ID | None
    system_id: strawberry.ID | None
    permissions: list[KeyPermission] | None
    slot: KeySlot | None
    expires_at: datetime | None
    deprecated: bool = strawberry.field(description="A replaced key still in its grace period.")
    valid_until: datetime | None = strawberry.field(description="When a deprecated key stops.")
    retry_after_seconds: int | None

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> KeyVerification:
        wire = verdict.as_json()
        key_set = wire["keySet"]
        return cls(
            valid=verdict.valid,
            code=verdict.code,
            key_set=VerifiedKeySet(**key_set) if isinstance(key_set, dict) else None,
            organization_id=wire["organizationId"],  # type: ignore[arg-type]
            system_id=wire["systemId"],  # type: ignore[arg-type]
            permissions=(
                [KeyPermission(p) for p in verdict.permissions]
                if verdict.key_set_id is not None
                else None
            ),
            slot=KeySlot(verdict.slot) if verdict.slot else None,
            expires_at=verdict.expires_at,
            deprecated=verdict.deprecated,
            valid_until=verdict.valid_until,
            retry_after_seconds=verdict.retry_after,
        )


@strawberry.type
class VerifyQueries:
    @strawberry.field(
        description="Checks a key exactly as POST /v1/keys/verify does (same codes, same limits)."
    )
    async def verify_key(
        self,
        info: Info,
        key: str,
        permission: KeyPermission | None = None,
        ip: str | None = None,
    ) -> KeyVerification:
        address = None
        if ip is not None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                raise BadUserInput("ip is not a valid IPv4 or IPv6 address.") from None
        request = info.context.request
        verdict = await info.context.verifier.verify(
            key=key,
            permission=KeyPermission(permission).value if permission else None,
            ip=address,
            client_address=request.client.host if request.client else None,
        )
        return KeyVerification.from_verdict(verdict)
