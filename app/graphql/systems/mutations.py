from __future__ import annotations

import strawberry

from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import SystemRole
from app.graphql.ids import ORGANIZATION, SYSTEM, USER, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.graphql.systems.types import SystemRoleAssignment, SystemType
from app.systems import service


@strawberry.input(description="A new system of an organization.")
class CreateSystemInput:
    organization_id: strawberry.ID = strawberry.field(
        description="An organization you own or administer."
    )
    name: str = strawberry.field(
        description=(
            "Trimmed and NFKC-normalised, not blank; unique in the organization (else TAKEN)."
        )
    )
    client_mutation_id: str | None = None


@strawberry.input(
    description="A role on a system for a member of its organization; granting ADMIN needs otp."
)
class GrantSystemRoleInput:
    system_id: strawberry.ID = strawberry.field(description="A system you administer.")
    email: str = strawberry.field(
        description=(
            "The user's email, case-insensitive. No such user: NOT_FOUND; not a member of "
            "the organization: NOT_A_MEMBER."
        )
    )
    role: SystemRole = strawberry.field(description="The role to give; replaces any role held.")
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="Whose role on which system to take away.")
class RevokeSystemRoleInput:
    system_id: strawberry.ID = strawberry.field(description="A system you administer.")
    user_id: strawberry.ID = strawberry.field(
        description="A user holding a role on the system (else NOT_FOUND)."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The system after a change.")
class SystemPayload:
    system: SystemType | None = strawberry.field(
        default=None, description="The system as it is now; null on userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The system after a role change.")
class SystemRolePayload:
    system: SystemType | None = strawberry.field(
        default=None, description="The system as it is now; null on userErrors."
    )
    assignment: SystemRoleAssignment | None = strawberry.field(
        default=None, description="The role now held; null after revokeSystemRole."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


async def _grants_admin(input: GrantSystemRoleInput, scope: Scope) -> bool:
    # A system's admins decide its requests.
    return SystemRole(input.role) is SystemRole.ADMIN


async def _system(info: Info, system_id: int) -> SystemType | None:
    system = await info.context.loaders.systems_by_id.load(system_id)
    return SystemType.from_model(system) if system else None


@strawberry.type
class SystemMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description="Creates a system. Owners and admins of the organization (others FORBIDDEN).",
        metadata=MUTATION_PRICE,
    )
    async def create_system(self, info: Info, input: CreateSystemInput) -> SystemPayload:
        system = await service.create_system(
            actor=info.context.actor,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            name=input.name,
        )
        return SystemPayload(system=SystemType.from_model(system))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(ApprovalAction.WEAKEN_POLICY, "system_id", when=_grants_admin),
            # Every grant: MEMBER may be a demotion of an admin, which takes access away.
            StepUp("system_id"),
            ReportUserErrors(),
        ],
        description=(
            "Gives a member of the organization a role on the system, or changes it. "
            "Admins of the system (organization owners and admins included); others FORBIDDEN."
        ),
        metadata=MUTATION_PRICE,
    )
    async def grant_system_role(self, info: Info, input: GrantSystemRoleInput) -> SystemRolePayload:
        system_id = input_pk(input.system_id, SYSTEM, field="systemId")
        membership = await service.grant_system_role(
            actor=info.context.actor,
            system_id=system_id,
            email=input.email,
            # Enum inputs may arrive as plain names: the sorted schema loses strawberry's
            # name-to-member mapping.
            role=SystemRole(input.role),
        )
        return SystemRolePayload(
            system=await _system(info, system_id),
            assignment=SystemRoleAssignment.from_model(membership),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("system_id"), ReportUserErrors()],
        description=(
            "Takes a user's role on the system away. Admins of the system (organization "
            "owners and admins included); others FORBIDDEN."
        ),
        metadata=MUTATION_PRICE,
    )
    async def revoke_system_role(
        self, info: Info, input: RevokeSystemRoleInput
    ) -> SystemRolePayload:
        system_id = input_pk(input.system_id, SYSTEM, field="systemId")
        await service.revoke_system_role(
            actor=info.context.actor,
            system_id=system_id,
            user_id=input_pk(input.user_id, USER, field="userId"),
        )
        return SystemRolePayload(system=await _system(info, system_id))
