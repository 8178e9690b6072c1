from __future__ import annotations

import strawberry

from app.graphql.enums import LeakAction
from app.keysets.models import KeyPolicy
from app.keysets.policy import EffectivePolicy


@strawberry.type(
    name="KeyPolicy",
    description=(
        "The rules in force for new key sets, expiry changes and regenerations. "
        "Existing key sets are not changed by a tighter policy."
    ),
)
class KeyPolicyType:
    expiry_required: bool = strawberry.field(description="expiresAt must be given (or defaulted).")
    max_lifetime_seconds: int | None = strawberry.field(
        description="Longest an expiry may be from now when set. Null: no limit."
    )
    default_lifetime_seconds: int | None = strawberry.field(
        description="Expiry given to a new key set whose expiresAt is omitted. Null: none."
    )
    max_grace_period_seconds: int = strawberry.field(
        description="Longest gracePeriodSeconds regenerateKey accepts."
    )
    member_key_set_limit: int = strawberry.field(
        description="Live key sets a plain member may create for themselves (and manage)."
    )
    on_leak: LeakAction = strawberry.field(
        description=(
            "What a key found in public does to its key set (organization-wide; "
            "systems follow it). Default DISABLE."
        )
    )

    @classmethod
    def from_policy(cls, policy: EffectivePolicy) -> KeyPolicyType:
        return cls(
            expiry_required=bool(policy.expiry_required.value),
            max_lifetime_seconds=policy.max_lifetime_seconds.value,
            default_lifetime_seconds=policy.default_lifetime_seconds.value,
            max_grace_period_seconds=policy.max_grace_period_seconds.value,
            member_key_set_limit=policy.member_key_set_limit.value,
            on_leak=policy.on_leak,
        )


@strawberry.type(description="What a system sets itself; null fields follow the organization.")
class KeyPolicyOverride:
    expiry_required: bool | None = strawberry.field(
        description="true: the system requires an expiry even where the organization does not."
    )
    max_lifetime_seconds: int | None = strawberry.field(
        description="Seconds; the tighter of this and the organization's applies."
    )
    default_lifetime_seconds: int | None = strawberry.field(
        description="Seconds; replaces the organization's default for this system's key sets."
    )
    max_grace_period_seconds: int | None = strawberry.field(
        description="Seconds; the tighter of this and the organization's applies."
    )
    member_key_set_limit: int | None = strawberry.field(
        description="Live key sets a plain member may own in this system; the tighter applies."
    )

    @classmethod
    def from_model(cls, row: KeyPolicy) -> KeyPolicyOverride:
        return cls(
            expiry_required=row.expiry_required,
            max_lifetime_seconds=row.max_lifetime_seconds,
            default_lifetime_seconds=row.default_lifetime_seconds,
            max_grace_period_seconds=row.max_grace_period_seconds,
            member_key_set_limit=row.member_key_set_limit,
        )
