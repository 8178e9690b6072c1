"""Who administers a key set: the one rule, for one key set or a page of them.

A member of the key set's organization administers it if they own or administer the
organization, administer the key set's system, or own the key set (a member's own key
set, while they are a member). Nobody else does, whatever other roles they hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.access import is_system_admin
from app.context import Actor
from app.errors import Forbidden, NotFound
from app.keysets.models import KeySet
from app.organizations.models import Membership, OrganizationRole
from app.systems.models import SystemMembership, SystemRole


async def administered(
    *, user_id: int, key_sets: Sequence[KeySet], ownership: bool = True
) -> dict[int, bool]:
    """For each key set, whether the user administers it (two queries at most). Without
    `ownership`, whether they administer its scope: owning the key set does not count."""
    organization_roles = {
        m.organization_id: m.role
        for m in await Membership.filter(
            user_id=user_id, organization_id__in=sorted({ks.organization_id for ks in key_sets})
        )
    }
    system_ids = sorted({ks.system_id for ks in key_sets if ks.system_id is not None})
    system_roles = (
        {
            m.system_id: m.role
            for m in await SystemMembership.filter(user_id=user_id, system_id__in=system_ids)
        }
        if system_ids
        else {}
    )
    flags: dict[int, bool] = {}
    for key_set in key_sets:
        if key_set.organization_id not in organization_roles:
            flags[key_set.id] = False
            continue
        system_role = system_roles.get(key_set.system_id) if key_set.system_id else None
        owns = ownership and key_set.owned_by_id == user_id
        flags[key_set.id] = owns or is_system_admin(
            organization_roles[key_set.organization_id], system_role
        )
    return flags


async def administers(*, user_id: int, key_set: KeySet) -> bool:
    """True if the user administers the key set."""
    return (await administered(user_id=user_id, key_sets=[key_set]))[key_set.id]


async def administers_scope(*, user_id: int, key_set: KeySet) -> bool:
    """True if the user administers the key set's scope (an organization's owner or
    admin, or its system's admin), whoever owns the key set."""
    return (await administered(user_id=user_id, key_sets=[key_set], ownership=False))[key_set.id]


async def admin_flags(*, user_id: int, key_set_ids: Sequence[int]) -> dict[int, bool]:
    """For each key set id, whether the user administers it (three queries in all)."""
    key_sets = await KeySet.filter(id__in=list(key_set_ids)).only(
        "id", "organization_id", "system_id", "owned_by_id"
    )
    return await administered(user_id=user_id, key_sets=key_sets)


async def admin_key_set(actor: Actor, key_set_id: int, *, lock: bool = False) -> KeySet:
    """The key set if the actor administers it: `NotFound` for a non-member, `Forbidden`
    for a member who does not; with `lock`, its row is locked for the transaction."""
    query = KeySet.filter(id=key_set_id)
    if lock:
        query = query.select_for_update()
    key_set = await query.first()
    if key_set is None or not await Membership.exists(
        user_id=actor.user.id,
        organization_id=key_set.organization_id,
    ):
        raise NotFound("No key set with this id.", field="keySetId")
    if not await administers(user_id=actor.user.id, key_set=key_set):
        raise Forbidden("Only admins of the key set's scope may do this.")
    return key_set


async def admin_ids(key_set: KeySet) -> list[int]:
    """The users who administer the key set, by the rule above (two queries)."""
    roles = dict(
        await Membership.filter(organization_id=key_set.organization_id).values_list(
            "user_id", "role"
        )
    )
    system_roles = (
        dict(
            await SystemMembership.filter(
                system_id=key_set.system_id, user_id__in=sorted(roles)
            ).values_list("user_id", "role")
        )
        if key_set.system_id is not None and roles
        else {}
    )
    return sorted(
        user_id
        for user_id, role in roles.items()
        if user_id == key_set.owned_by_id
        or is_system_admin(
            OrganizationRole(role),
            SystemRole(system_roles[user_id]) if user_id in system_roles else None,
        )
    )
