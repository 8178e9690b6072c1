"""How approval requests and policies look in GraphQL."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app import clock
from app.approvals import listing, policies
from app.approvals import service as approvals
from app.approvals.models import ApprovalAction, ApprovalRequest, ApprovalStatus
from app.graphql import reach
from app.graphql.context import Info
from app.graphql.enums import documented
from app.graphql.ids import APPROVAL_REQUEST
from app.graphql.prices import LOADED, ROW_READ_COST, field_cost, list_cost
from app.graphql.relay import Node
from app.ids import to_global_id

documented(
    ApprovalAction,
    "An action an organization (or, tighter only, a system) may hold for a second person.",
    {
        "CREATE_KEY_SET": (
            "createKeySet: its keys go to the requester, once (claimApprovedRequest)."
        ),
        "REVEAL_KEY": (
            "Reading ApiKey.value: it answers APPROVAL_REQUIRED; requestKeyReveal asks, and the "
            "requester claims the value once it is approved."
        ),
        "REGENERATE_WITHOUT_GRACE": (
            "regenerateKey with gracePeriodSeconds 0 (or null): the old key stops at once."
        ),
        "REVOKE_KEY_SET": "revokeKeySet.",
        "CHANGE_PERMISSIONS": (
            "What key sets hold: updateKeySet with permissions, permissionNames or groupIds; "
            "updatePermissionGroup with permissions; deletePermissionGroup and "
            "deletePermission with keySets DETACH; renaming a catalog permission. Applied "
            "only if the key set, group or permission is as it was when asked."
        ),
        "CREATE_VERIFIER": "createVerifier: its token goes to the requester, once.",
        "WEAKEN_POLICY": (
            "updateKeyPolicy (any change), updateApprovalPolicy taking an action out, and "
            "updateOrganization(requireStepUp: false): one session alone cannot switch "
            "approval or step-up off."
        ),
    },
)
documented(
    ApprovalStatus,
    "Where an approval request stands.",
    {
        "PENDING": "Waiting for another owner or admin of its scope, until expiresAt.",
        "APPROVED": "Approved and being applied (an instant; a refusal then turns it REJECTED).",
        "REJECTED": "Rejected, withdrawn by its requester, or not applicable when approved.",
        "EXPIRED": "Nobody decided before expiresAt: it can no longer be approved.",
        "APPLIED": "The change was made, as requested (approved, or applied alone by an owner).",
    },
)


@strawberry.type(description="The actions that need a second person's approval.")
class ApprovalPolicyType:
    actions: list[ApprovalAction] = strawberry.field(
        description=(
            "For an organization, its own; for a system, its own and its organization's "
            "(a system's policy only adds to the organization's)."
        ),
        metadata=list_cost(len(ApprovalAction)),
    )


@strawberry.type(
    name="ApprovalRequest",
    description=(
        "An action held until another owner or admin of its scope approves it. Seen by its "
        "requester and by the admins of its scope."
    ),
)
class ApprovalRequestType(Node):
    id: strawberry.ID = strawberry.field(description="Global id, for node(id:).")
    action: ApprovalAction = strawberry.field(description="What kind of action is held.")
    status: ApprovalStatus = strawberry.field(description="Where it stands, now.")
    requested_at: datetime = strawberry.field(description="When it was asked for.")
    expires_at: datetime = strawberry.field(
        description="After this it can no longer be approved (KEYRACK_APPROVAL_TTL_SECONDS)."
    )
    reason: str = strawberry.field(description="Why the requester asked, as they wrote it.")
    decided_at: datetime | None = strawberry.field(
        description="When it was approved, rejected or applied alone; null while pending."
    )
    decision_reason: str | None = strawberry.field(
        description="Why it was rejected, applied alone or not applied; null otherwise."
    )
    applied_alone: bool = strawberry.field(
        description="Applied by an owner without a second person (break-glass)."
    )
    summary: str = strawberry.field(description="What it does, for people: the action and target.")
    operation: str = strawberry.field(
        description="The mutation it holds (revealKey for a requestKeyReveal)."
    )
    change: JSON = strawberry.field(
        description=(
            "The exact input it will be applied with, as the mutation was given it (GraphQL "
            "names), without its one-time code: read it before you approve."
        )
    )
    claimable: bool = strawberry.field(
        description="Applied, with key values its requester has not claimed yet."
    )
    model: strawberry.Private[ApprovalRequest]

    @classmethod
    def from_model(cls, request: ApprovalRequest) -> ApprovalRequestType:
        return cls(
            id=strawberry.ID(to_global_id(APPROVAL_REQUEST, request.id)),
            action=request.action,
            status=request.status_at(clock.now()),
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            reason=request.reason,
            decided_at=request.decided_at,
            decision_reason=request.decision_reason,
            applied_alone=request.applied_alone,
            summary=request.summary,
            operation=request.operation,
            change=cast(JSON, request.change),
            claimable=request.held is not None,
            model=request,
        )

    @strawberry.field(
        description="Who asked; null once that account is gone.",
        metadata=LOADED,
        graphql_type=reach.USER.type | None,
    )
    async def requested_by(self, info: Info) -> Node | None:
        return await reach.USER.load(info, self.model.requested_by_id)

    @strawberry.field(
        description="Who approved, rejected or applied it alone; null while pending.",
        metadata=LOADED,
        graphql_type=reach.USER.type | None,
    )
    async def decided_by(self, info: Info) -> Node | None:
        return await reach.USER.load(info, self.model.decided_by_id)

    @strawberry.field(
        description="The organization it belongs to.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        return await reach.ORGANIZATION.of(
            info, self.model.organization_id, what="An approval request"
        )


def policy_of(actions: frozenset[ApprovalAction] | list[ApprovalAction]) -> ApprovalPolicyType:
    return ApprovalPolicyType(actions=[a for a in ApprovalAction if a in actions])


async def resolve_approval_policy(
    *, organization_id: int, system_id: int | None
) -> ApprovalPolicyType:
    """An organization's own actions; a system's, with its organization's (what holds there)."""
    return policy_of(
        await policies.effective_actions(organization_id=organization_id, system_id=system_id)
    )


async def resolve_approval_requests(
    info: Info, *, organization_id: int | None, status: ApprovalStatus | None
) -> list[ApprovalRequestType]:
    """An organization's requests (its owners and admins), or the viewer's."""
    actor = info.context.actor
    requests = (
        await listing.of_organization(actor=actor, organization_id=organization_id, status=status)
        if organization_id is not None
        else await listing.of_viewer(actor=actor, status=status)
    )
    return [ApprovalRequestType.from_model(request) for request in requests]


STATUS_DESCRIPTION = "Only requests with this status (EXPIRED: pending past expiresAt); null: all."
# A read of up to MOST_LISTED rows, newest first.
APPROVAL_REQUESTS_COST = {**list_cost(listing.MOST_LISTED), **field_cost(ROW_READ_COST)}


@reach.findable(APPROVAL_REQUEST)
async def find_approval_request(info: Info, pk: int) -> ApprovalRequestType | None:
    request = await approvals.get_visible(actor=info.context.actor, request_id=pk)
    return ApprovalRequestType.from_model(request) if request else None
