"""Organizations and their members."""

from __future__ import annotations

from collections.abc import Collection

from pypika_tortoise.queries import QueryBuilder, Table
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from app import clock
from app.access import organization_access
from app.accounts.models import User
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import ErrorCode, Forbidden, InvalidState, NotFound
from app.ids import to_global_id
from app.keysets import revocation, values
from app.keysets.writes import key_set_writes
from app.notifications import inbox
from app.notifications.models import NotificationKind
from app.organizations.invitations import lapse_sent_by
from app.organizations.models import KeyReveal, Membership, Organization, OrganizationRole
from app.storage.pagination import Page, paginate, paginate_each
from app.storage.rows import fetch_models, models_by_ids
from app.systems.models import SystemMembership
from app.validation import clean_name


async def get_visible_organization(*, user: User, organization_id: int) -> Organization | None:
    """The organization if the user is a member of it, else None (one statement)."""

    def build() -> QueryBuilder:
        organizations = Table(Organization._meta.db_table)
        memberships = Table(Membership._meta.db_table)
        return (
            Organization._meta.db.query_class.from_(organizations)
            .join(memberships)
            .on(memberships.organization_id == organizations.id)
            .select(*(organizations[column] for column in Organization._meta.db_fields))
            .where((organizations.id == organization_id) & (memberships.user_id == user.id))
        )

    found = await fetch_models(
        Organization, "visible organization", [organization_id, user.id], build
    )
    return found[0] if found else None


async def list_organizations(*, user: User, after: int | None, first: int) -> Page[Organization]:
    return await paginate(
        Organization.filter(memberships__user_id=user.id), after=after, first=first
    )


async def list_members(
    *, organization_ids: Collection[int], after: int | None, first: int
) -> dict[int, Page[Membership]]:
    """A page of memberships, with their users, for each organization."""
    return await paginate_each(
        Membership.all().select_related("user"),
        parent="organization_id",
        parent_ids=organization_ids,
        after=after,
        first=first,
    )


async def create_organization(*, actor: Actor, name: str) -> Organization:
    """A new organization whose creator is its OWNER."""
    name = clean_name(name, field="name")
    async with in_transaction():
        organization = await Organization.create(name=name, created_by=actor.user)
        await Membership.create(
            organization=organization, user=actor.user, role=OrganizationRole.OWNER
        )
        await audit.record(
            organization_id=organization.id,
            action=AuditAction.ORGANIZATION_CREATED,
            actor=actor,
            target_label=name,
            details={"name": name},
        )
        await audit.record(
            organization_id=organization.id,
            action=AuditAction.MEMBER_ADDED,
            actor=actor,
            target_label=actor.user.email,
            details={
                "userId": to_global_id("User", actor.user.id),
                "email": actor.user.email,
                "role": "OWNER",
            },
        )
    return await Organization.get(id=organization.id)


async def update_organization(
    *,
    actor: Actor,
    organization_id: int,
    name: str | None = None,
    key_reveal: KeyReveal | None = None,
    require_step_up: bool | None = None,
) -> Organization:
    """Renames (owners and admins), or changes the key-reveal or step-up policy (owners)."""
    if name is not None:
        name = clean_name(name, field="name")
    async with in_transaction():
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        if key_reveal is not None or require_step_up is not None:
            access.require_owner()
        organization = access.organization
        if name is not None and name != organization.name:
            await audit.record(
                organization_id=organization.id,
                action=AuditAction.ORGANIZATION_UPDATED,
                actor=actor,
                target_label=name,
                details={"name": {"old": organization.name, "new": name}},
            )
            organization.name = name
        if key_reveal is not None and key_reveal != organization.key_reveal:
            destroyed = 0
            if key_reveal is KeyReveal.ONCE:
                # "Show once" keeps nothing reversible: the stored ciphertexts go now.
                destroyed = await values.destroy_ciphertexts(organization_id=organization.id)
            await audit.record(
                organization_id=organization.id,
                action=AuditAction.KEY_REVEAL_POLICY_CHANGED,
                actor=actor,
                target_label=organization.name,
                details={
                    "keyReveal": {"old": organization.key_reveal.value, "new": key_reveal.value},
                    "destroyedCiphertexts": destroyed,
                },
            )
            organization.key_reveal = key_reveal
        if require_step_up is not None and require_step_up != organization.require_step_up:
            await audit.record(
                organization_id=organization.id,
                action=AuditAction.STEP_UP_POLICY_CHANGED,
                actor=actor,
                target_label=organization.name,
                details={
                    "requireStepUp": {"old": organization.require_step_up, "new": require_step_up}
                },
            )
            organization.require_step_up = require_step_up
        await organization.save(update_fields=["name", "key_reveal", "require_step_up"])
    return organization


async def _owner_count(organization_id: int) -> int:
    return await Membership.filter(
        organization_id=organization_id, role=OrganizationRole.OWNER
    ).count()


async def _target_membership(organization_id: int, user_id: int) -> Membership:
    membership = (
        await Membership.filter(organization_id=organization_id, user_id=user_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise NotFound("No member with this id.", field="userId")
    return membership


async def change_member_role(
    *, actor: Actor, organization_id: int, user_id: int, role: OrganizationRole
) -> Membership:
    """Changes a member's role; owners alone grant or take OWNER, and one always remains."""
    async with in_transaction():
        # Locking the organization serialises role changes, so two owners demoting
        # each other at once cannot leave it without one.
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        access.require_admin()
        membership = await _target_membership(organization_id, user_id)
        old_role = membership.role
        if OrganizationRole.OWNER in (role, old_role):
            access.require_owner()
        if old_role == role:
            return membership
        if old_role is OrganizationRole.OWNER and await _owner_count(organization_id) <= 1:
            raise InvalidState(
                "An organization needs an owner: make someone else owner first.",
                field="role",
                code=ErrorCode.LAST_OWNER,
            )
        membership.role = role
        membership.role_granted_at = clock.now()
        await membership.save(update_fields=["role", "role_granted_at"])
        await lapse_sent_by(
            actor=actor, organization_id=organization_id, user_id=user_id, role=role
        )
        await inbox.notify(
            user_ids=[user_id] if user_id != actor.user.id else [],
            kind=NotificationKind.ROLE_CHANGED,
            message=(
                f"{actor.user.name} changed your role in {access.organization.name} from "
                f"{old_role.value.lower()} to {role.value.lower()}."
            ),
            organization_id=organization_id,
        )
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            target_label=membership.user.email,
            details={
                "userId": to_global_id("User", user_id),
                "role": {"old": old_role.value, "new": role.value},
            },
        )
    return membership


async def remove_member(*, actor: Actor, organization_id: int, user_id: int) -> Membership:
    """Removes a member (admins, or the member themself) with their system roles, and
    revokes the key sets they own as a member: their access ends with their membership."""
    async with key_set_writes(actor) as writes:
        access = await organization_access(
            user_id=actor.user.id, organization_id=organization_id, for_update=True
        )
        leaving = user_id == actor.user.id
        if not leaving:
            access.require_admin()
        membership = await _target_membership(organization_id, user_id)
        if membership.role is OrganizationRole.OWNER:
            if not leaving and not access.is_owner:
                raise Forbidden("Only owners may remove an owner.")
            if await _owner_count(organization_id) <= 1:
                raise InvalidState(
                    "An organization needs an owner: make someone else owner first.",
                    field="userId",
                    code=ErrorCode.LAST_OWNER,
                )
        await SystemMembership.filter(
            user_id=user_id, system__organization_id=organization_id
        ).delete()
        await membership.delete()
        await lapse_sent_by(
            actor=actor, organization_id=organization_id, user_id=user_id, role=None
        )
        if not leaving:
            await inbox.notify(
                user_ids=[user_id],
                kind=NotificationKind.ROLE_CHANGED,
                message=f"{actor.user.name} removed you from {access.organization.name}.",
                organization_id=organization_id,
            )
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.MEMBER_REMOVED,
            actor=actor,
            target_label=membership.user.email,
            details={"userId": to_global_id("User", user_id), "role": membership.role.value},
        )
        await revocation.revoke_owned_by(
            writes=writes, organization_id=organization_id, user_id=user_id
        )
    return membership


async def organizations_by_ids(ids: list[int]) -> dict[int, Organization]:
    return {org.id: org for org in await models_by_ids(Organization, ids)}


async def roles_of_user(
    *, user_id: int, organization_ids: list[int]
) -> dict[int, OrganizationRole]:
    memberships = await Membership.filter(user_id=user_id, organization_id__in=organization_ids)
    return {m.organization_id: m.role for m in memberships}


async def get_visible_user(*, viewer: User, user_id: int) -> User | None:
    """The user if it is the viewer or shares an organization with them."""
    if user_id == viewer.id:
        return viewer
    shared = await Membership.filter(
        user_id=user_id,
        organization_id__in=Subquery(
            Membership.filter(user_id=viewer.id).values("organization_id")
        ),
    ).exists()
    return await User.get_or_none(id=user_id) if shared else None
