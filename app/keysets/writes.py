"""How key sets are written: in one transaction that ends every write with the same tail.

Every change to a key set leaves an audit entry, queues the webhook deliveries of its
event (if it has one; the outbox commits or rolls back with the change), and evicts the
key set from every process's verification cache: `events.announce` inside the
transaction (PostgreSQL delivers it on commit), `events.changed` in this process once
the transaction has committed. `key_set_writes` opens that transaction and `KeySetWrites`
does the tail, so a new mutation cannot forget a part of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.keysets import events
from app.keysets.models import KeySet
from app.organizations.models import Organization
from app.webhooks import service as webhooks
from app.webhooks.models import WebhookEvent


class KeySetWrites:
    """The tail of the key-set writes of one transaction (see the module docstring)."""

    def __init__(self, connection: BaseDBAsyncClient, actor: Actor | None) -> None:
        self.connection = connection
        self.actor = actor
        self.changed: list[int] = []

    async def record(
        self,
        key_set: KeySet,
        action: AuditAction,
        details: dict[str, Any],
        *,
        webhook: WebhookEvent | None,
        **webhook_fields: Any,
    ) -> None:
        """Audits a write to `key_set`, queues its `webhook` event, and evicts it."""
        await audit.record(
            organization_id=key_set.organization_id,
            action=action,
            actor=self.actor,
            system_id=key_set.system_id,
            key_set_id=key_set.id,
            target_label=key_set.label,
            details=details,
        )
        if webhook is not None:
            await webhooks.key_set_event(key_set, webhook, **webhook_fields)
        await self.evict([key_set.id])

    async def evict(self, key_set_ids: Sequence[int]) -> None:
        """Evicts key sets whose verification answer changed without a write of their own
        (a permission group they use changed); their audit entry is the group's."""
        for key_set_id in key_set_ids:
            if key_set_id not in self.changed:
                await events.announce(self.connection, key_set_id)
                self.changed.append(key_set_id)


@asynccontextmanager
async def key_set_writes(actor: Actor | None) -> AsyncIterator[KeySetWrites]:
    """A transaction for writes to key sets; their caches are evicted once it commits.
    No actor: the server acting on its own (a leak report from a scanner)."""
    async with in_transaction() as connection:
        writes = KeySetWrites(connection, actor)
        yield writes
    for key_set_id in writes.changed:
        events.changed(key_set_id)


async def lock_organization(organization_id: int) -> Organization:
    """The organization, its row locked until commit: its keyReveal cannot change meanwhile."""
    # Taken before any key row is written, in the order updateOrganization uses
    # (organization, then keys): a switch to ONCE then either happens before we read
    # the policy or sees, and destroys, what we store; and the two cannot deadlock.
    return await Organization.select_for_update(no_key=True).get(id=organization_id)
