from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.enums import OrganizationRole
from app.graphql.ids import INVITATION
from app.graphql.relay import Node
from app.ids import to_global_id
from app.organizations.models import Invitation, InvitationStatus

if TYPE_CHECKING:
    from app.graphql.accounts.types import UserType

strawberry.enum(InvitationStatus)


@strawberry.type(
    name="Invitation",
    description=(
        "An invitation to join an organization, bound to an email. Seen by the admins of "
        "the organization and by the invitee; its token is never shown here."
    ),
)
class InvitationType(Node):
    id: strawberry.ID
    email: str
    role: OrganizationRole
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
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
            status=invitation.status(datetime.now(UTC)),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
            accepted_at=invitation.accepted_at,
            revoked_at=invitation.revoked_at,
            organization_name=invitation.organization.name,
            organization_id=strawberry.ID(to_global_id("Organization", invitation.organization_id)),
            invited_by_pk=invitation.invited_by_id,
        )

    @strawberry.field(description="Who sent it, while their account exists.")
    async def invited_by(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("app.graphql.accounts.types")] | None:
        from app.graphql.accounts.types import UserType

        if self.invited_by_pk is None:
            return None
        user = await info.context.loaders.users_by_id.load(self.invited_by_pk)
        return UserType.from_model(user) if user else None
