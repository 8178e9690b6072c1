"""Revoking a key set: by an admin who confirms its label, as its owner leaves the
organization, or within another domain's writes (a leak, which may disable it instead).

Revoked is for good: both keys stop at once and their material is destroyed; their hashes
are kept so that a key presented again is recognised (app.keysets.reuse).
"""

from __future__ import annotations

from typing import Any

from app import clock
from app.audit.actions import AuditAction
from app.context import Actor
from app.ids import to_global_id
from app.keysets import bell, reuse
from app.keysets.admins import admin_key_set
from app.keysets.models import ApiKey, KeySet
from app.keysets.rules import check_confirmation, clean_reason, require_not_revoked
from app.keysets.writes import KeySetWrites, key_set_writes, lock_organization
from app.usage.recent import RecentUseCheck, check_recent_use
from app.webhooks.models import WebhookEvent


async def revoke_key_set(
    *,
    actor: Actor,
    key_set_id: int,
    confirm_label: str,
    reason: str | None = None,
    recent_use: RecentUseCheck | None = None,
) -> KeySet:
    """Revokes the set: both keys stop at once and their material is destroyed."""
    reason = clean_reason(reason)
    async with key_set_writes(actor) as writes:
        key_set = await admin_key_set(actor, key_set_id, lock=True)
        require_not_revoked(key_set)
        check_confirmation(key_set, confirm_label)
        await check_recent_use(recent_use, key_set=key_set, action="Revoking it")
        await lock_organization(key_set.organization_id)
        await _revoke(writes, key_set, reason=reason)
    return key_set


async def _revoke(
    writes: KeySetWrites,
    key_set: KeySet,
    *,
    reason: str | None,
    details: dict[str, Any] | None = None,
    tell: bool = True,
) -> None:
    """Revokes a locked, live key set in the writes' transaction; `tell`: ring the bells of
    its people (but the actor's)."""
    now = clock.now()
    # Destroyed, but still recognised if presented again (reuse detection).
    await reuse.keep_hashes(ApiKey.filter(key_set_id=key_set.id, lookup_hash__not_isnull=True))
    await ApiKey.filter(key_set_id=key_set.id).update(lookup_hash=None, ciphertext=None)
    await ApiKey.filter(key_set_id=key_set.id, valid_until__gt=now).update(valid_until=now)
    key_set.revoked_at = now
    key_set.revoked_by = writes.actor.user if writes.actor else None
    key_set.revoke_reason = reason
    key_set.live = None
    await key_set.save(update_fields=["revoked_at", "revoked_by_id", "revoke_reason", "live"])
    await writes.record(
        key_set,
        AuditAction.KEY_SET_REVOKED,
        {"reason": reason, **(details or {})},
        webhook=WebhookEvent.KEY_SET_REVOKED,
    )
    if tell:
        await bell.revoked(key_set, writes.actor)


async def revoke_in(
    writes: KeySetWrites, key_set: KeySet, *, reason: str, details: dict[str, Any]
) -> None:
    """Revokes a locked, live key set within another domain's key-set writes (a leak,
    whose own notification tells its people)."""
    await _revoke(writes, key_set, reason=clean_reason(reason), details=details, tell=False)


async def disable_in(writes: KeySetWrites, key_set: KeySet, *, details: dict[str, Any]) -> bool:
    """Disables a locked key set within another domain's key-set writes; whether it was on."""
    if not key_set.enabled:
        return False
    key_set.enabled = False
    await key_set.save(update_fields=["enabled", "updated_at"])
    await writes.record(
        key_set, AuditAction.KEY_SET_DISABLED, {"enabled": False, **details}, webhook=None
    )
    return True


async def revoke_owned_by(
    *, writes: KeySetWrites, organization_id: int, user_id: int
) -> list[KeySet]:
    """Revokes the live key sets a member owns in the organization, as they leave it.

    Runs in the writes' transaction, which has locked the organization. Key sets they
    created as an admin are the organization's and stay.
    """
    owned = (
        await KeySet.filter(organization_id=organization_id, owned_by_id=user_id, live=True)
        .select_for_update()
        .order_by("id")
    )
    for key_set in owned:
        await _revoke(
            writes,
            key_set,
            reason="Its owner left the organization.",
            details={"cause": "OWNER_LEFT", "ownerId": to_global_id("User", user_id)},
        )
    return owned
