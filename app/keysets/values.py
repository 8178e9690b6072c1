"""Key values: minting a key, regenerating one, revealing it, and destroying what is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app import clock
from app.accounts import step_up
from app.accounts.models import User
from app.approvals.models import ApprovalAction, ApprovalRequest
from app.approvals.policies import effective_actions
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import ApprovalRequired, ErrorCode, InvalidState, StepUpRequired
from app.keysets import keys as keyformat
from app.keysets import retirement, reuse
from app.keysets.admins import admin_key_set, administers
from app.keysets.keys import KeyMaterial
from app.keysets.models import ApiKey, KeySet, KeySlot
from app.keysets.policy import policy_of
from app.keysets.reveals import RevealAllowance
from app.keysets.rules import (
    MAX_PREVIOUS_KEYS_PER_SLOT,
    check_confirmation,
    clean_grace,
    require_not_revoked,
)
from app.keysets.writes import key_set_writes, lock_organization
from app.organizations.models import KeyReveal, Organization
from app.usage.recent import RecentUseCheck, check_recent_use
from app.webhooks.models import WebhookEvent

# A grace period shorter than this asks RECENTLY_USED as none does: a service polling its
# secret store every minute or so would still be cut off.
SHORT_GRACE_SECONDS = 60


@dataclass(frozen=True)
class RegeneratedKey:
    key_set: KeySet
    key: str


def new_key(
    keys: KeyMaterial,
    *,
    key_set: KeySet,
    slot: KeySlot,
    reveal: KeyReveal,
    user: User | None,
) -> tuple[ApiKey, str]:
    """A fresh key for the slot (not saved), and its plaintext; its ciphertext is kept only
    where the organization lets admins see key values again."""
    plaintext = keyformat.generate_key(key_set.scope.value)
    api_key = ApiKey(
        key_set=key_set,
        slot=slot,
        lookup_hash=keys.lookup_hash(plaintext),
        lookup_key_id=keys.pepper_id,
        hint=keyformat.hint(plaintext),
        ciphertext=(
            keys.encrypt(plaintext, key_set_id=key_set.id, slot=slot.value)
            if reveal is KeyReveal.ADMINS
            else None
        ),
        created_by=user,
        # Set here, not by auto_now_add: successors and idle windows compare it with
        # times taken from the clock (app.keysets.retirement).
        created_at=clock.now(),
    )
    return api_key, plaintext


async def regenerate_key(
    *,
    actor: Actor,
    keys: KeyMaterial,
    key_set_id: int,
    slot: KeySlot,
    confirm_label: str,
    grace_period_seconds: int | None = 0,
    recent_use: RecentUseCheck | None = None,
    retire_when_idle_seconds: int | None = None,
) -> RegeneratedKey:
    """Replaces one slot's key; the old one verifies for the grace period, if any, or
    until idle (app.keysets.retirement) within it.

    The key policy applies to the fresh key as to a new key set: no never-expiring keys
    where an expiry is required.
    """
    grace = clean_grace(grace_period_seconds)
    idle_window = retirement.clean_retire_when_idle(retire_when_idle_seconds, grace=grace)
    async with key_set_writes(actor) as writes:
        # The row lock serialises regenerations and revocations of one key set.
        key_set = await admin_key_set(actor, key_set_id, lock=True)
        require_not_revoked(key_set)
        check_confirmation(key_set, confirm_label)
        organization = await lock_organization(key_set.organization_id)
        now = clock.now()
        rules = await policy_of(key_set)
        rules.check_grace(grace)
        rules.check_regeneration(key_set.expires_at, now=now)
        if grace > 0:
            await _check_room_for_previous_key(key_set, slot, now=now)
        if grace < SHORT_GRACE_SECONDS and recent_use is not None and recent_use.asks:
            # Within the grace every key of the slot stops, earlier replaced ones too; a
            # grace of a few seconds leaves services no more time to switch than none.
            verifying = await ApiKey.filter(
                key_set_id=key_set.id, slot=slot, lookup_hash__not_isnull=True
            ).values_list("id", flat=True)
            await check_recent_use(
                recent_use,
                key_set=key_set,
                key_ids={int(pk) for pk in verifying},  # type: ignore[call-overload]
                action=(
                    f"Replacing the {slot.value} key without grace"
                    if grace == 0
                    else f"Replacing the {slot.value} key with {grace} s of grace"
                ),
            )
        valid_until = now + timedelta(seconds=grace)
        # Rotating again also ends the grace of keys this slot replaced earlier, no later
        # than the one replaced now: it is how an admin cuts off a key that leaked.
        replaced = ApiKey.filter(key_set_id=key_set.id, slot=slot, current=None)
        await replaced.filter(valid_until__gt=valid_until).update(valid_until=valid_until)
        if grace == 0:
            await reuse.keep_hashes(replaced.filter(lookup_hash__not_isnull=True))
            await replaced.filter(lookup_hash__not_isnull=True).update(lookup_hash=None)
        old = await ApiKey.get_or_none(key_set_id=key_set.id, slot=slot, current=True)
        if old is not None:
            old.current = None
            old.replaced_at = now
            old.valid_until = valid_until
            old.ciphertext = None
            old.retire_when_idle_seconds = idle_window
            if grace == 0:
                await reuse.keep_hashes(ApiKey.filter(id=old.id))
                old.lookup_hash = None
            await old.save(
                update_fields=[
                    "current",
                    "replaced_at",
                    "valid_until",
                    "ciphertext",
                    "lookup_hash",
                    "retire_when_idle_seconds",
                ]
            )
        new, plaintext = new_key(
            keys, key_set=key_set, slot=slot, reveal=organization.key_reveal, user=actor.user
        )
        await new.save()
        await writes.record(
            key_set,
            AuditAction.KEY_REGENERATED,
            {
                "slot": slot.value,
                "gracePeriodSeconds": grace,
                **({"retireWhenIdleSeconds": idle_window} if idle_window else {}),
                "oldKeyHint": old.hint if old else None,
                "newKeyHint": new.hint,
                "oldKeyValidUntil": valid_until.isoformat() if old and grace else None,
            },
            webhook=WebhookEvent.KEY_REGENERATED,
            slot=slot.value,
        )
    return RegeneratedKey(key_set, plaintext)


async def _check_room_for_previous_key(key_set: KeySet, slot: KeySlot, *, now: datetime) -> None:
    """Refuses a regeneration with grace that would leave more than
    MAX_PREVIOUS_KEYS_PER_SLOT replaced keys of the slot verifying."""
    replaced = await ApiKey.filter(
        key_set_id=key_set.id,
        slot=slot,
        current=None,
        valid_until__gt=now,
        lookup_hash__not_isnull=True,
    )
    verifying = sum(1 for key in replaced if retirement.still_verifying(key, now))
    if verifying >= MAX_PREVIOUS_KEYS_PER_SLOT:
        raise InvalidState(
            f"The {slot.value} key already has {verifying} replaced keys still verifying, "
            f"the most a slot may keep ({MAX_PREVIOUS_KEYS_PER_SLOT}): regenerate it with "
            "gracePeriodSeconds 0, which ends them all at once, or wait until the oldest "
            "grace period ends (validUntil in previousKeys).",
            field="gracePeriodSeconds",
            code=ErrorCode.TOO_MANY_PREVIOUS_KEYS,
        )


async def reveal_key(
    *,
    actor: Actor,
    keys: KeyMaterial,
    api_key: ApiKey,
    allowance: RevealAllowance,
    approved: bool = False,
) -> str | None:
    """The key's plaintext for an admin of its scope, audited; None where nothing is kept.

    Where revealing needs approval, only an `approved` request is served it (its
    requester and approver gave their codes when asking and approving); else, where the
    organization requires step-up, only an elevated session. Raises `RevealLimitReached`
    once the request's `allowance` is spent.
    """
    if api_key.ciphertext is None or api_key.current is None:
        return None
    async with in_transaction():
        key_set = await KeySet.get(id=api_key.key_set_id)
        if key_set.revoked_at is not None:
            return None
        if not await administers(user_id=actor.user.id, key_set=key_set):
            return None
        organization = await Organization.get(id=key_set.organization_id)
        if organization.key_reveal is not KeyReveal.ADMINS:
            return None
        if not approved and ApprovalAction.REVEAL_KEY in await effective_actions(
            organization_id=organization.id, system_id=key_set.system_id
        ):
            raise ApprovalRequired(
                "Revealing a key here needs another owner's or admin's approval: ask with "
                "requestKeyReveal, then claim the value with claimApprovedRequest."
            )
        if (
            not approved
            and organization.require_step_up
            and not await step_up.session_elevated(actor)
        ):
            raise StepUpRequired(
                "This organization requires step-up to see key values: elevate your session "
                "with elevateSession and a code from your authenticator app first."
            )
        allowance.take()
        plaintext = keys.decrypt(api_key.ciphertext, key_set_id=key_set.id, slot=api_key.slot.value)
        # A read, not a write: audited, but nothing to evict from the verification cache.
        await audit.record(
            organization_id=organization.id,
            action=AuditAction.KEY_REVEALED,
            actor=actor,
            system_id=key_set.system_id,
            key_set_id=key_set.id,
            target_label=key_set.label,
            details={"slot": api_key.slot.value, "keyHint": api_key.hint},
        )
    return plaintext


async def destroy_ciphertexts(*, organization_id: int) -> int:
    """Destroys every stored ciphertext of the organization's keys, as it switches to
    "show once"; returns how many there were. Runs in the caller's transaction, which
    has locked the organization (the lock order of `lock_organization`). Key values that
    applied approval requests hold for their requesters go too: they are stored values."""
    destroyed = await ApiKey.filter(
        key_set__organization_id=organization_id, ciphertext__not_isnull=True
    ).update(ciphertext=None)
    await ApprovalRequest.filter(organization_id=organization_id, held__not_isnull=True).update(
        held=None
    )
    return destroyed
