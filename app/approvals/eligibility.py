"""Who may decide a request: an owner or admin of its scope (for a system's, its admins
too) who held that role before the request was made, so that a role granted on the
spot, by the requester or anyone else, cannot approve what is already waiting."""

from __future__ import annotations

from datetime import datetime

from app.approvals.models import ApprovalRequest
from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership
from app.systems.models import SystemMembership, SystemRole


def held_before(granted_at: datetime | None, request: ApprovalRequest) -> bool:
    """NULL: a role given before grant times were recorded, so before any request."""
    return granted_at is None or granted_at < request.requested_at


async def deciders(request: ApprovalRequest) -> set[int]:
    """Everyone who may decide the request (the requester included, if they may)."""
    who = {
        m.user_id
        for m in await Membership.filter(
            organization_id=request.organization_id, role__in=list(ORGANIZATION_ADMIN_ROLES)
        )
        if held_before(m.role_granted_at, request)
    }
    if request.system_id is not None:
        members = {
            m.user_id for m in await Membership.filter(organization_id=request.organization_id)
        }
        who |= {
            m.user_id
            for m in await SystemMembership.filter(
                system_id=request.system_id, role=SystemRole.ADMIN
            )
            if m.user_id in members and held_before(m.role_granted_at, request)
        }
    return who


async def may_decide(user_id: int, request: ApprovalRequest) -> bool:
    return user_id in await deciders(request)
