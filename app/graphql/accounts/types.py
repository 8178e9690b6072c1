from __future__ import annotations

from datetime import datetime

import strawberry

from app.accounts.models import User
from app.graphql.ids import USER
from app.graphql.relay import Node
from app.ids import to_global_id


@strawberry.type(name="User")
class UserType(Node):
    id: strawberry.ID
    email: str
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, user: User) -> UserType:
        return cls(
            id=strawberry.ID(to_global_id(USER, user.id)),
            email=user.email,
            name=user.name,
            created_at=user.created_at,
        )
