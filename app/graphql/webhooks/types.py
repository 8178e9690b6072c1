from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.batching import PageRequest
from app.graphql.context import Info
from app.graphql.enums import DeliveryStatus, WebhookEvent
from app.graphql.ids import WEBHOOK, WEBHOOK_DELIVERY
from app.graphql.prices import LOADED, list_cost
from app.graphql.relay import Connection, Node, decode_cursor, page_size, to_connection
from app.ids import to_global_id
from app.webhooks import service as webhooks
from app.webhooks.models import Webhook, WebhookDelivery


@strawberry.type(
    name="WebhookDelivery",
    description="One event sent (or to be sent) to one webhook; seen by org owners and admins.",
)
class WebhookDeliveryType(Node):
    id: strawberry.ID = strawberry.field(description="Global id, for node(id:).")
    event: WebhookEvent = strawberry.field(description="What it announces.")
    status: DeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(
        description=("Attempts made so far; at most 8, retried after 30 s, doubling up to an hour.")
    )
    payload: JSON = strawberry.field(description="The JSON body sent; never holds a key.")
    created_at: datetime = strawberry.field(
        description="When it was queued: with the change it announces (UTC, ISO 8601)."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next; null once delivered or failed."
    )
    last_attempt_at: datetime | None = strawberry.field(
        description="When the last attempt began; null before the first."
    )
    last_status_code: int | None = strawberry.field(
        description="HTTP status of the last attempt; null if no answer came."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed, in at most 200 characters; null if it did not."
    )
    delivered_at: datetime | None = strawberry.field(
        description="When the endpoint accepted it; null until DELIVERED."
    )

    @classmethod
    def from_model(cls, delivery: WebhookDelivery) -> WebhookDeliveryType:
        pending = delivery.status is DeliveryStatus.PENDING
        return cls(
            id=strawberry.ID(to_global_id(WEBHOOK_DELIVERY, delivery.id)),
            event=WebhookEvent(delivery.event),
            status=DeliveryStatus(delivery.status),
            attempts=delivery.attempts,
            payload=JSON(delivery.payload),
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at if pending else None,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
        )


@strawberry.type(
    name="Webhook",
    description="An HTTP(S) endpoint told about the organization's key sets; owners and admins.",
)
class WebhookType(Node):
    id: strawberry.ID = strawberry.field(description="Global id, for node(id:).")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    events: list[WebhookEvent] = strawberry.field(
        description="The events it is sent; others are not queued for it.",
        metadata=list_cost(len(WebhookEvent)),
    )
    enabled: bool = strawberry.field(
        description="false: nothing new is queued for it, and pending deliveries fail unsent."
    )
    created_at: datetime = strawberry.field(description="When it was registered (UTC, ISO 8601).")
    model: strawberry.Private[Webhook]

    @classmethod
    def from_model(cls, webhook: Webhook) -> WebhookType:
        return cls(
            id=strawberry.ID(to_global_id(WEBHOOK, webhook.id)),
            url=webhook.url,
            events=[WebhookEvent(event) for event in webhook.events],
            enabled=webhook.enabled,
            created_at=webhook.created_at,
            model=webhook,
        )

    @strawberry.field(
        description="Who registered it; null once that user was deleted.", metadata=LOADED
    )
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.model.created_by_id)

    @strawberry.field(description="Its deliveries, newest first; kept until it is deleted.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(description="Page size: 1 to 100, 20 if not given."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="An endCursor or cursor: fetch what follows it."),
        ] = None,
        status: Annotated[
            DeliveryStatus | None,
            strawberry.argument(description="Only deliveries in this status."),
        ] = None,
    ) -> Connection[WebhookDeliveryType]:
        position = decode_cursor(after)
        options = (DeliveryStatus(status).value,) if status is not None else ()
        page = await info.context.loaders.deliveries_of_webhook.load(
            PageRequest(self.model.id, position, page_size(first), options)
        )
        return to_connection(page, WebhookDeliveryType.from_model, after=position)


async def resolve_webhooks(
    info: Info, *, organization_id: int, first: int | None, after: str | None
) -> Connection[WebhookType]:
    """The organization's webhooks; the loader refuses all but its owners and admins."""
    position = decode_cursor(after)
    page = await info.context.loaders.webhooks_of_organization.load(
        PageRequest(organization_id, position, page_size(first))
    )
    return to_connection(page, WebhookType.from_model, after=position)


@reach.findable(WEBHOOK)
async def find_webhook(info: Info, pk: int) -> WebhookType | None:
    webhook = await webhooks.get_visible_webhook(user_id=info.context.actor.user.id, webhook_id=pk)
    return WebhookType.from_model(webhook) if webhook else None


@reach.findable(WEBHOOK_DELIVERY)
async def find_webhook_delivery(info: Info, pk: int) -> WebhookDeliveryType | None:
    user_id = info.context.actor.user.id
    delivery = await webhooks.get_visible_delivery(user_id=user_id, delivery_id=pk)
    return WebhookDeliveryType.from_model(delivery) if delivery else None
