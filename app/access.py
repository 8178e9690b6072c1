"""Who may see and do what: the role rules of the contract in one place.

A caller who is no member of an organization sees nothing of it, exactly as if it did
not exist (`NotFound`); a member without the needed role is `Forbidden`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from tortoise.models import Model

from app.approvals.models import ApprovalRequest
from app.errors import Forbidden, KeyrackError, NotFound
from app.keysets.models import KeySet, PermissionGroup
from app.organizations.models import (
    ORGANIZATION_ADMIN_ROLES,
    Membership,
    Organization,
    OrganizationRole,
)
from app.permissions.models import Permission
from app.systems.models import System, SystemMembership, SystemRole
from app.verifiers.models import Verifier
from app.webhooks.models import Webhook

# Objects that belong to an organization, by the type name of their global id.
_BELONGING_TO_ORGANIZATIONS: dict[str, type[Model]] = {
    "System": System,
    "KeySet": KeySet,
    "PermissionGroup": PermissionGroup,
    "Permission": Permission,
    "Webhook": Webhook,
    "Verifier": Verifier,
    "ApprovalRequest": ApprovalRequest,
}


@dataclass(frozen=True)
class OrganizationAccess:
    organization: Organization
    role: OrganizationRole

    @property
    def is_admin(self) -> bool:
        return is_organization_admin(self.role)

    @property
    def is_owner(self) -> bool:
        return self.role is OrganizationRole.OWNER

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only owners and admins of the organization may do this.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden("Only owners of the organization may do this.")


@dataclass(frozen=True)
class SystemAccess:
    system: System
    organization_role: OrganizationRole
    system_role: SystemRole | None

    @property
    def is_admin(self) -> bool:
        return (
            self.organization_role in ORGANIZATION_ADMIN_ROLES
            or self.system_role is SystemRole.ADMIN
        )

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("Only admins of the system may do this.")


def is_organization_admin(role: OrganizationRole | None) -> bool:
    """Owners and admins administer the organization, and every system in it."""
    return role in ORGANIZATION_ADMIN_ROLES


def is_system_admin(
    organization_role: OrganizationRole | None, system_role: SystemRole | None
) -> bool:
    return is_organization_admin(organization_role) or system_role is SystemRole.ADMIN


async def administered_organizations(
    *, user_id: int | None, organization_ids: Collection[int]
) -> set[int]:
    """Those of the organizations that the user owns or administers (one query)."""
    if user_id is None or not organization_ids:
        return set()
    memberships = await Membership.filter(
        user_id=user_id, organization_id__in=sorted(set(organization_ids))
    )
    return {m.organization_id for m in memberships if is_organization_admin(m.role)}


async def administered_systems(*, user_id: int | None, system_ids: Collection[int]) -> set[int]:
    """Those of the systems that the user administers (three queries)."""
    if user_id is None or not system_ids:
        return set()
    systems = await System.filter(id__in=sorted(set(system_ids))).only("id", "organization_id")
    organization_roles = {
        m.organization_id: m.role
        for m in await Membership.filter(
            user_id=user_id, organization_id__in=sorted({s.organization_id for s in systems})
        )
    }
    system_roles = {
        m.system_id: m.role
        for m in await SystemMembership.filter(
            user_id=user_id, system_id__in=[system.id for system in systems]
        )
    }
    return {
        system.id
        for system in systems
        if is_system_admin(
            organization_roles.get(system.organization_id), system_roles.get(system.id)
        )
    }


async def organization_access(
    *,
    user_id: int,
    organization_id: int,
    field: str = "organizationId",
    for_update: bool = False,
    not_found: str = "No organization with this id.",
) -> OrganizationAccess:
    """The caller's role in the organization; `NotFound` if they are no member of it.
    Reached through one of its objects, `not_found` names that object: an outsider is
    told what a wrong id tells them, not that the object exists elsewhere."""
    organizations = Organization.filter(id=organization_id)
    if for_update:
        organizations = organizations.select_for_update()
    # The role is read after the lock is taken, so a concurrent change to it is seen
    # rather than acted on stale.
    organization = await organizations.first()
    membership = (
        await Membership.get_or_none(user_id=user_id, organization_id=organization_id)
        if organization
        else None
    )
    if organization is None or membership is None:
        raise NotFound(not_found, field=field)
    return OrganizationAccess(organization=organization, role=membership.role)


async def system_access(*, user_id: int, system_id: int, field: str = "systemId") -> SystemAccess:
    """The caller's roles for the system; `NotFound` if they cannot see it."""
    system = await System.get_or_none(id=system_id)
    membership = (
        await Membership.get_or_none(user_id=user_id, organization_id=system.organization_id)
        if system
        else None
    )
    if system is None or membership is None:
        raise NotFound("No system with this id.", field=field)
    system_membership = await SystemMembership.get_or_none(user_id=user_id, system_id=system_id)
    return SystemAccess(
        system=system,
        organization_role=membership.role,
        system_role=system_membership.role if system_membership else None,
    )


def organization_audit_refusal(role: OrganizationRole | None) -> KeyrackError | None:
    """Why a caller with `role` in an organization may not read all of its audit log;
    None for its owners and admins."""
    if role is None:
        return NotFound("No organization with this id.", field="organizationId")
    if role in ORGANIZATION_ADMIN_ROLES:
        return None
    return Forbidden("Only owners and admins may read the audit log.")


async def require_audit_reader(
    *, user_id: int, organization_id: int, system_id: int | None = None
) -> None:
    """Organization owners and admins read every entry; a system's admins read its own."""
    membership = await Membership.get_or_none(user_id=user_id, organization_id=organization_id)
    refusal = organization_audit_refusal(membership.role if membership else None)
    if refusal is None:
        return
    if (
        membership is not None
        and system_id is not None
        and await SystemMembership.exists(
            user_id=user_id, system_id=system_id, role=SystemRole.ADMIN
        )
    ):
        return
    raise refusal


async def organization_of(*, user_id: int, kind: str, pk: int) -> int | None:
    """The id of the organization that the object (of global id type `kind`) belongs to,
    or that it is; None if there is none or the user is no member of it."""
    if kind == "Organization":
        organization_id: int | None = pk
    else:
        model = _BELONGING_TO_ORGANIZATIONS[kind]
        row = await model.filter(id=pk).only("id", "organization_id").first()
        organization_id = row.organization_id if row else None  # type: ignore[attr-defined]
    if organization_id is None or not await Membership.exists(
        user_id=user_id, organization_id=organization_id
    ):
        return None
    return organization_id
