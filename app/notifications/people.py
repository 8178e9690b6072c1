"""Who is told about a key set: its creator, while still a member, and the admins of its
scope (expiry mail, the bell)."""

from __future__ import annotations

from app.accounts.models import User
from app.keysets.models import KeySet
from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership
from app.systems.models import SystemMembership, SystemRole


async def key_set_people(key_set: KeySet) -> list[User]:
    """The creator, while still a member, and the admins of the key set's scope."""
    organization_id = key_set.organization_id
    members = await Membership.filter(organization_id=organization_id).select_related("user")
    member_ids = {m.user_id for m in members}
    chosen = {m.user.id: m.user for m in members if m.role in ORGANIZATION_ADMIN_ROLES}
    system_id = key_set.system_id
    if system_id is not None:
        for grant in await SystemMembership.filter(
            system_id=system_id, role=SystemRole.ADMIN
        ).select_related("user"):
            if grant.user.id in member_ids:
                chosen[grant.user.id] = grant.user
    creator_id = key_set.created_by_id
    if creator_id in member_ids and creator_id not in chosen:
        creator = await User.get_or_none(id=creator_id)
        if creator is not None:
            chosen[creator.id] = creator
    return sorted(chosen.values(), key=lambda user: user.email)


async def key_set_creator(key_set: KeySet) -> list[int]:
    """The creator's id, while still a member of the key set's organization; else none."""
    creator_id = key_set.created_by_id
    if creator_id is None:
        return []
    member = await Membership.exists(organization_id=key_set.organization_id, user_id=creator_id)
    return [creator_id] if member else []
