from __future__ import annotations

from datetime import datetime

import strawberry

from app.context import Actor
from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.enums import SystemRole
from app.graphql.ids import ORGANIZATION, SYSTEM, USER, input_pk
from app.graphql.payloads import ReportUserErrors, UserError
from app.graphql.permissions import IsAuthenticated
from app.graphql.step_up import StepUp, otp_field
from app.graphql.systems.types import SystemType
from app.systems import service


@strawberry.input
class CreateSystemInput:
    organization_id: strawberry.ID
    name: str
    client_mutation_id: str | None = None


@strawberry.input
class GrantSystemRoleInput:
    system_id: strawberry.ID
    email: str
    role: SystemRole
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input
class RevokeSystemRoleInput:
    system_id: strawberry.ID
    user_id: strawberry.ID
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


def _grants_admin(input: GrantSystemRoleInput, actor: Actor) -> bool:
    return SystemRole(input.role) is SystemRole.ADMIN


@strawberry.type
class SystemRoleAssignment:
    user: UserType
    role: SystemRole
    granted_at: datetime


@strawberry.type
class SystemPayload:
    system: SystemType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class SystemRolePayload:
    system: SystemType | None = None
    assignment: SystemRoleAssignment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


async def _system(info: Info, system_id: int) -> SystemType | None:
    system = await info.context.loaders.systems_by_id.load(system_id)
    return SystemType.from_model(system) if system else None


@strawberry.type
class SystemMutations:
    @strawberry.mutation(permission_classes=[IsAuthenticated], extensions=[ReportUserErrors()])
    async def create_system(self, info: Info, input: CreateSystemInput) -> SystemPayload:
        system = await service.create_system(
            actor=info.context.actor,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            name=input.name,
        )
        return SystemPayload(system=SystemType.from_model(system))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("system_id", when=_grants_admin), ReportUserErrors()],
        description="Gives a member of the organization a role on the system, or changes it.",
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
            assignment=SystemRoleAssignment(
                user=UserType.from_model(membership.user),
                role=membership.role,
                granted_at=membership.created_at,
            ),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], extensions=[StepUp("system_id"), ReportUserErrors()]
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
