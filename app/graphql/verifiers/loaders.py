"""The verifiers' dataloaders: an organization's, a system's."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from app.errors import KeyrackError
from app.graphql.batching import Options, PageLoader
from app.storage.pagination import Page
from app.verifiers import service as verifiers
from app.verifiers.models import Verifier


async def _of_organizations(
    ids: list[int], after: int | None, first: int, options: Options, *, viewer_id: int | None
) -> Mapping[int, Page[Verifier] | KeyrackError]:
    return await verifiers.list_verifiers(
        viewer_id=viewer_id, organization_ids=ids, after=after, first=first
    )


class VerifierPagesByOrganizationLoader(PageLoader[Verifier]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_of_organizations, viewer_id=viewer_id))


async def _of_systems(
    ids: list[int], after: int | None, first: int, options: Options, *, viewer_id: int | None
) -> Mapping[int, Page[Verifier] | KeyrackError]:
    return await verifiers.list_verifiers(
        viewer_id=viewer_id, system_ids=ids, after=after, first=first
    )


class VerifierPagesBySystemLoader(PageLoader[Verifier]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_of_systems, viewer_id=viewer_id))
