from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql import reach
from app.graphql.accounts.types import UserType, load_user
from app.graphql.context import Info
from app.graphql.enums import KeyPermission, KeySetScope
from app.graphql.ids import PERMISSION_GROUP
from app.graphql.prices import LOADED, list_cost
from app.graphql.relay import Node
from app.ids import to_global_id
from app.keysets import groups
from app.keysets.models import PermissionGroup
from app.permissions.names import BUILT_IN_NAMES, MAX_HELD_NAMES


@strawberry.type(
    name="PermissionGroup",
    description=(
        "A named set of permissions of one scope. Key sets of that scope given the group "
        "hold its permissions besides their own; a change to the group applies to them at once."
    ),
)
class PermissionGroupType(Node):
    id: strawberry.ID = strawberry.field(description="Global ID of the group.")
    name: str = strawberry.field(
        description="Trimmed, NFKC-normalised, 1 to 100 characters, unique in the organization."
    )
    description: str = strawberry.field(
        description="Free text, up to 1000 characters; may be empty."
    )
    scope: KeySetScope = strawberry.field(
        description="Fixed at creation: the group holds, and is given to, this scope only."
    )
    permissions: list[KeyPermission] = strawberry.field(
        description="The built-in permissions the group gives, in catalog order.",
        metadata=list_cost(len(KeyPermission)),
        deprecation_reason="Use permissionNames, which includes the organization's own names.",
    )
    permission_names: list[str] = strawberry.field(
        description="What the group gives the key sets using it: catalog names, sorted.",
        metadata=list_cost(MAX_HELD_NAMES),
    )
    created_at: datetime = strawberry.field(description="When the group was created.")
    updated_at: datetime = strawberry.field(description="When the group was last changed.")
    model: strawberry.Private[PermissionGroup]

    @classmethod
    def from_model(cls, group: PermissionGroup) -> PermissionGroupType:
        return cls(
            id=strawberry.ID(to_global_id(PERMISSION_GROUP, group.id)),
            name=group.name,
            description=group.description,
            scope=group.scope,
            permissions=[KeyPermission(p) for p in group.permissions if p in BUILT_IN_NAMES],
            permission_names=sorted(group.permissions),
            created_at=group.created_at,
            updated_at=group.updated_at,
            model=group,
        )

    @strawberry.field(
        description="The organization the group belongs to.",
        metadata=LOADED,
        graphql_type=reach.ORGANIZATION.type,
    )
    async def organization(self, info: Info) -> Node:
        organization_id = self.model.organization_id
        return await reach.ORGANIZATION.of(
            info, organization_id, what=f"Permission group {self.model.id}"
        )

    @strawberry.field(
        description="Who created the group; null if that account is gone.", metadata=LOADED
    )
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.model.created_by_id)


@reach.findable(PERMISSION_GROUP)
async def find_permission_group(info: Info, pk: int) -> PermissionGroupType | None:
    group = await groups.get_visible_group(user=info.context.actor.user, group_id=pk)
    return PermissionGroupType.from_model(group) if group else None
