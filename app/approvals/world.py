"""What an approved change is made against: a digest of the object acted on as it was
when the request was made. A request declared to need the same world is refused on
approval once its object changed (a key set revoked or relabelled, its permissions or
groups changed, a group's or a catalog permission's name or permissions changed), so
that what the approver read is what is applied. The groups a change gives (`groupIds`)
are part of its world too, whatever it acts on: a group no key set uses yet may change
unheld, and must not change between the request and its approval."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from app.keysets.models import KeySet, KeySetGroup, PermissionGroup
from app.permissions.models import Permission


async def state_of(kind: str, pk: int) -> str | None:
    """The digest of the object's state that a held change depends on; None if gone."""
    state: object = None
    if kind == "KeySet":
        key_set = await KeySet.get_or_none(id=pk)
        if key_set is not None:
            links = await KeySetGroup.filter(key_set_id=pk).order_by("group_id")
            groups = await PermissionGroup.filter(id__in=[link.group_id for link in links] or [0])
            state = {
                "label": key_set.label,
                "revoked": key_set.revoked_at is not None,
                "permissions": sorted(key_set.permissions),
                "groups": sorted((g.id, g.name, sorted(g.permissions)) for g in groups),
            }
    elif kind == "PermissionGroup":
        group = await PermissionGroup.get_or_none(id=pk)
        if group is not None:
            state = {"name": group.name, "permissions": sorted(group.permissions)}
    elif kind == "Permission":
        permission = await Permission.get_or_none(id=pk)
        if permission is not None:
            state = {"name": permission.name, "scopes": sorted(permission.scopes)}
    if state is None:
        return None
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


async def world_of(target: tuple[str, int] | None, group_ids: Sequence[int]) -> str | None:
    """The digest a held change is applied against: its target's state (if declared), with
    the state of the groups it gives; None when there is nothing to hold it to."""
    of = await state_of(*target) if target else None
    if not group_ids:
        return of
    groups = {g.id: g for g in await PermissionGroup.filter(id__in=sorted(set(group_ids)))}
    state = {
        "of": of,
        "groups": [
            (pk, groups[pk].name, sorted(groups[pk].permissions)) if pk in groups else (pk,)
            for pk in sorted(set(group_ids))
        ],
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
