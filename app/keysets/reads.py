"""Reading key sets: what a member may see, and the batched reads behind the dataloaders."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from pypika_tortoise.queries import QueryBuilder, Table

from app import clock
from app.accounts.models import User
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySetStatus, KeySlot
from app.keysets.order import KeySetOrder, OrderedPosition, ordering
from app.keysets.rules import status_condition
from app.organizations.models import Membership
from app.storage.pagination import Ordering, Page, paginate_rows_each
from app.storage.rows import STATEMENTS, RowShape
from app.validation import canonical_text


async def get_visible_key_set(*, user: User, key_set_id: int) -> KeySet | None:
    """The key set if the user is a member of its organization, else None."""
    key_set = await KeySet.get_or_none(id=key_set_id)
    if key_set is None or not await Membership.exists(
        user_id=user.id,
        organization_id=key_set.organization_id,
    ):
        return None
    return key_set


class KeySetRow(NamedTuple):
    """What a list shows of a key set, and what its fields need, read as plain values
    (`RowShape`): the attributes of a `KeySet` model by the same names."""

    id: int
    organization_id: int
    system_id: int | None
    scope: KeySetScope
    label: str
    description: str
    permissions: list[str]
    allowed_cidrs: list[str]
    enabled: bool
    expires_at: datetime | None
    created_at: datetime
    created_by_id: int | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by_id: int | None
    revoke_reason: str | None
    external_id: str | None
    meta: dict[str, object] | None
    remaining: int | None
    refill_amount: int | None
    refill_interval: str | None
    refilled_at: datetime | None


KEY_SET_ROWS = RowShape(KeySet, KeySetRow)


async def list_key_sets(
    *,
    organization_ids: Collection[int] = (),
    system_ids: Collection[int] = (),
    include_systems: bool = False,
    statuses: Sequence[KeySetStatus] | None = None,
    external_id: str | None = None,
    label_contains: str | None = None,
    order: KeySetOrder | None = None,
    after: int | OrderedPosition | None,
    first: int,
) -> dict[int, Page[KeySetRow]]:
    """A page of key sets for each organization (its own, or with its systems') or system,
    as rows: oldest first, or in `order` (then `after` is an `OrderedPosition`).

    Pass organization ids or system ids, not both; pages are keyed by the ids passed.
    `label_contains` matches case-insensitively, its `%` and `_` as themselves.
    """
    if organization_ids and system_ids:
        raise ValueError("list key sets of organizations or of systems, not both")
    query = KeySet.all()
    if statuses:  # filters on the time now: a statement of its own each time
        query = query.filter(status_condition(statuses, clock.now()))
    if external_id is not None:  # on its index; a statement of its own too
        query = query.filter(external_id=external_id.strip())
    if label_contains:  # in labels' own spelling; tortoise escapes LIKE's % and _
        query = query.filter(label__icontains=canonical_text(label_contains))
    filtered = bool(statuses) or external_id is not None or bool(label_contains)
    ordered: Ordering | None = None
    if order is not None:
        if isinstance(after, int):
            raise ValueError("a position under an order is an OrderedPosition")
        ordered, after = ordering(order, after), None
    elif isinstance(after, OrderedPosition):
        raise ValueError("an OrderedPosition needs its order")
    if system_ids:
        return await paginate_rows_each(
            query,
            KEY_SET_ROWS,
            parent="system_id",
            parent_ids=system_ids,
            after=after,
            first=first,
            statement_key=None if filtered else "key sets",
            ordering=ordered,
        )
    if not include_systems:
        query = query.filter(system_id=None)
    return await paginate_rows_each(
        query,
        KEY_SET_ROWS,
        parent="organization_id",
        parent_ids=organization_ids,
        after=after,
        first=first,
        statement_key=None if filtered else ("key sets", include_systems),
        ordering=ordered,
    )


async def current_keys(key_set_ids: Sequence[int]) -> list[ApiKey]:
    """The current key of each slot of the given key sets."""
    return await ApiKey.filter(key_set_id__in=list(key_set_ids), current=True)


class KeyRow(NamedTuple):
    """What a list shows of a current key, read as plain values: no model is built, and no
    key material is read."""

    id: int
    key_set_id: int
    slot: KeySlot
    hint: str
    created_at: datetime
    created_by_id: int | None
    last_used_at: datetime | None
    first_used_at: datetime | None


KEY_ROWS = RowShape(ApiKey, KeyRow)


async def current_key_rows(key_set_ids: Sequence[int]) -> list[KeyRow]:
    """`current_keys` as rows, for reading many: a fraction of the CPU of the models."""
    if not key_set_ids:
        return []
    ids = list(key_set_ids)

    def build() -> QueryBuilder:
        table = Table(ApiKey._meta.db_table)
        return (
            ApiKey._meta.db.query_class.from_(table)
            .select(*(table[column] for column in KEY_ROWS.columns))
            .where(table.key_set_id.isin(ids) & (table.current == True))  # noqa: E712
        )

    sql, params = STATEMENTS.sql(ApiKey._meta.db, "current key rows", [*ids, True], build)
    return await KEY_ROWS.fetch(sql, params)


async def api_keys_by_ids(ids: Sequence[int]) -> dict[int, ApiKey]:
    return {key.id: key for key in await ApiKey.filter(id__in=list(ids))}


async def key_sets_by_ids(ids: Sequence[int]) -> dict[int, KeySet]:
    return {key_set.id: key_set for key_set in await KeySet.filter(id__in=list(ids))}
