from __future__ import annotations

from datetime import datetime

import strawberry

from app import clock
from app.graphql import reach
from app.graphql.context import Info
from app.graphql.enums import OrganizationRole, documented
from app.graphql.ids import INVITATION
from app.graphql.prices import LOADED
from app.graphql.relay import Node
from app.ids import to_global_id
from app.organizations import invitations
from app.organizations.models import Invitation, InvitationStatus

documented(
    InvitationStatus,
    "Where an invitation stands: the first that applies of ACCEPTED, REVOKED, EXPIRED.",
    {
        "PENDING": "Open: the invitee may accept it until expiresAt.",
        "ACCEPTED": "The invitee accepted it and became a member; the token is used up.",
        "REVOKED": "Revoked by an admin, or declined by the invitee; the token no longer works.",
        "EXPIRED": "Not accepted within seven days; the email may be invited again.",
    },
)


@strawberry.type(
    name="Invitation",
    description=(
        "An invitation to join an organization, bound to an email. Seen by the admins of "
        "the organization and by the invitee; its token is never shown here."
    ),
)
class InvitationType(Node):
    id: strawberry.ID = strawberry.field(description="Pass to revokeInvitation to revoke it.")
    email: str = strawberry.field(
        description="Who is invited: only the account with this email may accept."
    )
    role: OrganizationRole = strawberry.field(description="The role the invitee gets on accepting.")
    status: InvitationStatus = strawberry.field(description="Where it stands now.")
    created_at: datetime = strawberry.field(description="When addMember sent it.")
    expires_at: datetime = strawberry.field(
        description="Seven days after it was sent: the token stops working then."
    )
    accepted_at: datetime | None = strawberry.field(
        description="When the invitee accepted it; null until then."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked or declined; null otherwise."
    )
    organization_name: str = strawberry.field(
        description="The organization's name, which the invitee may see before joining."
    )
    organization_id: strawberry.ID = strawberry.field(
        description="The organization's id; `organization(id)` answers once you are a member."
    )
    invited_by_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, invitation: Invitation) -> InvitationType:
        """From an invitation fetched with its organization."""
        return cls(
            id=strawberry.ID(to_global_id(INVITATION, invitation.id)),
            email=invitation.email,
            role=invitation.role,
            status=invitation.status(clock.now()),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            accepted_at=invitation.accepted_at,
            revoked_at=invitation.revoked_at,
            organization_name=invitation.organization.name,
            organization_id=strawberry.ID(to_global_id("Organization", invitation.organization_id)),
            invited_by_pk=invitation.invited_by_id,
        )

    @strawberry.field(
        description="Who sent it, while their account exists.",
        metadata=LOADED,
        graphql_type=reach.USER.type | None,
    )
    async def invited_by(self, info: Info) -> Node | None:
        return await reach.USER.load(info, self.invited_by_pk)


@reach.findable(INVITATION)
async def find_invitation(info: Info, pk: int) -> InvitationType | None:
    user = info.context.actor.user
    invitation = await invitations.get_visible_invitation(user=user, invitation_id=pk)
    return InvitationType.from_model(invitation) if invitation else None
