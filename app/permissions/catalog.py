"""An organization's permission catalog: the five built-ins and the names it defines.

Key sets and permission groups hold permissions by name (their `permissions` lists), so
verification compares names and needs no catalog read. The catalog decides which names
may be given: a built-in of the key set's scope, or a catalog permission whose scopes
include it. Changing the catalog (renames reach every holder): app.permissions.editing.

The built-ins are not rows: every catalog has them, with the organization's creation
time and no creator; they cannot be renamed, rescoped or deleted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from app.accounts.models import User
from app.keysets.models import KeySetScope
from app.keysets.permissions import PERMISSION_SCOPE, KeyPermission
from app.organizations.models import Membership, Organization
from app.permissions.models import Permission
from app.storage.pagination import Count, Page, no_items, paginate_each

BUILT_INS = tuple(KeyPermission)
BUILT_IN_DESCRIPTIONS = {
    KeyPermission.REGISTER_CATALOG_ITEMS: "Register items in the catalog.",
    KeyPermission.CHANGE_CATALOG_PUBLISHING_STATE: "Publish or unpublish catalog items.",
    KeyPermission.ADD_SYSTEM: "Add a system.",
    KeyPermission.DEPLOY_PACKAGES: "Deploy packages to the system.",
    KeyPermission.DEPLOY_AUTOMATION_SCRIPTS: "Deploy automation scripts to the system.",
}


@dataclass(frozen=True)
class CatalogEntry:
    """One permission of a catalog: a row, or a built-in (`row` None)."""

    organization_id: int
    name: str
    description: str
    scopes: tuple[KeySetScope, ...]
    created_at: datetime
    created_by_id: int | None
    row: Permission | None = None

    @property
    def built_in(self) -> bool:
        return self.row is None

    @property
    def position(self) -> int:
        """Its place in the catalog's connection: the built-ins first, then rows by id."""
        if self.row is None:
            return BUILT_INS.index(KeyPermission(self.name)) + 1
        return len(BUILT_INS) + self.row.id


def built_in_pk(organization_id: int, permission: KeyPermission) -> int:
    """The id number of a built-in in one organization's catalog (they are not rows)."""
    return organization_id * len(BUILT_INS) + BUILT_INS.index(permission)


def _built_in(organization: Organization, permission: KeyPermission) -> CatalogEntry:
    return CatalogEntry(
        organization_id=organization.id,
        name=permission.value,
        description=BUILT_IN_DESCRIPTIONS[permission],
        scopes=(PERMISSION_SCOPE[permission],),
        created_at=organization.created_at,
        created_by_id=None,
    )


def entry_of(row: Permission) -> CatalogEntry:
    return CatalogEntry(
        organization_id=row.organization_id,
        name=row.name,
        description=row.description,
        scopes=tuple(KeySetScope(s) for s in row.scopes),
        created_at=row.created_at,
        created_by_id=row.created_by_id,
        row=row,
    )


async def list_catalog(
    *, organization_ids: Collection[int], after: int | None, first: int
) -> dict[int, Page[CatalogEntry]]:
    """A page of each organization's catalog, built-ins first, in two queries."""
    organizations = {
        organization.id: organization
        for organization in await Organization.filter(id__in=list(organization_ids))
    }
    start = after or 0
    built_ins = [p for i, p in enumerate(BUILT_INS, start=1) if i > start][:first]
    rows = await paginate_each(
        Permission.all(),
        parent="organization_id",
        parent_ids=organization_ids,
        after=max(start - len(BUILT_INS), 0) or None,
        first=first - len(built_ins),
    )
    pages: dict[int, Page[CatalogEntry]] = {}
    for pk in organization_ids:
        organization = organizations.get(pk)
        page = rows.get(pk, Page(items=[], has_next=False, count=no_items))
        entries = [_built_in(organization, p) for p in built_ins] if organization else []
        entries += [entry_of(row) for row in page.items]
        pages[pk] = Page(items=entries, has_next=page.has_next, count=_with_built_ins(page.count))
    return pages


def _with_built_ins(rows: Count) -> Count:
    """A catalog's totalCount: its rows and the built-ins."""

    async def count() -> int:
        return len(BUILT_INS) + await rows()

    return count


async def get_visible_permission(*, user: User, permission_id: int) -> CatalogEntry | None:
    """A catalog row if the user is a member of its organization, else None."""
    row = await Permission.get_or_none(id=permission_id)
    if row is None or not await Membership.exists(
        user_id=user.id, organization_id=row.organization_id
    ):
        return None
    return entry_of(row)


async def get_visible_built_in(*, user: User, pk: int) -> CatalogEntry | None:
    """A built-in entry (by `built_in_pk`) if the user is a member of its organization."""
    organization_id, index = divmod(pk, len(BUILT_INS))
    organization = await Organization.get_or_none(id=organization_id)
    if organization is None or not await Membership.exists(
        user_id=user.id, organization_id=organization_id
    ):
        return None
    return _built_in(organization, BUILT_INS[index])
