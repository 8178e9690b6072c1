"""Relay building blocks: the Node interface, cursor connections, and their arguments."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
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
_ORDERED_PREFIX = "cursor:v1:order:"
BAD_CURSOR = "Invalid cursor: pass an endCursor or edge cursor from this connection."


@dataclass(frozen=True)
class OrderedCursor:
    """A position under a named order (not the id order): the sort value of the last item
    read, as text (None for a missing value), and its id."""

    order: str
    value: str | None
    id: int


@strawberry.enum(description="Which way a list is ordered.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value(
        "ASC", description="Smallest first: A to Z, earliest first; ties by id, oldest first."
    )
    DESC = strawberry.enum_value(
        "DESC", description="Largest first: Z to A, latest first; ties by id, newest first."
    )


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
    position: strawberry.Private[int | OrderedCursor]


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


def encode_cursor(position: int | OrderedCursor) -> str:
    if isinstance(position, OrderedCursor):
        fields = [position.order, position.value, position.id]
        text = _ORDERED_PREFIX + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    else:
        text = f"{_CURSOR_PREFIX}{position}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _cursor_text(cursor: str, longest: int) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode() if len(cursor) < longest else ""
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def decode_cursor(cursor: str | None) -> int | None:
    """The position a cursor stands for; a cursor we did not issue is an error."""
    if cursor is None:
        return None
    raw = _cursor_text(cursor, 100)
    position = raw.removeprefix(_CURSOR_PREFIX)
    if (
        not raw.startswith(_CURSOR_PREFIX)
        or not position.isdigit()
        or not position.isascii()
        or len(position) > 10
        or int(position) > MAX_INT
    ):
        raise BadUserInput(BAD_CURSOR)
    return int(position)


def decode_ordered_cursor(cursor: str | None, order: str) -> OrderedCursor | None:
    """The position a cursor issued under `order` stands for; a cursor issued under another
    order, or not by us, is an error."""
    if cursor is None:
        return None
    raw = _cursor_text(cursor, 2000)
    try:
        fields = json.loads(raw.removeprefix(_ORDERED_PREFIX))
    except ValueError:
        fields = None
    if (
        not raw.startswith(_ORDERED_PREFIX)
        or not isinstance(fields, list)
        or len(fields) != 3
        or fields[0] != order
        or not (fields[1] is None or isinstance(fields[1], str))
        or type(fields[2]) is not int
        or not 0 < fields[2] <= MAX_INT
    ):
        raise BadUserInput(BAD_CURSOR)
    return OrderedCursor(order=order, value=fields[1], id=fields[2])


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
    after: object | None,
    position: Callable[[M], int | OrderedCursor] = lambda item: item.id,  # type: ignore[attr-defined]
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
