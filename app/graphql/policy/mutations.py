from __future__ import annotations

from typing import Any

import strawberry

from app.approvals.models import ApprovalAction
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.enums import LeakAction
from app.graphql.ids import ORGANIZATION, SYSTEM, input_pk
from app.graphql.organizations.types import OrganizationType, load_organization
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.policy.types import KeyPolicyType
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.graphql.systems.types import SystemType
from app.keysets import policy as service
from app.validation import UNCHANGED


@strawberry.input(
    description=(
        "Give exactly one of organizationId and systemId. Omitted fields stay as they are; "
        "null removes a limit, or in a system's override follows the organization."
    )
)
class UpdateKeyPolicyInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="The organization whose own policy to set (owners and admins)."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The system whose override to set (its admins). It may only tighten the "
            "organization's policy (else POLICY_VIOLATION)."
        ),
    )
    expiry_required: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="true: new key sets and expiry changes must end in an expiry.",
    )
    max_lifetime_seconds: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Seconds, 60 to 315360000 (ten years); out of range gives INVALID.",
    )
    default_lifetime_seconds: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Seconds, 60 to 315360000; at most maxLifetimeSeconds.",
    )
    max_grace_period_seconds: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Seconds, 0 to 604800 (7 days); an organization's null means 604800.",
    )
    member_key_set_limit: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="0 to 1000. 0 (also an organization's null): members create no key sets.",
    )
    on_leak: LeakAction | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Organizations only (INVALID for a system): NOTIFY, DISABLE or REVOKE a key set "
            "whose key is found in public; null restores the default, DISABLE."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The policy after the change, and where it applies.")
class KeyPolicyPayload:
    key_policy: KeyPolicyType | None = strawberry.field(
        default=None, description="The policy now in force for the organization or system."
    )
    organization: OrganizationType | None = strawberry.field(
        default=None, description="The organization concerned (also for a system's override)."
    )
    system: SystemType | None = strawberry.field(
        default=None, description="The system whose override was set; null for an organization."
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="With APPROVAL_PENDING: the request that holds this change."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


def _given(value: Any) -> Any:
    return UNCHANGED if value is strawberry.UNSET else value


@strawberry.type
class KeyPolicyMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.WEAKEN_POLICY,
                "system_id",
                "organization_id",
                every_system=True,  # a system without an override follows its organization
            ),
            StepUp("organization_id", "system_id"),
            ReportUserErrors(),
        ],
        description=(
            "Organization owners and admins set its policy; a system's admins set the "
            "system's override. Existing key sets are not changed."
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_key_policy(self, info: Info, input: UpdateKeyPolicyInput) -> KeyPolicyPayload:
        organization_id = (
            input_pk(input.organization_id, ORGANIZATION, field="organizationId")
            if input.organization_id is not None
            else None
        )
        system_id = (
            input_pk(input.system_id, SYSTEM, field="systemId")
            if input.system_id is not None
            else None
        )
        updated = await service.update_policy(
            actor=info.context.actor,
            organization_id=organization_id,
            system_id=system_id,
            expiry_required=_given(input.expiry_required),
            max_lifetime_seconds=_given(input.max_lifetime_seconds),
            default_lifetime_seconds=_given(input.default_lifetime_seconds),
            max_grace_period_seconds=_given(input.max_grace_period_seconds),
            member_key_set_limit=_given(input.member_key_set_limit),
            on_leak=_given(input.on_leak),
        )
        loaders = info.context.loaders
        system = await loaders.systems_by_id.load(system_id) if system_id is not None else None
        return KeyPolicyPayload(
            key_policy=KeyPolicyType.from_policy(updated.policy),
            organization=await load_organization(info, updated.organization_id),
            system=SystemType.from_model(system) if system else None,
        )
