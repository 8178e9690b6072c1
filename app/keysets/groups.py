"""Permission groups: named sets of permissions that key sets are given besides their own.

A group has a scope, fixed at creation, and may only hold that scope's permissions and
be given to that scope's key sets; so a key set's effective permissions (its own and its
groups') are always all of its scope and all count. A change to a group applies to every
key set using it at once, verification included.

Lock order, on PostgreSQL, for everything that writes key sets: key-set rows (by id),
then group rows, then catalog permission rows (app.permissions), then the organization
row (which `audit.record` takes last).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.access import organization_access
from app.accounts.models import User
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Conflict, ErrorCode, InvalidInput, InvalidState, NotFound
from app.ids import to_global_id
from app.keysets.models import KeySet, KeySetGroup, KeySetScope, PermissionGroup
from app.keysets.rules import clean_description, clean_permissions
from app.keysets.writes import key_set_writes
from app.organizations.models import Membership
from app.permissions.holding import held_names, own_permissions
from app.permissions.names import ordered
from app.storage.pagination import Page, paginate_each
from app.validation import UNCHANGED, Unchanged, clean_name

MAX_GROUP_NAME_LENGTH = 100
MAX_GROUPS_PER_KEY_SET = 50
NAME_TAKEN = "A permission group with this name already exists in the organization."


class InUseKeySets(StrEnum):
    """What deleting a group does to the key sets that use it."""

    DETACH = "DETACH"  # they lose the group, and with it the permissions it gave them
    INLINE = "INLINE"  # the group's permissions become their own: nothing changes for them


@dataclass(frozen=True)
class DeletedGroup:
    group: PermissionGroup
    affected_key_sets: int


def effective_permissions(own: Iterable[str], groups: Iterable[PermissionGroup]) -> list[str]:
    """A key set's own permissions and its groups', in catalog order (`ordered`)."""
    return ordered(set(own).union(*(group.permissions for group in groups)))


def group_ref(group: PermissionGroup) -> dict[str, str]:
    """How a group is named in audit details: its id stays, its name may change."""
    return {"id": to_global_id("PermissionGroup", group.id), "name": group.name}


async def get_visible_group(*, user: User, group_id: int) -> PermissionGroup | None:
    """The group if the user is a member of its organization, else None."""
    group = await PermissionGroup.get_or_none(id=group_id)
    if group is None or not await Membership.exists(
        user_id=user.id,
        organization_id=group.organization_id,
    ):
        return None
    return group


async def list_groups(
    *, organization_ids: Collection[int], after: int | None, first: int
) -> dict[int, Page[PermissionGroup]]:
    """A page of groups for each organization, in a constant number of queries."""
    return await paginate_each(
        PermissionGroup.all(),
        parent="organization_id",
        parent_ids=organization_ids,
        after=after,
        first=first,
    )


async def groups_of_key_sets(key_set_ids: Sequence[int]) -> dict[int, list[PermissionGroup]]:
    """Each key set's groups, by name, in one query."""
    links = (
        await KeySetGroup.filter(key_set_id__in=list(key_set_ids))
        .select_related("group")
        .order_by("group__name", "group_id")
    )
    grouped: dict[int, list[PermissionGroup]] = {pk: [] for pk in key_set_ids}
    for link in links:
        grouped[link.key_set_id].append(link.group)
    return grouped


async def group_permissions_of(key_set_id: int) -> list[list[str]]:
    """The permission lists of the key set's groups (for verification: one small query)."""
    rows = await KeySetGroup.filter(key_set_id=key_set_id).values_list(
        "group__permissions", flat=True
    )
    return [list(row) for row in rows]


async def groups_for_key_set(
    *, organization_id: int, scope: KeySetScope, group_ids: Sequence[int]
) -> list[PermissionGroup]:
    """The organization's groups with these ids, locked, checked against the key set's scope.

    Call before the organization row is locked (see the lock order above).
    """
    wanted = sorted(set(group_ids))
    if len(wanted) > MAX_GROUPS_PER_KEY_SET:
        raise InvalidInput(
            f"A key set may have at most {MAX_GROUPS_PER_KEY_SET} groups.", field="groupIds"
        )
    if not wanted:
        return []
    groups = (
        await PermissionGroup.filter(id__in=wanted, organization_id=organization_id)
        .select_for_update(no_key=True)
        .order_by("id")
    )
    if len(groups) != len(wanted):
        raise NotFound("No permission group with this id in the organization.", field="groupIds")
    for group in groups:
        if group.scope is not scope:
            raise InvalidInput(
                f"Group {group.name!r} is for {group.scope.value.lower()} key sets, "
                f"not {scope.value.lower()} ones.",
                field="groupIds",
            )
    return sorted(groups, key=lambda group: (group.name, group.id))


async def set_groups(key_set: KeySet, groups: Sequence[PermissionGroup]) -> None:
    """Makes `groups` exactly the key set's groups."""
    wanted = {group.id for group in groups}
    await KeySetGroup.filter(key_set_id=key_set.id).exclude(group_id__in=list(wanted)).delete()
    existing = set(
        await KeySetGroup.filter(key_set_id=key_set.id).values_list("group_id", flat=True)
    )
    await KeySetGroup.bulk_create(
        [KeySetGroup(key_set_id=key_set.id, group_id=pk) for pk in sorted(wanted - existing)]
    )


def _clean_group_name(name: str) -> str:
    return clean_name(name, field="name", max_length=MAX_GROUP_NAME_LENGTH)


async def create_group(
    *,
    actor: Actor,
    organization_id: int,
    name: str,
    scope: KeySetScope,
    permissions: Sequence[str],
    description: str | None = None,
    permission_names: Sequence[str] = (),
) -> PermissionGroup:
    """A new group; owners and admins of the organization only."""
    name = _clean_group_name(name)
    clean_perms = clean_permissions(permissions, scope)
    description = clean_description(description)
    async with in_transaction():
        # Admins only may learn which names the catalog holds; its rows are locked
        # before the organization's (the lock order above).
        (
            await organization_access(user_id=actor.user.id, organization_id=organization_id)
        ).require_admin()
        clean_perms = await held_names(
            organization_id=organization_id,
            scope=scope,
            permissions=clean_perms,
            permission_names=permission_names,
        )
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        if await PermissionGroup.exists(organization_id=organization_id, name=name):
            raise Conflict(NAME_TAKEN, field="name")
        try:
            group = await PermissionGroup.create(
                organization_id=organization_id,
                name=name,
                scope=scope,
                permissions=clean_perms,
                description=description,
                created_by=actor.user,
            )
        except IntegrityError:
            raise Conflict(NAME_TAKEN, field="name") from None
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.PERMISSION_GROUP_CREATED,
            actor=actor,
            target_label=name,
            details={**group_ref(group), "scope": scope.value, "permissions": clean_perms},
        )
    return group


NO_GROUP = "No permission group with this id."


async def _admin_group(actor: Actor, group_id: int) -> PermissionGroup:
    """The group, if the actor owns or administers its organization."""
    group = await PermissionGroup.get_or_none(id=group_id)
    if group is None:
        raise NotFound(NO_GROUP, field="groupId")
    access = await organization_access(
        user_id=actor.user.id,
        organization_id=group.organization_id,
        field="groupId",
        not_found=NO_GROUP,
    )
    access.require_admin()
    return group


async def _lock_group(group_id: int) -> PermissionGroup:
    group = await PermissionGroup.filter(id=group_id).select_for_update().first()
    if group is None:  # deleted since we read it
        raise NotFound(NO_GROUP, field="groupId")
    return group


async def _user_ids(group_id: int) -> list[int]:
    ids = await KeySetGroup.filter(group_id=group_id).values_list("key_set_id", flat=True)
    return sorted(int(pk) for pk in ids)  # type: ignore[call-overload]


async def update_group(
    *,
    actor: Actor,
    group_id: int,
    name: str | Unchanged = UNCHANGED,
    permissions: Sequence[str] | Unchanged = UNCHANGED,
    description: str | Unchanged | None = UNCHANGED,
    permission_names: Sequence[str] | Unchanged = UNCHANGED,
) -> PermissionGroup:
    """Changes what is given; a change of permissions reaches every key set using it at once."""
    await _admin_group(actor, group_id)
    async with key_set_writes(actor) as writes:
        group = await _lock_group(group_id)
        changes: dict[str, Any] = {}
        if not isinstance(name, Unchanged):
            new_name = _clean_group_name(name)
            if new_name != group.name:
                if await PermissionGroup.exists(
                    organization_id=group.organization_id,
                    name=new_name,
                ):
                    raise Conflict(NAME_TAKEN, field="name")
                changes["name"] = {"old": group.name, "new": new_name}
                group.name = new_name
        if not isinstance(description, Unchanged):
            new_description = clean_description(description)
            if new_description != group.description:
                changes["description"] = {"old": group.description, "new": new_description}
                group.description = new_description
        permissions_changed = False
        new_permissions = await own_permissions(
            organization_id=group.organization_id,
            scope=group.scope,
            permissions=permissions,
            permission_names=permission_names,
            current=group.permissions,
        )
        if not isinstance(new_permissions, Unchanged) and new_permissions != group.permissions:
            changes["permissions"] = {"old": group.permissions, "new": new_permissions}
            group.permissions = new_permissions
            permissions_changed = True
        if not changes:
            return group
        try:
            await group.save()
        except IntegrityError:
            raise Conflict(NAME_TAKEN, field="name") from None
        affected = await _user_ids(group.id)
        await audit.record(
            organization_id=group.organization_id,
            action=AuditAction.PERMISSION_GROUP_UPDATED,
            actor=actor,
            target_label=group.name,
            details={**group_ref(group), **changes, "affectedKeySets": len(affected)},
        )
        if permissions_changed:
            await writes.evict(affected)
    return group


async def _lock_key_sets(ids: Collection[int]) -> list[KeySet]:
    if not ids:
        return []
    return list(await KeySet.filter(id__in=sorted(ids)).order_by("id").select_for_update())


async def delete_group(
    *, actor: Actor, group_id: int, key_sets: InUseKeySets | None = None
) -> DeletedGroup:
    """Deletes a group; one in use by a live key set needs `key_sets` to say what happens.

    Revoked key sets never count as users: they simply lose the link.
    """
    await _admin_group(actor, group_id)
    async with key_set_writes(actor) as writes:
        # Key sets first, then the group (the lock order above). Once the group is locked
        # nobody can give it to another key set, so a second read finds any key set that
        # was given it meanwhile; those assignments have committed, so locking their key
        # sets now waits for nobody who waits for us.
        locked = await _lock_key_sets(await _user_ids(group_id))
        group = await _lock_group(group_id)
        users = await _user_ids(group_id)
        locked += await _lock_key_sets(set(users) - {ks.id for ks in locked})
        live = sorted(
            (ks for ks in locked if ks.id in users and ks.revoked_at is None),
            key=lambda ks: ks.id,
        )
        if live and key_sets is None:
            raise InvalidState(
                f"{len(live)} key set(s) use this group. Say what happens to them: "
                "keySets: DETACH removes the group and its permissions from them, "
                "INLINE makes its permissions their own.",
                field="keySets",
                code=ErrorCode.IN_USE,
            )
        organization_id: int = group.organization_id
        for key_set in live:
            groups_before = (await groups_of_key_sets([key_set.id]))[key_set.id]
            changes: dict[str, Any] = {
                "groups": {
                    "old": [group_ref(g) for g in groups_before],
                    "new": [group_ref(g) for g in groups_before if g.id != group.id],
                },
                "reason": f"permission group deleted ({key_sets})",
            }
            if key_sets is InUseKeySets.INLINE:
                inlined = effective_permissions(key_set.permissions, [group])
                if inlined != key_set.permissions:
                    changes["permissions"] = {"old": key_set.permissions, "new": inlined}
                    key_set.permissions = inlined
                    await key_set.save(update_fields=["permissions", "updated_at"])
            await writes.record(key_set, AuditAction.KEY_SET_UPDATED, changes, webhook=None)
        await KeySetGroup.filter(group_id=group.id).delete()
        await group.delete()
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.PERMISSION_GROUP_DELETED,
            actor=actor,
            target_label=group.name,
            details={
                **group_ref(group),
                "permissions": group.permissions,
                "keySets": key_sets.value if key_sets else None,
                "affectedKeySets": len(live),
            },
        )
        await writes.evict(users)
    return DeletedGroup(group, len(live))
