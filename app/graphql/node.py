"""`node(id)`: any object by its global id, with the same visibility as its own query.

Each Node type declares how it is found beside itself (`reach.findable`); the schema
imports them all, and a test holds every Node type of the schema to declaring one.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql import reach
from app.graphql.context import Info
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import ROW_READ_COST, field_cost
from app.graphql.relay import Node
from app.ids import from_global_id


@strawberry.type
class NodeQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Any object by its global id, seen as its own query would show it: null for an "
            "unknown or malformed id and for one the caller may not see, alike. Needs a login."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A global id, as any `id` field gives.")
        ],
    ) -> Node | None:
        decoded = from_global_id(id)
        if decoded is None:
            return None
        kind, pk = decoded
        return await reach.find(info, kind, pk)
