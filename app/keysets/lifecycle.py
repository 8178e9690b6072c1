"""A key set's life: creating, updating, extending and revoking it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from app import clock
from app.access import organization_access, system_access
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import (
    Conflict,
    ErrorCode,
    Forbidden,
    InvalidInput,
    InvalidState,
    PolicyViolation,
)
from app.ids import to_global_id
from app.keysets import bell, groups, policy, reuse
from app.keysets import keys as keyformat
from app.keysets.admins import admin_key_set, administers_scope
from app.keysets.keys import KeyMaterial
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.keysets.owners import (
    Refill,
    clean_external_id,
    clean_meta,
    clean_refill,
    clean_remaining,
    refill_json,
    refill_of,
)
from app.keysets.policy import policy_of
from app.keysets.rules import (
    check_confirmation,
    clean_cidrs,
    clean_description,
    clean_expiry,
    clean_label,
    clean_permissions,
    clean_reason,
    require_not_revoked,
)
from app.keysets.values import new_key
from app.keysets.writes import KeySetWrites, key_set_writes, lock_organization
from app.leaks.models import KeyExposure
from app.permissions.holding import held_names, own_permissions
from app.usage.recent import RecentUseCheck, check_recent_use
from app.validation import UNCHANGED, Unchanged
from app.webhooks.models import WebhookEvent

LABEL_TAKEN = "A key set with this label already exists here."


# Whose key it is and what its use is metered at are told to the services that verify
# it: a member who owns a key set (under the key policy's memberKeySetLimit) administers
# it, but does not set them, or they could bill another customer or lift a limit.
OWNER_FIELDS_ARE_FOR_ADMINS = (
    "Only admins of the scope set whose key it is and its credits (externalId, meta, "
    "remaining, refill), also on a key set you own."
)


@dataclass(frozen=True)
class CreatedKeySet:
    key_set: KeySet
    primary_key: str
    secondary_key: str


def scope_key(organization_id: int, system_id: int | None) -> str:
    return f"sys:{system_id}" if system_id is not None else f"org:{organization_id}"


async def _creator_access(
    actor: Actor, *, organization_id: int | None, system_id: int | None
) -> tuple[int, bool]:
    """The scope's organization id, and whether the actor is a plain member creating a
    key set for themselves (allowed only as far as the key policy's memberKeySetLimit)."""
    if system_id is not None:
        access = await system_access(user_id=actor.user.id, system_id=system_id)
        return int(access.system.organization_id), not access.is_admin
    if organization_id is None:
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    org_access = await organization_access(user_id=actor.user.id, organization_id=organization_id)
    return organization_id, not org_access.is_admin


async def _check_member_limit(
    actor: Actor, *, organization_id: int, system_id: int | None, rules: policy.EffectivePolicy
) -> None:
    """A plain member may own as many live key sets as the key policy allows: across the
    organization under its policy, and within a system under the system's too."""
    own = KeySet.filter(organization_id=organization_id, owned_by_id=actor.user.id, live=True)
    organization_rules = (
        rules
        if system_id is None
        else await policy.effective_policy(organization_id=organization_id)
    )
    limits = [(organization_rules.member_key_set_limit, await own.count(), "in the organization")]
    if system_id is not None:
        limits.append(
            (rules.member_key_set_limit, await own.filter(system_id=system_id).count(), "here")
        )
    for limit, owned, where in limits:
        if limit.value == 0:
            raise Forbidden("Only admins of the scope may create key sets here.")
        if owned >= limit.value:
            raise PolicyViolation(
                f"You have {owned} key set(s) of your own {where}; the {limit.source} key "
                f"policy allows members {limit.value} (memberKeySetLimit).",
                field="organizationId" if system_id is None else "systemId",
            )


async def create_key_set(
    *,
    actor: Actor,
    keys: KeyMaterial,
    organization_id: int | None,
    system_id: int | None,
    label: str,
    permissions: Sequence[str] = (),
    description: str | None = None,
    expires_at: datetime | None = None,
    allowed_cidrs: Sequence[str] = (),
    group_ids: Sequence[int] = (),
    external_id: str | None = None,
    meta: object = None,
    remaining: int | None = None,
    refill: Refill | None = None,
    permission_names: Sequence[str] = (),
) -> CreatedKeySet:
    """A key set with fresh primary and secondary keys, returned once in plaintext."""
    if (organization_id is None) == (system_id is None):
        raise InvalidInput(
            "Give exactly one of organizationId and systemId.", field="organizationId"
        )
    scope = KeySetScope.SYSTEM if system_id is not None else KeySetScope.ORGANIZATION
    label = clean_label(label)
    clean_perms = clean_permissions(permissions, scope)
    description = clean_description(description)
    expires_at = clean_expiry(expires_at)
    cidrs = clean_cidrs(allowed_cidrs)
    external_id = clean_external_id(external_id)
    clean_meta_value = clean_meta(meta)
    remaining = clean_remaining(remaining)
    refill = clean_refill(refill)
    if refill is not None and remaining is None:
        remaining = refill.amount  # a refill meters the set from the start
    async with key_set_writes(actor) as writes:
        organization_id, for_themselves = await _creator_access(
            actor, organization_id=organization_id, system_id=system_id
        )
        given_groups = await groups.groups_for_key_set(
            organization_id=organization_id, scope=scope, group_ids=group_ids
        )
        clean_perms = await held_names(
            organization_id=organization_id,
            scope=scope,
            permissions=clean_perms,
            permission_names=permission_names,
        )
        organization = await lock_organization(organization_id)
        rules = await policy.effective_policy(organization_id=organization_id, system_id=system_id)
        if for_themselves:
            owner_fields = (external_id, clean_meta_value, remaining, refill)
            if any(value is not None for value in owner_fields):
                raise Forbidden(OWNER_FIELDS_ARE_FOR_ADMINS)
            await _check_member_limit(
                actor, organization_id=organization_id, system_id=system_id, rules=rules
            )
        expires_at = rules.expiry_for(expires_at, now=clock.now())
        key_scope = scope_key(organization_id, system_id)
        if await KeySet.exists(scope_key=key_scope, label=label, live=True):
            raise Conflict(LABEL_TAKEN, field="label")
        try:
            key_set = await KeySet.create(
                organization_id=organization_id,
                system_id=system_id,
                scope=scope,
                scope_key=key_scope,
                label=label,
                description=description,
                permissions=clean_perms,
                allowed_cidrs=cidrs,
                expires_at=expires_at,
                created_by=actor.user,
                owned_by=actor.user if for_themselves else None,
                external_id=external_id,
                meta=clean_meta_value,
                remaining=remaining,
                refill_amount=refill.amount if refill else None,
                refill_interval=refill.interval.value if refill else None,
                refilled_at=clock.now() if refill else None,
                created_at=clock.now(),  # hygiene compares it with the clock's time
            )
        except IntegrityError:
            raise Conflict(LABEL_TAKEN, field="label") from None
        await groups.set_groups(key_set, given_groups)
        plaintexts: dict[KeySlot, str] = {}
        for slot in KeySlot:
            api_key, plaintexts[slot] = new_key(
                keys, key_set=key_set, slot=slot, reveal=organization.key_reveal, user=actor.user
            )
            await api_key.save()
        await writes.record(
            key_set,
            AuditAction.KEY_SET_CREATED,
            {
                "scope": scope.value,
                "permissions": clean_perms,
                "groups": [groups.group_ref(group) for group in given_groups],
                "expiresAt": expires_at.isoformat() if expires_at else None,
                "allowedCidrs": cidrs,
                "ownedBy": to_global_id("User", actor.user.id) if for_themselves else None,
                **_owner_details(external_id, clean_meta_value, remaining, refill),
                "primaryKeyHint": keyformat.hint(plaintexts[KeySlot.PRIMARY]),
                "secondaryKeyHint": keyformat.hint(plaintexts[KeySlot.SECONDARY]),
            },
            webhook=WebhookEvent.KEY_SET_CREATED,
        )
    return CreatedKeySet(key_set, plaintexts[KeySlot.PRIMARY], plaintexts[KeySlot.SECONDARY])


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


async def extend_key_set(*, actor: Actor, key_set_id: int, expires_at: datetime) -> KeySet:
    """Moves the expiry to a later moment within the key policy; also revives an expired set."""
    new_expiry = clean_expiry(expires_at)
    async with key_set_writes(actor) as writes:
        key_set = await admin_key_set(actor, key_set_id, lock=True)
        require_not_revoked(key_set)
        await lock_organization(key_set.organization_id)
        new_expiry = (await policy_of(key_set)).expiry_for(new_expiry, now=clock.now())
        old_expiry = key_set.expires_at
        if old_expiry is not None and new_expiry is not None and new_expiry <= old_expiry:
            raise InvalidInput(
                "expiresAt must be later than the current expiry; updateKeySet shortens it.",
                field="expiresAt",
            )
        key_set.expires_at = new_expiry
        await key_set.save(update_fields=["expires_at", "updated_at"])
        await writes.record(
            key_set,
            AuditAction.KEY_SET_EXTENDED,
            {"expiresAt": {"old": _iso(old_expiry), "new": _iso(new_expiry)}},
            webhook=None,
        )
    return key_set


def _owner_details(
    external_id: str | None, meta: object, remaining: int | None, refill: Refill | None
) -> dict[str, object]:
    """What a new key set's audit entry says of its owner and credits, where given: meta
    may hold personal data, so only that there is one."""
    given = {
        "externalId": external_id,
        "meta": True if meta is not None else None,
        "remaining": remaining,
        "refill": refill_json(refill),
    }
    return {name: value for name, value in given.items() if value is not None}


def _change_owner_fields(
    key_set: KeySet,
    change: Callable[[str, object, object], None],
    changes: dict[str, Any],
    *,
    external_id: str | Unchanged | None,
    meta: object,
) -> None:
    if not isinstance(external_id, Unchanged):
        new_external_id = clean_external_id(external_id)
        change("externalId", key_set.external_id, new_external_id)
        key_set.external_id = new_external_id
    if not isinstance(meta, Unchanged):
        new_meta = clean_meta(meta)
        if new_meta != key_set.meta:
            # meta may hold personal data: the log says that it changed, not what it was.
            changes["meta"] = {"changed": True}
        key_set.meta = new_meta


def _change_credits(
    key_set: KeySet,
    change: Callable[[str, object, object], None],
    *,
    remaining: int | Unchanged | None,
    refill: Refill | Unchanged | None,
) -> None:
    if not isinstance(remaining, Unchanged):
        new_remaining = clean_remaining(remaining)
        change("remaining", key_set.remaining, new_remaining)
        key_set.remaining = new_remaining
    if not isinstance(refill, Unchanged):
        new_refill = clean_refill(refill)
        change("refill", refill_json(refill_of(key_set)), refill_json(new_refill))
        key_set.refill_amount = new_refill.amount if new_refill else None
        key_set.refill_interval = new_refill.interval.value if new_refill else None
        key_set.refilled_at = clock.now() if new_refill else None
        if new_refill is not None and key_set.remaining is None:
            change("remaining", None, new_refill.amount)
            key_set.remaining = new_refill.amount
    if not isinstance(remaining, Unchanged) or not isinstance(refill, Unchanged):
        # Set, not spent: what a process holds on lease from before is not given back.
        key_set.credits_epoch += 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _require_no_exposed_key(key_set: KeySet) -> None:
    """KEY_EXPOSED while a key reported leaked still verifies: enabling the set again
    would put the leaked key back to work (onLeak DISABLE switched it off for that)."""
    exposed = await KeyExposure.filter(
        key_set_id=key_set.id, api_key_id__not_isnull=True
    ).values_list("api_key_id", flat=True)
    if not exposed:
        return
    verifying = await ApiKey.filter(
        Q(current=True) | Q(valid_until__gt=clock.now()),
        id__in=list(exposed),
        lookup_hash__not_isnull=True,
    ).exists()
    if verifying:
        raise InvalidState(
            "A key of this set was reported leaked and still verifies: regenerate it "
            "(without grace) before enabling the set again.",
            field="enabled",
            code=ErrorCode.KEY_EXPOSED,
        )


async def update_key_set(
    *,
    actor: Actor,
    key_set_id: int,
    label: str | Unchanged = UNCHANGED,
    description: str | Unchanged | None = UNCHANGED,
    permissions: Sequence[str] | Unchanged = UNCHANGED,
    expires_at: datetime | Unchanged | None = UNCHANGED,
    enabled: bool | Unchanged = UNCHANGED,
    allowed_cidrs: Sequence[str] | Unchanged = UNCHANGED,
    group_ids: Sequence[int] | Unchanged = UNCHANGED,
    external_id: str | Unchanged | None = UNCHANGED,
    meta: object = UNCHANGED,
    remaining: int | Unchanged | None = UNCHANGED,
    refill: Refill | Unchanged | None = UNCHANGED,
    recent_use: RecentUseCheck | None = None,
    permission_names: Sequence[str] | Unchanged = UNCHANGED,
) -> KeySet:
    """Changes what is given; each change is audited with its old and new value.
    Disabling a key set in use asks `recent_use` first."""
    async with key_set_writes(actor) as writes:
        key_set = await admin_key_set(actor, key_set_id, lock=True)
        require_not_revoked(key_set)
        owner_fields = (external_id, meta, remaining, refill)
        given = any(not isinstance(value, Unchanged) for value in owner_fields)
        if given and not await administers_scope(user_id=actor.user.id, key_set=key_set):
            raise Forbidden(OWNER_FIELDS_ARE_FOR_ADMINS)
        changes: dict[str, Any] = {}

        def change(name: str, old: object, new: object) -> None:
            if old != new:
                changes[name] = {"old": old, "new": new}

        if not isinstance(label, Unchanged):
            new_label = clean_label(label)
            if new_label != key_set.label and await KeySet.exists(
                scope_key=key_set.scope_key, label=new_label, live=True
            ):
                raise Conflict(LABEL_TAKEN, field="label")
            change("label", key_set.label, new_label)
            key_set.label = new_label
        if not isinstance(description, Unchanged):
            new_description = clean_description(description)
            change("description", key_set.description, new_description)
            key_set.description = new_description
        new_groups = None
        if not isinstance(group_ids, Unchanged):
            new_groups = await groups.groups_for_key_set(
                organization_id=key_set.organization_id,
                scope=key_set.scope,
                group_ids=group_ids,
            )
            old_groups = (await groups.groups_of_key_sets([key_set.id]))[key_set.id]
            change(
                "groups",
                [groups.group_ref(group) for group in old_groups],
                [groups.group_ref(group) for group in new_groups],
            )
        # After the groups: catalog rows are locked after group rows (app.permissions).
        new_permissions = await own_permissions(
            organization_id=key_set.organization_id,
            scope=key_set.scope,
            permissions=permissions,
            permission_names=permission_names,
            current=key_set.permissions,
        )
        if not isinstance(new_permissions, Unchanged):
            change("permissions", key_set.permissions, new_permissions)
            key_set.permissions = new_permissions
        if not isinstance(expires_at, Unchanged):
            # No default on update: null still means "no expiry", where the policy allows it.
            new_expiry = (await policy_of(key_set)).expiry_for(
                clean_expiry(expires_at), now=clock.now(), apply_default=False
            )
            change("expiresAt", _iso(key_set.expires_at), _iso(new_expiry))
            key_set.expires_at = new_expiry
        if not isinstance(allowed_cidrs, Unchanged):
            new_cidrs = clean_cidrs(allowed_cidrs)
            change("allowedCidrs", key_set.allowed_cidrs, new_cidrs)
            key_set.allowed_cidrs = new_cidrs
        _change_owner_fields(key_set, change, changes, external_id=external_id, meta=meta)
        _change_credits(key_set, change, remaining=remaining, refill=refill)
        enabled_changed = not isinstance(enabled, Unchanged) and enabled != key_set.enabled
        if not changes and not enabled_changed:
            return key_set
        if enabled_changed and not enabled:
            await check_recent_use(recent_use, key_set=key_set, action="Disabling it")
        if enabled_changed and enabled:
            await _require_no_exposed_key(key_set)
        if not isinstance(enabled, Unchanged):
            key_set.enabled = enabled
        try:
            await key_set.save()
        except IntegrityError:
            raise Conflict(LABEL_TAKEN, field="label") from None
        if new_groups is not None and "groups" in changes:
            await groups.set_groups(key_set, new_groups)
        if changes:
            await writes.record(key_set, AuditAction.KEY_SET_UPDATED, changes, webhook=None)
        if {"groups", "permissions"} & changes.keys():
            await bell.permissions_changed(key_set, actor)
        if enabled_changed:
            action = (
                AuditAction.KEY_SET_ENABLED if key_set.enabled else AuditAction.KEY_SET_DISABLED
            )
            await writes.record(key_set, action, {"enabled": key_set.enabled}, webhook=None)
    return key_set
