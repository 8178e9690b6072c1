"""Keyset pagination: `WHERE id > after ORDER BY id LIMIT n`, never OFFSET."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.enums import Order
from pypika_tortoise.queries import Table
from pypika_tortoise.terms import Field
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

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
    """A page of `queryset` for each parent, in one statement however many parents there are.

    Pages run in ascending `field` order (a unique column, `id` unless given) after
    `after`, or with `newest_first` in descending order before it.

    `parent` is the foreign-key column (e.g. `organization_id`). The statement numbers each
    parent's rows with `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY field)` and keeps the
    first `first + 1`, whole rows, which become models as tortoise would build them.
    Tortoise has no window functions or subqueries in FROM, so the ranking is a pypika term
    and the wrapping is done on the query it builds. A queryset that joins related rows
    (`select_related`) takes a second statement to load the ranked rows with their
    relations. Every parent asked for gets a page, empty if it has no rows.
    """
    if not parent_ids:
        return {}
    ranked = queryset.filter(**{f"{parent}__in": sorted(set(parent_ids))})
    if after is not None:
        ranked = ranked.filter(**{f"{field}__lt" if newest_first else f"{field}__gt": after})
    order = Order.desc if newest_first else Order.asc
    model = queryset.model
    db = model._meta.db
    window = Table("ranked")
    rank = RowNumber().over(Field(parent)).orderby(Field(field), order=order)
    joins = bool(queryset._select_related or queryset._prefetch_map)
    ranks: QuerySet[M] | ValuesQuery[Literal[False]]
    if joins:
        ranks = ranked.annotate(_rank=rank).values("id", "_rank")
        columns = [Field("id", table=window)]
    else:
        ranks = ranked.annotate(_rank=rank)
        columns = [Field(column, table=window) for column in model._meta.db_fields]
    ranks.sql()  # builds `ranks.query` for the connection the query would run on
    statement = (
        db.query_class.from_(ranks.query.as_("ranked"))
        .select(*columns)
        .where(Field("_rank", table=window) <= first + 1)
        .orderby(Field(field, table=window), order=order)
    )
    rows = await db.execute_query_dict(*statement.get_parameterized_sql())
    pages: dict[int, list[M]] = {parent_id: [] for parent_id in parent_ids}
    if joins and rows:
        wanted = queryset.filter(id__in=[row["id"] for row in rows])
        items = await wanted.order_by(f"-{field}" if newest_first else field)
    else:
        items = [model._init_from_db(**row) for row in rows]
    for item in items:
        pages[getattr(item, parent)].append(item)
    return {
        parent_id: Page(items=items[:first], has_next=len(items) > first)
        for parent_id, items in pages.items()
    }
