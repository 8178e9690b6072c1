"""The orders a list of key sets can be read in, and where a page under one starts.

Every order ends with the id, so that rows with the same label or time keep one place,
and a page starts after a (sort value, id) position: never OFFSET. `last_used_at` is
ordered as if never used were earlier than any use: first ascending, last descending, on
SQLite and PostgreSQL alike (their own NULL orders differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pypika_tortoise.functions import Lower
from pypika_tortoise.queries import Table
from pypika_tortoise.terms import Case, Field, LiteralValue, Term, ValueWrapper

from app.storage.pagination import Ordering


class KeySetOrderField(StrEnum):
    LABEL = "LABEL"
    CREATED_AT = "CREATED_AT"
    LAST_USED_AT = "LAST_USED_AT"


SortValue = str | datetime | None


@dataclass(frozen=True)
class KeySetOrder:
    field: KeySetOrderField
    descending: bool = False


@dataclass(frozen=True)
class OrderedPosition:
    """The last row of a page under an order: its sort value and its id."""

    value: SortValue
    id: int


# The column each order reads, by the name of the row's attribute.
COLUMNS = {
    KeySetOrderField.LABEL: "label",
    KeySetOrderField.CREATED_AT: "created_at",
    KeySetOrderField.LAST_USED_AT: "last_used_at",
}


def _terms(field: KeySetOrderField, table: Table | None, value_known: bool = True) -> list[Term]:
    column = Field(COLUMNS[field], table=table)
    if field is KeySetOrderField.LABEL:
        return [Lower(column)]
    if field is KeySetOrderField.LAST_USED_AT:
        # Literals: PostgreSQL cannot type a parameter in a CASE's result.
        used = Case().when(column.isnull(), LiteralValue(0)).else_(LiteralValue(1))
        return [used, column] if value_known else [used]
    return [column]


def _values(field: KeySetOrderField, value: SortValue) -> list[Term]:
    if field is KeySetOrderField.LABEL:
        return [Lower(ValueWrapper(value))]
    if field is KeySetOrderField.LAST_USED_AT:
        return [LiteralValue(0)] if value is None else [LiteralValue(1), ValueWrapper(value)]
    return [ValueWrapper(value)]


def ordering(order: KeySetOrder, after: OrderedPosition | None) -> Ordering:
    """How `paginate_rows_each` reads key sets in `order`, after `after`."""
    field = order.field
    after_terms: list[tuple[Term, Term]] | None = None
    if after is not None:
        # A never-used position compares on "used" alone: its column is NULL.
        terms = _terms(field, None, value_known=after.value is not None)
        after_terms = list(zip(terms, _values(field, after.value), strict=True))
    return Ordering(
        terms=lambda table: _terms(field, table),
        descending=order.descending,
        after=after_terms,
        after_id=None if after is None else after.id,
    )


def sort_value(order: KeySetOrder, row: object) -> SortValue:
    """The value a row is ordered by: what its cursor carries."""
    value = getattr(row, COLUMNS[order.field])
    if value is None or isinstance(value, str | datetime):
        return value
    raise TypeError(f"unexpected sort value {value!r}")
