"""How a type is reached without importing it: by a child pointing back, or by `node(id)`.

Types point down: a parent imports its children at the top of its module. A child's field
that returns a parent (an audit entry's organization, a verifier's system) is a true
back-reference: it declares `graphql_type=reach.ORGANIZATION.type`, a `strawberry.lazy`
reference that the schema resolves when it is built, and gets the object from here. Each
parent registers how it is loaded where it is defined; every type module is imported
before the first request, since the schema is built from them all.

`node(id)` reaches any Node type the same way: each declares, beside itself, how it
finds one the caller may see (`@reach.findable(kind)`), with the visibility of its own
query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ForwardRef, TypeVar

import strawberry

from app.graphql.context import Info
from app.graphql.relay import Node

Load = Callable[[Info, int], Awaitable[Node | None]]
Find = Callable[[Info, int], Awaitable[Node | None]]
F = TypeVar("F", bound=Find)

_FINDERS: dict[str, Find] = {}


def findable(kind: str) -> Callable[[F], F]:
    """Declare how `node(id)` finds a `kind` (its global ids' type name) that the caller
    may see: None for one that does not exist and for one they may not see, alike."""

    def register(find: F) -> F:
        _FINDERS[kind] = find
        return find

    return register


def findable_kinds() -> frozenset[str]:
    return frozenset(_FINDERS)


async def find(info: Info, kind: str, pk: int) -> Node | None:
    """What `node(id)` answers for a decoded id; None for a kind nothing declared."""
    finder = _FINDERS.get(kind)
    return await finder(info, pk) if finder else None


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
