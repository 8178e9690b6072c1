"""Changing a key set in place: updateKeySet and extendKeySet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.context import Info
from app.graphql.enums import KeyPermission
from app.graphql.ids import KEY_SET, input_pk
from app.graphql.keysets.payloads import KeySetPayload, RefillInput, group_pks, recent_use
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.keysets import lifecycle
from app.validation import UNCHANGED


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


def _given(value: Any, *, nullable: bool = True) -> Any:
    """UNSET (omitted) means unchanged; null on a non-nullable field also means unchanged."""
    if value is strawberry.UNSET or (value is None and not nullable):
        return UNCHANGED
    return value


def _refill(value: RefillInput | None) -> Any:
    given = _given(value)
    return given.to_refill() if isinstance(given, RefillInput) else given


async def _changes_permissions(input: UpdateKeySetInput, scope: Scope) -> bool:
    given = (input.permissions, input.permission_names, input.group_ids)
    return any(value not in (None, strawberry.UNSET) for value in given)


@strawberry.type
class KeySetUpdateMutations:
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
        extensions=[
            NeedsApproval(
                ApprovalAction.CHANGE_PERMISSIONS,
                "key_set_id",
                when=_changes_permissions,  # its permissions, permissionNames or groupIds
                unchanged=True,
            ),
            StepUp("key_set_id"),
            ReportUserErrors(),
        ],
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
            group_ids=group_ids if group_ids is UNCHANGED else group_pks(group_ids),
            external_id=_given(input.external_id),
            meta=_given(input.meta),
            remaining=_given(input.remaining),
            refill=_refill(input.refill),
            recent_use=recent_use(info, input.acknowledge_recent_use),
            permission_names=_given(input.permission_names, nullable=False),
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))
