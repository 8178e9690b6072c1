from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.ids import ORGANIZATION
from app.graphql.organizations.types import OrganizationType
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import ROW_READ_COST, field_cost
from app.graphql.relay import After, Connection, First, decode_cursor, page_size, to_connection
from app.ids import pk_of
from app.organizations import service


@strawberry.type
class OrganizationQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The organizations the caller is a member of, oldest first.",
    )
    async def organizations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[OrganizationType]:
        user = info.context.actor.user
        position = decode_cursor(after)
        page = await service.list_organizations(user=user, after=position, first=page_size(first))
        return to_connection(page, OrganizationType.from_model, after=position)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "One organization the caller is a member of; null for any other, and for an "
            "unknown or malformed id alike."
        ),
        metadata=field_cost(ROW_READ_COST),
    )
    async def organization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="An Organization's id.")],
    ) -> OrganizationType | None:
        pk = pk_of(id, ORGANIZATION)
        if pk is None:
            return None
        organization = await service.get_visible_organization(
            user=info.context.actor.user, organization_id=pk
        )
        return OrganizationType.from_model(organization) if organization else None
