"""How a child type reaches the type above it without importing it.

Types point down: a parent imports its children at the top of its module. A child's field
that returns a parent (an audit entry's organization, a verifier's system) is a true
back-reference: it declares `graphql_type=reach.ORGANIZATION.type`, a `strawberry.lazy`
reference that the schema resolves when it is built, and gets the object from here. Each
parent registers how it is loaded where it is defined; every type module is imported
before the first request, since the schema is built from them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ForwardRef

import strawberry

from app.graphql.context import Info
from app.graphql.relay import Node

Load = Callable[[Info, int], Awaitable[Node | None]]


class Parent:
    """A type that children point back to, by the primary key they hold of it."""

    def __init__(self, name: str, *, type_name: str, module: str) -> None:
        self.name = name
        self.type: Any = Annotated[ForwardRef(type_name), strawberry.lazy(module)]
        """Its GraphQL type, for a back-reference's `graphql_type` (`| None` when optional)."""
        self._load: Load | None = None

    def register(self, load: Load) -> None:
        """Say how one is loaded through the request's loaders (by the parent's module)."""
        self._load = load

    async def load(self, info: Info, pk: int | None) -> Node | None:
        """The one with this key; None for no key or one that is gone."""
        if pk is None:
            return None
        if self._load is None:
            raise RuntimeError(f"No loader is registered for the {self.name}.")
        return await self._load(info, pk)

    async def of(self, info: Info, pk: int, *, what: str) -> Node:
        """The one `what` belongs to, which always exists (it is deleted with it)."""
        found = await self.load(info, pk)
        if found is None:
            raise LookupError(f"{what} has no {self.name}.")
        return found


ORGANIZATION = Parent(
    "organization", type_name="OrganizationType", module="app.graphql.organizations.types"
)
SYSTEM = Parent("system", type_name="SystemType", module="app.graphql.systems.types")
KEY_SET = Parent("key set", type_name="KeySetType", module="app.graphql.keysets.types")
USER = Parent("user", type_name="UserType", module="app.graphql.accounts.types")
