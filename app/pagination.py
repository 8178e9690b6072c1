"""Keyset pagination: `WHERE id > after ORDER BY id LIMIT n`, never OFFSET."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.enums import Order
from pypika_tortoise.queries import Table
from pypika_tortoise.terms import Field
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    has_next: bool


async def paginate(
    queryset: QuerySet[M], *, after: int | None, first: int, field: str = "id"
) -> Page[M]:
    """One page of `queryset` in ascending `field` order, after the given value."""
    if after is not None:
        queryset = queryset.filter(**{f"{field}__gt": after})
    rows = await queryset.order_by(field).limit(first + 1)
    return Page(items=rows[:first], has_next=len(rows) > first)


async def paginate_each(
    queryset: QuerySet[M],
    *,
    parent: str,
    parent_ids: Collection[int],
    after: int | None,
    first: int,
    newest_first: bool = False,
    field: str = "id",
) -> dict[int, Page[M]]:
    """A page of `queryset` for each parent, in two statements however many parents there are.

    Pages run in ascending `field` order (a unique column, `id` unless given) after
    `after`, or with `newest_first` in descending order before it.

    `parent` is the foreign-key column (e.g. `organization_id`). The first statement numbers
    each parent's rows with `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY field)` and keeps
    the first `first + 1`; the second loads those rows. Tortoise has no window functions or
    subqueries in FROM, so the ranking is a pypika term and the wrapping is done on the
    query it builds. Every parent asked for gets a page, empty if it has no rows.
    """
    if not parent_ids:
        return {}
    ranked = queryset.filter(**{f"{parent}__in": sorted(set(parent_ids))})
    if after is not None:
        ranked = ranked.filter(**{f"{field}__lt" if newest_first else f"{field}__gt": after})
    order = Order.desc if newest_first else Order.asc
    ranks = ranked.annotate(
        _rank=RowNumber().over(Field(parent)).orderby(Field(field), order=order)
    ).values("id", "_rank")
    ranks.sql()  # builds `ranks.query` for the connection the query would run on
    db = queryset.model._meta.db
    window = Table("ranked")
    statement = (
        db.query_class.from_(ranks.query.as_("ranked"))
        .select(Field("id", table=window))
        .where(Field("_rank", table=window) <= first + 1)
    )
    rows = await db.execute_query_dict(*statement.get_parameterized_sql())
    pages: dict[int, list[M]] = {parent_id: [] for parent_id in parent_ids}
    if rows:
        wanted = queryset.filter(id__in=[row["id"] for row in rows])
        for item in await wanted.order_by(f"-{field}" if newest_first else field):
            pages[getattr(item, parent)].append(item)
    return {
        parent_id: Page(items=items[:first], has_next=len(items) > first)
        for parent_id, items in pages.items()
    }
