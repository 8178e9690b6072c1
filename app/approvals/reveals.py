"""Revealing a key where that needs approval: the request, and the reveal once approved."""

from __future__ import annotations

from app.approvals import service as approvals
from app.approvals.models import ApprovalAction, ApprovalRequest
from app.approvals.policies import effective_actions
from app.context import Actor
from app.errors import Forbidden, InvalidState, NotFound
from app.ids import to_global_id
from app.keysets.admins import administers
from app.keysets.keys import KeyMaterial
from app.keysets.models import ApiKey, KeySet, KeySlot
from app.keysets.reveals import RevealAllowance
from app.keysets.values import reveal_key
from app.notifications.mail import Mailer
from app.organizations.models import KeyReveal, Membership, Organization

# The operation a reveal request is kept under (no mutation replays it).
REVEAL_OPERATION = "revealKey"


async def request_reveal(
    *,
    actor: Actor,
    key_set_id: int,
    slot: KeySlot,
    reason: str,
    ttl_seconds: int,
    mailer: Mailer | None = None,
) -> ApprovalRequest:
    """Asks for a key's value where revealing needs approval (admins of the key set)."""
    key_set = await KeySet.get_or_none(id=key_set_id)
    if key_set is None or not await Membership.exists(
        user_id=actor.user.id, organization_id=key_set.organization_id
    ):
        raise NotFound("No key set with this id.", field="keySetId")
    if not await administers(user_id=actor.user.id, key_set=key_set):
        raise Forbidden("Only admins of the key set's scope may see its key values.")
    if key_set.revoked_at is not None:
        raise InvalidState("The key set is revoked: its keys are gone.", field="keySetId")
    organization = await Organization.get(id=key_set.organization_id)
    if organization.key_reveal is not KeyReveal.ADMINS:
        raise InvalidState("This organization keeps no key values (keyReveal ONCE).")
    if ApprovalAction.REVEAL_KEY not in await effective_actions(
        organization_id=key_set.organization_id, system_id=key_set.system_id
    ):
        raise InvalidState("Revealing needs no approval here: read ApiKey.value.")
    api_key = await ApiKey.get_or_none(key_set_id=key_set.id, slot=slot, current=True)
    if api_key is None or api_key.ciphertext is None:
        raise InvalidState("This key's value is not kept: nothing to reveal.", field="slot")
    if not reason.strip():
        raise InvalidState("Say why you need the value: reason must not be blank.", field="reason")
    return await approvals.hold(
        actor=actor,
        action=ApprovalAction.REVEAL_KEY,
        organization_id=key_set.organization_id,
        system_id=key_set.system_id,
        operation=REVEAL_OPERATION,
        # The very key asked about: once replaced, its successor is not what was approved.
        change={
            "keySetId": to_global_id("KeySet", key_set.id),
            "slot": slot.value,
            "apiKeyId": api_key.id,
        },
        summary=f"reveal the {slot.value.lower()} key of key set {key_set.label}",
        reason=reason,
        ttl_seconds=ttl_seconds,
        mailer=mailer,
    )


async def reveal_approved(
    *, requester: Actor, keys: KeyMaterial, request: ApprovalRequest
) -> dict[str, str]:
    """The value an approved reveal request asked for, read as its requester (audited
    as their KEY_REVEALED); refused if the key, the set or their role is gone."""
    slot = KeySlot(str(request.change["slot"]))
    api_key = await ApiKey.get_or_none(id=int(str(request.change["apiKeyId"])), current=True)
    value = (
        await reveal_key(
            actor=requester,
            keys=keys,
            api_key=api_key,
            allowance=RevealAllowance(1),
            approved=True,
        )
        if api_key
        else None
    )
    if value is None:
        raise InvalidState(
            "The key can no longer be revealed to the requester: it was replaced, the key "
            "set revoked, values are no longer kept, or the requester lost the role."
        )
    return {slot.value: value}
