"""The scope an action is taken in: the organization, and the system if it has one."""

from __future__ import annotations

from dataclasses import dataclass

from app.keysets.models import KeySet, PermissionGroup
from app.organizations.models import Membership, Organization
from app.permissions.models import Permission
from app.systems.models import System


@dataclass(frozen=True)
class Scope:
    organization_id: int
    system_id: int | None
    label: str  # what a person recognises it by: a name or a key set's label


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
            Scope(group.organization_id, None, f"permission group {group.name}") if group else None
        )
    elif kind == "Permission":
        permission = await Permission.get_or_none(id=pk)
        scope = (
            Scope(permission.organization_id, None, f"permission {permission.name}")
            if permission
            else None
        )
    if scope is None or not await Membership.exists(
        user_id=user_id, organization_id=scope.organization_id
    ):
        return None
    return scope
