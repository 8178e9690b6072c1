from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.ids import KEY_SET
from app.graphql.keysets.types import KeySetType
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import ROW_READ_COST, field_cost
from app.ids import pk_of
from app.keysets import reads


@strawberry.type
class KeySetQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A key set by its ID; null unless you are a member of its organization.",
        metadata=field_cost(ROW_READ_COST),
    )
    async def key_set(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key set's global ID.")],
    ) -> KeySetType | None:
        pk = pk_of(id, KEY_SET)
        if pk is None:
            return None
        key_set = await reads.get_visible_key_set(user=info.context.actor.user, key_set_id=pk)
        return KeySetType.from_model(key_set) if key_set else None
