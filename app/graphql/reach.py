"""How a child type reaches the type above it without importing it.

Types point down: a parent imports its children at the top of its module. A child's field
that returns a parent (an audit entry's organization, a verifier's system) is a true
back-reference: its annotation is `strawberry.lazy`, and the object comes from here.
Each parent registers how it is loaded where it is defined; every type module is imported
before the first request, since the schema is built from them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from app.graphql.context import Info

if TYPE_CHECKING:
    from app.graphql.accounts.types import UserType
    from app.graphql.keysets.types import KeySetType
    from app.graphql.organizations.types import OrganizationType
    from app.graphql.systems.types import SystemType

T = TypeVar("T")
Load = Callable[[Info, int], Awaitable[T | None]]


class Parent(Generic[T]):
    """A type that children point back to, by the primary key they hold of it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._load: Load[T] | None = None

    def register(self, load: Load[T]) -> None:
        """Say how one is loaded through the request's loaders (by the parent's module)."""
        self._load = load

    async def load(self, info: Info, pk: int | None) -> T | None:
        """The one with this key; None for no key or one that is gone."""
        if pk is None:
            return None
        if self._load is None:
            raise RuntimeError(f"No loader is registered for the {self.name}.")
        return await self._load(info, pk)

    async def of(self, info: Info, pk: int, *, what: str) -> T:
        """The one `what` belongs to, which always exists (it is deleted with it)."""
        found = await self.load(info, pk)
        if found is None:
            raise LookupError(f"{what} has no {self.name}.")
        return found


ORGANIZATION: Parent[OrganizationType] = Parent("organization")
SYSTEM: Parent[SystemType] = Parent("system")
KEY_SET: Parent[KeySetType] = Parent("key set")
USER: Parent[UserType] = Parent("user")
