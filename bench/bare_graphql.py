"""The yardstick for `viewer { id }` in bench/read.py: a bare strawberry app.

The same stack as Keyrack's `/graphql` (strawberry's ASGI view under uvicorn), with a
`viewer` that answers from memory: what is left is the cost of GraphQL itself.
"""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class User:
    id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self) -> User | None:
        return User(id=strawberry.ID("VXNlcjox"))


def create_app() -> Starlette:
    return Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(Query)))])
