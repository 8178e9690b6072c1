"""Registering webhooks, queueing their deliveries, and reading both.

`enqueue` runs inside the transaction of the change it announces, so a change and its
deliveries commit or roll back together (the outbox pattern); app.webhooks.worker
sends them afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from app import clock
from app.access import is_organization_admin, organization_access
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Forbidden, InvalidInput, NotFound
from app.ids import to_global_id
from app.keysets.models import KeySet
from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership, OrganizationRole
from app.storage.pagination import Page, paginate_each, paginate_each_allowed
from app.validation import UNCHANGED, Unchanged
from app.webhooks.destinations import DestinationPolicy
from app.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from app.webhooks.rules import clean_events, clean_url, host_and_port
from app.webhooks.signing import STANDARD_NONCE_PREFIX, WebhookSigning

MAX_WEBHOOKS_PER_ORGANIZATION = 20


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    signing_secret: str


async def _is_organization_admin(*, user_id: int, organization_id: int) -> bool:
    return await Membership.exists(
        user_id=user_id, organization_id=organization_id, role__in=list(ORGANIZATION_ADMIN_ROLES)
    )


async def create_webhook(
    *,
    actor: Actor,
    signing: WebhookSigning,
    organization_id: int,
    url: str,
    events: list[str],
    destinations: DestinationPolicy,
    server: tuple[str, int] | None = None,
) -> CreatedWebhook:
    """A webhook and its signing secret, which is returned here only.

    `server` is the (host, port) the API was called on: a webhook may not point there;
    nor anywhere `destinations` refuses.
    """
    # Who may, first: a caller who may not register webhooks here learns nothing from how
    # the URL is judged (that needs a DNS lookup of any host the caller names).
    (
        await organization_access(user_id=actor.user.id, organization_id=organization_id)
    ).require_admin()
    url = await _clean_destination(url, destinations=destinations, server=server)
    wanted = clean_events(events)
    async with in_transaction():
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        if await Webhook.filter(organization_id=organization_id).count() >= (
            MAX_WEBHOOKS_PER_ORGANIZATION
        ):
            raise InvalidInput(
                f"An organization may have at most {MAX_WEBHOOKS_PER_ORGANIZATION} webhooks.",
                field="organizationId",
            )
        webhook = await Webhook.create(
            organization_id=organization_id,
            url=url,
            events=wanted,
            secret_nonce=STANDARD_NONCE_PREFIX + secrets.token_urlsafe(24),
            created_by=actor.user,
        )
        # The URL may carry a token in its query: the audit log keeps only where it goes.
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.WEBHOOK_CREATED,
            actor=actor,
            details={
                "webhookId": to_global_id("Webhook", webhook.id),
                "host": _host(url),
                "events": wanted,
            },
        )
    secret = signing.secret_for(webhook_id=webhook.id, nonce=webhook.secret_nonce)
    return CreatedWebhook(webhook, secret)


async def _clean_destination(
    url: str, *, destinations: DestinationPolicy, server: tuple[str, int] | None
) -> str:
    url = clean_url(url, server=server)
    host, port = host_and_port(url)
    await destinations.check_registration(host, port)
    return url


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


async def _admin_webhook(actor: Actor, webhook_id: int) -> Webhook:
    webhook = await Webhook.get_or_none(id=webhook_id)
    if webhook is None:
        raise NotFound("No webhook with this id.", field="webhookId")
    organization_id = webhook.organization_id
    try:
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, field="webhookId"
        )
    except NotFound:
        raise NotFound("No webhook with this id.", field="webhookId") from None
    access.require_admin()
    return webhook


async def update_webhook(
    *,
    actor: Actor,
    webhook_id: int,
    url: str | Unchanged = UNCHANGED,
    events: list[str] | Unchanged = UNCHANGED,
    enabled: bool | Unchanged = UNCHANGED,
    destinations: DestinationPolicy,
    server: tuple[str, int] | None = None,
) -> Webhook:
    """Changes what is given. A disabled webhook is queued nothing and sent nothing more."""
    await _admin_webhook(actor, webhook_id)  # who may, before the URL is judged (see create)
    new_url = (
        await _clean_destination(url, destinations=destinations, server=server)
        if not isinstance(url, Unchanged)
        else UNCHANGED
    )
    new_events = clean_events(events) if not isinstance(events, Unchanged) else UNCHANGED
    async with in_transaction():
        webhook = await _admin_webhook(actor, webhook_id)
        changes: dict[str, object] = {}
        if not isinstance(new_url, Unchanged) and new_url != webhook.url:
            changes["host"] = {"old": _host(webhook.url), "new": _host(new_url)}
            webhook.url = new_url
        if not isinstance(new_events, Unchanged) and new_events != webhook.events:
            changes["events"] = {"old": webhook.events, "new": new_events}
            webhook.events = new_events
        if not isinstance(enabled, Unchanged) and enabled != webhook.enabled:
            changes["enabled"] = {"old": webhook.enabled, "new": enabled}
            webhook.enabled = enabled
        if not changes:
            return webhook
        await webhook.save(update_fields=["url", "events", "enabled"])
        await audit.record(
            organization_id=webhook.organization_id,
            action=AuditAction.WEBHOOK_UPDATED,
            actor=actor,
            details={"webhookId": to_global_id("Webhook", webhook.id), **changes},
        )
    return webhook


async def delete_webhook(*, actor: Actor, webhook_id: int) -> Webhook:
    """Deletes the webhook and its deliveries; pending ones are not sent."""
    async with in_transaction():
        webhook = await _admin_webhook(actor, webhook_id)
        await audit.record(
            organization_id=webhook.organization_id,
            action=AuditAction.WEBHOOK_DELETED,
            actor=actor,
            details={"webhookId": to_global_id("Webhook", webhook.id), "host": _host(webhook.url)},
        )
        await webhook.delete()
    return webhook


async def list_webhooks(
    *, viewer_roles: Mapping[int, OrganizationRole | None], after: int | None, first: int
) -> dict[int, Page[Webhook] | Forbidden]:
    """A page of webhooks, oldest first, for each organization (the keys of
    `viewer_roles`, the caller's role in each) that the caller owns or administers;
    `Forbidden` for the others, which a dataloader raises for that one."""
    administered = {pk for pk, role in viewer_roles.items() if is_organization_admin(role)}
    return await paginate_each_allowed(
        Webhook.all(),
        parent="organization_id",
        parent_ids=list(viewer_roles),
        allowed=administered,
        refused=Forbidden("Only owners and admins of the organization may see its webhooks."),
        after=after,
        first=first,
    )


async def get_visible_webhook(*, user_id: int, webhook_id: int) -> Webhook | None:
    """The webhook if the user is an owner or admin of its organization, else None."""
    webhook = await Webhook.get_or_none(id=webhook_id)
    if webhook is None or not await _is_organization_admin(
        user_id=user_id,
        organization_id=webhook.organization_id,
    ):
        return None
    return webhook


async def get_visible_delivery(*, user_id: int, delivery_id: int) -> WebhookDelivery | None:
    """The delivery if the user is an owner or admin of its webhook's organization."""
    delivery = await WebhookDelivery.get_or_none(id=delivery_id).select_related("webhook")
    if delivery is None or not await _is_organization_admin(
        user_id=user_id,
        organization_id=delivery.webhook.organization_id,
    ):
        return None
    return delivery


async def list_deliveries(
    *,
    webhook_ids: Collection[int],
    status: DeliveryStatus | None,
    before: int | None,
    first: int,
) -> dict[int, Page[WebhookDelivery]]:
    """A page of deliveries for each webhook, newest first (the caller has seen them)."""
    query = WebhookDelivery.all()
    if status is not None:
        query = query.filter(status=status)
    return await paginate_each(
        query,
        parent="webhook_id",
        parent_ids=webhook_ids,
        after=before,
        first=first,
        newest_first=True,
    )


async def enqueue(*, organization_id: int, event: WebhookEvent, payload: Mapping[str, Any]) -> int:
    """Queues one delivery per enabled webhook of the organization subscribed to `event`.

    Call inside the transaction of the change; returns how many were queued.
    """
    now = clock.now()
    body = {
        "event": event.value,
        "occurredAt": now.isoformat(),
        "organizationId": to_global_id("Organization", organization_id),
        **payload,
    }
    webhooks = [
        webhook
        for webhook in await Webhook.filter(organization_id=organization_id, enabled=True)
        if event.value in webhook.events
    ]
    if webhooks:
        await WebhookDelivery.bulk_create(
            [
                WebhookDelivery(webhook=webhook, event=event, payload=body, next_attempt_at=now)
                for webhook in webhooks
            ]
        )
    return len(webhooks)


async def subscribed(*, organization_id: int, event: WebhookEvent) -> bool:
    """Whether an enabled webhook of the organization wants `event`."""
    return any(
        event.value in webhook.events
        for webhook in await Webhook.filter(organization_id=organization_id, enabled=True)
    )


def key_set_payload(key_set: KeySet) -> dict[str, Any]:
    """What an event says about a key set: never a key, a hint or a hash."""
    system_id = key_set.system_id
    return {
        "keySet": {
            "id": to_global_id("KeySet", key_set.id),
            "label": key_set.label,
            "scope": key_set.scope.value,
            "systemId": to_global_id("System", system_id) if system_id is not None else None,
            "expiresAt": key_set.expires_at.isoformat() if key_set.expires_at else None,
        }
    }


async def key_set_event(key_set: KeySet, event: WebhookEvent, **extra: Any) -> int:
    """Queues `event` about `key_set` (inside the change's transaction)."""
    return await enqueue(
        organization_id=key_set.organization_id,
        event=event,
        payload={**key_set_payload(key_set), **extra},
    )
