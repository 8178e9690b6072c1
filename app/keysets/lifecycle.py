"""A key set's life: creating, updating and extending it (revoking it: app.keysets.revocation)."""

from __future__ import annotations

from collections.abc import Sequence
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
from app.keysets import bell, groups, policy
from app.keysets import keys as keyformat
from app.keysets.admins import admin_key_set, administers_scope
from app.keysets.keys import KeyMaterial
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.keysets.owners import (
    Refill,
    change_credits,
    change_owner_fields,
    clean_external_id,
    clean_meta,
    clean_refill,
    clean_remaining,
    owner_details,
)
from app.keysets.policy import policy_of
from app.keysets.rules import (
    clean_cidrs,
    clean_description,
    clean_expiry,
    clean_label,
    clean_permissions,
    require_not_revoked,
)
from app.keysets.values import new_key
from app.keysets.writes import key_set_writes, lock_organization
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
                **owner_details(external_id, clean_meta_value, remaining, refill),
                "primaryKeyHint": keyformat.hint(plaintexts[KeySlot.PRIMARY]),
                "secondaryKeyHint": keyformat.hint(plaintexts[KeySlot.SECONDARY]),
            },
            webhook=WebhookEvent.KEY_SET_CREATED,
        )
    return CreatedKeySet(key_set, plaintexts[KeySlot.PRIMARY], plaintexts[KeySlot.SECONDARY])


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
        change_owner_fields(key_set, change, changes, external_id=external_id, meta=meta)
        change_credits(key_set, change, remaining=remaining, refill=refill)
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
