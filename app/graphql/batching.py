"""What every domain's dataloaders are made of: a shielded `Loader`, and the two shapes
of batch function, one row per key (`by_key`) and one page per parent (`paged`).

A batch function refers to what it needs (the viewer's id, another loader), never to the
object that holds a request's loaders: a request's loaders then form no reference cycle,
and reference counting frees what the request loaded as soon as its answer is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from strawberry.dataloader import DataLoader

from app.errors import KeyrackError
from app.storage.pagination import Page

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Options = tuple[Hashable, ...]


class Loader(DataLoader[K, V]):
    """A DataLoader whose shared futures survive one caller's cancellation.

    The loader hands every caller of a key the same future. graphql-core cancels the
    sibling fields of a field that failed, and cancelling a task cancels the future it
    awaits, so without the shield an unrelated field elsewhere in the query, waiting on
    the same key, would receive CancelledError and fail the whole request.
    """

    def load(self, key: K) -> Awaitable[V]:
        return asyncio.shield(super().load(key))


def by_key(
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
) -> Callable[[list[K]], Awaitable[list[V | None]]]:
    """A batch function from a fetch that answers a mapping: None for a key it left out."""

    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(list(keys))
        return [found.get(key) for key in keys]

    return load


@dataclass(frozen=True)
class PageRequest:
    """One parent's page of a nested connection; `options` holds the field's other arguments."""

    parent: int
    after: int | None
    first: int
    options: Options = ()


# A fetch may refuse one parent's page with an error, which the loader raises for it.
PageFetch = Callable[
    [list[int], int | None, int, Options], Awaitable[Mapping[int, Page[V] | KeyrackError]]
]


def paged(
    fetch: PageFetch[V],
) -> Callable[[list[PageRequest]], Awaitable[list[Page[V] | KeyrackError]]]:
    """Pages for many parents: one fetch per distinct set of arguments, not one per parent."""

    async def load(requests: list[PageRequest]) -> list[Page[V] | KeyrackError]:
        parents: dict[tuple[int | None, int, Options], list[int]] = {}
        for request in requests:
            parents.setdefault((request.after, request.first, request.options), []).append(
                request.parent
            )
        pages: dict[PageRequest, Page[V] | KeyrackError] = {}
        for (after, first, options), ids in parents.items():
            for parent, page in (await fetch(ids, after, first, options)).items():
                pages[PageRequest(parent, after, first, options)] = page
        return [pages[request] for request in requests]

    return load


class KeyLoader(Loader[K, V | None]):
    """Rows by key, one fetch for every key asked for in the same turn of the loop;
    None for a key the fetch did not find."""

    def __init__(
        self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], *, cache: bool = True
    ) -> None:
        super().__init__(by_key(fetch), cache=cache)


class PageLoader(Loader[PageRequest, Page[V]]):
    """Pages of a nested connection, batched over parents. Not cached: a later mutation in
    the same request must see its own writes."""

    def __init__(self, fetch: PageFetch[V]) -> None:
        super().__init__(paged(fetch), cache=False)
