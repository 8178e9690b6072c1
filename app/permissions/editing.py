"""Editing an organization's permission catalog: creating, renaming, rescoping and
deleting its permissions (the catalog itself and its reads: app.permissions.catalog).

A rename rewrites the name in every key set and group of the organization; a delete takes
it away from them (DETACH), only when asked to if live key sets hold it. Built-ins are
fixed.

Lock order (as app.keysets.groups): key-set rows, group rows, permission rows, then the
organization row (which `audit.record` takes last).
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.access import organization_access
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Conflict, ErrorCode, InvalidInput, InvalidState, LabelMismatch, NotFound
from app.ids import to_global_id
from app.keysets.groups import InUseKeySets, effective_permissions
from app.keysets.models import KeySet, KeySetGroup, KeySetScope, PermissionGroup
from app.keysets.rules import clean_description
from app.keysets.writes import key_set_writes
from app.organizations.models import Organization
from app.permissions.catalog import BUILT_INS, CatalogEntry, entry_of
from app.permissions.models import Permission
from app.permissions.names import MAX_CATALOG_SIZE, NAME_PATTERN

_Held = TypeVar("_Held", KeySet, PermissionGroup, Permission)
NAME_TAKEN = "A permission with this name already exists in the organization."
BUILT_IN_FIXED = "Built-in permissions cannot be renamed, rescoped or deleted."


@dataclass(frozen=True)
class DeletedPermission:
    entry: CatalogEntry
    affected_key_sets: int


def _ref(row: Permission) -> dict[str, str]:
    """How a permission is named in audit details: its id stays, its name may change."""
    return {"id": to_global_id("Permission", row.id), "name": row.name}


def _clean_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            "name must be 1 to 64 characters: a lowercase letter, then lowercase letters, "
            "digits and . _ : -",
            field="name",
        )
    return name


def _clean_scopes(scopes: Sequence[KeySetScope]) -> list[str]:
    cleaned = [scope.value for scope in KeySetScope if scope in scopes]
    if not cleaned:
        raise InvalidInput("Give at least one scope.", field="scopes")
    return cleaned


async def create_permission(
    *,
    actor: Actor,
    organization_id: int,
    name: str,
    scopes: Sequence[KeySetScope],
    description: str | None = None,
) -> CatalogEntry:
    """A new catalog permission; owners and admins of the organization only."""
    name = _clean_name(name)
    clean_scopes = _clean_scopes(scopes)
    description = clean_description(description)
    async with in_transaction():
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        if await Permission.exists(organization_id=organization_id, name=name):
            raise Conflict(NAME_TAKEN, field="name")
        if await Permission.filter(organization_id=organization_id).count() >= MAX_CATALOG_SIZE:
            raise InvalidState(
                f"An organization may define at most {MAX_CATALOG_SIZE} permissions.",
                field="organizationId",
            )
        try:
            row = await Permission.create(
                organization_id=organization_id,
                name=name,
                scopes=clean_scopes,
                description=description,
                created_by=actor.user,
            )
        except IntegrityError:
            raise Conflict(NAME_TAKEN, field="name") from None
        entry = entry_of(row)
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.PERMISSION_CREATED,
            actor=actor,
            target_label=name,
            details={**_ref(row), "scopes": clean_scopes, "description": description},
        )
    return entry


async def _admin_permission(actor: Actor, permission_id: int) -> Permission:
    row = await Permission.get_or_none(id=permission_id)
    if row is None:
        raise NotFound("No permission with this id.", field="permissionId")
    access = await organization_access(
        user_id=actor.user.id,
        organization_id=row.organization_id,
        field="permissionId",
        not_found="No permission with this id.",
    )
    access.require_admin()
    return row


async def refuse_built_in(*, actor: Actor, pk: int) -> None:
    """Raises: for an admin of its organization, that a built-in is fixed; else NOT_FOUND."""
    organization_id = pk // len(BUILT_INS)
    if not await Organization.exists(id=organization_id):
        raise NotFound("No permission with this id.", field="permissionId")
    access = await organization_access(
        user_id=actor.user.id,
        organization_id=organization_id,
        field="permissionId",
        not_found="No permission with this id.",
    )
    access.require_admin()
    raise InvalidState(BUILT_IN_FIXED, field="permissionId")


@dataclass
class _Holders:
    key_sets: list[KeySet]
    groups: list[PermissionGroup]


async def holders_of(organization_id: int, name: str) -> tuple[list[int], list[int]]:
    """Ids of the organization's key sets and groups whose own permissions include `name`."""
    key_sets = await KeySet.filter(organization_id=organization_id).values_list("id", "permissions")
    groups = await PermissionGroup.filter(organization_id=organization_id).values_list(
        "id", "permissions"
    )
    return (
        sorted(pk for pk, held in key_sets if name in held),
        sorted(pk for pk, held in groups if name in held),
    )


async def _lock_holders(row: Permission) -> tuple[_Holders, Permission]:
    """The holders and the permission, locked in the module's lock order. A second read
    after the permission's lock finds any holder that committed meanwhile; locking those
    now waits for nobody who waits for us."""
    key_set_ids, group_ids = await holders_of(row.organization_id, row.name)
    key_sets = await lock_rows(KeySet, key_set_ids)
    groups = await lock_rows(PermissionGroup, group_ids)
    locked = await Permission.filter(id=row.id).select_for_update().first()
    if locked is None:
        raise NotFound("No permission with this id.", field="permissionId")
    key_set_ids, group_ids = await holders_of(row.organization_id, locked.name)
    key_sets += await lock_rows(KeySet, set(key_set_ids) - {ks.id for ks in key_sets})
    groups += await lock_rows(PermissionGroup, set(group_ids) - {g.id for g in groups})
    return _Holders(
        key_sets=[ks for ks in key_sets if ks.id in key_set_ids],
        groups=[g for g in groups if g.id in group_ids],
    ), locked


async def lock_rows(model: type[_Held], ids: Collection[int]) -> list[_Held]:
    """The rows with these ids, locked (by id, the order that cannot deadlock)."""
    if not ids:
        return []
    return list(await model.filter(id__in=sorted(ids)).order_by("id").select_for_update())


async def _key_sets_using_groups(group_ids: Sequence[int]) -> list[int]:
    if not group_ids:
        return []
    ids = await KeySetGroup.filter(group_id__in=list(group_ids)).values_list(
        "key_set_id", flat=True
    )
    return sorted({int(pk) for pk in ids})  # type: ignore[call-overload]


def _renamed(held: list[str], old: str, new: str) -> list[str]:
    return effective_permissions([new if name == old else name for name in held], ())


async def update_permission(
    *,
    actor: Actor,
    permission_id: int,
    name: str | None = None,
    description: str | None = None,
    scopes: Sequence[KeySetScope] | None = None,
    confirm_name: str | None = None,
) -> CatalogEntry:
    """Renames (with `confirm_name`), describes or rescopes a catalog permission. A rename
    reaches every key set and group holding it, verification included."""
    await _admin_permission(actor, permission_id)
    async with key_set_writes(actor) as writes:
        holders, row = await _lock_holders(await _admin_permission(actor, permission_id))
        changes: dict[str, Any] = {}
        old_name = row.name
        if name is not None and _clean_name(name) != row.name:
            # Key sets and services depend on the name: the caller types it to rename it.
            if not hmac.compare_digest((confirm_name or "").encode(), row.name.encode()):
                raise LabelMismatch(
                    "confirmName does not match the permission's current name.",
                    field="confirmName",
                )
            if await Permission.exists(organization_id=row.organization_id, name=name):
                raise Conflict(NAME_TAKEN, field="name")
            changes["name"] = {"old": row.name, "new": name}
            row.name = name
        if description is not None:
            new_description = clean_description(description)
            if new_description != row.description:
                changes["description"] = {"old": row.description, "new": new_description}
                row.description = new_description
        if scopes is not None:
            new_scopes = _clean_scopes(scopes)
            dropped = set(row.scopes) - set(new_scopes)
            held_in = {ks.scope.value for ks in holders.key_sets}
            held_in |= {group.scope.value for group in holders.groups}
            if held_in & dropped:
                raise InvalidState(
                    "Key sets or groups of a scope you are removing hold this permission: "
                    "take it away from them first.",
                    field="scopes",
                    code=ErrorCode.IN_USE,
                )
            if new_scopes != row.scopes:
                changes["scopes"] = {"old": row.scopes, "new": new_scopes}
                row.scopes = new_scopes
        if not changes:
            return entry_of(row)
        try:
            await row.save()
        except IntegrityError:
            raise Conflict(NAME_TAKEN, field="name") from None
        affected: list[int] = []
        if "name" in changes:
            for key_set in holders.key_sets:
                key_set.permissions = _renamed(key_set.permissions, old_name, row.name)
                await key_set.save(update_fields=["permissions", "updated_at"])
            for group in holders.groups:
                group.permissions = _renamed(group.permissions, old_name, row.name)
                await group.save(update_fields=["permissions", "updated_at"])
            affected = sorted(
                {ks.id for ks in holders.key_sets}
                | set(await _key_sets_using_groups([g.id for g in holders.groups]))
            )
        entry = entry_of(row)
        await audit.record(
            organization_id=row.organization_id,
            action=AuditAction.PERMISSION_UPDATED,
            actor=actor,
            target_label=row.name,
            details={**_ref(row), **changes, "affectedKeySets": len(affected)},
        )
        await writes.evict(affected)
    return entry


async def delete_permission(
    *, actor: Actor, permission_id: int, key_sets: InUseKeySets | None = None
) -> DeletedPermission:
    """Deletes a catalog permission; one that live key sets hold (directly or through a
    group) needs `key_sets` DETACH, which takes it from them and from the groups."""
    await _admin_permission(actor, permission_id)
    async with key_set_writes(actor) as writes:
        holders, row = await _lock_holders(await _admin_permission(actor, permission_id))
        through_groups = await _key_sets_using_groups([g.id for g in holders.groups])
        users = sorted({ks.id for ks in holders.key_sets} | set(through_groups))
        live = await KeySet.filter(id__in=users, revoked_at=None).count() if users else 0
        if live and key_sets is None:
            raise InvalidState(
                f"{live} key set(s) hold this permission. Say what happens to them: "
                "keySets: DETACH takes it from them and from the groups holding it.",
                field="keySets",
                code=ErrorCode.IN_USE,
            )
        if key_sets is InUseKeySets.INLINE:
            raise InvalidInput(
                "A deleted permission cannot stay with key sets: use DETACH.", field="keySets"
            )
        for group in holders.groups:
            group.permissions = [p for p in group.permissions if p != row.name]
            await group.save(update_fields=["permissions", "updated_at"])
        for key_set in holders.key_sets:
            held = [p for p in key_set.permissions if p != row.name]
            changes = {
                "permissions": {"old": key_set.permissions, "new": held},
                "reason": "permission deleted (DETACH)",
            }
            key_set.permissions = held
            await key_set.save(update_fields=["permissions", "updated_at"])
            if key_set.revoked_at is None:
                await writes.record(key_set, AuditAction.KEY_SET_UPDATED, changes, webhook=None)
        entry = entry_of(row)
        await row.delete()
        await audit.record(
            organization_id=row.organization_id,
            action=AuditAction.PERMISSION_DELETED,
            actor=actor,
            target_label=row.name,
            details={
                **_ref(row),
                "keySets": key_sets.value if key_sets else None,
                "affectedKeySets": live,
                "affectedGroups": len(holders.groups),
            },
        )
        await writes.evict(users)
    return DeletedPermission(entry, live)
