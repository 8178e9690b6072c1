from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.approvals.models import ApprovalStatus
from app.graphql import reach
from app.graphql.accounts.types import UserType
from app.graphql.approvals.types import (
    APPROVAL_REQUESTS_COST,
    STATUS_DESCRIPTION,
    ApprovalPolicyType,
    ApprovalRequestType,
    resolve_approval_policy,
    resolve_approval_requests,
)
from app.graphql.audit.types import (
    AuditCheckpoint,
    AuditEntryConnection,
    AuditFilter,
    AuditIntegrity,
    resolve_audit_checkpoint,
    resolve_audit_integrity,
    resolve_organization_audit_log,
)
from app.graphql.batching import PageRequest
from app.graphql.catalog.types import PermissionType
from app.graphql.context import Info
from app.graphql.enums import KeyReveal, KeySetStatus, OrganizationRole
from app.graphql.groups.types import PermissionGroupType
from app.graphql.ids import ORGANIZATION
from app.graphql.keysets.filters import KeySetFilter, OrderBy, criteria, listed_position
from app.graphql.keysets.loaders import status_options
from app.graphql.keysets.shown import key_set_shown
from app.graphql.keysets.types import KeySetType, key_set_node
from app.graphql.leaks.hygiene import KeySetHygieneType, hygiene_connection
from app.graphql.organizations.invitations import InvitationType
from app.graphql.policy.types import KeyPolicyType
from app.graphql.prices import INTEGRITY_CHECK_COST, LOADED, ROW_READ_COST, field_cost
from app.graphql.relay import (
    After,
    Connection,
    First,
    Node,
    decode_cursor,
    page_size,
    to_connection,
)
from app.graphql.systems.types import SystemType
from app.graphql.verifiers.types import VerifierType, resolve_organization_verifiers
from app.graphql.webhooks.types import WebhookType, resolve_webhooks
from app.ids import to_global_id
from app.keysets.hygiene import key_hygiene_for
from app.keysets.policy import combine, policy_key
from app.organizations import service as organizations
from app.organizations.models import Membership, Organization


@strawberry.type(description="A user's membership of an organization; every member sees the list.")
class Member:
    user: UserType = strawberry.field(description="The member.")
    role: OrganizationRole = strawberry.field(
        description="Their role here; changed with changeMemberRole."
    )
    joined_at: datetime = strawberry.field(
        description="When they became a member: created the organization or accepted an invitation."
    )


@strawberry.type(
    name="Organization",
    description=(
        "A tenant: its members, systems and key sets. Only its members see it; to anyone "
        "else it does not exist (null, or NOT_FOUND in mutations). Fields for owners and "
        "admins only answer other members with a FORBIDDEN error, and as most are non-null, "
        "the whole organization then comes back null: ask for them in a query of their own."
    ),
)
class OrganizationType(Node):
    id: strawberry.ID = strawberry.field(description="Its global id.")
    name: str = strawberry.field(
        description="1 to 200 characters, trimmed; owners and admins change it."
    )
    created_at: datetime = strawberry.field(description="When createOrganization made it.")
    key_reveal: KeyReveal = strawberry.field(
        description="Whether admins may read key values again later; owners change it."
    )
    require_step_up: bool = strawberry.field(
        description=(
            "Whether actions that hand out, reveal, weaken or destroy access need a fresh "
            "second factor (an otp, or an elevated session). Owners change it."
        )
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

    @strawberry.field(
        description="The caller's role here (never null for a member).", metadata=LOADED
    )
    async def viewer_role(self, info: Info) -> OrganizationRole | None:
        return await info.context.loaders.viewer_roles_by_organization_id.load(self.pk)

    @strawberry.field(
        description="The organization's systems, oldest first; every member sees them."
    )
    async def systems(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[SystemType]:
        position = decode_cursor(after)
        page = await info.context.loaders.systems_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(page, SystemType.from_model, after=position)

    @strawberry.field(
        description=(
            "Key sets of the organization itself, oldest first or in orderBy; with "
            "includeSystems, its systems' too. Every member sees them; key values only admins."
        )
    )
    async def key_sets(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        include_systems: Annotated[
            bool,
            strawberry.argument(
                description="Also list the key sets of the organization's systems."
            ),
        ] = False,
        status: Annotated[
            list[KeySetStatus] | None,
            strawberry.argument(
                description="Only key sets in one of these statuses; null or empty lists all."
            ),
        ] = None,
        filter: Annotated[
            KeySetFilter | None,
            strawberry.argument(description="Only key sets matching all of the given criteria."),
        ] = None,
        order_by: OrderBy = None,
    ) -> Connection[KeySetType]:
        chosen = criteria(filter, order_by, after)
        position = None if chosen.order else decode_cursor(after)
        shown = key_set_shown(info)
        page = await info.context.loaders.key_sets_of_organization.load(
            PageRequest(
                self.pk,
                position,
                page_size(first),
                (shown, include_systems, chosen, *status_options(status)),
            )
        )
        return to_connection(
            page,
            key_set_node,
            after=chosen.after or position,
            position=listed_position(chosen.order),
        )

    @strawberry.field(description="The rules for the organization's key sets.", metadata=LOADED)
    async def key_policy(self, info: Info) -> KeyPolicyType:
        row = await info.context.loaders.key_policies_by_scope_key.load(policy_key(self.pk, None))
        return KeyPolicyType.from_policy(combine(row))

    @strawberry.field(
        description="The actions that need a second owner's or admin's approval here.",
        metadata=field_cost(ROW_READ_COST),
    )
    async def approval_policy(self) -> ApprovalPolicyType:
        return await resolve_approval_policy(organization_id=self.pk, system_id=None)

    @strawberry.field(
        description="Approval requests, newest first (at most 100); owners and admins only.",
        metadata=APPROVAL_REQUESTS_COST,
    )
    async def approval_requests(
        self,
        info: Info,
        status: Annotated[
            ApprovalStatus | None, strawberry.argument(description=STATUS_DESCRIPTION)
        ] = None,
    ) -> list[ApprovalRequestType]:
        return await resolve_approval_requests(info, organization_id=self.pk, status=status)

    @strawberry.field(description="The organization's permission groups, visible to every member.")
    async def permission_groups(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[PermissionGroupType]:
        position = decode_cursor(after)
        page = await info.context.loaders.permission_groups_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(page, PermissionGroupType.from_model, after=position)

    @strawberry.field(
        description=(
            "The organization's permission catalog, visible to every member: the five "
            "built-ins first, then its own permissions, oldest first."
        )
    )
    async def permissions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[PermissionType]:
        position = decode_cursor(after)
        page = await info.context.loaders.permissions_of_organization.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(
            page, PermissionType.from_entry, after=position, position=lambda e: e.position
        )

    @strawberry.field(
        description="Everyone who belongs to it, oldest first; every member sees them."
    )
    async def members(
        self, info: Info, first: First = None, after: After = None
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

    @strawberry.field(description=("Invitations to join, oldest first; owners and admins only."))
    async def invitations(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        pending_only: Annotated[
            bool,
            strawberry.argument(
                description="Leave out accepted, revoked and expired invitations (the default)."
            ),
        ] = True,
    ) -> Connection[InvitationType] | None:
        position = decode_cursor(after)
        page = await info.context.loaders.invitations_of_organization.load(
            PageRequest(self.pk, position, page_size(first), (pending_only,))
        )
        return to_connection(page, InvitationType.from_model, after=position)

    @strawberry.field(description="Newest first; owners and admins only.")
    async def audit_log(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[
            AuditFilter | None,
            strawberry.argument(description="Only entries that match all of its fields."),
        ] = None,
    ) -> AuditEntryConnection | None:
        return await resolve_organization_audit_log(
            info, organization_id=self.pk, first=first, after=after, filter=filter
        )

    @strawberry.field(
        description="Checks the audit chain from the last verified position on: recomputes "
        "that entry and every one after it (checkedEntries), and trusts earlier checks "
        "before it (verifiedThrough, lastFullCheckAt). Owners and admins only.",
        metadata=field_cost(INTEGRITY_CHECK_COST),
    )
    async def audit_integrity(self, info: Info) -> AuditIntegrity | None:
        return await resolve_audit_integrity(info, organization_id=self.pk)

    @strawberry.field(
        description="A signed checkpoint of the audit chain head; null while the chain does "
        "not verify. Owners and admins only.",
        # It checks the chain as auditIntegrity does, then signs the head.
        metadata=field_cost(INTEGRITY_CHECK_COST),
    )
    async def audit_checkpoint(self, info: Info) -> AuditCheckpoint | None:
        return await resolve_audit_checkpoint(info, organization_id=self.pk)

    @strawberry.field(description="Endpoints told about its key sets; owners and admins only.")
    async def webhooks(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WebhookType] | None:
        return await resolve_webhooks(info, organization_id=self.pk, first=first, after=after)

    @strawberry.field(
        description="Credentials for POST /v1/keys/verify scoped to the organization (its "
        "systems' are under System.verifiers); owners and admins only."
    )
    async def verifiers(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[VerifierType] | None:
        return await resolve_organization_verifiers(
            info, organization_id=self.pk, first=first, after=after
        )

    @strawberry.field(
        description=(
            "Its live key sets (and its systems') that need attention, with what to fix: "
            "no expiry, unused, not rotated, an idle key, a key found in public, every "
            "permission of the scope. Owners and admins only."
        )
    )
    async def key_hygiene(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[KeySetHygieneType] | None:
        found = await key_hygiene_for(actor=info.context.actor, organization_id=self.pk)
        return hygiene_connection(found, first=first, after=after)


async def load_organization(info: Info, organization_id: int) -> OrganizationType | None:
    """An organization through the request's loader, as its GraphQL type."""
    organization = await info.context.loaders.organizations_by_id.load(organization_id)
    return OrganizationType.from_model(organization) if organization else None


reach.ORGANIZATION.register(load_organization)


@reach.findable(ORGANIZATION)
async def find_organization(info: Info, pk: int) -> OrganizationType | None:
    user = info.context.actor.user
    organization = await organizations.get_visible_organization(user=user, organization_id=pk)
    return OrganizationType.from_model(organization) if organization else None
