from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.graphql.enums import WebhookEvent
from app.graphql.ids import ORGANIZATION, WEBHOOK, input_pk
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE
from app.graphql.step_up import StepUp, otp_field
from app.graphql.webhooks.types import WebhookType
from app.validation import UNCHANGED
from app.webhooks import service
from app.webhooks.destinations import DestinationPolicy
from app.webhooks.rules import server_address


@strawberry.input(description="A new webhook of an organization.")
class CreateWebhookInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The Organization; NOT_FOUND if you are not a member of it."
    )
    url: str = strawberry.field(
        description=(
            "http(s) URL that receives signed POSTs: at most 2048 characters, no credentials, "
            "not Keyrack itself nor an address the server's destination policy refuses "
            "(INVALID on url)."
        )
    )
    events: list[WebhookEvent] = strawberry.field(
        description="What it is sent: at least one event (INVALID on events otherwise)."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.input(description="What to change in a webhook; fields left out stay as they are.")
class UpdateWebhookInput:
    webhook_id: strawberry.ID = strawberry.field(
        description="The Webhook; NOT_FOUND if there is none you can see."
    )
    url: str | None = strawberry.field(
        default=None, description="A new URL, under the same rules as in createWebhook."
    )
    events: list[WebhookEvent] | None = strawberry.field(
        default=None, description="The new list of events, replacing the old; at least one."
    )
    enabled: bool | None = strawberry.field(
        default=None,
        description=(
            "false: nothing more is queued or sent to it; true: new events are queued again."
        ),
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of updateWebhook.")
class WebhookPayload:
    webhook: WebhookType | None = strawberry.field(
        default=None, description="The webhook as it is now; null when refused."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.input(description="The webhook to delete.")
class DeleteWebhookInput:
    webhook_id: strawberry.ID = strawberry.field(
        description="The Webhook; NOT_FOUND if there is none you can see."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of createWebhook.")
class CreateWebhookPayload:
    webhook: WebhookType | None = strawberry.field(
        default=None, description="The new webhook; null when refused."
    )
    signing_secret: str | None = strawberry.field(
        default=None,
        description=(
            "Key for verifying webhook-signature (Standard Webhooks) and Keyrack-Signature. "
            "Shown here only: store it now."
        ),
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The result of deleteWebhook.")
class DeleteWebhookPayload:
    deleted_webhook_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted webhook; null when refused."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("organization_id"), ReportUserErrors()],
        description=(
            "Registers an endpoint for the organization's events; owners and admins "
            "(FORBIDDEN for other members). At most 20 per organization (INVALID)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        created = await service.create_webhook(
            actor=info.context.actor,
            signing=info.context.webhook_signing,
            organization_id=input_pk(input.organization_id, ORGANIZATION, field="organizationId"),
            url=input.url,
            events=[WebhookEvent(event).value for event in input.events],
            destinations=DestinationPolicy.of(info.context.settings),
            server=server_address(str(info.context.request.base_url)),
        )
        return CreateWebhookPayload(
            webhook=WebhookType.from_model(created.webhook), signing_secret=created.signing_secret
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("webhook_id"), ReportUserErrors()],
        description=(
            "Changes a webhook's URL, events or whether it is enabled; the secret stays. "
            "Owners and admins (FORBIDDEN for other members)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def update_webhook(self, info: Info, input: UpdateWebhookInput) -> WebhookPayload:
        webhook = await service.update_webhook(
            actor=info.context.actor,
            webhook_id=input_pk(input.webhook_id, WEBHOOK, field="webhookId"),
            url=input.url if input.url is not None else UNCHANGED,
            events=(
                [WebhookEvent(event).value for event in input.events]
                if input.events is not None
                else UNCHANGED
            ),
            enabled=input.enabled if input.enabled is not None else UNCHANGED,
            destinations=DestinationPolicy.of(info.context.settings),
            server=server_address(str(info.context.request.base_url)),
        )
        return WebhookPayload(webhook=WebhookType.from_model(webhook))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[StepUp("webhook_id"), ReportUserErrors()],
        description=(
            "Deletes a webhook with its deliveries; pending ones are not sent. Owners and "
            "admins (FORBIDDEN for other members)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def delete_webhook(self, info: Info, input: DeleteWebhookInput) -> DeleteWebhookPayload:
        await service.delete_webhook(
            actor=info.context.actor,
            webhook_id=input_pk(input.webhook_id, WEBHOOK, field="webhookId"),
        )
        return DeleteWebhookPayload(deleted_webhook_id=input.webhook_id)
