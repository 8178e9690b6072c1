"""The organizations' dataloaders, and the viewer's role in each, which the pages of
admin-only lists ask for."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from app.errors import KeyrackError
from app.graphql.batching import KeyLoader, Options, PageLoader
from app.organizations import invitations
from app.organizations import service as organizations
from app.organizations.models import Invitation, Membership, Organization, OrganizationRole
from app.storage.pagination import Page


class OrganizationsByIdLoader(KeyLoader[int, Organization]):
    def __init__(self) -> None:
        super().__init__(organizations.organizations_by_ids)


async def _roles(ids: list[int], *, viewer_id: int | None) -> Mapping[int, OrganizationRole]:
    if viewer_id is None:
        return {}
    return await organizations.roles_of_user(user_id=viewer_id, organization_ids=ids)


class ViewerRolesByOrganizationIdLoader(KeyLoader[int, OrganizationRole]):
    def __init__(self, viewer_id: int | None) -> None:
        super().__init__(partial(_roles, viewer_id=viewer_id))


async def viewer_roles(
    roles: ViewerRolesByOrganizationIdLoader, ids: list[int]
) -> dict[int, OrganizationRole | None]:
    """The viewer's role in each organization, through the (caching) roles loader."""
    return dict(zip(ids, await roles.load_many(ids), strict=True))


async def _members(
    ids: list[int], after: int | None, first: int, options: Options
) -> Mapping[int, Page[Membership]]:
    return await organizations.list_members(organization_ids=ids, after=after, first=first)


class MemberPagesByOrganizationLoader(PageLoader[Membership]):
    def __init__(self) -> None:
        super().__init__(_members)


async def _invitations(
    ids: list[int],
    after: int | None,
    first: int,
    options: Options,
    *,
    roles: ViewerRolesByOrganizationIdLoader,
) -> Mapping[int, Page[Invitation] | KeyrackError]:
    return await invitations.list_invitations(
        viewer_roles=await viewer_roles(roles, ids),
        pending_only=bool(options[0]),
        after=after,
        first=first,
    )


class InvitationPagesByOrganizationLoader(PageLoader[Invitation]):
    def __init__(self, roles: ViewerRolesByOrganizationIdLoader) -> None:
        super().__init__(partial(_invitations, roles=roles))
