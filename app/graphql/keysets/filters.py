"""The arguments that choose and order a list of key sets, and the cursors of its pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from app.graphql.enums import KeySetOrderField
from app.graphql.errors import BadUserInput
from app.graphql.keysets.loaders import KeySetCriteria, ListedKeySet
from app.graphql.relay import BAD_CURSOR, OrderDirection, OrderedCursor, decode_ordered_cursor
from app.keysets.order import KeySetOrder as DomainOrder
from app.keysets.order import OrderedPosition, sort_value
from app.validation import storable

MAX_LABEL_CONTAINS = 255


@strawberry.input(description="Only the key sets matching every criterion given.")
class KeySetFilter:
    external_id: str | None = strawberry.field(
        default=None,
        description="Exactly this externalId (as stored: trimmed): every key set of one customer.",
    )
    label_contains: str | None = strawberry.field(
        default=None,
        description=(
            f"Labels containing this text, case-insensitively (at most {MAX_LABEL_CONTAINS} "
            "characters; % and _ match themselves). Null or empty: every label."
        ),
    )


@strawberry.input(description="The order of a list of key sets; ties are broken by id.")
class KeySetOrder:
    field: KeySetOrderField = strawberry.field(description="What the key sets are ordered by.")
    direction: OrderDirection = strawberry.field(description="Which way.")


OrderBy = Annotated[
    KeySetOrder | None,
    strawberry.argument(
        description=(
            "The order of the list; null: oldest first (by id). A cursor is valid only "
            "under the order it was issued in, else BAD_USER_INPUT."
        )
    ),
]


def criteria(
    filter: KeySetFilter | None, order_by: KeySetOrder | None, after: str | None
) -> KeySetCriteria:
    """A key set list's filter, order and start, checked: a cursor issued under another
    order, or a filter text too long, is BAD_USER_INPUT."""
    label_contains = filter.label_contains if filter else None
    if label_contains is not None and len(label_contains) > MAX_LABEL_CONTAINS:
        raise BadUserInput(f"labelContains must be at most {MAX_LABEL_CONTAINS} characters.")
    if label_contains is not None and not storable(label_contains):
        raise BadUserInput("labelContains contains characters that are not allowed.")
    order = (
        None
        if order_by is None
        else DomainOrder(order_by.field, descending=order_by.direction is OrderDirection.DESC)
    )
    return KeySetCriteria(
        external_id=filter.external_id if filter else None,
        label_contains=label_contains or None,
        order=order,
        after=None if order is None else _position(order, after),
    )


def _tag(order: DomainOrder) -> str:
    return f"{order.field.value}:{'DESC' if order.descending else 'ASC'}"


def _position(order: DomainOrder, after: str | None) -> OrderedPosition | None:
    cursor = decode_ordered_cursor(after, _tag(order))
    if cursor is None:
        return None
    if cursor.value is None or order.field is KeySetOrderField.LABEL:
        # Only a never-used key set has no sort value; a label is one a database can hold.
        if (
            cursor.value is None and order.field is not KeySetOrderField.LAST_USED_AT
        ) or not storable(cursor.value or ""):
            raise BadUserInput(BAD_CURSOR)
        return OrderedPosition(value=cursor.value, id=cursor.id)
    try:
        moment = datetime.fromisoformat(cursor.value)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        return OrderedPosition(value=moment.astimezone(UTC), id=cursor.id)
    except (ValueError, OverflowError):
        raise BadUserInput(BAD_CURSOR) from None


def listed_position(order: DomainOrder | None) -> Callable[[ListedKeySet], int | OrderedCursor]:
    """The position of a listed key set in a list read in `order`: what its cursor holds."""
    if order is None:
        return lambda listed: listed.row.id

    def ordered(listed: ListedKeySet) -> OrderedCursor:
        value = sort_value(order, listed.row)
        text = value.isoformat() if isinstance(value, datetime) else value
        return OrderedCursor(order=_tag(order), value=text, id=listed.row.id)

    return ordered
