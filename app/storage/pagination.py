"""Keyset pagination: `WHERE id > after ORDER BY id LIMIT n`, never OFFSET; under another
order (`Ordering`), `WHERE (sort terms, id) > after ORDER BY sort terms, id`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.enums import Order
from pypika_tortoise.queries import QueryBuilder, Table
from pypika_tortoise.terms import Criterion, Field, Term
from tortoise.functions import Count as CountOf
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

from app.storage.rows import STATEMENTS, RowShape

# A connection's `first`: what it returns when not given, and the most it may ask for.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

M = TypeVar("M", bound=Model)
T = TypeVar("T")
R = TypeVar("R")


# How many items the whole list holds, read only when asked for (`totalCount`).
Count = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class Ordering:
    """A page order besides the id alone: `terms` of a row (of `table`, or unqualified),
    compared in turn, then the id; all ascending or all descending. A page starts after
    the row whose terms had the values of `after` (term, value pairs; a prefix of the
    terms when the others are equal for every row there) and whose id was `after_id`."""

    terms: Callable[[Table | None], list[Term]]
    descending: bool
    after: list[tuple[Term, Term]] | None
    after_id: int | None

    def keys(self, table: Table | None) -> list[Term]:
        return [*self.terms(table), Field("id", table=table)]

    def beyond(self) -> Criterion | None:
        """Rows after the position, in this order: the first term past its value, or
        equal and the next past its, and so on to the id."""
        if self.after is None or self.after_id is None:
            return None
        pairs = [*self.after, (Field("id"), Field("id").wrap_constant(self.after_id))]
        either: Criterion | None = None
        for k, (term, value) in enumerate(pairs):
            branch = (term < value) if self.descending else (term > value)
            for earlier, earlier_value in pairs[:k]:
                branch = (earlier == earlier_value) & branch
            either = branch if either is None else either | branch
        return either


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    count: Count


async def no_items() -> int:
    """The count of a list that is known to be empty."""
    return 0


def counted(total: int) -> Count:
    """The count of a list already in memory."""

    async def count() -> int:
        return total

    return count


def count_of(queryset: QuerySet[M]) -> Count:
    """The count of `queryset`'s rows: one COUNT, when asked for."""

    async def count() -> int:
        return await queryset.count()

    return count


async def paginate(
    queryset: QuerySet[M],
    *,
    after: int | None,
    first: int,
    field: str = "id",
    newest_first: bool = False,
) -> Page[M]:
    """One page of `queryset` in ascending `field` order, after the given value (with
    `newest_first`, in descending order, before it)."""
    whole = queryset
    if after is not None:
        queryset = queryset.filter(**{f"{field}__lt" if newest_first else f"{field}__gt": after})
    rows = await queryset.order_by(f"-{field}" if newest_first else field).limit(first + 1)
    return Page(items=rows[:first], has_next=len(rows) > first, count=count_of(whole))


class _CountsByParent:
    """The counts of `queryset`'s rows for each parent: one grouped COUNT for all the
    parents of a level, run the first time any of their pages is asked for its count."""

    def __init__(self, queryset: QuerySet[M], parent: str, parent_ids: Collection[int]) -> None:
        self.queryset = queryset
        self.parent = parent
        self.parent_ids = sorted(set(parent_ids))
        self.counts: dict[int, int] | None = None
        self.lock = asyncio.Lock()

    async def of(self, parent_id: int) -> int:
        async with self.lock:
            if self.counts is None:
                rows = await (
                    self.queryset.filter(**{f"{self.parent}__in": self.parent_ids})
                    .annotate(_count=CountOf("id"))
                    .group_by(self.parent)
                    .values(self.parent, "_count")
                )
                self.counts = {row[self.parent]: row["_count"] for row in rows}
        return self.counts.get(parent_id, 0)


async def paginate_each(
    queryset: QuerySet[M],
    *,
    parent: str,
    parent_ids: Collection[int],
    after: int | None,
    first: int,
    newest_first: bool = False,
    field: str = "id",
    statement_key: Hashable | None = None,
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

    `statement_key` names `queryset`'s filters (what changes the statement's text besides
    the arguments here), so that the statement is built once per shape (`StatementTexts`);
    None builds it every time.
    """
    if not parent_ids:
        return {}
    model = queryset.model
    db = model._meta.db
    joins = bool(queryset._select_related or queryset._prefetch_map)
    columns = ("id",) if joins else tuple(model._meta.db_fields)
    sql, params = _ranked_sql(
        queryset, columns, parent, parent_ids, after, first, newest_first, field, statement_key
    )
    rows = await db.execute_query_dict(sql, params)
    if joins and rows:
        wanted = queryset.filter(id__in=[row["id"] for row in rows])
        items = list(await wanted.order_by(f"-{field}" if newest_first else field))
    else:
        items = [model._init_from_db(**row) for row in rows]
    return _pages(items, parent, parent_ids, first, _CountsByParent(queryset, parent, parent_ids))


async def paginate_each_allowed(
    queryset: QuerySet[M],
    *,
    parent: str,
    parent_ids: Collection[int],
    allowed: Collection[int],
    refused: R,
    after: int | None,
    first: int,
) -> dict[int, Page[M] | R]:
    """`paginate_each` over the parents the caller may read (`allowed`), and `refused` for
    each other one of `parent_ids` (an error a dataloader raises for that one alone)."""
    pages = await paginate_each(
        queryset,
        parent=parent,
        parent_ids=sorted(set(allowed) & set(parent_ids)),
        after=after,
        first=first,
    )
    return {pk: pages.get(pk, refused) for pk in parent_ids}


async def paginate_rows_each(
    queryset: QuerySet[M],
    shape: RowShape[R],
    *,
    parent: str,
    parent_ids: Collection[int],
    after: int | None,
    first: int,
    newest_first: bool = False,
    field: str = "id",
    statement_key: Hashable | None = None,
    ordering: Ordering | None = None,
) -> dict[int, Page[R]]:
    """`paginate_each`, the items read as `shape`'s plain rows instead of models.

    `statement_key` names `queryset`'s filters (what changes the statement's text besides
    the arguments here), so that the statement is built once per shape (`StatementTexts`);
    None builds it every time. With `ordering`, pages follow it (from its position; `after`,
    `newest_first` and `field` unused) and the statement is built every time.
    """
    if not parent_ids:
        return {}
    sql, params = _ranked_sql(
        queryset,
        shape.columns,
        parent,
        parent_ids,
        after,
        first,
        newest_first,
        field,
        None if ordering else statement_key,
        ordering,
    )
    counts = _CountsByParent(queryset, parent, parent_ids)
    return _pages(await shape.fetch(sql, params), parent, parent_ids, first, counts)


def _ranked_sql(
    queryset: QuerySet[M],
    columns: Sequence[str],
    parent: str,
    parent_ids: Collection[int],
    after: int | None,
    first: int,
    newest_first: bool,
    field: str,
    statement_key: Hashable | None,
    ordering: Ordering | None = None,
) -> tuple[str, list[Any]]:
    ids = sorted(set(parent_ids))
    params: list[Any] = [*ids, *([] if after is None else [after]), first + 1]
    # Everything of the statement's shape that the caller's `statement_key` does not name:
    # its table, whether it joins, and the arguments here that add no value.
    joins = bool(queryset._select_related or queryset._prefetch_map)
    key = (
        None
        if statement_key is None
        else (
            statement_key,
            queryset.model,
            joins,
            tuple(columns),
            parent,
            after is None,
            newest_first,
            field,
        )
    )
    return STATEMENTS.sql(
        queryset.model._meta.db,
        key,
        params,
        lambda: (
            _ranked(queryset, columns, parent, ids, after, first, newest_first, field)
            if ordering is None
            else _ranked_in(queryset, columns, parent, ids, first, ordering)
        ),
    )


def _ranked(
    queryset: QuerySet[M],
    columns: Sequence[str],
    parent: str,
    parent_ids: Collection[int],
    after: int | None,
    first: int,
    newest_first: bool,
    field: str,
) -> QueryBuilder:
    """`columns` of each parent's first `first + 1` rows of `queryset`, in page order."""
    ranked = queryset.filter(**{f"{parent}__in": sorted(set(parent_ids))})
    if after is not None:
        ranked = ranked.filter(**{f"{field}__lt" if newest_first else f"{field}__gt": after})
    order = Order.desc if newest_first else Order.asc
    annotated = ranked.annotate(
        _rank=RowNumber().over(Field(parent)).orderby(Field(field), order=order)
    )
    ranks: QuerySet[M] | ValuesQuery[Literal[False]] = annotated
    if queryset._select_related or queryset._prefetch_map:
        # Ids only: the joined tables' columns would make `id` ambiguous.
        ranks = annotated.values("id", "_rank")
    ranks.sql()  # builds `ranks.query` for the connection the query would run on
    window = Table("ranked")
    return (
        queryset.model._meta.db.query_class.from_(ranks.query.as_("ranked"))
        .select(*(Field(column, table=window) for column in columns))
        .where(Field("_rank", table=window) <= first + 1)
        .orderby(Field(field, table=window), order=order)
    )


def _ranked_in(
    queryset: QuerySet[M],
    columns: Sequence[str],
    parent: str,
    parent_ids: Collection[int],
    first: int,
    ordering: Ordering,
) -> QueryBuilder:
    """`_ranked` under `ordering`: each parent's first `first + 1` rows after its position."""
    order = Order.desc if ordering.descending else Order.asc
    rank = RowNumber().over(Field(parent))
    for term in ordering.keys(None):
        rank = rank.orderby(term, order=order)
    ranks = queryset.filter(**{f"{parent}__in": sorted(set(parent_ids))}).annotate(_rank=rank)
    ranks.sql()  # builds `ranks.query` for the connection the query would run on
    inner = ranks.query
    beyond = ordering.beyond()
    if beyond is not None:
        inner = inner.where(beyond)
    window = Table("ranked")
    outer = (
        queryset.model._meta.db.query_class.from_(inner.as_("ranked"))
        .select(*(Field(column, table=window) for column in columns))
        .where(Field("_rank", table=window) <= first + 1)
    )
    for term in ordering.keys(window):
        outer = outer.orderby(term, order=order)
    return outer


def _pages(
    items: Sequence[T],
    parent: str,
    parent_ids: Collection[int],
    first: int,
    counts: _CountsByParent,
) -> dict[int, Page[T]]:
    pages: dict[int, list[T]] = {parent_id: [] for parent_id in parent_ids}
    for item in items:
        pages[getattr(item, parent)].append(item)
    return {
        parent_id: Page(
            items=items[:first],
            has_next=len(items) > first,
            count=partial(counts.of, parent_id),
        )
        for parent_id, items in pages.items()
    }
