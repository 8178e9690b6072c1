from __future__ import annotations

import strawberry

from app.graphql.accounts.types import UserType
from app.graphql.context import Info


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The caller, or null for an anonymous one.")
    def viewer(self, info: Info) -> UserType | None:
        user = info.context.user
        return UserType.from_model(user) if user else None
