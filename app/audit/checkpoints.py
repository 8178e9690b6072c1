"""Issuing signed checkpoints, and sending them to AUDIT_CHECKPOINT webhooks on a schedule.

A checkpoint is only issued for a head that verifies (incrementally, see
app.audit.integrity): the server never signs a chain that someone else rewrote.
"""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import clock
from app.audit import custody
from app.audit.chain import GENESIS_HASH
from app.audit.integrity import verify_incrementally
from app.audit.models import AuditChainState, AuditEntry
from app.audit.signing import Checkpoint
from app.ids import to_global_id
from app.organizations.models import Organization
from app.webhooks.models import Webhook, WebhookEvent
from app.webhooks.service import enqueue

logger = logging.getLogger("keyrack.audit")


def _now() -> str:
    return clock.now().replace(microsecond=0).isoformat()


async def issue_checkpoint(
    *, organization_id: int, sequence: int | None = None
) -> Checkpoint | None:
    """A signed checkpoint of the head (or of entry `sequence`); None if the chain is broken."""
    integrity = await verify_incrementally(organization_id=organization_id)
    if not integrity.valid:
        return None
    head = await Organization.get(id=organization_id)
    position, hash = head.audit_sequence, head.audit_head_hash or GENESIS_HASH
    if sequence is not None and 0 < sequence < position:
        entry = await AuditEntry.get(organization_id=organization_id, sequence=sequence)
        position, hash = sequence, entry.hash
    return custody.signer().sign(
        organization_id=to_global_id("Organization", organization_id),
        sequence=position,
        hash=hash,
        issued_at=_now(),
    )


async def _claim_emission(organization_id: int, head: int) -> bool:
    """Moves the emitted position to `head` unless another process already has."""
    if await AuditChainState.filter(
        organization_id=organization_id, emitted_sequence__lt=head
    ).update(emitted_sequence=head):
        return True
    if await AuditChainState.exists(organization_id=organization_id):
        return False
    try:
        await AuditChainState.create(organization_id=organization_id, emitted_sequence=head)
    except IntegrityError:
        return False
    return True


async def emit_round() -> int:
    """Sends one checkpoint per subscribed organization whose head moved; returns how many."""
    subscribed = {
        webhook.organization_id
        for webhook in await Webhook.filter(enabled=True)
        if WebhookEvent.AUDIT_CHECKPOINT.value in webhook.events
    }
    sent = 0
    for organization_id in sorted(subscribed):
        organization = await Organization.get_or_none(id=organization_id)
        if organization is None:
            continue
        state = await AuditChainState.get_or_none(organization_id=organization_id)
        if state is not None and state.emitted_sequence >= organization.audit_sequence:
            continue
        checkpoint = await issue_checkpoint(organization_id=organization_id)
        if checkpoint is None:
            logger.warning(
                "Audit chain of organization %s does not verify: no checkpoint sent",
                organization_id,
            )
            continue
        async with in_transaction():
            if await _claim_emission(organization_id, checkpoint.sequence):
                await enqueue(
                    organization_id=organization_id,
                    event=WebhookEvent.AUDIT_CHECKPOINT,
                    payload={"checkpoint": checkpoint.as_json()},
                )
                sent += 1
    return sent
