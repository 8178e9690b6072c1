"""Systems inside organizations, and their per-system roles."""

from __future__ import annotations

from collections.abc import Collection

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import clock
from app.access import administered_systems, organization_access, system_access
from app.accounts.models import User
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import Conflict, ErrorCode, Forbidden, InvalidState, NotFound
from app.ids import to_global_id
from app.notifications import inbox
from app.notifications.models import NotificationKind
from app.organizations.models import Membership, Organization
from app.storage.pagination import Page, paginate_each, paginate_each_allowed
from app.storage.rows import models_by_ids
from app.systems.models import System, SystemMembership, SystemRole
from app.validation import clean_email, clean_name


async def get_visible_system(*, user: User, system_id: int) -> System | None:
    """The system if the user is a member of its organization, else None."""
    system = await System.get_or_none(id=system_id)
    if system is None or not await Membership.exists(
        user_id=user.id,
        organization_id=system.organization_id,
    ):
        return None
    return system


async def list_systems(
    *, organization_ids: Collection[int], after: int | None, first: int
) -> dict[int, Page[System]]:
    """A page of systems for each organization, in a constant number of queries."""
    return await paginate_each(
        System.all(),
        statement_key="systems",
        parent="organization_id",
        parent_ids=organization_ids,
        after=after,
        first=first,
    )


async def list_role_assignments(
    *, viewer_id: int | None, system_ids: Collection[int], after: int | None, first: int
) -> dict[int, Page[SystemMembership] | Forbidden]:
    """A page of role assignments, oldest first, with their users, for each system the
    viewer administers; `Forbidden` for the others, which a dataloader raises for that one."""
    administered = await administered_systems(user_id=viewer_id, system_ids=system_ids)
    return await paginate_each_allowed(
        SystemMembership.all().select_related("user"),
        parent="system_id",
        parent_ids=system_ids,
        allowed=administered,
        refused=Forbidden("Only admins of the system may see who holds a role on it."),
        after=after,
        first=first,
    )


async def create_system(*, actor: Actor, organization_id: int, name: str) -> System:
    """A new system; names are unique within the organization."""
    name = clean_name(name, field="name")
    async with in_transaction():
        access = await organization_access(user_id=actor.user.id, organization_id=organization_id)
        access.require_admin()
        if await System.exists(organization_id=organization_id, name=name):
            raise Conflict("A system with this name already exists.", field="name")
        try:
            system = await System.create(
                organization_id=organization_id, name=name, created_by=actor.user
            )
        except IntegrityError:
            raise Conflict("A system with this name already exists.", field="name") from None
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.SYSTEM_CREATED,
            actor=actor,
            system_id=system.id,
            target_label=name,
            details={"name": name},
        )
    return system


async def grant_system_role(
    *, actor: Actor, system_id: int, email: str, role: SystemRole
) -> SystemMembership:
    """Gives a member of the organization a role on the system (or changes it)."""
    email = clean_email(email)
    async with in_transaction():
        access = await system_access(user_id=actor.user.id, system_id=system_id)
        access.require_admin()
        organization_id: int = access.system.organization_id
        # Serialises with removeMember, which locks the same row: a role granted while
        # its holder is being removed would otherwise outlive the membership.
        await Organization.select_for_update(no_key=True).get(id=organization_id)
        user = await User.get_or_none(email=email)
        if user is None:
            raise NotFound("No user with this email.", field="email")
        if not await Membership.exists(organization_id=organization_id, user_id=user.id):
            raise InvalidState(
                "Add the user to the organization before giving them a system role.",
                field="email",
                code=ErrorCode.NOT_A_MEMBER,
            )
        existing = await SystemMembership.get_or_none(system_id=system_id, user_id=user.id)
        old_role = existing.role.value if existing else None
        if existing is not None:
            if existing.role == role:
                existing.user = user
                return existing
            existing.role = role
            existing.role_granted_at = clock.now()
            await existing.save(update_fields=["role", "role_granted_at"])
            membership = existing
        else:
            try:
                membership = await SystemMembership.create(
                    system_id=system_id, user=user, role=role
                )
            except IntegrityError:
                raise Conflict("This user was given a role here at the same moment.") from None
        if user.id != actor.user.id:
            await inbox.notify(
                user_ids=[user.id],
                kind=NotificationKind.SYSTEM_ROLE_CHANGED,
                message=(
                    f"{actor.user.name} made you {role.value.lower()} of the system "
                    f"{access.system.name}."
                ),
                organization_id=organization_id,
                system_id=system_id,
            )
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.SYSTEM_ROLE_GRANTED,
            actor=actor,
            system_id=system_id,
            target_label=user.email,
            details={
                "userId": to_global_id("User", user.id),
                "role": {"old": old_role, "new": role.value},
            },
        )
    membership.user = user
    return membership


async def revoke_system_role(*, actor: Actor, system_id: int, user_id: int) -> SystemMembership:
    async with in_transaction():
        access = await system_access(user_id=actor.user.id, system_id=system_id)
        access.require_admin()
        membership = (
            await SystemMembership.filter(system_id=system_id, user_id=user_id)
            .select_related("user")
            .first()
        )
        if membership is None:
            raise NotFound("This user has no role on the system.", field="userId")
        await membership.delete()
        if user_id != actor.user.id:
            await inbox.notify(
                user_ids=[user_id],
                kind=NotificationKind.SYSTEM_ROLE_CHANGED,
                message=(
                    f"{actor.user.name} took away your {membership.role.value.lower()} role "
                    f"on the system {access.system.name}."
                ),
                organization_id=access.system.organization_id,
                system_id=system_id,
            )
        await audit.record(
            organization_id=access.system.organization_id,
            action=AuditAction.SYSTEM_ROLE_REVOKED,
            actor=actor,
            system_id=system_id,
            target_label=membership.user.email,
            details={"userId": to_global_id("User", user_id), "role": membership.role.value},
        )
    return membership


async def systems_by_ids(ids: list[int]) -> dict[int, System]:
    return {system.id: system for system in await models_by_ids(System, ids)}


async def system_roles_of_user(*, user_id: int, system_ids: list[int]) -> dict[int, SystemRole]:
    memberships = await SystemMembership.filter(user_id=user_id, system_id__in=system_ids)
    return {m.system_id: m.role for m in memberships}
