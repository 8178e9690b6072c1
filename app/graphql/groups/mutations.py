from __future__ import annotations

from typing import Any

import strawberry

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import InUseKeySets, KeyPermission, KeySetScope
from app.graphql.groups.types import PermissionGroupType
from app.graphql.ids import ORGANIZATION, PERMISSION_GROUP, input_pk
from app.graphql.organizations.types import OrganizationType, load_organization
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.keysets import groups as service
from app.validation import UNCHANGED


@strawberry.input(description="A new permission group of an organization.")
class CreatePermissionGroupInput:
    organization_id: strawberry.ID = strawberry.field(
        description="An organization you own or administer."
    )
    name: str = strawberry.field(
        description=(
            "Trimmed and NFKC-normalised, 1 to 100 characters; unique in the organization "
            "(else TAKEN)."
        )
    )
    scope: KeySetScope = strawberry.field(
        description="ORGANIZATION or SYSTEM: which key sets the group is for; fixed."
    )
    permissions: list[KeyPermission] = strawberry.field(
        default_factory=list,
        description="Permissions of the group's scope only (else INVALID).",
        deprecation_reason="Use permissionNames.",
    )
    permission_names: list[str] = strawberry.field(
        default_factory=list,
        description=(
            "Names from the organization's catalog (built-ins included), of the group's scope "
            "only: an unknown name or one of another scope is INVALID at its index."
        ),
    )
    description: str | None = strawberry.field(
        default=None, description="Free text up to 1000 characters, no API key in it."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Every field but groupId is optional; an omitted one is unchanged.")
class UpdatePermissionGroupInput:
    group_id: strawberry.ID = strawberry.field(
        description="A group of an organization you own or administer."
    )
    name: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Trimmed, NFKC, 1 to 100 characters, unique in the organization (TAKEN).",
    )
    permissions: list[KeyPermission] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Replaces the group's permissions, of its scope only; applies at once to every key "
            "set using the group, verification included."
        ),
        deprecation_reason="Use permissionNames.",
    )
    permission_names: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Replaces the group's own permissions with these catalog names (with `permissions`, "
            "if given too); an unknown name or one of another scope is INVALID at its index."
        ),
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Up to 1000 characters; null clears it."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The permission group to delete.")
class DeletePermissionGroupInput:
    group_id: strawberry.ID = strawberry.field(
        description="A group of an organization you own or administer."
    )
    key_sets: InUseKeySets | None = strawberry.field(
        default=None,
        description=(
            "Required when live key sets use the group (else IN_USE): DETACH removes it "
            "and its permissions from them, INLINE makes its permissions their own."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The permission group after a change.")
class PermissionGroupPayload:
    permission_group: PermissionGroupType | None = strawberry.field(
        default=None, description="The group as it is now; null on userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="What deletePermissionGroup removed and whom it affected.")
class DeletePermissionGroupPayload:
    deleted_group_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted group; null on userErrors."
    )
    affected_key_sets: int | None = strawberry.field(
        default=None, description="How many live key sets used the group."
    )
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The group's organization, after the deletion."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


async def sets_permissions(input: Any, scope: Scope) -> bool:
    """A group's (or key set's) permissions given: what every key set using it holds."""
    return any(
        value not in (None, strawberry.UNSET)
        for value in (input.permissions, input.permission_names)
    )


async def detaches(input: Any, scope: Scope) -> bool:
    """Deleting with DETACH takes permissions from the key sets that hold them (INLINE
    keeps them; without either, a deletion that would reach a live key set is IN_USE)."""
    return input.key_sets is InUseKeySets.DETACH


def _permissions(values: list[KeyPermission] | None) -> list[str] | None:
    return None if values is None else [KeyPermission(p).value for p in values]


@strawberry.type
class PermissionGroupMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id"), ReportUserErrors()],
        description=(
            "Creates a permission group. Owners and admins of the organization only "
            "(others FORBIDDEN)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def create_permission_group(
        self, info: Info, input: CreatePermissionGroupInput
    ) -> PermissionGroupPayload:
        group = await service.create_group(
            actor=info.context.actor,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            name=input.name,
            scope=KeySetScope(input.scope),
            permissions=_permissions(input.permissions) or [],
            description=input.description,
            permission_names=input.permission_names,
        )
        return PermissionGroupPayload(permission_group=PermissionGroupType.from_model(group))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CHANGE_PERMISSIONS, "group_id", when=sets_permissions, unchanged=True
            ),
            StepUp("group_id"),
            ReportUserErrors(),
        ],
        description=(
            "Renames a group or changes its permissions or description. Owners and admins of "
            "the organization only (others FORBIDDEN)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_permission_group(
        self, info: Info, input: UpdatePermissionGroupInput
    ) -> PermissionGroupPayload:
        group = await service.update_group(
            actor=info.context.actor,
            group_id=input_pk(input.group_id, PERMISSION_GROUP, field="groupId"),
            name=UNCHANGED if input.name in (None, strawberry.UNSET) else input.name,
            permissions=(
                UNCHANGED
                if input.permissions in (None, strawberry.UNSET)
                else _permissions(input.permissions) or []
            ),
            description=UNCHANGED if input.description is strawberry.UNSET else input.description,
            permission_names=(
                UNCHANGED
                if input.permission_names in (None, strawberry.UNSET)
                else input.permission_names
            ),
        )
        return PermissionGroupPayload(permission_group=PermissionGroupType.from_model(group))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CHANGE_PERMISSIONS, "group_id", when=detaches, unchanged=True
            ),
            StepUp("group_id"),
            ReportUserErrors(),
        ],
        description=(
            "Deletes a group; revoked key sets simply lose it. Owners and admins of the "
            "organization only (others FORBIDDEN)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def delete_permission_group(
        self, info: Info, input: DeletePermissionGroupInput
    ) -> DeletePermissionGroupPayload:
        deleted = await service.delete_group(
            actor=info.context.actor,
            group_id=input_pk(input.group_id, PERMISSION_GROUP, field="groupId"),
            key_sets=InUseKeySets(input.key_sets) if input.key_sets is not None else None,
        )
        organization_id = deleted.group.organization_id
        return DeletePermissionGroupPayload(
            deleted_group_id=input.group_id,
            affected_key_sets=deleted.affected_key_sets,
            organization=await load_organization(info, organization_id),
        )
