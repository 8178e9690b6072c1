"""The bell's GraphQL types: a person's notifications (see app.notifications.inbox)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql import reach
from app.graphql.context import Info
from app.graphql.enums import documented
from app.graphql.ids import NOTIFICATION
from app.graphql.prices import LOADED
from app.graphql.relay import Node
from app.ids import to_global_id
from app.notifications import inbox
from app.notifications.models import Notification, NotificationKind

documented(
    NotificationKind,
    "What a notification tells its person happened.",
    {
        "ROLE_CHANGED": "Your role in an organization changed, or you were removed from it.",
        "SYSTEM_ROLE_CHANGED": "You were given a role in a system, or it was taken away.",
        "INVITED": "Someone invited your account's email into an organization.",
        "KEY_SET_PERMISSIONS_CHANGED": (
            "The permissions or permission groups of a key set you created changed."
        ),
        "KEY_SET_EXPIRING": "A key set you created or administer expires soon.",
        "KEY_SET_LEAKED": "A key of a key set you created or administer was reported leaked.",
        "KEY_SET_REVOKED": "Someone else revoked a key set you created or administer.",
        "ANOMALY_DETECTED": "A key set you created or administer is used unusually.",
        "APPROVAL_REQUESTED": "A change waits for your approval.",
        "APPROVAL_DECIDED": "A change you asked for was approved or refused.",
        "APPROVAL_APPLIED_ALONE": "A change was applied without a second person's approval.",
    },
)


@strawberry.type(
    name="Notification",
    description=(
        "One entry of the caller's bell: what happened, in words, and where. Only its own "
        "person sees it (node(id) answers null to anyone else); it never holds a key value, "
        "token or secret."
    ),
)
class NotificationType(Node):
    id: strawberry.ID = strawberry.field(
        description="Global id: pass it to markNotificationsRead or node(id)."
    )
    kind: NotificationKind = strawberry.field(description="What happened.")
    message: str = strawberry.field(description="What happened, for a person to read.")
    created_at: datetime = strawberry.field(description="When it was written.")
    read_at: datetime | None = strawberry.field(
        description="When markNotificationsRead marked it read; null while unread."
    )
    row: strawberry.Private[Notification]

    @classmethod
    def from_model(cls, notification: Notification) -> NotificationType:
        return cls(
            id=strawberry.ID(to_global_id(NOTIFICATION, notification.id)),
            kind=NotificationKind(notification.kind),
            message=notification.message,
            created_at=notification.created_at,
            read_at=notification.read_at,
            row=notification,
        )

    @strawberry.field(
        description=(
            "The key set it is about; null if none, once it was deleted, or when you may no "
            "longer see it."
        ),
        metadata=LOADED,
        graphql_type=reach.KEY_SET.type | None,
    )
    async def key_set(self, info: Info) -> Node | None:
        if not await self._member(info):
            return None
        return await reach.KEY_SET.load(info, self.row.key_set_id)

    @strawberry.field(
        description=(
            "The organization it is about; null if none, or when you are no longer a member."
        ),
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type | None,
    )
    async def organization(self, info: Info) -> Node | None:
        if not await self._member(info):
            return None
        return await reach.ORGANIZATION.load(info, self.row.organization_id)

    @strawberry.field(
        description="The system it is about; null if none, or when you may no longer see it.",
        metadata=LOADED,
        graphql_type=reach.SYSTEM.type | None,
    )
    async def system(self, info: Info) -> Node | None:
        if not await self._member(info):
            return None
        return await reach.SYSTEM.load(info, self.row.system_id)

    async def _member(self, info: Info) -> bool:
        """Whether the reader is still a member of the organization it is about: every
        member sees its systems and key sets, and nobody else does."""
        organization_id = self.row.organization_id
        if organization_id is None:
            return False
        roles = info.context.loaders.viewer_roles_by_organization_id
        return await roles.load(organization_id) is not None


@reach.findable(NOTIFICATION)
async def find_notification(info: Info, pk: int) -> NotificationType | None:
    found = await inbox.get_own(user_id=info.context.actor.user.id, notification_id=pk)
    return NotificationType.from_model(found) if found else None
