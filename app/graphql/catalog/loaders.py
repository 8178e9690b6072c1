"""The permission catalog's dataloader."""

from __future__ import annotations

from collections.abc import Mapping

from app.graphql.batching import Options, PageLoader
from app.permissions import catalog
from app.permissions.catalog import CatalogEntry
from app.storage.pagination import Page


async def _permissions(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[CatalogEntry]]:
    return await catalog.list_catalog(organization_ids=ids, after=after, first=first)


class PermissionPagesByOrganizationLoader(PageLoader[CatalogEntry]):
    def __init__(self) -> None:
        super().__init__(_permissions)
