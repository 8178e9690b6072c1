from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.ids import ORGANIZATION, SYSTEM, VERIFIER, input_pk
from app.graphql.payloads import ReportUserErrors, UserError
from app.graphql.permissions import IsAuthenticated
from app.graphql.step_up import StepUp, otp_field
from app.graphql.verifiers.types import VerifierType
from app.verifiers import service


@strawberry.input
class CreateVerifierInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="For the organization and all its systems; or give systemId."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None, description="For this system's key sets only."
    )
    name: str = strawberry.field(description="Which service holds it, e.g. 'billing-api'.")
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type
class CreateVerifierPayload:
    verifier: VerifierType | None = None
    token: str | None = strawberry.field(
        default=None,
        description="The verifier's credential (krv_…). Shown here only: store it now.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.input
class RevokeVerifierInput:
    verifier_id: strawberry.ID
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type
class RevokeVerifierPayload:
    verifier: VerifierType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class VerifierMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id", "system_id"), ReportUserErrors()],
        description=(
            "A credential for POST /v1/keys/verify, scoped to an organization (with its "
            "systems) or a system; organization owners and admins, or the system's admins."
        ),
    )
    async def create_verifier(
        self, info: Info, input: CreateVerifierInput
    ) -> CreateVerifierPayload:
        created = await service.create_verifier(
            actor=info.context.actor,
            keys=info.context.keys,
            name=input.name,
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
        )
        return CreateVerifierPayload(
            verifier=VerifierType.from_model(created.verifier), token=created.token
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("verifier_id"), ReportUserErrors()],
        description="Revokes a verifier: every process refuses its token from now on.",
    )
    async def revoke_verifier(
        self, info: Info, input: RevokeVerifierInput
    ) -> RevokeVerifierPayload:
        verifier = await service.revoke_verifier(
            actor=info.context.actor,
            verifier_id=input_pk(input.verifier_id, VERIFIER, field="verifierId"),
        )
        return RevokeVerifierPayload(verifier=VerifierType.from_model(verifier))
