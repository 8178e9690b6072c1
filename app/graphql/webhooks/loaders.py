"""The webhooks' dataloaders."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from app.errors import KeyrackError
from app.graphql.batching import Options, PageLoader
from app.graphql.organizations.loaders import ViewerRolesByOrganizationIdLoader, viewer_roles
from app.storage.pagination import Page
from app.webhooks import service as webhooks
from app.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery


async def _webhooks(
    ids: list[int],
    after: int | None,
    first: int,
    options: Options,
    *,
    roles: ViewerRolesByOrganizationIdLoader,
) -> Mapping[int, Page[Webhook] | KeyrackError]:
    return await webhooks.list_webhooks(
        viewer_roles=await viewer_roles(roles, ids), after=after, first=first
    )


class WebhookPagesByOrganizationLoader(PageLoader[Webhook]):
    def __init__(self, roles: ViewerRolesByOrganizationIdLoader) -> None:
        super().__init__(partial(_webhooks, roles=roles))


async def _deliveries(
    ids: list[int], before: int | None, first: int, options: Options
) -> Mapping[int, Page[WebhookDelivery]]:
    status = DeliveryStatus(str(options[0])) if options else None
    return await webhooks.list_deliveries(
        webhook_ids=ids, status=status, before=before, first=first
    )


class DeliveryPagesByWebhookLoader(PageLoader[WebhookDelivery]):
    def __init__(self) -> None:
        super().__init__(_deliveries)
