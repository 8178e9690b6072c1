from __future__ import annotations

from datetime import datetime

import strawberry

from app.accounts import step_up
from app.accounts.models import User
from app.graphql.context import Info
from app.graphql.ids import USER
from app.graphql.relay import Node
from app.ids import to_global_id


@strawberry.type(name="User")
class UserType(Node):
    id: strawberry.ID
    email: str
    name: str
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, user: User) -> UserType:
        return cls(
            id=strawberry.ID(to_global_id(USER, user.id)),
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            pk=user.id,
        )

    @strawberry.field(
        description=(
            "Whether the user has a confirmed TOTP authenticator for step-up. "
            "Shown to the user themself only: null for anyone else."
        )
    )
    async def totp_enabled(self, info: Info) -> bool | None:
        viewer = info.context.user
        if viewer is None or viewer.id != self.pk:
            return None
        return await step_up.totp_enabled(user_id=self.pk)
