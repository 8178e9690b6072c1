from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.ids import NOTIFICATION, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.notifications import inbox
from app.storage.pagination import MAX_PAGE_SIZE


@strawberry.input(description="Which of the caller's notifications to mark read.")
class MarkNotificationsReadInput:
    notification_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description=(
            f"Notification ids from viewer.notifications, at most {MAX_PAGE_SIZE}; one that is "
            "not the caller's is NOT_FOUND and nothing is marked."
        ),
    )
    all: bool = strawberry.field(
        default=False,
        description="Mark every notification of the caller read instead (no notificationIds).",
    )
    client_mutation_id: str | None = None


@strawberry.type(description="The result of markNotificationsRead.")
class MarkNotificationsReadPayload:
    marked_count: int | None = strawberry.field(
        default=None,
        description=(
            "How many notifications became read (those read already do not count); null "
            "when there are userErrors."
        ),
    )
    unread_notification_count: int | None = strawberry.field(
        default=None,
        description="How many of the caller's notifications are still unread: the bell's number.",
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[ReportUserErrors()],
        description=(
            "Marks some of the caller's notifications read, or all of them. Only the "
            "caller's own: another person's ids are NOT_FOUND, as unknown ones are."
        ),
        metadata=MUTATION_PRICE,
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        user_id = info.context.actor.user.id
        marked = await inbox.mark_read(
            user_id=user_id,
            notification_ids=[
                input_pk(i, NOTIFICATION, field="notificationIds") for i in input.notification_ids
            ],
            every=input.all,
        )
        return MarkNotificationsReadPayload(
            marked_count=marked, unread_notification_count=await inbox.unread_count(user_id=user_id)
        )
