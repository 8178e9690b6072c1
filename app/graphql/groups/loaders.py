"""The permission groups' dataloaders. Not cached: a mutation may change a key set's
groups, or a group."""

from __future__ import annotations

from collections.abc import Mapping

from app.graphql.batching import KeyLoader, Options, PageLoader
from app.keysets import groups
from app.keysets.models import PermissionGroup
from app.storage.pagination import Page


class PermissionGroupsByKeySetIdLoader(KeyLoader[int, list[PermissionGroup]]):
    def __init__(self) -> None:
        super().__init__(groups.groups_of_key_sets, cache=False)


async def _groups(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[PermissionGroup]]:
    return await groups.list_groups(organization_ids=ids, after=after, first=first)


class PermissionGroupPagesByOrganizationLoader(PageLoader[PermissionGroup]):
    def __init__(self) -> None:
        super().__init__(_groups)
