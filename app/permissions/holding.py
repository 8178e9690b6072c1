"""Which permission names a key set or group may be given: the catalog's say."""

from __future__ import annotations

from collections.abc import Sequence

from app.errors import InvalidInput
from app.keysets.models import KeySetScope
from app.keysets.permissions import PERMISSION_SCOPE, KeyPermission
from app.keysets.rules import clean_permissions
from app.permissions.models import Permission
from app.permissions.names import BUILT_IN_NAMES, MAX_HELD_NAMES, ordered
from app.validation import UNCHANGED, Unchanged


async def resolve_names(
    *, organization_id: int, scope: KeySetScope, names: Sequence[str], field: str
) -> list[str]:
    """`names` checked against the catalog and the holder's scope: built-ins first in
    catalog order, then the organization's own, sorted. Locks the catalog rows named, so
    that they cannot be renamed or deleted before the caller commits.

    An unknown name, or one outside `scope`, is INVALID at `[field, index]`.
    """
    if len(names) > MAX_HELD_NAMES:
        raise InvalidInput(f"At most {MAX_HELD_NAMES} permissions.", field=field)
    own = sorted({name for name in names if name not in KeyPermission.__members__})
    rows = {
        row.name: row
        for row in await Permission.filter(organization_id=organization_id, name__in=own)
        .select_for_update(no_key=True)
        .order_by("id")
    }
    for index, name in enumerate(names):
        path = [field, str(index)]
        if name in KeyPermission.__members__:
            scopes = [PERMISSION_SCOPE[KeyPermission(name)].value]
        elif name in rows:
            scopes = rows[name].scopes
        else:
            raise InvalidInput(f"No permission {name[:70]!r} in the catalog.", field=path)
        if scope.value not in scopes:
            raise InvalidInput(
                f"{name[:70]!r} is not for {scope.value.lower()} key sets.", field=path
            )
    return ordered(names)


async def own_permissions(
    *,
    organization_id: int,
    scope: KeySetScope,
    permissions: Sequence[str] | Unchanged,
    permission_names: Sequence[str] | Unchanged,
    current: Sequence[str],
) -> list[str] | Unchanged:
    """What a key set or group holds of its own after an update, or UNCHANGED if neither
    field was given. `permissionNames` replaces everything; the deprecated enum
    `permissions` alone replaces the built-ins only, so that a client that knows only
    the enum does not take away the catalog names an admin gave (`current`)."""
    if isinstance(permission_names, Unchanged):
        if isinstance(permissions, Unchanged):
            return UNCHANGED
        kept = [name for name in current if name not in BUILT_IN_NAMES]
        return ordered([*clean_permissions(permissions, scope), *kept])
    return await held_names(
        organization_id=organization_id,
        scope=scope,
        permissions=[] if isinstance(permissions, Unchanged) else permissions,
        permission_names=permission_names,
    )


async def held_names(
    *,
    organization_id: int,
    scope: KeySetScope,
    permissions: Sequence[str],
    permission_names: Sequence[str],
) -> list[str]:
    """The deprecated enum `permissions` and the catalog's `permissionNames`, checked and
    held together (`resolve_names` locks the catalog rows)."""
    named = await resolve_names(
        organization_id=organization_id,
        scope=scope,
        names=permission_names,
        field="permissionNames",
    )
    return ordered([*clean_permissions(permissions, scope), *named])
