from __future__ import annotations

import strawberry

from app.graphql.accounts.types import UserType
from app.graphql.context import Info
from app.graphql.prices import FROM_PARENT


@strawberry.type
class AccountQueries:
    @strawberry.field(
        description=(
            "The caller, or null without a valid token (never an error): the place to read "
            "your own sessions, invitations and totpEnabled."
        ),
        metadata=FROM_PARENT,
    )
    def viewer(self, info: Info) -> UserType | None:
        user = info.context.user
        return UserType.from_model(user) if user else None
