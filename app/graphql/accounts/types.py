from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.accounts import service, step_up
from app.accounts.models import Session, User
from app.approvals.models import ApprovalStatus
from app.graphql import reach
from app.graphql.approvals.types import (
    APPROVAL_REQUESTS_COST,
    STATUS_DESCRIPTION,
    ApprovalRequestType,
    resolve_approval_requests,
)
from app.graphql.context import Info
from app.graphql.ids import SESSION, USER
from app.graphql.notifications.types import NotificationType
from app.graphql.organizations.invitations import InvitationType
from app.graphql.prices import FROM_PARENT, ROW_READ_COST, field_cost
from app.graphql.relay import (
    After,
    Connection,
    First,
    Node,
    decode_cursor,
    page_size,
    to_connection,
)
from app.ids import to_global_id
from app.notifications import inbox
from app.organizations import invitations
from app.organizations import service as organizations


@strawberry.type(
    name="Session",
    description=(
        "A login of the caller's, usable until it expires or ends (logout, endSession, a "
        "password change or reset). Only its own user sees it; node(id) answers null to others."
    ),
)
class SessionType(Node):
    id: strawberry.ID = strawberry.field(description="Pass to endSession to end it.")
    created_at: datetime = strawberry.field(description="When it was started by login or signUp.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last made a request; kept to the minute."
    )
    expires_at: datetime = strawberry.field(
        description=(
            "When it stops working by itself: KEYRACK_SESSION_TTL_SECONDS (default 12 hours) "
            "after it started."
        )
    )
    ip_address: str | None = strawberry.field(description="The address it logged in from.")
    user_agent: str | None = strawberry.field(description="The client it logged in with.")
    current: bool = strawberry.field(description="Whether this request came with it.")

    @classmethod
    def from_model(cls, session: Session, *, current_id: int | None) -> SessionType:
        return cls(
            id=strawberry.ID(to_global_id(SESSION, session.id)),
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            ip_address=session.ip_address,
            user_agent=session.user_agent,
            current=session.id == current_id,
        )


@strawberry.type(
    name="User",
    description=(
        "An account. node(id) finds it for itself and for those who share an organization "
        "with it, null for anyone else; it also appears as an invitation's sender or an "
        "audit entry's actor."
    ),
)
class UserType(Node):
    id: strawberry.ID = strawberry.field(
        description="Its global id, as changeMemberRole, removeMember and revokeSystemRole take."
    )
    email: str = strawberry.field(
        description="The login email, unique among accounts; stored lowercased and trimmed."
    )
    name: str = strawberry.field(description="The display name (1 to 200 characters).")
    created_at: datetime = strawberry.field(description="When the account was created.")
    pk: strawberry.Private[int]

    def _is_viewer(self, info: Info) -> bool:
        """Whether the caller is this user: their own fields are null for anyone else."""
        viewer = info.context.user
        return viewer is not None and viewer.id == self.pk

    @classmethod
    def from_model(cls, user: User) -> UserType:
        return cls(
            id=strawberry.ID(to_global_id(USER, user.id)),
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            pk=user.id,
        )

    @strawberry.field(
        description=(
            "Whether the user has a confirmed TOTP authenticator for step-up. "
            "Shown to the user themself only: null for anyone else."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def totp_enabled(self, info: Info) -> bool | None:
        if not self._is_viewer(info):
            return None
        return await step_up.totp_enabled(user_id=self.pk)

    @strawberry.field(
        description=(
            "The user's live sessions, oldest first. Shown to the user themself only: null "
            "for anyone else."
        )
    )
    async def sessions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[SessionType] | None:
        session = info.context.session
        if session is None or session.user.id != self.pk:
            return None
        position = decode_cursor(after)
        page = await service.list_sessions(user_id=self.pk, after=position, first=page_size(first))
        return to_connection(
            page, lambda s: SessionType.from_model(s, current_id=session.id), after=position
        )

    @strawberry.field(
        description=(
            "Whether the account has shown it receives mail at its email: it used a token "
            "Keyrack mailed there (an invitation, a password reset), or the operator created "
            "it. Until then invitations to the address are not listed to it. Shown to the "
            "user themself only: null for anyone else."
        ),
        metadata=FROM_PARENT,
    )
    async def email_verified(self, info: Info) -> bool | None:
        viewer = info.context.user
        if viewer is None or viewer.id != self.pk:
            return None
        return viewer.email_verified_at is not None

    @strawberry.field(
        description=(
            "Pending invitations sent to the user's email, oldest first, once the address is "
            "shown to be theirs (emailVerified). Shown to the user themself only: null for "
            "anyone else."
        )
    )
    async def invitations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[InvitationType] | None:
        viewer = info.context.user
        if viewer is None or viewer.id != self.pk:
            return None
        position = decode_cursor(after)
        page = await invitations.list_for_invitee(
            user=viewer, after=position, first=page_size(first)
        )
        return to_connection(page, InvitationType.from_model, after=position)

    @strawberry.field(
        description=(
            "Approval requests the user made, and those of the scopes they administer, "
            "newest first (at most 100). Shown to the user themself only: null for anyone else."
        ),
        metadata=APPROVAL_REQUESTS_COST,
    )
    async def approval_requests(
        self,
        info: Info,
        status: Annotated[
            ApprovalStatus | None, strawberry.argument(description=STATUS_DESCRIPTION)
        ] = None,
    ) -> list[ApprovalRequestType] | None:
        if not self._is_viewer(info):
            return None
        return await resolve_approval_requests(info, organization_id=None, status=status)

    @strawberry.field(
        description=(
            "The user's bell, newest first: what happened to their roles, invitations and "
            "the key sets they created or administer. Shown to the user themself only: null "
            "for anyone else. The notifications subscription delivers new ones live."
        )
    )
    async def notifications(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        unread_only: Annotated[
            bool,
            strawberry.argument(
                description="Only those not yet marked read (markNotificationsRead)."
            ),
        ] = False,
    ) -> Connection[NotificationType] | None:
        if not self._is_viewer(info):
            return None
        position = decode_cursor(after)
        page = await inbox.list_notifications(
            user_id=self.pk, unread_only=unread_only, after=position, first=page_size(first)
        )
        return to_connection(page, NotificationType.from_model, after=position)

    @strawberry.field(
        description=(
            "How many of the user's notifications are unread: the number on the bell. Shown "
            "to the user themself only: null for anyone else."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def unread_notification_count(self, info: Info) -> int | None:
        if not self._is_viewer(info):
            return None
        return await inbox.unread_count(user_id=self.pk)


async def load_user(info: Info, user_id: int | None) -> UserType | None:
    """The account with this id, through the request's users loader; None for no id or
    an account that is gone."""
    user = await info.context.loaders.users_by_id.load(user_id) if user_id else None
    return UserType.from_model(user) if user else None


reach.USER.register(load_user)


@reach.findable(USER)
async def find_user(info: Info, pk: int) -> UserType | None:
    found = await organizations.get_visible_user(viewer=info.context.actor.user, user_id=pk)
    return UserType.from_model(found) if found else None


@reach.findable(SESSION)
async def find_session(info: Info, pk: int) -> SessionType | None:
    session = await service.get_own_session(user_id=info.context.actor.user.id, session_id=pk)
    current = info.context.session
    if session is None:
        return None
    return SessionType.from_model(session, current_id=current.id if current else None)
