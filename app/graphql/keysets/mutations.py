from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot, RefillInterval
from app.graphql.ids import KEY_SET, ORGANIZATION, PERMISSION_GROUP, SYSTEM, input_pk
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.keysets import lifecycle, values
from app.keysets.owners import Refill
from app.usage.recent import RecentUseCheck
from app.validation import UNCHANGED


@strawberry.input(description="Credits given back on a schedule: remaining is set to amount.")
class RefillInput:
    amount: int = strawberry.field(description="1 or more: remaining after each refill.")
    interval: RefillInterval = strawberry.field(
        description="DAILY (00:00 UTC) or MONTHLY (the 1st, 00:00 UTC)."
    )

    def to_refill(self) -> Refill:
        return Refill(self.amount, self.interval)


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


@strawberry.input(description="Every field but keySetId is optional; an omitted one is unchanged.")
class UpdateKeySetInput:
    key_set_id: strawberry.ID = strawberry.field(
        description="A key set of a scope you administer; a revoked one gives REVOKED."
    )
    label: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Same rules as at creation: trimmed, NFKC, unique among live sets (TAKEN).",
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Up to 1000 characters; null clears it."
    )
    permissions: list[KeyPermission] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the set's own permissions; of its scope only.",
        deprecation_reason="Use permissionNames.",
    )
    permission_names: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Replaces the set's own permissions with these catalog names (with `permissions`, "
            "if given too); an unknown name or one of another scope is INVALID at its index."
        ),
    )
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "In the future; null removes the expiry. Within the key policy (else POLICY_VIOLATION)."
        ),
    )
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false: the keys stop verifying until enabled again (status DISABLED).",
    )
    allowed_cidrs: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the networks: up to 100 CIDRs or addresses, no host bits; [] any.",
    )
    group_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the set's groups; [] removes them all."
    )
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Up to 255 characters; null clears it. Audited with old and new value. Admins "
            "of the scope only, also on a member's own key set (FORBIDDEN)."
        ),
    )
    meta: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Replaces the JSON object (up to 4 KiB); null clears it. The audit log records "
            "only that it changed. Admins of the scope only."
        ),
    )
    remaining: int | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Sets the credits left; null: unlimited. Admins of the scope only, also on a "
            "member's own key set (FORBIDDEN)."
        ),
    )
    refill: RefillInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the refill; null: none. Admins of the scope only.",
    )
    acknowledge_recent_use: bool = strawberry.field(
        default=False,
        description=(
            "Go ahead although the key set is in use (only with enabled: false)."
            " Without it, a key set that verified successfully within"
            " KEYRACK_RECENT_USE_SECONDS (default an hour) gives RECENTLY_USED and"
            " nothing changes; see KeySet.impact."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="A later expiry for a key set.")
class ExtendKeySetInput:
    key_set_id: strawberry.ID = strawberry.field(
        description="A key set of a scope you administer, expired or not; revoked gives REVOKED."
    )
    expires_at: datetime = strawberry.field(
        description=(
            "The new expiry: in the future, later than the current one (else INVALID), and "
            "within the key policy's maxLifetimeSeconds (else POLICY_VIOLATION)."
        )
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


@strawberry.type(description="The key set after a change.")
class KeySetPayload:
    key_set: KeySetType | None = strawberry.field(
        default=None, description="The key set as it is now; null on userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


def _group_pks(ids: list[strawberry.ID]) -> list[int]:
    return [input_pk(group_id, PERMISSION_GROUP, field="groupIds") for group_id in ids]


def _recent_use(info: Info, acknowledged: bool) -> RecentUseCheck:
    return RecentUseCheck(
        window_seconds=info.context.settings.recent_use_seconds,
        acknowledged=acknowledged,
        unflushed=info.context.verifier.usage,
    )


def _given(value: Any, *, nullable: bool = True) -> Any:
    """UNSET (omitted) means unchanged; null on a non-nullable field also means unchanged."""
    if value is strawberry.UNSET or (value is None and not nullable):
        return UNCHANGED
    return value


def _refill(value: RefillInput | None) -> Any:
    given = _given(value)
    return given.to_refill() if isinstance(given, RefillInput) else given


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
            group_ids=_group_pks(input.group_ids),
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
            recent_use=_recent_use(info, input.acknowledge_recent_use),
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
        key_set = await lifecycle.revoke_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            confirm_label=input.confirm_label,
            reason=input.reason,
            recent_use=_recent_use(info, input.acknowledge_recent_use),
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("key_set_id"), ReportUserErrors()],
        description=(
            "Moves the expiry later within the key policy; also revives an expired key set. "
            "Admins of the scope."
        ),
        metadata=MUTATION_PRICE,
    )
    async def extend_key_set(self, info: Info, input: ExtendKeySetInput) -> KeySetPayload:
        key_set = await lifecycle.extend_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            expires_at=input.expires_at,
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("key_set_id"), ReportUserErrors()],
        description=(
            "Changes a key set's label, description, permissions, groups, expiry, networks or "
            "enabled flag. Admins of the scope; other members get FORBIDDEN, outsiders NOT_FOUND."
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_key_set(self, info: Info, input: UpdateKeySetInput) -> KeySetPayload:
        permissions = _given(input.permissions, nullable=False)
        group_ids = _given(input.group_ids, nullable=False)
        key_set = await lifecycle.update_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            label=_given(input.label, nullable=False),
            description=_given(input.description),
            permissions=permissions if permissions is UNCHANGED else [p.value for p in permissions],
            expires_at=_given(input.expires_at),
            enabled=_given(input.enabled, nullable=False),
            allowed_cidrs=_given(input.allowed_cidrs, nullable=False),
            group_ids=group_ids if group_ids is UNCHANGED else _group_pks(group_ids),
            external_id=_given(input.external_id),
            meta=_given(input.meta),
            remaining=_given(input.remaining),
            refill=_refill(input.refill),
            recent_use=_recent_use(info, input.acknowledge_recent_use),
            permission_names=_given(input.permission_names, nullable=False),
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))
