"""Key sets: creation, reading, regeneration, revocation and updates."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.access import is_system_admin, organization_access, system_access
from app.accounts import step_up
from app.accounts.models import User
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import (
    Conflict,
    ErrorCode,
    Forbidden,
    InvalidInput,
    InvalidState,
    LabelMismatch,
    NotFound,
    PolicyViolation,
    StepUpRequired,
)
from app.ids import to_global_id
from app.keysets import events, groups, policy
from app.keysets import keys as keyformat
from app.keysets.keys import KeyMaterial
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySetStatus, KeySlot
from app.keysets.reveals import RevealAllowance
from app.keysets.rules import (
    clean_cidrs,
    clean_description,
    clean_expiry,
    clean_grace,
    clean_label,
    clean_permissions,
    clean_reason,
    status_condition,
)
from app.organizations.models import KeyReveal, Membership, Organization
from app.pagination import Page, paginate_each
from app.systems.models import SystemMembership
from app.validation import UNCHANGED, Unchanged, canonical_text
from app.webhooks import service as webhooks
from app.webhooks.models import WebhookEvent

LABEL_TAKEN = "A key set with this label already exists here."


@dataclass(frozen=True)
class CreatedKeySet:
    key_set: KeySet
    primary_key: str
    secondary_key: str


@dataclass(frozen=True)
class RegeneratedKey:
    key_set: KeySet
    key: str


def scope_key(organization_id: int, system_id: int | None) -> str:
    return f"sys:{system_id}" if system_id is not None else f"org:{organization_id}"


async def caller_is_admin(*, user_id: int, key_set: KeySet) -> bool:
    """True if the user administers the key set's scope."""
    membership = await Membership.get_or_none(
        user_id=user_id,
        organization_id=key_set.organization_id,
    )
    if membership is None:
        return False
    if key_set.owned_by_id == user_id:
        return True
    system_role = None
    if key_set.system_id is not None:
        system_membership = await SystemMembership.get_or_none(
            user_id=user_id,
            system_id=key_set.system_id,
        )
        system_role = system_membership.role if system_membership else None
    return is_system_admin(membership.role, system_role)


async def get_visible_key_set(*, user: User, key_set_id: int) -> KeySet | None:
    """The key set if the user is a member of its organization, else None."""
    key_set = await KeySet.get_or_none(id=key_set_id)
    if key_set is None or not await Membership.exists(
        user_id=user.id,
        organization_id=key_set.organization_id,
    ):
        return None
    return key_set


async def _lock_organization(organization_id: int) -> Organization:
    """The organization, its row locked until commit: its keyReveal cannot change meanwhile."""
    # Taken before any key row is written, in the order updateOrganization uses
    # (organization, then keys): a switch to ONCE then either happens before we read
    # the policy or sees, and destroys, what we store; and the two cannot deadlock.
    return await Organization.select_for_update(no_key=True).get(id=organization_id)


async def _admin_key_set(actor: Actor, key_set_id: int, *, lock: bool = False) -> KeySet:
    """The key set, locked for the transaction, if the actor administers it."""
    query = KeySet.filter(id=key_set_id)
    if lock:
        query = query.select_for_update()
    key_set = await query.first()
    if key_set is None or not await Membership.exists(
        user_id=actor.user.id,
        organization_id=key_set.organization_id,
    ):
        raise NotFound("No key set with this id.", field="keySetId")
    if not await caller_is_admin(user_id=actor.user.id, key_set=key_set):
        raise Forbidden("Only admins of the key set's scope may do this.")
    return key_set


async def list_key_sets(
    *,
    organization_ids: Collection[int] = (),
    system_ids: Collection[int] = (),
    include_systems: bool = False,
    statuses: Sequence[KeySetStatus] | None = None,
    after: int | None,
    first: int,
) -> dict[int, Page[KeySet]]:
    """A page of key sets for each organization (its own, or with its systems') or system.

    Pass organization ids or system ids, not both; pages are keyed by the ids passed.
    """
    if organization_ids and system_ids:
        raise ValueError("list key sets of organizations or of systems, not both")
    query = KeySet.all()
    if statuses:
        query = query.filter(status_condition(statuses, datetime.now(UTC)))
    if system_ids:
        return await paginate_each(
            query, parent="system_id", parent_ids=system_ids, after=after, first=first
        )
    if not include_systems:
        query = query.filter(system_id=None)
    return await paginate_each(
        query, parent="organization_id", parent_ids=organization_ids, after=after, first=first
    )


def _new_key(
    keys: KeyMaterial,
    *,
    key_set: KeySet,
    slot: KeySlot,
    reveal: KeyReveal,
    user: User,
) -> tuple[ApiKey, str]:
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
    )
    return api_key, plaintext


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
    async with in_transaction():
        organization_id, for_themselves = await _creator_access(
            actor, organization_id=organization_id, system_id=system_id
        )
        given_groups = await groups.groups_for_key_set(
            organization_id=organization_id, scope=scope, group_ids=group_ids
        )
        organization = await _lock_organization(organization_id)
        rules = await policy.effective_policy(organization_id=organization_id, system_id=system_id)
        if for_themselves:
            await _check_member_limit(
                actor, organization_id=organization_id, system_id=system_id, rules=rules
            )
        expires_at = rules.expiry_for(expires_at, now=datetime.now(UTC))
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
            )
        except IntegrityError:
            raise Conflict(LABEL_TAKEN, field="label") from None
        await groups.set_groups(key_set, given_groups)
        plaintexts: dict[KeySlot, str] = {}
        for slot in KeySlot:
            api_key, plaintexts[slot] = _new_key(
                keys, key_set=key_set, slot=slot, reveal=organization.key_reveal, user=actor.user
            )
            await api_key.save()
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.KEY_SET_CREATED,
            actor=actor,
            system_id=system_id,
            key_set_id=key_set.id,
            target_label=label,
            details={
                "scope": scope.value,
                "permissions": clean_perms,
                "groups": [groups.group_ref(group) for group in given_groups],
                "expiresAt": expires_at.isoformat() if expires_at else None,
                "allowedCidrs": cidrs,
                "ownedBy": to_global_id("User", actor.user.id) if for_themselves else None,
                "primaryKeyHint": keyformat.hint(plaintexts[KeySlot.PRIMARY]),
                "secondaryKeyHint": keyformat.hint(plaintexts[KeySlot.SECONDARY]),
            },
        )
        await webhooks.key_set_event(key_set, WebhookEvent.KEY_SET_CREATED)
    return CreatedKeySet(key_set, plaintexts[KeySlot.PRIMARY], plaintexts[KeySlot.SECONDARY])


def _confirm(key_set: KeySet, confirm_label: str) -> None:
    # Case-sensitive, the point being that the caller typed this label; in canonical
    # spelling on both sides, as labels are compared for uniqueness (and labels stored
    # before that existed may not be canonical).
    typed = canonical_text(confirm_label).encode()
    if not hmac.compare_digest(typed, canonical_text(key_set.label).encode()):
        raise LabelMismatch(
            "confirmLabel does not match the key set's label.", field="confirmLabel"
        )


def _require_not_revoked(key_set: KeySet) -> None:
    if key_set.revoked_at is not None:
        raise InvalidState("This key set is revoked.", field="keySetId", code=ErrorCode.REVOKED)


async def regenerate_key(
    *,
    actor: Actor,
    keys: KeyMaterial,
    key_set_id: int,
    slot: KeySlot,
    confirm_label: str,
    grace_period_seconds: int | None = 0,
) -> RegeneratedKey:
    """Replaces one slot's key; the old one verifies for the grace period, if any.

    The key policy applies to the fresh key as to a new key set: no never-expiring keys
    where an expiry is required.
    """
    grace = clean_grace(grace_period_seconds)
    async with in_transaction() as connection:
        # The row lock serialises regenerations and revocations of one key set.
        key_set = await _admin_key_set(actor, key_set_id, lock=True)
        _require_not_revoked(key_set)
        _confirm(key_set, confirm_label)
        organization = await _lock_organization(key_set.organization_id)
        now = datetime.now(UTC)
        rules = await _policy_of(key_set)
        rules.check_grace(grace)
        rules.check_regeneration(key_set.expires_at, now=now)
        valid_until = now + timedelta(seconds=grace)
        # Rotating again also ends the grace of keys this slot replaced earlier, no later
        # than the one replaced now: it is how an admin cuts off a key that leaked.
        replaced = ApiKey.filter(key_set_id=key_set.id, slot=slot, current=None)
        await replaced.filter(valid_until__gt=valid_until).update(valid_until=valid_until)
        if grace == 0:
            await replaced.filter(lookup_hash__not_isnull=True).update(lookup_hash=None)
        old = await ApiKey.get_or_none(key_set_id=key_set.id, slot=slot, current=True)
        if old is not None:
            old.current = None
            old.replaced_at = now
            old.valid_until = valid_until
            old.ciphertext = None
            if grace == 0:
                old.lookup_hash = None
            await old.save(
                update_fields=["current", "replaced_at", "valid_until", "ciphertext", "lookup_hash"]
            )
        new, plaintext = _new_key(
            keys, key_set=key_set, slot=slot, reveal=organization.key_reveal, user=actor.user
        )
        await new.save()
        await audit.record(
            organization_id=organization.id,
            action=AuditAction.KEY_REGENERATED,
            actor=actor,
            system_id=key_set.system_id,
            key_set_id=key_set.id,
            target_label=key_set.label,
            details={
                "slot": slot.value,
                "gracePeriodSeconds": grace,
                "oldKeyHint": old.hint if old else None,
                "newKeyHint": new.hint,
                "oldKeyValidUntil": valid_until.isoformat() if old and grace else None,
            },
        )
        await webhooks.key_set_event(key_set, WebhookEvent.KEY_REGENERATED, slot=slot.value)
        await events.announce(connection, key_set.id)
    events.changed(key_set.id)
    return RegeneratedKey(key_set, plaintext)


async def revoke_key_set(
    *,
    actor: Actor,
    key_set_id: int,
    confirm_label: str,
    reason: str | None = None,
) -> KeySet:
    """Revokes the set: both keys stop at once and their material is destroyed."""
    reason = clean_reason(reason)
    async with in_transaction() as connection:
        key_set = await _admin_key_set(actor, key_set_id, lock=True)
        _require_not_revoked(key_set)
        _confirm(key_set, confirm_label)
        await _lock_organization(key_set.organization_id)
        await _revoke(connection, actor, key_set, reason=reason)
    events.changed(key_set.id)
    return key_set


async def _revoke(
    connection: BaseDBAsyncClient,
    actor: Actor,
    key_set: KeySet,
    *,
    reason: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Revokes a locked, live key set in the caller's transaction; the caller calls
    `events.changed` once it commits."""
    now = datetime.now(UTC)
    await ApiKey.filter(key_set_id=key_set.id).update(lookup_hash=None, ciphertext=None)
    await ApiKey.filter(key_set_id=key_set.id, valid_until__gt=now).update(valid_until=now)
    key_set.revoked_at = now
    key_set.revoked_by = actor.user
    key_set.revoke_reason = reason
    key_set.live = None
    await key_set.save(update_fields=["revoked_at", "revoked_by_id", "revoke_reason", "live"])
    await audit.record(
        organization_id=key_set.organization_id,
        action=AuditAction.KEY_SET_REVOKED,
        actor=actor,
        system_id=key_set.system_id,
        key_set_id=key_set.id,
        target_label=key_set.label,
        details={"reason": reason, **(details or {})},
    )
    await webhooks.key_set_event(key_set, WebhookEvent.KEY_SET_REVOKED)
    await events.announce(connection, key_set.id)


async def revoke_owned_by(
    *, connection: BaseDBAsyncClient, actor: Actor, organization_id: int, user_id: int
) -> list[KeySet]:
    """Revokes the live key sets a member owns in the organization, as they leave it.

    Runs in the caller's transaction, which has locked the organization; the caller
    calls `events.changed` for each once it commits. Key sets they created as an admin
    are the organization's and stay.
    """
    owned = (
        await KeySet.filter(organization_id=organization_id, owned_by_id=user_id, live=True)
        .select_for_update()
        .order_by("id")
    )
    for key_set in owned:
        await _revoke(
            connection,
            actor,
            key_set,
            reason="Its owner left the organization.",
            details={"cause": "OWNER_LEFT", "ownerId": to_global_id("User", user_id)},
        )
    return owned


async def _policy_of(key_set: KeySet) -> policy.EffectivePolicy:
    return await policy.effective_policy(
        organization_id=key_set.organization_id,
        system_id=key_set.system_id,
    )


async def extend_key_set(*, actor: Actor, key_set_id: int, expires_at: datetime) -> KeySet:
    """Moves the expiry to a later moment within the key policy; also revives an expired set."""
    new_expiry = clean_expiry(expires_at)
    async with in_transaction() as connection:
        key_set = await _admin_key_set(actor, key_set_id, lock=True)
        _require_not_revoked(key_set)
        await _lock_organization(key_set.organization_id)
        new_expiry = (await _policy_of(key_set)).expiry_for(new_expiry, now=datetime.now(UTC))
        old_expiry = key_set.expires_at
        if old_expiry is not None and new_expiry is not None and new_expiry <= old_expiry:
            raise InvalidInput(
                "expiresAt must be later than the current expiry; updateKeySet shortens it.",
                field="expiresAt",
            )
        key_set.expires_at = new_expiry
        await key_set.save(update_fields=["expires_at", "updated_at"])
        await audit.record(
            organization_id=key_set.organization_id,
            action=AuditAction.KEY_SET_EXTENDED,
            actor=actor,
            system_id=key_set.system_id,
            key_set_id=key_set.id,
            target_label=key_set.label,
            details={"expiresAt": {"old": _iso(old_expiry), "new": _iso(new_expiry)}},
        )
        await events.announce(connection, key_set.id)
    events.changed(key_set.id)
    return key_set


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


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
) -> KeySet:
    """Changes what is given; each change is audited with its old and new value."""
    async with in_transaction() as connection:
        key_set = await _admin_key_set(actor, key_set_id, lock=True)
        _require_not_revoked(key_set)
        changes: dict[str, dict[str, object]] = {}

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
        if not isinstance(permissions, Unchanged):
            new_permissions = clean_permissions(permissions, key_set.scope)
            change("permissions", key_set.permissions, new_permissions)
            key_set.permissions = new_permissions
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
        if not isinstance(expires_at, Unchanged):
            # No default on update: null still means "no expiry", where the policy allows it.
            new_expiry = (await _policy_of(key_set)).expiry_for(
                clean_expiry(expires_at), now=datetime.now(UTC), apply_default=False
            )
            change("expiresAt", _iso(key_set.expires_at), _iso(new_expiry))
            key_set.expires_at = new_expiry
        if not isinstance(allowed_cidrs, Unchanged):
            new_cidrs = clean_cidrs(allowed_cidrs)
            change("allowedCidrs", key_set.allowed_cidrs, new_cidrs)
            key_set.allowed_cidrs = new_cidrs
        enabled_changed = not isinstance(enabled, Unchanged) and enabled != key_set.enabled
        if not changes and not enabled_changed:
            return key_set
        if not isinstance(enabled, Unchanged):
            key_set.enabled = enabled
        try:
            await key_set.save()
        except IntegrityError:
            raise Conflict(LABEL_TAKEN, field="label") from None
        if new_groups is not None and "groups" in changes:
            await groups.set_groups(key_set, new_groups)
        recorded = functools.partial(
            audit.record,
            organization_id=key_set.organization_id,
            actor=actor,
            system_id=key_set.system_id,
            key_set_id=key_set.id,
            target_label=key_set.label,
        )
        if changes:
            await recorded(action=AuditAction.KEY_SET_UPDATED, details=changes)
        if enabled_changed:
            action = (
                AuditAction.KEY_SET_ENABLED if key_set.enabled else AuditAction.KEY_SET_DISABLED
            )
            await recorded(action=action, details={"enabled": key_set.enabled})
        await events.announce(connection, key_set.id)
    events.changed(key_set.id)
    return key_set


async def reveal_key(
    *, actor: Actor, keys: KeyMaterial, api_key: ApiKey, allowance: RevealAllowance
) -> str | None:
    """The key's plaintext for an admin of its scope, audited; None where nothing is kept.

    Where the organization requires step-up, only an elevated session is served it.
    Raises `RevealLimitReached` once the request's `allowance` is spent.
    """
    if api_key.ciphertext is None or api_key.current is None:
        return None
    async with in_transaction():
        key_set = await KeySet.get(id=api_key.key_set_id)
        if key_set.revoked_at is not None:
            return None
        if not await caller_is_admin(user_id=actor.user.id, key_set=key_set):
            return None
        organization = await Organization.get(id=key_set.organization_id)
        if organization.key_reveal is not KeyReveal.ADMINS:
            return None
        if organization.require_step_up and not await step_up.session_elevated(actor):
            raise StepUpRequired(
                "This organization requires step-up to see key values: elevate your session "
                "with elevateSession and a code from your authenticator app first."
            )
        allowance.take()
        plaintext = keys.decrypt(api_key.ciphertext, key_set_id=key_set.id, slot=api_key.slot.value)
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


async def current_keys(key_set_ids: Sequence[int]) -> list[ApiKey]:
    """The current key of each slot of the given key sets."""
    return await ApiKey.filter(key_set_id__in=list(key_set_ids), current=True)


async def key_sets_by_ids(ids: Sequence[int]) -> dict[int, KeySet]:
    return {key_set.id: key_set for key_set in await KeySet.filter(id__in=list(ids))}


async def admin_flags(*, user_id: int, key_set_ids: Sequence[int]) -> dict[int, bool]:
    """For each key set, whether the user administers its scope (three queries in all)."""
    key_sets = await KeySet.filter(id__in=list(key_set_ids)).only(
        "id", "organization_id", "system_id", "owned_by_id"
    )
    org_ids = {ks.organization_id for ks in key_sets}
    system_ids = {ks.system_id for ks in key_sets if ks.system_id}
    org_roles = {
        m.organization_id: m.role
        for m in await Membership.filter(user_id=user_id, organization_id__in=list(org_ids))
    }
    system_roles = {
        m.system_id: m.role
        for m in await SystemMembership.filter(user_id=user_id, system_id__in=list(system_ids))
    }
    return {
        ks.id: is_system_admin(
            org_roles.get(ks.organization_id),
            system_roles.get(ks.system_id) if ks.system_id else None,
        )
        # A member's own key set, while they are a member.
        or (ks.owned_by_id == user_id and ks.organization_id in org_roles)
        for ks in key_sets
    }
