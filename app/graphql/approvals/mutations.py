from __future__ import annotations

import strawberry

from app.approvals import policies, reveals
from app.approvals import service as approvals
from app.approvals.models import ApprovalAction
from app.approvals.scopes import Scope
from app.graphql.approvals.apply import applier
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalPolicyType, ApprovalRequestType, policy_of
from app.graphql.context import Info
from app.graphql.enums import KeySlot
from app.graphql.ids import APPROVAL_REQUEST, KEY_SET, ORGANIZATION, SYSTEM, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE, list_cost
from app.graphql.step_up import StepUp, otp_field


@strawberry.input(description="The actions that need approval in an organization or a system.")
class UpdateApprovalPolicyInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Give exactly one of organizationId and systemId."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A system's actions only add to its organization's: they cannot lift them.",
    )
    actions: list[ApprovalAction] = strawberry.field(
        description="The whole new set; [] needs approval for nothing (in this scope).",
        metadata=list_cost(len(ApprovalAction)),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The scope's approval policy after the change.")
class UpdateApprovalPolicyPayload:
    approval_policy: ApprovalPolicyType | None = strawberry.field(
        default=None, description="The scope's own actions now; null on userErrors."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds the change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.input(description="A request to decide.")
class DecideRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The ApprovalRequest.")
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="A request to reject, and why.")
class RejectRequestInput:
    request_id: strawberry.ID = strawberry.field(description="The ApprovalRequest.")
    reason: str | None = strawberry.field(
        default=None, description="Why, for the requester and the audit log (up to 500 chars)."
    )
    client_mutation_id: str | None = None


@strawberry.input(description="A request an owner applies alone, and why (break-glass).")
class ApplyRequestAloneInput:
    request_id: strawberry.ID = strawberry.field(description="The ApprovalRequest.")
    reason: str = strawberry.field(
        description="Why no second person could decide: required, up to 500 characters."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The key to ask to see, and why.")
class RequestKeyRevealInput:
    key_set_id: strawberry.ID = strawberry.field(description="A key set you administer.")
    slot: KeySlot = strawberry.field(description="Which of its keys.")
    reason: str = strawberry.field(description="Why you need it: required, up to 500 characters.")
    client_mutation_id: str | None = None


@strawberry.type(description="An approval request after a change.")
class ApprovalRequestPayload:
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="The request as it is now; null on userErrors."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="One key value an applied request produced.")
class ClaimedValue:
    name: str = strawberry.field(
        description="PRIMARY or SECONDARY (a key set's keys, or a revealed key), KEY (a "
        "regenerated key) or TOKEN (a verifier's)."
    )
    value: str = strawberry.field(description="The plaintext. Store it now: it is not kept.")


@strawberry.type(description="The key values of an applied request, delivered once.")
class ClaimApprovedRequestPayload:
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="The request; null on userErrors."
    )
    values: list[ClaimedValue] = strawberry.field(
        default_factory=list, description="The values, by name.", metadata=list_cost(2)
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


async def _weakens(input: UpdateApprovalPolicyInput, scope: Scope) -> bool:
    own = scope.system_id if input.system_id else None
    return await policies.weakens(
        organization_id=scope.organization_id, system_id=own, actions=input.actions
    )


def _request_pk(input: DecideRequestInput | RejectRequestInput | ApplyRequestAloneInput) -> int:
    return input_pk(input.request_id, APPROVAL_REQUEST, field="requestId")


@strawberry.type
class ApprovalMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.WEAKEN_POLICY,
                "system_id",
                "organization_id",
                when=_weakens,
                every_system=True,  # the organization's set holds in each system too
            ),
            StepUp("system_id", "organization_id"),
            ReportUserErrors(),
        ],
        description=(
            "Sets which actions need a second owner's or admin's approval (admins of the "
            "scope). Taking an action out is itself WEAKEN_POLICY."
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_approval_policy(
        self, info: Info, input: UpdateApprovalPolicyInput
    ) -> UpdateApprovalPolicyPayload:
        actions = await policies.update_policy(
            actor=info.context.actor,
            organization_id=(
                input_pk(input.organization_id, ORGANIZATION, field="organizationId")
                if input.organization_id
                else None
            ),
            system_id=(
                input_pk(input.system_id, SYSTEM, field="systemId") if input.system_id else None
            ),
            actions=input.actions,
        )
        return UpdateApprovalPolicyPayload(approval_policy=policy_of(actions))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("request_id"), ReportUserErrors()],
        description=(
            "Approves a pending request and applies it as requested, in the requester's name "
            "(refused, and the request REJECTED, if that is no longer possible). Owners and "
            "admins of its scope who held the role before it was made; never its requester."
        ),
        metadata=MUTATION_PRICE,
    )
    async def approve_request(
        self, info: Info, input: DecideRequestInput
    ) -> ApprovalRequestPayload:
        request = await approvals.approve(
            actor=info.context.actor,
            request_id=_request_pk(input),
            apply=applier(info),
            keys=info.context.keys,
            mailer=info.context.mailer,
        )
        return ApprovalRequestPayload(approval_request=ApprovalRequestType.from_model(request))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Rejects a pending request: nothing is applied. Those who may approve it, or its "
            "requester (who withdraws it)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def reject_request(self, info: Info, input: RejectRequestInput) -> ApprovalRequestPayload:
        request = await approvals.reject(
            actor=info.context.actor,
            request_id=_request_pk(input),
            reason=input.reason,
            mailer=info.context.mailer,
        )
        return ApprovalRequestPayload(approval_request=ApprovalRequestType.from_model(request))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("request_id"), ReportUserErrors()],
        description=(
            "Break-glass: an owner applies a pending request without a second person, with "
            "a reason. Audited as APPROVAL_APPLIED_ALONE and notified to every other owner."
        ),
        metadata=MUTATION_PRICE,
    )
    async def apply_request_alone(
        self, info: Info, input: ApplyRequestAloneInput
    ) -> ApprovalRequestPayload:
        request = await approvals.apply_alone(
            actor=info.context.actor,
            request_id=_request_pk(input),
            reason=input.reason,
            apply=applier(info),
            keys=info.context.keys,
            mailer=info.context.mailer,
        )
        return ApprovalRequestPayload(approval_request=ApprovalRequestType.from_model(request))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("request_id"), ReportUserErrors()],
        description=(
            "The key values an applied request produced (a created key set's keys, a "
            "regenerated key, a verifier's token, a revealed key): to its requester only, "
            "once; they are not kept afterwards."
        ),
        metadata=MUTATION_PRICE,
    )
    async def claim_approved_request(
        self, info: Info, input: DecideRequestInput
    ) -> ClaimApprovedRequestPayload:
        request, values = await approvals.claim(
            actor=info.context.actor, request_id=_request_pk(input), keys=info.context.keys
        )
        return ClaimApprovedRequestPayload(
            approval_request=ApprovalRequestType.from_model(request),
            values=[ClaimedValue(name=name, value=value) for name, value in values.items()],
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Where revealing needs approval (ApiKey.value answers APPROVAL_REQUIRED): asks "
            "for a key's value. Once approved, claimApprovedRequest delivers it to you."
        ),
        metadata=MUTATION_PRICE,
    )
    async def request_key_reveal(
        self, info: Info, input: RequestKeyRevealInput
    ) -> ApprovalRequestPayload:
        request = await reveals.request_reveal(
            actor=info.context.actor,
            key_set_id=input_pk(input.key_set_id, KEY_SET, field="keySetId"),
            slot=input.slot,
            reason=input.reason,
            ttl_seconds=info.context.settings.approval_ttl_seconds,
            mailer=info.context.mailer,
        )
        return ApprovalRequestPayload(approval_request=ApprovalRequestType.from_model(request))
