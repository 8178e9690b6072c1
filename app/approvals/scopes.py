"""The scope an action is taken in: the organization, and the system if it has one; for
an organization's group or catalog permission, also the systems whose key sets hold it."""

from __future__ import annotations

from dataclasses import dataclass

from app.keysets.models import KeySet, KeySetGroup, PermissionGroup
from app.organizations.models import Membership, Organization
from app.permissions.models import Permission
from app.systems.models import System


@dataclass(frozen=True)
class Scope:
    organization_id: int
    system_id: int | None
    label: str  # what a person recognises it by: a name or a key set's label
    # Systems whose live key sets a change to this organization-wide object reaches: a
    # system's policy holds a change to what its key sets may do, whoever makes it.
    reaches: tuple[int, ...] = ()


async def scope_of(*, user_id: int, kind: str, pk: int) -> Scope | None:
    """The scope of the object (by its global id type), if the user is a member of its
    organization; None otherwise (the action then answers NOT_FOUND as it always does)."""
    scope: Scope | None = None
    if kind == "Organization":
        organization = await Organization.get_or_none(id=pk)
        scope = Scope(pk, None, f"organization {organization.name}") if organization else None
    elif kind == "System":
        system = await System.get_or_none(id=pk)
        scope = Scope(system.organization_id, pk, f"system {system.name}") if system else None
    elif kind == "KeySet":
        key_set = await KeySet.get_or_none(id=pk)
        scope = (
            Scope(key_set.organization_id, key_set.system_id, f"key set {key_set.label}")
            if key_set
            else None
        )
    elif kind == "PermissionGroup":
        group = await PermissionGroup.get_or_none(id=pk)
        scope = (
            Scope(
                group.organization_id,
                None,
                f"permission group {group.name}",
                await _systems_using(group_ids=[pk]),
            )
            if group
            else None
        )
    elif kind == "Permission":
        permission = await Permission.get_or_none(id=pk)
        scope = (
            Scope(
                permission.organization_id,
                None,
                f"permission {permission.name}",
                await _systems_holding(permission.organization_id, permission.name),
            )
            if permission
            else None
        )
    if scope is None or not await Membership.exists(
        user_id=user_id, organization_id=scope.organization_id
    ):
        return None
    return scope


async def _systems_using(*, group_ids: list[int], also: set[int] | None = None) -> tuple[int, ...]:
    """The systems of the live key sets that use one of the groups (or are in `also`)."""
    key_set_ids = set(also or ()) | {
        link.key_set_id for link in await KeySetGroup.filter(group_id__in=group_ids or [0])
    }
    systems = await KeySet.filter(
        id__in=sorted(key_set_ids) or [0], live=True, system_id__not_isnull=True
    ).values_list("system_id", flat=True)
    return tuple(sorted({int(str(system)) for system in systems}))


async def _systems_holding(organization_id: int, name: str) -> tuple[int, ...]:
    """The systems of the live key sets holding the catalog name, themselves or by a group."""
    own = {
        key_set.id
        for key_set in await KeySet.filter(
            organization_id=organization_id, live=True, system_id__not_isnull=True
        ).only("id", "permissions")
        if name in key_set.permissions
    }
    groups = [
        group.id
        for group in await PermissionGroup.filter(organization_id=organization_id).only(
            "id", "permissions"
        )
        if name in group.permissions
    ]
    return await _systems_using(group_ids=groups, also=own)
