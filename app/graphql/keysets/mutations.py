from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySlot
from app.graphql.ids import KEY_SET, ORGANIZATION, PERMISSION_GROUP, SYSTEM, input_pk
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors, UserError
from app.graphql.permissions import IsAuthenticated
from app.graphql.step_up import StepUp, otp_field
from app.keysets import lifecycle, values
from app.validation import UNCHANGED


@strawberry.input
class CreateKeySetInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Give exactly one of organizationId and systemId."
    )
    system_id: strawberry.ID | None = None
    label: str
    permissions: list[KeyPermission] = strawberry.field(default_factory=list)
    description: str | None = None
    expires_at: datetime | None = None
    allowed_cidrs: list[str] = strawberry.field(
        default_factory=list, description="IPv4/IPv6 networks allowed to use the keys; empty: any."
    )
    group_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Permission groups of the organization, of the key set's scope.",
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class RegenerateKeyInput:
    key_set_id: strawberry.ID
    slot: KeySlot
    confirm_label: str = strawberry.field(description="Must equal the key set's label exactly.")
    grace_period_seconds: int | None = strawberry.field(
        default=0, description="How long the replaced key keeps verifying (0 to 604800)."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class RevokeKeySetInput:
    key_set_id: strawberry.ID
    confirm_label: str = strawberry.field(description="Must equal the key set's label exactly.")
    reason: str | None = None
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Every field but keySetId is optional; an omitted one is unchanged.")
class UpdateKeySetInput:
    key_set_id: strawberry.ID
    label: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    permissions: list[KeyPermission] | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="null removes the expiry."
    )
    enabled: bool | None = strawberry.UNSET
    allowed_cidrs: list[str] | None = strawberry.UNSET
    group_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the set's groups; [] removes them all."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class ExtendKeySetInput:
    key_set_id: strawberry.ID
    expires_at: datetime = strawberry.field(
        description="The new expiry: in the future, and within the key policy's maxLifetimeSeconds."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type
class CreateKeySetPayload:
    key_set: KeySetType | None = None
    primary_key: str | None = strawberry.field(
        default=None, description="The plaintext primary key. Store it now."
    )
    secondary_key: str | None = strawberry.field(
        default=None, description="The plaintext secondary key. Store it now."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class RegenerateKeyPayload:
    key_set: KeySetType | None = None
    key: str | None = strawberry.field(default=None, description="The new plaintext key.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class KeySetPayload:
    key_set: KeySetType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


def _group_pks(ids: list[strawberry.ID]) -> list[int]:
    return [input_pk(group_id, PERMISSION_GROUP, field="groupIds") for group_id in ids]


def _given(value: Any, *, nullable: bool = True) -> Any:
    """UNSET (omitted) means unchanged; null on a non-nullable field also means unchanged."""
    if value is strawberry.UNSET or (value is None and not nullable):
        return UNCHANGED
    return value


@strawberry.type
class KeySetMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id", "system_id"), ReportUserErrors()],
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
        )
        return CreateKeySetPayload(
            key_set=KeySetType.from_model(created.key_set),
            primary_key=created.primary_key,
            secondary_key=created.secondary_key,
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("key_set_id"), ReportUserErrors()],
        description="Replaces one key. Confirm by typing the label; optional grace period.",
    )
    async def regenerate_key(self, info: Info, input: RegenerateKeyInput) -> RegenerateKeyPayload:
        regenerated = await values.regenerate_key(
            actor=info.context.actor,
            keys=info.context.keys,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            slot=input.slot,
            confirm_label=input.confirm_label,
            grace_period_seconds=input.grace_period_seconds,
        )
        return RegenerateKeyPayload(
            key_set=KeySetType.from_model(regenerated.key_set), key=regenerated.key
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("key_set_id"), ReportUserErrors()],
        description="Revokes both keys at once and destroys them. Confirm by typing the label.",
    )
    async def revoke_key_set(self, info: Info, input: RevokeKeySetInput) -> KeySetPayload:
        key_set = await lifecycle.revoke_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            confirm_label=input.confirm_label,
            reason=input.reason,
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("key_set_id"), ReportUserErrors()],
        description="Moves the expiry within the key policy; also revives an expired key set.",
    )
    async def extend_key_set(self, info: Info, input: ExtendKeySetInput) -> KeySetPayload:
        key_set = await lifecycle.extend_key_set(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            expires_at=input.expires_at,
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], extensions=[StepUp("key_set_id"), ReportUserErrors()]
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
        )
        return KeySetPayload(key_set=KeySetType.from_model(key_set))
