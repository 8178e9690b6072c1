from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.access import is_system_admin
from app.graphql import reach
from app.graphql.accounts.types import UserType
from app.graphql.approvals.types import ApprovalPolicyType, resolve_approval_policy
from app.graphql.audit.types import AuditEntryConnection, AuditFilter, resolve_audit_log
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import KeySetStatus, SystemRole
from app.graphql.ids import SYSTEM
from app.graphql.keysets.filters import KeySetFilter, OrderBy, criteria, listed_position
from app.graphql.keysets.loaders import status_options
from app.graphql.keysets.shown import key_set_shown
from app.graphql.keysets.types import KeySetType, key_set_node
from app.graphql.policy.types import KeyPolicyOverride, KeyPolicyType
from app.graphql.prices import LOADED, ROW_READ_COST, field_cost
from app.graphql.relay import (
    After,
    Connection,
    First,
    Node,
    decode_cursor,
    page_size,
    to_connection,
)
from app.graphql.verifiers.types import VerifierType, resolve_system_verifiers
from app.ids import to_global_id
from app.keysets.policy import combine, policy_key
from app.systems import service as systems
from app.systems.models import System, SystemMembership


@strawberry.type(description="A user's role on a system.")
class SystemRoleAssignment:
    user: UserType = strawberry.field(description="Who holds the role.")
    role: SystemRole = strawberry.field(description="The role held.")
    granted_at: datetime = strawberry.field(
        description="When the user was first given a role on the system."
    )

    @classmethod
    def from_model(cls, membership: SystemMembership) -> SystemRoleAssignment:
        return cls(
            user=UserType.from_model(membership.user),
            role=membership.role,
            granted_at=membership.created_at,
        )


@strawberry.type(
    name="System",
    description=(
        "A part of an organization (a service, an environment) with its own key sets, "
        "admins and key policy override. Every member of the organization sees it."
    ),
)
class SystemType(Node):
    id: strawberry.ID = strawberry.field(description="Global ID of the system.")
    name: str = strawberry.field(
        description="Trimmed, NFKC-normalised, unique in the organization."
    )
    created_at: datetime = strawberry.field(description="When the system was created.")
    pk: strawberry.Private[int]
    organization_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, system: System) -> SystemType:
        return cls(
            id=strawberry.ID(to_global_id(SYSTEM, system.id)),
            name=system.name,
            created_at=system.created_at,
            pk=system.id,
            organization_pk=system.organization_id,
        )

    @strawberry.field(
        description="The organization the system belongs to.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        return await reach.ORGANIZATION.of(info, self.organization_pk, what=f"System {self.pk}")

    @strawberry.field(
        description=(
            "The actions that need a second admin's approval here: the system's own and "
            "its organization's."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def approval_policy(self) -> ApprovalPolicyType:
        return await resolve_approval_policy(
            organization_id=self.organization_pk, system_id=self.pk
        )

    @strawberry.field(description="The caller's own role on this system, if any.", metadata=LOADED)
    async def viewer_role(self, info: Info) -> SystemRole | None:
        return await info.context.loaders.viewer_roles_by_system_id.load(self.pk)

    @strawberry.field(description="Whether the caller administers this system.", metadata=LOADED)
    async def viewer_is_admin(self, info: Info) -> bool:
        loaders = info.context.loaders
        return is_system_admin(
            await loaders.viewer_roles_by_organization_id.load(self.organization_pk),
            await loaders.viewer_roles_by_system_id.load(self.pk),
        )

    @strawberry.field(
        description="The system's key sets, oldest first; visible to every organization member."
    )
    async def key_sets(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 1 to 100; default 20.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last key set already read.")
        ] = None,
        status: Annotated[
            list[KeySetStatus] | None,
            strawberry.argument(description="Only key sets in any of these statuses; null: all."),
        ] = None,
        filter: Annotated[
            KeySetFilter | None,
            strawberry.argument(description="Only key sets matching all of the given criteria."),
        ] = None,
        order_by: OrderBy = None,
    ) -> Connection[KeySetType]:
        chosen = criteria(filter, order_by, after)
        position = None if chosen.order else decode_cursor(after)
        page = await info.context.loaders.key_sets_of_system.load(
            PageRequest(
                self.pk,
                position,
                page_size(first),
                (key_set_shown(info), chosen, *status_options(status)),
            )
        )
        return to_connection(
            page,
            key_set_node,
            after=chosen.after or position,
            position=listed_position(chosen.order),
        )

    @strawberry.field(
        description="The rules in force for this system's key sets: the organization's, tightened.",
        metadata=LOADED,
    )
    async def key_policy(self, info: Info) -> KeyPolicyType:
        loader = info.context.loaders.key_policies_by_scope_key
        organization, override = await loader.load_many(
            [policy_key(self.organization_pk, None), policy_key(self.organization_pk, self.pk)]
        )
        return KeyPolicyType.from_policy(combine(organization, override))

    @strawberry.field(description="What this system sets itself, if anything.", metadata=LOADED)
    async def key_policy_override(self, info: Info) -> KeyPolicyOverride | None:
        loader = info.context.loaders.key_policies_by_scope_key
        row = await loader.load(policy_key(self.organization_pk, self.pk))
        return KeyPolicyOverride.from_model(row) if row else None

    @strawberry.field(
        description=(
            "This system's audit history, newest first. For organization owners and admins "
            "and the system's admins; others get FORBIDDEN."
        )
    )
    async def audit_log(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 1 to 100; default 20.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last entry already read.")
        ] = None,
        filter: Annotated[
            AuditFilter | None,
            strawberry.argument(description="Only entries matching all of the given criteria."),
        ] = None,
    ) -> AuditEntryConnection | None:
        return await resolve_audit_log(
            info,
            organization_id=self.organization_pk,
            system_id=self.pk,
            first=first,
            after=after,
            filter=filter,
        )

    @strawberry.field(
        description="Credentials for POST /v1/keys/verify scoped to this system; its admins only."
    )
    async def verifiers(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[VerifierType] | None:
        return await resolve_system_verifiers(
            info,
            organization_id=self.organization_pk,
            system_id=self.pk,
            first=first,
            after=after,
        )

    @strawberry.field(
        description=(
            "Who holds a role on this system, oldest grant first. For its admins "
            "(organization owners and admins included); others get FORBIDDEN."
        )
    )
    async def role_assignments(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[SystemRoleAssignment] | None:
        position = decode_cursor(after)
        page = await info.context.loaders.role_assignments_of_system.load(
            PageRequest(self.pk, position, page_size(first))
        )
        return to_connection(page, SystemRoleAssignment.from_model, after=position)


async def load_system(info: Info, system_id: int) -> SystemType | None:
    """A system through the request's loader, as its GraphQL type."""
    system = await info.context.loaders.systems_by_id.load(system_id)
    return SystemType.from_model(system) if system else None


reach.SYSTEM.register(load_system)


@reach.findable(SYSTEM)
async def find_system(info: Info, pk: int) -> SystemType | None:
    system = await systems.get_visible_system(user=info.context.actor.user, system_id=pk)
    return SystemType.from_model(system) if system else None
