"""Making, replacing and ending a key set's keys: create, regenerate, revoke."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot
from app.graphql.ids import KEY_SET, ORGANIZATION, SYSTEM, input_pk
from app.graphql.keysets.payloads import KeySetPayload, RefillInput, group_pks, recent_use
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.keysets import lifecycle, revocation, values


@strawberry.input(description="A new key set of an organization or of one of its systems.")
class CreateKeySetInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Give exactly one of organizationId and systemId."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None, description="The system the set is for; omit for an organization key set."
    )
    label: str = strawberry.field(
        description=(
            "Trimmed and NFKC-normalised, 1 to 100 characters, no API key in it; must be unique "
            "among the live key sets of the scope (else TAKEN)."
        )
    )
    permissions: list[KeyPermission] = strawberry.field(
        default_factory=list,
        description="Permissions of the set's scope only (else INVALID); duplicates are merged.",
        deprecation_reason="Use permissionNames.",
    )
    permission_names: list[str] = strawberry.field(
        default_factory=list,
        description=(
            "Names from the organization's catalog (built-ins included), of the set's scope "
            "only: an unknown name or one of another scope is INVALID at its index."
        ),
    )
    description: str | None = strawberry.field(
        default=None, description="Free text up to 1000 characters, no API key in it."
    )
    expires_at: datetime | None = strawberry.field(
        default=None,
        description=(
            "In the future and within the key policy (else POLICY_VIOLATION); omitted: the "
            "policy's defaultLifetimeSeconds, if any, else no expiry."
        ),
    )
    allowed_cidrs: list[str] = strawberry.field(
        default_factory=list, description="IPv4/IPv6 networks allowed to use the keys; empty: any."
    )
    group_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Permission groups of the organization, of the key set's scope.",
    )
    external_id: str | None = strawberry.field(
        default=None,
        description=(
            "Whose keys these are in your own system (a customer, a tenant): up to 255 "
            "characters, returned by verification; keySets(filter: {externalId}) finds them. "
            "Admins of the scope only (FORBIDDEN)."
        ),
    )
    meta: JSON | None = strawberry.field(
        default=None,
        description=(
            "A JSON object of your own, up to 4 KiB encoded, returned by verification. "
            "Admins of the scope only."
        ),
    )
    remaining: int | None = strawberry.field(
        default=None,
        description=(
            "Credits: verifications left, each spending its cost (default 1). Null: unlimited "
            "(with a refill: the refill amount). Admins of the scope only (FORBIDDEN)."
        ),
    )
    refill: RefillInput | None = strawberry.field(
        default=None,
        description=(
            "Sets remaining back to an amount every day or month. Admins of the scope only."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Which key of which key set to replace.")
class RegenerateKeyInput:
    key_set_id: strawberry.ID = strawberry.field(
        description="A key set of a scope you administer; a revoked one gives REVOKED."
    )
    slot: KeySlot = strawberry.field(description="The key to replace; the other one is untouched.")
    confirm_label: str = strawberry.field(description="Must equal the key set's label exactly.")
    grace_period_seconds: int | None = strawberry.field(
        default=0,
        description=(
            "Seconds the replaced key keeps verifying: 0 to 604800, and at most the key "
            "policy's maxGracePeriodSeconds (else POLICY_VIOLATION)."
        ),
    )
    acknowledge_recent_use: bool = strawberry.field(
        default=False,
        description=(
            "Go ahead although the key is in use (only without grace)."
            " Without it, a key set that verified successfully within"
            " KEYRACK_RECENT_USE_SECONDS (default an hour) gives RECENTLY_USED and"
            " nothing changes; see KeySet.impact."
        ),
    )
    retire_when_idle_seconds: int | None = strawberry.field(
        default=None,
        description=(
            "Traffic-aware rotation: the replaced key keeps verifying until it has seen no "
            "traffic for this many seconds after the new key's first successful use, and "
            "never beyond gracePeriodSeconds, the cap. At least 1 (else INVALID) and at most "
            "gracePeriodSeconds (else GRACE_PERIOD_REQUIRED). Null: the grace period alone."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The key set to revoke, for good.")
class RevokeKeySetInput:
    key_set_id: strawberry.ID = strawberry.field(
        description="A key set of a scope you administer; already revoked gives REVOKED."
    )
    confirm_label: str = strawberry.field(description="Must equal the key set's label exactly.")
    reason: str | None = strawberry.field(
        default=None,
        description="Why, for the audit log and revokeReason: up to 500 characters, no API key.",
    )
    acknowledge_recent_use: bool = strawberry.field(
        default=False,
        description=(
            "Go ahead although the key set is in use."
            " Without it, a key set that verified successfully within"
            " KEYRACK_RECENT_USE_SECONDS (default an hour) gives RECENTLY_USED and"
            " nothing changes; see KeySet.impact."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The new key set and, this once, its two plaintext keys.")
class CreateKeySetPayload:
    key_set: KeySetType | None = strawberry.field(
        default=None, description="The new key set; null on userErrors."
    )
    primary_key: str | None = strawberry.field(
        default=None, description="The plaintext primary key. Store it now."
    )
    secondary_key: str | None = strawberry.field(
        default=None, description="The plaintext secondary key. Store it now."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The key set with its new key, and that key in plaintext.")
class RegenerateKeyPayload:
    key_set: KeySetType | None = strawberry.field(
        default=None, description="The key set after the change; null on userErrors."
    )
    key: str | None = strawberry.field(
        default=None, description="The new plaintext key. Store it now."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


# "Without grace": the old key can stop working within this long.
GRACE_HELD_UNDER_SECONDS = 3600


async def _without_grace(input: RegenerateKeyInput, scope: Scope) -> bool:
    # The old key's shortest life: the grace, or less once idle that long.
    lives = [input.grace_period_seconds or 0, input.retire_when_idle_seconds]
    return min(life for life in lives if life is not None) < GRACE_HELD_UNDER_SECONDS


@strawberry.type
class KeySetMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CREATE_KEY_SET,
                "system_id",
                "organization_id",
                held={"primary_key": "PRIMARY", "secondary_key": "SECONDARY"},
            ),
            StepUp("organization_id", "system_id"),
            ReportUserErrors(),
        ],
        description=(
            "Creates a key set with fresh primary and secondary keys, shown in plaintext only "
            "here. Admins of the scope; plain members only for themselves, up to the key "
            "policy's memberKeySetLimit (POLICY_VIOLATION past it, FORBIDDEN when it is 0)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def create_key_set(self, info: Info, input: CreateKeySetInput) -> CreateKeySetPayload:
        created = await lifecycle.create_key_set(
            actor=info.context.actor,
            keys=info.context.keys,
            organization_id=(
                input_pk(input.organization_id, ORGANIZATION, field="organizationId")
                if input.organization_id is not None
                else None
            ),
            system_id=(
                input_pk(input.system_id, SYSTEM, field="systemId")
                if input.system_id is not None
                else None
            ),
            label=input.label,
            permissions=[p.value for p in input.permissions],
            description=input.description,
            expires_at=input.expires_at,
            allowed_cidrs=input.allowed_cidrs,
            group_ids=group_pks(input.group_ids),
            external_id=input.external_id,
            meta=input.meta,
            remaining=input.remaining,
            refill=input.refill.to_refill() if input.refill else None,
            permission_names=input.permission_names,
        )
        return CreateKeySetPayload(
            key_set=KeySetType.from_model(created.key_set),
            primary_key=created.primary_key,
            secondary_key=created.secondary_key,
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.REGENERATE_WITHOUT_GRACE,
                "key_set_id",
                when=_without_grace,
                also=ApprovalAction.REVEAL_KEY,  # its payload hands out a working key
                held={"key": "KEY"},
            ),
            StepUp("key_set_id"),
            ReportUserErrors(),
        ],
        description=(
            "Replaces one key (admins of the scope). Confirm by typing the label "
            "(LABEL_MISMATCH); the old key may keep verifying for a grace period."
        ),
        metadata=MUTATION_PRICE,
    )
    async def regenerate_key(self, info: Info, input: RegenerateKeyInput) -> RegenerateKeyPayload:
        regenerated = await values.regenerate_key(
            actor=info.context.actor,
            keys=info.context.keys,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            slot=input.slot,
            confirm_label=input.confirm_label,
            grace_period_seconds=input.grace_period_seconds,
            recent_use=recent_use(info, input.acknowledge_recent_use),
            retire_when_idle_seconds=input.retire_when_idle_seconds,
        )
        return RegenerateKeyPayload(
            key_set=KeySetType.from_model(regenerated.key_set), key=regenerated.key
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(ApprovalAction.REVOKE_KEY_SET, "key_set_id"),
            StepUp("key_set_id"),
            ReportUserErrors(),
        ],
        description=(
            "Revokes both keys at once and destroys them; cannot be undone. Admins of the "
            "scope; confirm by typing the label (LABEL_MISMATCH). Frees the label."
        ),
        metadata=MUTATION_PRICE,
    )
    async def revoke_key_set(self, info: Info, input: RevokeKeySetInput) -> KeySetPayload:
        key_set = await revocation.revoke_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            confirm_label=input.confirm_label,
            reason=input.reason,
            recent_use=recent_use(info, input.acknowledge_recent_use),
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))
