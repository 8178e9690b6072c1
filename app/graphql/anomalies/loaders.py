"""The anomalies' dataloaders: a page of each key set's, and its muted kinds."""

from __future__ import annotations

from collections.abc import Mapping

from app.anomalies import service
from app.anomalies.models import AnomalyKind, KeyAnomaly
from app.graphql.batching import KeyLoader, Options, PageLoader
from app.storage.pagination import Page


async def _anomalies(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[KeyAnomaly]]:
    (unacknowledged_only,) = options
    return await service.anomalies_of(
        ids, after=after, first=first, unacknowledged_only=bool(unacknowledged_only)
    )


class AnomalyPagesByKeySetLoader(PageLoader[KeyAnomaly]):
    """Options: (unacknowledged_only,)."""

    def __init__(self) -> None:
        super().__init__(_anomalies)


class MutedAnomalyKindsByKeySetIdLoader(KeyLoader[int, list[AnomalyKind]]):
    def __init__(self) -> None:
        super().__init__(service.muted_kinds)
