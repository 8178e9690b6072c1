"""`verifyKey`: the `/v1/keys/verify` answer from GraphQL, for integrators' tests."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot, documented
from app.graphql.errors import BadUserInput
from app.graphql.ids import ORGANIZATION, SYSTEM
from app.graphql.prices import VERIFY_COST, field_cost, list_cost
from app.graphql.sensitive import SECRET
from app.ids import pk_of
from app.permissions.names import BUILT_IN_NAMES, MAX_HELD_NAMES, is_permission_name
from app.permissions.query import MAX_NAMES as MAX_QUERY_NAMES
from app.permissions.query import QuerySyntaxError, compile_query
from app.verify.codes import VerifyCode
from app.verify.service import audience_of_member
from app.verify.verdict import Verdict

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
        "USAGE_EXCEEDED": (
            "The key set's credits (remaining) do not cover the cost asked; nothing was spent."
        ),
    },
)


@strawberry.type(description="The key set a verified key belongs to.")
class VerifiedKeySet:
    id: strawberry.ID = strawberry.field(description="Global id of the KeySet.")
    label: str = strawberry.field(description="The key set's label.")


@strawberry.type(
    description=(
        "The answer of a key check, the same as the body of POST /v1/keys/verify. For "
        "NOT_FOUND and RATE_LIMITED the fields about the key are null."
    )
)
class KeyVerification:
    valid: bool = strawberry.field(description="True only when code is VALID.")
    code: VerifyCode = strawberry.field(description="The outcome.")
    key_set: VerifiedKeySet | None = strawberry.field(
        description="The key's key set; null when it was not found."
    )
    organization_id: strawberry.ID | None = strawberry.field(
        description="Global id of the key set's organization; null when not found."
    )
    system_id: strawberry.ID | None = strawberry.field(
        description="Global id of the key set's system; null for organization key sets."
    )
    permissions: list[KeyPermission] | None = strawberry.field(
        description="The built-in permissions the key set holds; null when not found.",
        metadata=list_cost(len(KeyPermission)),
        deprecation_reason="Use permissionNames, which includes the organization's own names.",
    )
    permission_names: list[str] | None = strawberry.field(
        description="Everything the key set holds (groups included); null when not found.",
        metadata=list_cost(MAX_HELD_NAMES),
    )
    missing_permissions: list[str] | None = strawberry.field(
        description="With INSUFFICIENT_PERMISSION: the names asked for that the key lacks.",
        metadata=list_cost(MAX_QUERY_NAMES + 1),
    )
    slot: KeySlot | None = strawberry.field(
        description="Which of the key set's two keys this is; null when not found."
    )
    expires_at: datetime | None = strawberry.field(
        description="When the key set expires (UTC, ISO 8601); null if never or not found."
    )
    deprecated: bool = strawberry.field(description="A replaced key still in its grace period.")
    valid_until: datetime | None = strawberry.field(description="When a deprecated key stops.")
    retry_after_seconds: int | None = strawberry.field(
        description="With RATE_LIMITED: seconds to wait before trying again; null otherwise."
    )
    external_id: str | None = strawberry.field(
        description="The key set's externalId; null when unset or not found."
    )
    meta: JSON | None = strawberry.field(description="The key set's meta; null when unset.")
    remaining: int | None = strawberry.field(
        description="The key set's credits left; null when unlimited or not found."
    )

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
                [KeyPermission(p) for p in verdict.permissions if p in BUILT_IN_NAMES]
                if verdict.key_set_id is not None
                else None
            ),
            permission_names=(
                list(verdict.permissions) if verdict.key_set_id is not None else None
            ),
            missing_permissions=list(verdict.missing) if verdict.missing else None,
            slot=KeySlot(verdict.slot) if verdict.slot else None,
            expires_at=verdict.expires_at,
            deprecated=verdict.deprecated,
            valid_until=verdict.valid_until,
            retry_after_seconds=verdict.retry_after,
            external_id=verdict.external_id,
            meta=cast(JSON, verdict.meta),
            remaining=verdict.remaining,
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
            "for keys of organizations the caller is a member of; NOT_FOUND for others. "
            "It spends no credits: a member trying a key out costs 0."
        ),
        metadata=field_cost(VERIFY_COST),
    )
    async def verify_key(
        self,
        info: Info,
        key: Annotated[
            str,
            strawberry.argument(
                metadata=SECRET,
                description="The key to check (kro_… or krs_…); never logged or echoed.",
            ),
        ],
        permission: Annotated[
            KeyPermission | None,
            strawberry.argument(
                description="Answer INSUFFICIENT_PERMISSION unless it holds this built-in.",
                deprecation_reason="Use permissionName, which takes the catalog's names too.",
            ),
        ] = None,
        permission_name: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "Answer INSUFFICIENT_PERMISSION unless it holds this permission (a "
                    "built-in or catalog name), as the REST body's permission."
                )
            ),
        ] = None,
        permissions: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A permission query the key must meet, as the REST body's permissions: "
                    "names, AND, OR and parentheses, e.g. `a AND (b OR c)`. BAD_USER_INPUT, "
                    "with the position, when it is malformed."
                )
            ),
        ] = None,
        ip: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "The IPv4 or IPv6 address the key is used from, checked against the key "
                    "set's allow-list; BAD_USER_INPUT if it is not an address."
                )
            ),
        ] = None,
        organization_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Answer NOT_FOUND for keys of any other Organization."),
        ] = None,
        system_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Answer NOT_FOUND for keys of any other System (and organization keys)."
            ),
        ] = None,
    ) -> KeyVerification:
        address = None
        if ip is not None:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                raise BadUserInput("ip is not a valid IPv4 or IPv6 address.") from None
        if permission is not None and permission_name is not None:
            raise BadUserInput("Give permissionName or the deprecated permission, not both.")
        if permission_name is not None and not is_permission_name(permission_name):
            raise BadUserInput("permissionName cannot name a permission.")
        query = None
        if permissions is not None:
            try:
                query = compile_query(permissions)
            except QuerySyntaxError as error:
                raise BadUserInput(f"permissions: {error}") from None
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
            permission=KeyPermission(permission).value if permission else permission_name,
            query=query,
            ip=address,
            organization_id=organization_pk,
            system_id=system_pk,
            cost=0,  # a member trying a key out does not use up a customer's credits
        )
        return KeyVerification.from_verdict(verdict)
