"""The key sets' dataloaders, and what a page of key sets loads alongside them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from app import clock
from app.accounts.models import User
from app.graphql.accounts.loaders import UsersByIdLoader
from app.graphql.batching import KeyLoader, Options, PageLoader
from app.keysets import admins, reads, retirement, reuse
from app.keysets.models import ApiKey, KeySet, KeySetStatus, KeySlot
from app.keysets.order import KeySetOrder, OrderedPosition
from app.keysets.reuse import ReuseSummary
from app.storage.pagination import Page


class KeySetsByIdLoader(KeyLoader[int, KeySet]):
    def __init__(self) -> None:
        super().__init__(reads.key_sets_by_ids)


class ApiKeysByIdLoader(KeyLoader[int, ApiKey]):
    """Not cached: a key's material is destroyed when its set is revoked."""

    def __init__(self) -> None:
        super().__init__(reads.api_keys_by_ids, cache=False)


async def _current_keys(ids: list[int]) -> Mapping[int, dict[KeySlot, ApiKey]]:
    grouped: dict[int, dict[KeySlot, ApiKey]] = {}
    for key in await reads.current_keys(ids):
        grouped.setdefault(key.key_set_id, {})[key.slot] = key
    return grouped


class CurrentKeysByKeySetIdLoader(KeyLoader[int, dict[KeySlot, ApiKey]]):
    def __init__(self) -> None:
        super().__init__(_current_keys)


async def _previous_keys(ids: list[int]) -> Mapping[int, list[ApiKey]]:
    return await retirement.previous_keys(ids, now=clock.now())


class PreviousKeysByKeySetIdLoader(KeyLoader[int, list[ApiKey]]):
    def __init__(self) -> None:
        super().__init__(_previous_keys)


class ReuseByKeySetIdLoader(KeyLoader[int, ReuseSummary]):
    def __init__(self) -> None:
        super().__init__(reuse.reuse_of_key_sets)


async def _admin_flags(ids: list[int], *, viewer_id: int | None) -> Mapping[int, bool]:
    if viewer_id is None:
        return {}
    return await admins.admin_flags(user_id=viewer_id, key_set_ids=ids)


class ViewerAdminFlagsByKeySetIdLoader(KeyLoader[int, bool]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_admin_flags, viewer_id=viewer_id))


async def _retired_keys(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[ApiKey]]:
    return await retirement.retired_keys(ids, after=after, first=first)


class RetiredKeyPagesByKeySetLoader(PageLoader[ApiKey]):
    def __init__(self) -> None:
        super().__init__(_retired_keys)


def status_options(statuses: Sequence[str] | None) -> tuple[str, ...]:
    """A `status` argument as part of a page request: distinct values in a stable order."""
    return tuple(sorted({KeySetStatus(status).value for status in statuses or ()}))


def _statuses(options: Options) -> list[KeySetStatus] | None:
    return [KeySetStatus(status) for status in options if isinstance(status, str)] or None


@dataclass(frozen=True)
class KeySetCriteria:
    """Which key sets a list shows and in what order, from where: part of its page request
    (under an order, `after` is the start and the request's own `after` is None)."""

    external_id: str | None = None
    label_contains: str | None = None
    order: KeySetOrder | None = None
    after: OrderedPosition | None = None


def _criteria(option: object) -> KeySetCriteria:
    if not isinstance(option, KeySetCriteria):
        raise TypeError(f"expected KeySetCriteria, got {type(option).__name__}")
    return option


@dataclass(frozen=True)
class Preloaded:
    """What was loaded with a key set's page, so that the fields reading it answer at once,
    with no loader hop of their own. None: not asked for, not loaded."""

    keys: dict[KeySlot, reads.KeyRow] | None
    created_by: tuple[User | None] | None
    # Shared by the page's key sets: what a field builds once for all of them, by user
    # id (a creator's GraphQL object, say).
    page_memo: dict[int, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ListedKeySet:
    """A key set of a page, with what the query shows of it loaded alongside."""

    row: reads.KeySetRow
    preloaded: Preloaded


@dataclass(frozen=True)
class KeySetShown:
    """What a key set connection's nodes show beyond the key set's own columns: its
    current keys, its creator. Part of the page request, so that a page loads them with
    its key sets, for every sibling page at once."""

    keys: bool
    creator: bool


async def _with_shown(
    pages: Mapping[int, Page[reads.KeySetRow]], shown: Hashable, *, users: UsersByIdLoader
) -> dict[int, Page[ListedKeySet]]:
    """The pages' key sets with their current keys and creators, as `shown` asks:
    one statement each for all the pages."""
    if not isinstance(shown, KeySetShown):
        raise TypeError(f"expected KeySetShown, got {type(shown).__name__}")
    rows = [row for page in pages.values() for row in page.items]
    keys: dict[int, dict[KeySlot, reads.KeyRow]] = {}
    if shown.keys and rows:
        for key in await reads.current_key_rows([row.id for row in rows]):
            keys.setdefault(key.key_set_id, {})[key.slot] = key
    found: dict[int, User] = {}
    if shown.creator and rows:
        # The keys' creators too, in the same statement: `primaryKey { createdBy }`
        # then finds them in the (cached) users loader.
        creator_ids = {row.created_by_id for row in rows} | {
            key.created_by_id for slots in keys.values() for key in slots.values()
        }
        creators = await users.load_many(sorted(i for i in creator_ids if i))
        found = {user.id: user for user in creators if user is not None}

    page_memo: dict[int, object] = {}

    def listed(row: reads.KeySetRow) -> ListedKeySet:
        creator = found.get(row.created_by_id) if row.created_by_id else None
        return ListedKeySet(
            row,
            Preloaded(
                keys=keys.get(row.id, {}) if shown.keys else None,
                created_by=(creator,) if shown.creator else None,
                page_memo=page_memo,
            ),
        )

    return {
        parent: Page(
            items=[listed(row) for row in page.items],
            has_next=page.has_next,
            count=page.count,
        )
        for parent, page in pages.items()
    }


async def _of_organizations(
    ids: list[int], after: int | None, first: int, options: Options, *, users: UsersByIdLoader
) -> Mapping[int, Page[ListedKeySet]]:
    shown, include_systems, criteria, *statuses = options
    chosen = _criteria(criteria)
    pages = await reads.list_key_sets(
        organization_ids=ids,
        include_systems=bool(include_systems),
        statuses=_statuses(tuple(statuses)),
        external_id=chosen.external_id,
        label_contains=chosen.label_contains,
        order=chosen.order,
        after=chosen.after if chosen.order else after,
        first=first,
    )
    return await _with_shown(pages, shown, users=users)


class KeySetPagesByOrganizationLoader(PageLoader[ListedKeySet]):
    """An organization's key sets; with `include_systems`, its systems' too."""

    def __init__(self, users: UsersByIdLoader) -> None:
        super().__init__(partial(_of_organizations, users=users))


async def _of_systems(
    ids: list[int], after: int | None, first: int, options: Options, *, users: UsersByIdLoader
) -> Mapping[int, Page[ListedKeySet]]:
    shown, criteria, *statuses = options
    chosen = _criteria(criteria)
    pages = await reads.list_key_sets(
        system_ids=ids,
        statuses=_statuses(tuple(statuses)),
        external_id=chosen.external_id,
        label_contains=chosen.label_contains,
        order=chosen.order,
        after=chosen.after if chosen.order else after,
        first=first,
    )
    return await _with_shown(pages, shown, users=users)


class KeySetPagesBySystemLoader(PageLoader[ListedKeySet]):
    def __init__(self, users: UsersByIdLoader) -> None:
        super().__init__(partial(_of_systems, users=users))
