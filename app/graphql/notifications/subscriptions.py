from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from app.accounts import service as accounts
from app.graphql.context import Info
from app.graphql.notifications.types import NotificationType
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import ROW_READ_COST, field_cost
from app.notifications import live


@strawberry.type(
    description=(
        "Live events over WebSocket (graphql-transport-ws at /graphql): authenticate in "
        'connection_init\'s payload ({"authorization": "Bearer <token>"}), or, from the '
        'console\'s own origin, with its session cookie and {"csrfToken": …}.'
    )
)
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description=(
            "Each new notification of the caller, the moment it is committed (in any of the "
            "server's processes), until the socket closes or the session ends. Needs a login "
            "(else UNAUTHENTICATED); never another person's."
        ),
        # Each event reads the person's new rows once.
        metadata=field_cost(ROW_READ_COST),
    )
    async def notifications(self, info: Info) -> AsyncIterator[NotificationType]:
        actor = info.context.actor
        session_id = actor.session_id
        user_id = actor.user.id

        async def still_allowed() -> bool:
            session = await accounts.get_own_session(user_id=user_id, session_id=session_id or 0)
            return session is not None

        async def events() -> AsyncIterator[NotificationType]:
            since = info.context.notifications_since
            follow = live.follow(user_id=user_id, since=since, still_allowed=still_allowed)
            async for notification in follow:
                info.context.renew()
                yield NotificationType.from_model(notification)

        return events()
