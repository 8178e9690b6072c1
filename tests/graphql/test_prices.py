"""Pricing is declared or the schema does not build (issue 24, finding 1).

Every field that returns a list, takes arguments or runs a resolver that may read per
parent declares what it costs (`app/graphql/prices.py`); the query cost measure can only
count what is declared, and an undeclared list let one cheap-looking request answer 41 MB.
"""

from __future__ import annotations

import pytest
import strawberry

from app.graphql.prices import LOADED, list_cost, require_prices, unpriced_fields
from app.graphql.schema import schema


def test_every_field_of_the_schema_declares_its_price() -> None:
    # given / when
    unpriced = unpriced_fields(schema._schema)

    # then
    assert unpriced == [], "declare field_cost, list_cost, argument_cost or batched"


@strawberry.type
class Item:
    name: str


async def _items() -> list[Item]:
    return []


async def _item(name: str) -> Item:
    return Item(name=name)


@strawberry.type
class Unpriced:
    names: list[str] = strawberry.field(default_factory=list)
    plain: str = "a scalar read from the row needs nothing"
    items: list[Item] = strawberry.field(resolver=_items)
    item: Item = strawberry.field(resolver=_item)
    priced: list[Item] = strawberry.field(resolver=_items, metadata={**LOADED, **list_cost(5)})


def test_a_schema_with_an_undeclared_list_resolver_or_argument_does_not_build() -> None:
    # given
    built = strawberry.Schema(query=Unpriced)

    # when
    with pytest.raises(TypeError) as refused:
        require_prices(built._schema)

    # then: each field that can widen the work is named, with what it lacks
    assert unpriced_fields(built._schema) == [
        "Unpriced.names (a list bound)",
        "Unpriced.items (a list bound, a cost for its resolver)",
        "Unpriced.item (a cost for its arguments, a cost for its resolver)",
    ]
    assert "Unpriced.item (" in str(refused.value)
