from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.ids import SYSTEM
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import ROW_READ_COST, field_cost
from app.graphql.systems.types import SystemType
from app.ids import pk_of
from app.systems import service


@strawberry.type
class SystemQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A system by its ID; null unless you are a member of its organization.",
        metadata=field_cost(ROW_READ_COST),
    )
    async def system(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The system's global ID.")],
    ) -> SystemType | None:
        pk = pk_of(id, SYSTEM)
        if pk is None:
            return None
        system = await service.get_visible_system(user=info.context.actor.user, system_id=pk)
        return SystemType.from_model(system) if system else None
