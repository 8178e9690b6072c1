from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.context import Info
from app.graphql.enums import KeySetScope
from app.graphql.ids import BUILT_IN_PERMISSION, PERMISSION
from app.graphql.prices import LOADED, list_cost
from app.graphql.relay import Node
from app.ids import to_global_id
from app.keysets.permissions import KeyPermission
from app.permissions import catalog
from app.permissions.catalog import CatalogEntry, built_in_pk


def permission_id(entry: CatalogEntry) -> str:
    if entry.row is None:
        pk = built_in_pk(entry.organization_id, KeyPermission(entry.name))
        return to_global_id(BUILT_IN_PERMISSION, pk)
    return to_global_id(PERMISSION, entry.row.id)


@strawberry.type(
    name="Permission",
    description=(
        "A permission of an organization's catalog: a built-in one, or one the organization "
        "defined. Key sets and permission groups of its scopes may hold it; services ask "
        "for it by name at POST /v1/keys/verify."
    ),
)
class PermissionType(Node):
    id: strawberry.ID = strawberry.field(description="Global ID of the permission.")
    name: str = strawberry.field(
        description=(
            "What key sets hold and services ask for: lowercase letters, digits and ._:- "
            "(up to 64 characters), unique in the organization; built-ins are upper case."
        )
    )
    description: str = strawberry.field(description="Free text up to 1000 characters.")
    scopes: list[KeySetScope] = strawberry.field(
        description="Which key sets (and groups) may hold it.",
        metadata=list_cost(len(KeySetScope)),
    )
    built_in: bool = strawberry.field(
        description="One of the five permissions every catalog has; cannot change."
    )
    created_at: datetime = strawberry.field(
        description="When it was defined; for built-ins, when the organization was created."
    )
    entry: strawberry.Private[CatalogEntry]

    @classmethod
    def from_entry(cls, entry: CatalogEntry) -> PermissionType:
        return cls(
            id=strawberry.ID(permission_id(entry)),
            name=entry.name,
            description=entry.description,
            scopes=list(entry.scopes),
            built_in=entry.built_in,
            created_at=entry.created_at,
            entry=entry,
        )

    @strawberry.field(
        description="The organization whose catalog it is in.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        return await reach.ORGANIZATION.of(
            info, self.entry.organization_id, what=f"Permission {self.entry.name}"
        )

    @strawberry.field(
        description="Who defined it; null for built-ins and if that account is gone.",
        metadata=LOADED,
    )
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.entry.created_by_id)


@reach.findable(PERMISSION)
async def find_permission(info: Info, pk: int) -> PermissionType | None:
    user = info.context.actor.user
    permission = await catalog.get_visible_permission(user=user, permission_id=pk)
    return PermissionType.from_entry(permission) if permission else None


@reach.findable(BUILT_IN_PERMISSION)
async def find_built_in_permission(info: Info, pk: int) -> PermissionType | None:
    built_in = await catalog.get_visible_built_in(user=info.context.actor.user, pk=pk)
    return PermissionType.from_entry(built_in) if built_in else None
