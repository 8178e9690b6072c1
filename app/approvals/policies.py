"""Which actions need a second person: an organization's set, and a system's, which only
adds to it (the effective set of a system is the union of the two)."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.transactions import in_transaction

from app.access import organization_access, system_access
from app.approvals.models import ApprovalAction, ApprovalPolicy
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import InvalidInput


def _scope_key(organization_id: int, system_id: int | None) -> str:
    return f"sys:{system_id}" if system_id is not None else f"org:{organization_id}"


def _in_order(actions: Iterable[str]) -> list[ApprovalAction]:
    wanted = set(actions)
    return [action for action in ApprovalAction if action.value in wanted]


async def own_actions(*, organization_id: int, system_id: int | None) -> list[ApprovalAction]:
    """The actions this scope itself requires approval for (a system's, without its
    organization's)."""
    policy = await ApprovalPolicy.get_or_none(scope_key=_scope_key(organization_id, system_id))
    return _in_order(policy.actions) if policy else []


async def effective_actions(
    *,
    organization_id: int,
    system_id: int | None,
    reaching: Iterable[int] = (),
    every_system: bool = False,
) -> frozenset[ApprovalAction]:
    """What needs approval in the scope: the organization's set, with the system's (and
    with those of the systems `reaching` names, or of all of them with `every_system`,
    that an organization-wide change reaches)."""
    keys = [_scope_key(organization_id, None)]
    for system in {*reaching, *([system_id] if system_id is not None else [])}:
        keys.append(_scope_key(organization_id, system))
    policies = await (
        ApprovalPolicy.filter(organization_id=organization_id)
        if every_system
        else ApprovalPolicy.filter(scope_key__in=keys)
    )
    return frozenset(_in_order(a for policy in policies for a in policy.actions))


async def weakens(
    *, organization_id: int, system_id: int | None, actions: Iterable[ApprovalAction]
) -> bool:
    """Whether setting the scope's own set to `actions` takes any action out of it."""
    current = await own_actions(organization_id=organization_id, system_id=system_id)
    return not set(current) <= set(actions)


async def update_policy(
    *,
    actor: Actor,
    organization_id: int | None,
    system_id: int | None,
    actions: Iterable[ApprovalAction],
) -> list[ApprovalAction]:
    """Sets the scope's own actions (admins of the scope); returns the new set."""
    if (organization_id is None) == (system_id is None):
        raise InvalidInput("Give exactly one of organizationId and systemId.")
    async with in_transaction():
        if system_id is not None:
            access = await system_access(user_id=actor.user.id, system_id=system_id)
            access.require_admin()
            organization_id = access.system.organization_id
            label = access.system.name
        else:
            organization = await organization_access(
                user_id=actor.user.id, organization_id=int(str(organization_id)), for_update=True
            )
            organization.require_admin()
            organization_id = organization.organization.id
            label = organization.organization.name
        new = _in_order(actions)
        key = _scope_key(organization_id, system_id)
        policy = await ApprovalPolicy.select_for_update().get_or_none(scope_key=key)
        old = _in_order(policy.actions) if policy else []
        if policy is None:
            await ApprovalPolicy.create(
                organization_id=organization_id,
                system_id=system_id,
                scope_key=key,
                actions=[a.value for a in new],
            )
        else:
            policy.actions = [a.value for a in new]
            await policy.save(update_fields=["actions"])
        if old != new:
            await audit.record(
                organization_id=organization_id,
                action=AuditAction.APPROVAL_POLICY_CHANGED,
                actor=actor,
                system_id=system_id,
                target_label=label,
                details={"actions": {"old": [a.value for a in old], "new": [a.value for a in new]}},
            )
    return new
