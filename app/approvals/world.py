"""What an approved change is made against: a digest of the object acted on as it was
when the request was made. A request declared to need the same world is refused on
approval once its object changed (a key set revoked or relabelled, its permissions or
groups changed, a group's or a catalog permission's name or permissions changed), so
that what the approver read is what is applied. The groups a change gives (`groupIds`)
are part of its world too, whatever it acts on: a group no key set uses yet may change
unheld, and must not change between the request and its approval.

Checked on approval inside the transaction that applies the change, after `lock_world`:
a change to what the digest reads either committed before the check (and the request is
refused) or waits until the approved change has committed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from app.keysets.models import KeySet, KeySetGroup, PermissionGroup
from app.permissions.editing import holders_of, lock_rows
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


async def lock_world(target: tuple[str, int] | None, group_ids: Sequence[int]) -> None:
    """Locks the rows `world_of` reads until the transaction ends, in the order every
    key-set write takes them (app.keysets.groups): key sets, then groups, then catalog
    permissions; what the change locks itself next (the key sets of a group it deletes,
    the holders of a permission) is locked first too. On SQLite, which locks no rows,
    the transaction's writes are serialized anyway."""
    kind, pk = target or ("", 0)
    key_set_ids: list[int] = []
    groups = set(group_ids)
    permission_ids: list[int] = []
    if kind == "KeySet":
        key_set_ids = [pk]
    elif kind == "PermissionGroup":
        key_set_ids = await KeySetGroup.filter(group_id=pk).values_list(  # type: ignore[assignment]
            "key_set_id", flat=True
        )
        groups.add(pk)
    elif kind == "Permission" and (permission := await Permission.get_or_none(id=pk)):
        key_set_ids, held_by = await holders_of(permission.organization_id, permission.name)
        groups.update(held_by)
        permission_ids = [pk]
    await lock_rows(KeySet, key_set_ids)
    if kind == "KeySet":
        # Read once the key set is locked: nobody changes its groups meanwhile.
        links = await KeySetGroup.filter(key_set_id=pk).values_list("group_id", flat=True)
        groups.update(int(group_id) for group_id in links)  # type: ignore[call-overload]
    await lock_rows(PermissionGroup, groups)
    await lock_rows(Permission, permission_ids)
