"""Keyset pagination: `WHERE id > after ORDER BY id LIMIT n`, never OFFSET."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

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
