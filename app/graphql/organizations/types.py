from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.errors import Forbidden
from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.enums import KeyReveal, KeySetStatus, OrganizationRole
from app.graphql.ids import ORGANIZATION
from app.graphql.limits import INTEGRITY_CHECK_COST, field_cost
from app.graphql.loaders import PageRequest, status_options
from app.graphql.organizations.invitations import InvitationType
from app.graphql.relay import Connection, Node, decode_cursor, page_size, to_connection
from app.ids import to_global_id
from app.keysets.policy import combine, policy_key
from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership, Organization

if TYPE_CHECKING:
    from app.graphql.audit.types import (
        AuditCheckpoint,
        AuditEntryConnection,
        AuditFilter,
        AuditIntegrity,
    )
    from app.graphql.groups.types import PermissionGroupType
    from app.graphql.keysets.types import KeySetType
    from app.graphql.policy.types import KeyPolicyType
    from app.graphql.systems.types import SystemType
    from app.graphql.verifiers.types import VerifierType
    from app.graphql.webhooks.types import WebhookType


@strawberry.type
class Member:
    user: UserType
    role: OrganizationRole
    joined_at: datetime


@strawberry.type(name="Organization")
class OrganizationType(Node):
    id: strawberry.ID
    name: str
    created_at: datetime
    key_reveal: KeyReveal
    require_step_up: bool = strawberry.field(
        description="Whether regenerateKey and revokeKeySet need a current TOTP code (otp)."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, organization: Organization) -> OrganizationType:
        return cls(
            id=strawberry.ID(to_global_id(ORGANIZATION, organization.id)),
            name=organization.name,
            created_at=organization.created_at,
            key_reveal=organization.key_reveal,
            require_step_up=organization.require_step_up,
            pk=organization.id,
        )

    @strawberry.field(description="The caller's role here.")
    async def viewer_role(self, info: Info) -> OrganizationRole | None:
        return await info.context.loaders.viewer_roles_by_organization_id.load(self.pk)

    @strawberry.field
    async def systems(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[SystemType, strawberry.lazy("app.graphql.systems.types")]]:
        from app.graphql.systems.types import SystemType

        position = decode_cursor(after)
        page = await info.context.loaders.systems_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(page, SystemType.from_model, after=position)

    @strawberry.field(
        description="Key sets of the organization itself; with includeSystems, its systems' too."
    )
    async def key_sets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_systems: bool = False,
        status: list[KeySetStatus] | None = None,
    ) -> Connection[Annotated[KeySetType, strawberry.lazy("app.graphql.keysets.types")]]:
        from app.graphql.keysets.types import KeySetType

        position = decode_cursor(after)
        page = await info.context.loaders.key_sets_of_organization.load(
            PageRequest(
                self.pk, position, page_size(first), (include_systems, *status_options(status))
            )
        )
        return to_connection(page, KeySetType.from_model, after=position)

    @strawberry.field(description="The rules for the organization's key sets.")
    async def key_policy(
        self, info: Info
    ) -> Annotated[KeyPolicyType, strawberry.lazy("app.graphql.policy.types")]:
        from app.graphql.policy.types import KeyPolicyType

        row = await info.context.loaders.key_policies_by_scope_key.load(policy_key(self.pk, None))
        return KeyPolicyType.from_policy(combine(row))

    @strawberry.field(description="The organization's permission groups, visible to every member.")
    async def permission_groups(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[PermissionGroupType, strawberry.lazy("app.graphql.groups.types")]]:
        from app.graphql.groups.types import PermissionGroupType

        position = decode_cursor(after)
        page = await info.context.loaders.permission_groups_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(page, PermissionGroupType.from_model, after=position)

    @strawberry.field
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Member]:
        position = decode_cursor(after)
        page = await info.context.loaders.members_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )

        def member(membership: Membership) -> Member:
            return Member(
                user=UserType.from_model(membership.user),
                role=membership.role,
                joined_at=membership.created_at,
            )

        return to_connection(page, member, after=position)

    @strawberry.field(
        description=(
            "Invitations to join, oldest first; owners and admins only. pendingOnly (the "
            "default) leaves out accepted, revoked and expired ones."
        )
    )
    async def invitations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        pending_only: bool = True,
    ) -> Connection[InvitationType]:
        loaders = info.context.loaders
        role = await loaders.viewer_roles_by_organization_id.load(self.pk)
        if role not in ORGANIZATION_ADMIN_ROLES:
            raise Forbidden("Only owners and admins of the organization may see its invitations.")
        position = decode_cursor(after)
        page = await loaders.invitations_of_organization.load(
            PageRequest(self.pk, position, page_size(first), (pending_only,))
        )
        return to_connection(page, InvitationType.from_model, after=position)

    @strawberry.field(description="Newest first; owners and admins only.")
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[AuditFilter, strawberry.lazy("app.graphql.audit.types")] | None = None,
    ) -> Annotated[AuditEntryConnection, strawberry.lazy("app.graphql.audit.types")]:
        from app.graphql.audit.types import resolve_audit_log

        return await resolve_audit_log(
            info, organization_id=self.pk, first=first, after=after, filter=filter
        )

    @strawberry.field(
        description="Checks the audit chain from the last verified position on (the full "
        "recomputation is `keyrack audit verify`); owners and admins only.",
        metadata=field_cost(INTEGRITY_CHECK_COST),
    )
    async def audit_integrity(
        self, info: Info
    ) -> Annotated[AuditIntegrity, strawberry.lazy("app.graphql.audit.types")]:
        from app.graphql.audit.types import resolve_audit_integrity

        return await resolve_audit_integrity(info, organization_id=self.pk)

    @strawberry.field(
        description="A signed checkpoint of the audit chain head; null while the chain does "
        "not verify. Owners and admins only."
    )
    async def audit_checkpoint(
        self, info: Info
    ) -> Annotated[AuditCheckpoint, strawberry.lazy("app.graphql.audit.types")] | None:
        from app.graphql.audit.types import resolve_audit_checkpoint

        return await resolve_audit_checkpoint(info, organization_id=self.pk)

    @strawberry.field(description="Endpoints told about its key sets; owners and admins only.")
    async def webhooks(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[WebhookType, strawberry.lazy("app.graphql.webhooks.types")]]:
        from app.graphql.webhooks.types import resolve_webhooks

        return await resolve_webhooks(info, organization_id=self.pk, first=first, after=after)

    @strawberry.field(
        description="Credentials for POST /v1/keys/verify scoped to the organization (its "
        "systems' are under System.verifiers); owners and admins only."
    )
    async def verifiers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[VerifierType, strawberry.lazy("app.graphql.verifiers.types")]]:
        from app.graphql.verifiers.types import resolve_organization_verifiers

        return await resolve_organization_verifiers(
            info, organization_id=self.pk, first=first, after=after
        )


async def load_organization(info: Info, organization_id: int) -> OrganizationType | None:
    """An organization through the request's loader, as its GraphQL type."""
    organization = await info.context.loaders.organizations_by_id.load(organization_id)
    return OrganizationType.from_model(organization) if organization else None


async def organization_of(info: Info, organization_id: int, *, what: str) -> OrganizationType:
    """The organization `what` belongs to: there always is one, since everything in an
    organization is deleted with it."""
    organization = await load_organization(info, organization_id)
    if organization is None:
        raise LookupError(f"{what} has no organization.")
    return organization
