from __future__ import annotations

from typing import Any

import strawberry

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.catalog.types import PermissionType
from app.graphql.context import Info
from app.graphql.enums import InUseKeySets, KeySetScope
from app.graphql.groups.mutations import detaches
from app.graphql.ids import BUILT_IN_PERMISSION, ORGANIZATION, PERMISSION, input_pk
from app.graphql.organizations.types import OrganizationType, load_organization
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.ids import pk_of
from app.permissions import editing as service

_ADMINS_ONLY = "Owners and admins of the organization only (others FORBIDDEN)."


@strawberry.input(description="A new permission of an organization's catalog.")
class CreatePermissionInput:
    organization_id: strawberry.ID = strawberry.field(
        description="An organization you own or administer."
    )
    name: str = strawberry.field(
        description=(
            "A lowercase letter, then up to 63 lowercase letters, digits and ._:- "
            "(`invoices.read`, `deploy:prod`); unique in the organization (else TAKEN)."
        )
    )
    scopes: list[KeySetScope] = strawberry.field(
        description="Which key sets may hold it: ORGANIZATION, SYSTEM or both (at least one)."
    )
    description: str | None = strawberry.field(
        default=None, description="Free text up to 1000 characters, no API key in it."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Every field but permissionId is optional; omitted is unchanged.")
class UpdatePermissionInput:
    permission_id: strawberry.ID = strawberry.field(
        description="A catalog permission (not a built-in: INVALID_STATE) you administer."
    )
    name: str | None = strawberry.field(
        default=None,
        description=(
            "A new name; key sets and groups holding it get it at once, but services asking "
            "for the old name stop matching: needs confirmName."
        ),
    )
    confirm_name: str | None = strawberry.field(
        default=None,
        description="For a rename: the current name, typed (else LABEL_MISMATCH).",
    )
    description: str | None = strawberry.field(
        default=None, description="Up to 1000 characters; an empty string clears it."
    )
    scopes: list[KeySetScope] | None = strawberry.field(
        default=None,
        description="Replaces the scopes; removing one that holders use is IN_USE.",
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The catalog permission to delete.")
class DeletePermissionInput:
    permission_id: strawberry.ID = strawberry.field(
        description="A catalog permission (not a built-in: INVALID_STATE) you administer."
    )
    key_sets: InUseKeySets | None = strawberry.field(
        default=None,
        description=(
            "Required when live key sets hold it, directly or through a group (else IN_USE): "
            "DETACH takes it from them and from the groups. INLINE is INVALID here."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The permission after a change.")
class PermissionPayload:
    permission: PermissionType | None = strawberry.field(
        default=None, description="The permission as it is now; null on userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="What deletePermission removed and whom it affected.")
class DeletePermissionPayload:
    deleted_permission_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the deleted permission; null on userErrors."
    )
    affected_key_sets: int | None = strawberry.field(
        default=None, description="How many live key sets held it."
    )
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The permission's organization, after the deletion."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


async def _catalog_pk(info: Info, global_id: str) -> int:
    """The row behind `global_id`; a built-in's id is refused as unchangeable."""
    built_in = pk_of(global_id, BUILT_IN_PERMISSION)
    if built_in is not None:
        await service.refuse_built_in(actor=info.context.actor, pk=built_in)
    return input_pk(global_id, PERMISSION, field="permissionId")


async def _renames(input: Any, scope: Scope) -> bool:
    """A rename reaches every key set and group holding the name, verification included."""
    return input.name is not None


@strawberry.type
class PermissionMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id"), ReportUserErrors()],
        description=f"Adds a permission to the organization's catalog. {_ADMINS_ONLY}",
        metadata=MUTATION_PRICE,
    )
    async def create_permission(
        self, info: Info, input: CreatePermissionInput
    ) -> PermissionPayload:
        entry = await service.create_permission(
            actor=info.context.actor,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            name=input.name,
            scopes=[KeySetScope(s) for s in input.scopes],
            description=input.description,
        )
        return PermissionPayload(permission=PermissionType.from_entry(entry))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CHANGE_PERMISSIONS, "permission_id", when=_renames, unchanged=True
            ),
            StepUp("permission_id"),
            ReportUserErrors(),
        ],
        description=(
            "Renames (with confirmName), describes or rescopes a catalog permission; "
            f"built-ins cannot change. {_ADMINS_ONLY}"
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_permission(
        self, info: Info, input: UpdatePermissionInput
    ) -> PermissionPayload:
        entry = await service.update_permission(
            actor=info.context.actor,
            permission_id=await _catalog_pk(info, input.permission_id),
            name=input.name,
            confirm_name=input.confirm_name,
            description=input.description,
            scopes=None if input.scopes is None else [KeySetScope(s) for s in input.scopes],
        )
        return PermissionPayload(permission=PermissionType.from_entry(entry))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CHANGE_PERMISSIONS, "permission_id", when=detaches, unchanged=True
            ),
            StepUp("permission_id"),
            ReportUserErrors(),
        ],
        description=(
            "Deletes a catalog permission; revoked key sets simply lose it. Built-ins "
            f"cannot be deleted. {_ADMINS_ONLY}"
        ),
        metadata=MUTATION_PRICE,
    )
    async def delete_permission(
        self, info: Info, input: DeletePermissionInput
    ) -> DeletePermissionPayload:
        deleted = await service.delete_permission(
            actor=info.context.actor,
            permission_id=await _catalog_pk(info, input.permission_id),
            key_sets=InUseKeySets(input.key_sets) if input.key_sets else None,
        )
        return DeletePermissionPayload(
            deleted_permission_id=input.permission_id,
            affected_key_sets=deleted.affected_key_sets,
            organization=await load_organization(info, deleted.entry.organization_id),
        )
