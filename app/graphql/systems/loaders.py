"""The systems' dataloaders."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from app.errors import KeyrackError
from app.graphql.batching import KeyLoader, Options, PageLoader
from app.storage.pagination import Page
from app.systems import service as systems
from app.systems.models import System, SystemMembership, SystemRole


class SystemsByIdLoader(KeyLoader[int, System]):
    def __init__(self) -> None:
        super().__init__(systems.systems_by_ids)


async def _roles(ids: list[int], *, viewer_id: int | None) -> Mapping[int, SystemRole]:
    if viewer_id is None:
        return {}
    return await systems.system_roles_of_user(user_id=viewer_id, system_ids=ids)


class ViewerRolesBySystemIdLoader(KeyLoader[int, SystemRole]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_roles, viewer_id=viewer_id))


async def _systems(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[System]]:
    return await systems.list_systems(organization_ids=ids, after=after, first=first)


class SystemPagesByOrganizationLoader(PageLoader[System]):
    def __init__(self) -> None:
        super().__init__(_systems)


async def _role_assignments(
    ids: list[int], after: int | None, first: int, options: Options, *, viewer_id: int | None
) -> Mapping[int, Page[SystemMembership] | KeyrackError]:
    return await systems.list_role_assignments(
        viewer_id=viewer_id, system_ids=ids, after=after, first=first
    )


class RoleAssignmentPagesBySystemLoader(PageLoader[SystemMembership]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_role_assignments, viewer_id=viewer_id))
