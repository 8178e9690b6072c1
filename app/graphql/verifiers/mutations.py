from __future__ import annotations

import strawberry

from app.approvals.models import ApprovalAction
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.ids import ORGANIZATION, SYSTEM, VERIFIER, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.graphql.verifiers.types import VerifierType
from app.verifiers import service


@strawberry.input(
    description=(
        "A new verifier: give exactly one of organizationId and systemId (INVALID otherwise)."
    )
)
class CreateVerifierInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "For the organization and all its systems; owners and admins (FORBIDDEN for "
            "other members, NOT_FOUND for non-members)."
        ),
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For this system's key sets only; its admins and the organization's.",
    )
    name: str = strawberry.field(
        description="Which service holds it, e.g. 'billing-api'; 1 to 100 characters (INVALID)."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of createVerifier.")
class CreateVerifierPayload:
    verifier: VerifierType | None = strawberry.field(
        default=None, description="The new verifier; null when refused."
    )
    token: str | None = strawberry.field(
        default=None,
        description="The verifier's credential (krv_…). Shown here only: store it now.",
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The verifier to revoke.")
class RevokeVerifierInput:
    verifier_id: strawberry.ID = strawberry.field(
        description=(
            "The Verifier; NOT_FOUND unless you manage it (instance-wide ones only on the "
            "command line), REVOKED if it already is."
        )
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of revokeVerifier.")
class RevokeVerifierPayload:
    verifier: VerifierType | None = strawberry.field(
        default=None, description="The verifier, now with revokedAt; null when refused."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class VerifierMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CREATE_VERIFIER,
                "system_id",
                "organization_id",
                held={"token": "TOKEN"},
                every_system=True,  # an organization's verifier checks its systems' keys
            ),
            StepUp("organization_id", "system_id"),
            ReportUserErrors(),
        ],
        description=(
            "A credential for POST /v1/keys/verify, scoped to an organization (with its "
            "systems) or a system; organization owners and admins, or the system's admins."
        ),
        metadata=MUTATION_PRICE,
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
        metadata=MUTATION_PRICE,
    )
    async def revoke_verifier(
        self, info: Info, input: RevokeVerifierInput
    ) -> RevokeVerifierPayload:
        verifier = await service.revoke_verifier(
            actor=info.context.actor,
            verifier_id=input_pk(input.verifier_id, VERIFIER, field="verifierId"),
        )
        return RevokeVerifierPayload(verifier=VerifierType.from_model(verifier))
