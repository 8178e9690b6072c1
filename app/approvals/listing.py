"""Listing requests: an organization's, for its owners and admins, and a viewer's."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app import clock
from app.access import administered_organizations, administered_systems
from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.context import Actor
from app.errors import Forbidden
from app.organizations.models import Membership

MOST_LISTED = 100


async def of_organization(
    *, actor: Actor, organization_id: int, status: ApprovalStatus | None
) -> list[ApprovalRequest]:
    """The organization's requests, newest first, for its owners and admins."""
    if organization_id not in await administered_organizations(
        user_id=actor.user.id, organization_ids=[organization_id]
    ):
        raise Forbidden("Only owners and admins may list the organization's approval requests.")
    return await _listed(ApprovalRequest.filter(organization_id=organization_id), status)


async def of_viewer(*, actor: Actor, status: ApprovalStatus | None) -> list[ApprovalRequest]:
    """The requests the viewer made (in organizations they are still in), and those of
    the scopes they administer."""
    user_id = actor.user.id
    organizations = [m.organization_id for m in await Membership.filter(user_id=user_id)]
    administered = await administered_organizations(user_id=user_id, organization_ids=organizations)
    systems = await administered_systems(
        user_id=user_id, system_ids=await _systems_with_requests(organizations)
    )
    query = ApprovalRequest.filter(
        Q(requested_by_id=user_id, organization_id__in=organizations or [0])
        | Q(organization_id__in=sorted(administered) or [0])
        | Q(system_id__in=sorted(systems) or [0])
    )
    return await _listed(query, status)


async def _systems_with_requests(organization_ids: list[int]) -> list[int]:
    rows = await ApprovalRequest.filter(
        organization_id__in=organization_ids or [0], system_id__not_isnull=True
    ).only("id", "system_id")
    return sorted({row.system_id for row in rows if row.system_id is not None})


async def _listed(
    query: QuerySet[ApprovalRequest], status: ApprovalStatus | None
) -> list[ApprovalRequest]:
    now = clock.now()
    if status is ApprovalStatus.EXPIRED:
        query = query.filter(status=ApprovalStatus.PENDING, expires_at__lte=now)
    elif status is ApprovalStatus.PENDING:
        query = query.filter(status=ApprovalStatus.PENDING, expires_at__gt=now)
    elif status is not None:
        query = query.filter(status=status)
    rows: list[ApprovalRequest] = await query.order_by("-id").limit(MOST_LISTED)
    return rows
