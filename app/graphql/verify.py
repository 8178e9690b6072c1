"""`verifyKey`: the `/v1/keys/verify` answer from GraphQL, for integrators' tests."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot, documented
from app.graphql.errors import BadUserInput
from app.graphql.ids import ORGANIZATION, SYSTEM
from app.graphql.sensitive import SECRET
from app.ids import pk_of
from app.verify.service import Verdict, VerifyCode, audience_of_member

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


def _pk(global_id: str | None, type_name: str, argument: str) -> int | None:
    if global_id is None:
        return None
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise BadUserInput(f"{argument} is not the id of a {type_name}.")
    return pk


@strawberry.type
class VerifyQueries:
    @strawberry.field(
        description=(
            "Checks a key exactly as POST /v1/keys/verify does (same codes, same limits), "
            "for keys of organizations the caller is a member of; NOT_FOUND for others."
        )
    )
    async def verify_key(
        self,
        info: Info,
        key: Annotated[str, strawberry.argument(metadata=SECRET)],
        permission: KeyPermission | None = None,
        ip: str | None = None,
        organization_id: strawberry.ID | None = None,
        system_id: strawberry.ID | None = None,
    ) -> KeyVerification:
        address = None
        if ip is not None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                raise BadUserInput("ip is not a valid IPv4 or IPv6 address.") from None
        organization_pk = _pk(organization_id, ORGANIZATION, "organizationId")
        system_pk = _pk(system_id, SYSTEM, "systemId")
        request = info.context.request
        user = info.context.user
        audience = await audience_of_member(
            user_id=user.id if user else None,
            address=request.client.host if request.client else None,
        )
        verdict = await info.context.verifier.verify(
            key=key,
            audience=audience,
            permission=KeyPermission(permission).value if permission else None,
            ip=address,
            organization_id=organization_pk,
            system_id=system_pk,
        )
        return KeyVerification.from_verdict(verdict)
