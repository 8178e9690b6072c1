"""Relay building blocks: the Node interface, cursor connections, and their arguments."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

import strawberry

from app.graphql.errors import BadUserInput
from app.graphql.plan import from_source_field
from app.graphql.prices import ROW_READ_COST, field_cost, page_items
from app.ids import MAX_INT
from app.storage.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Count, Page

T = TypeVar("T")
M = TypeVar("M")

_CURSOR_PREFIX = "cursor:v1:"


@strawberry.interface(description="An object with a global, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and stable: pass it to node(id) or to mutations, never parse it."
    )


@strawberry.type(description="Where a page of a connection sits among all the items.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page: fetch them with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of this page's first item; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of this page's last item: pass it as `after` for the next page."
    )


def _edge_cursor(edge: Edge[object]) -> str:
    return encode_cursor(edge.position)


@strawberry.type(description="One item of a connection, with the cursor that points at it.")
class Edge(Generic[T]):
    # Written only when asked for (a list page rarely asks): from the item's position.
    cursor: str = from_source_field(_edge_cursor, graphql_type=str)
    node: T
    position: strawberry.Private[int]


@strawberry.type
class Counted:
    """A connection's count of the whole list, read only when `totalCount` is asked for."""

    count: strawberry.Private[Count]

    @strawberry.field(
        description=(
            "How many items the whole list holds, over all its pages: one COUNT, shared "
            "by the lists of the same field under a page of parents."
        ),
        # A statement's worth of reading per list, however many parents share it.
        metadata=field_cost(ROW_READ_COST),
    )
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type(
    description=(
        "A page of a list: `first` (1 to 100, default 20) items after the `after` cursor. "
        "Follow pageInfo.endCursor while pageInfo.hasNextPage is true."
    )
)
class Connection(Counted, Generic[T]):
    edges: list[Edge[T]] = strawberry.field(metadata=page_items())
    page_info: PageInfo


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The position a cursor stands for; a cursor we did not issue is an error."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode() if len(cursor) < 100 else ""
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    position = raw.removeprefix(_CURSOR_PREFIX)
    if (
        not raw.startswith(_CURSOR_PREFIX)
        or not position.isdigit()
        or not position.isascii()
        or len(position) > 10
        or int(position) > MAX_INT
    ):
        raise BadUserInput("Invalid cursor: pass an endCursor or edge cursor from this connection.")
    return int(position)


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE_SIZE}.")
    return first


def to_connection(
    page: Page[M],
    node: Callable[[M], T],
    *,
    after: int | None,
    position: Callable[[M], int] = lambda item: item.id,  # type: ignore[attr-defined]
) -> Connection[T]:
    edges = [Edge(node=node(item), position=position(item)) for item in page.items]
    return Connection(
        edges=edges,
        count=page.count,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=encode_cursor(edges[0].position) if edges else None,
            end_cursor=encode_cursor(edges[-1].position) if edges else None,
        ),
    )


First = Annotated[
    int | None,
    strawberry.argument(
        description=(
            f"How many items to return: 1 to {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}; "
            "outside that range the request fails with BAD_USER_INPUT."
        )
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Start after this cursor (pageInfo.endCursor of the previous page); omit for the "
            "first page. A cursor this connection did not issue fails with BAD_USER_INPUT."
        )
    ),
]
