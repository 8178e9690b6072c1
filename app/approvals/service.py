"""Two-person approval: an action held as a request, decided by another owner or admin.

PENDING ──approve──> APPROVED ──applied──> APPLIED   (held key values: claim, once)
   │                    └──world changed──> REJECTED (notApplied)
   ├──reject──> REJECTED
   ├──applyAlone (an owner, break-glass)──> APPLIED
   └──expiresAt passes──> EXPIRED           (by the clock; nothing writes it)

A decision takes the request's row lock, so two approvals of one request apply it once;
the change is applied by the caller's `Apply`, the same code the held mutation runs, in
the requester's name: their right to make it is checked again then.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

from tortoise.transactions import in_transaction

from app import clock
from app.access import administered_systems
from app.accounts.models import User
from app.approvals.eligibility import deciders, held_before, may_decide
from app.approvals.entitlement import may_still_claim
from app.approvals.models import ApprovalAction, ApprovalRequest, ApprovalStatus
from app.approvals.telling import Told, announce, mail, tell
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.context import Actor
from app.errors import ErrorCode, Forbidden, InvalidState, KeyrackError, NotFound, UserInputError
from app.ids import to_global_id
from app.keysets.keys import KeyMaterial
from app.keysets.rules import clean_reason
from app.notifications.mail import Mailer
from app.notifications.models import NotificationKind
from app.organizations.models import Membership, OrganizationRole
from app.webhooks.models import WebhookEvent

# Applies a request's change as its requester (the actor given) and returns the key
# values it produced, by name; raises a UserInputError when it can no longer be made.
Apply = Callable[[ApprovalRequest, Actor], Awaitable[dict[str, str]]]

# The held values are sealed with the key-encryption key, bound to the request.
_HELD_SLOT = "approval-request"


async def hold(
    *,
    actor: Actor,
    action: ApprovalAction,
    organization_id: int,
    system_id: int | None,
    operation: str,
    change: dict[str, object],
    summary: str,
    reason: str | None,
    ttl_seconds: int,
    precondition: str | None = None,
    mailer: Mailer | None = None,
) -> ApprovalRequest:
    """Holds an action as a PENDING request, audited, and tells those who may decide it.
    With a `precondition` (`app.approvals.world`), it is applied only to the same world."""
    now = clock.now()
    async with in_transaction():
        request = await ApprovalRequest.create(
            organization_id=organization_id,
            system_id=system_id,
            action=action,
            operation=operation,
            change=change,
            precondition=precondition,
            summary=summary[:500],
            reason=clean_reason(reason) or "",
            requested_by_id=actor.user.id,
            requested_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        await _record(
            request,
            AuditAction.APPROVAL_REQUESTED,
            actor,
            expiresAt=request.expires_at.isoformat(),
        )
        who = await deciders(request)
        told = await tell(
            request,
            actor=actor,
            event=WebhookEvent.APPROVAL_REQUESTED,
            kind=NotificationKind.APPROVAL_REQUESTED,
            user_ids=who - {actor.user.id},
            message=f"{actor.user.email} asks for approval: {request.summary}",
            headline=f"{actor.user.email} asks for your approval of a change.",
        )
    await mail(mailer, told)
    return request


async def approve(
    *, actor: Actor, request_id: int, apply: Apply, keys: KeyMaterial, mailer: Mailer | None = None
) -> ApprovalRequest:
    """Another owner or admin of the scope, who held the role before the request was
    made, approves it; the change is then applied as requested, or refused."""
    async with in_transaction():
        request = await _pending(actor, request_id)
        if request.requested_by_id == actor.user.id:
            raise Forbidden("You cannot approve your own request: another owner or admin must.")
        if not await may_decide(actor.user.id, request):
            raise Forbidden(
                "Only owners and admins of the scope who held that role before the request "
                "was made may decide it."
            )
        _decide(request, actor, ApprovalStatus.APPROVED)
        await request.save()
        await _record(request, AuditAction.APPROVAL_GRANTED, actor)
        await announce(request, WebhookEvent.APPROVAL_GRANTED)
    return await _apply(request, apply, keys, decided_by=actor, mailer=mailer)


async def apply_alone(
    *,
    actor: Actor,
    request_id: int,
    reason: str,
    apply: Apply,
    keys: KeyMaterial,
    mailer: Mailer | None = None,
) -> ApprovalRequest:
    """Break-glass: an owner applies a request without a second person, with a written
    reason; audited, and every other owner is told."""
    cleaned = clean_reason(reason)
    if not cleaned:
        raise InvalidState(
            "Say why you apply this alone: reason must not be blank.", field="reason"
        )
    async with in_transaction():
        request = await _pending(actor, request_id)
        membership = await Membership.get_or_none(
            user_id=actor.user.id, organization_id=request.organization_id
        )
        if (
            membership is None
            or membership.role is not OrganizationRole.OWNER
            or not held_before(membership.role_granted_at, request)
        ):
            raise Forbidden("Only owners of the organization may apply a request alone.")
        _decide(request, actor, ApprovalStatus.APPROVED)
        request.decision_reason = cleaned
        request.applied_alone = True
        await request.save()
        await _record(request, AuditAction.APPROVAL_APPLIED_ALONE, actor, decisionReason=cleaned)
        owners = await Membership.filter(
            organization_id=request.organization_id, role=OrganizationRole.OWNER
        )
        told = await tell(
            request,
            actor=actor,
            event=WebhookEvent.APPROVAL_APPLIED_ALONE,
            kind=NotificationKind.APPROVAL_APPLIED_ALONE,
            user_ids={owner.user_id for owner in owners} - {actor.user.id},
            message=f"{actor.user.email} applied alone: {request.summary}. Why: {cleaned}",
            headline=f"{actor.user.email}, an owner, applied a change alone, without a second "
            "person.",
        )
    await mail(mailer, told)
    return await _apply(request, apply, keys, decided_by=actor, mailer=mailer)


async def reject(
    *, actor: Actor, request_id: int, reason: str | None, mailer: Mailer | None = None
) -> ApprovalRequest:
    """Another owner or admin of the scope rejects the request (the requester may
    withdraw their own): nothing is applied."""
    cleaned = clean_reason(reason)
    async with in_transaction():
        request = await _pending(actor, request_id)
        own = request.requested_by_id == actor.user.id
        if not own and not await may_decide(actor.user.id, request):
            raise Forbidden(
                "Only owners and admins of the scope who held that role before the request "
                "was made may decide it."
            )
        _decide(request, actor, ApprovalStatus.REJECTED)
        request.decision_reason = cleaned
        await request.save()
        await _record(request, AuditAction.APPROVAL_REJECTED, actor, decisionReason=cleaned)
        told = await _tell_requester(
            request,
            actor,
            WebhookEvent.APPROVAL_REJECTED,
            f"Rejected: {request.summary}",
            "Your request was rejected: nothing was changed.",
        )
    await mail(mailer, told)
    return request


async def claim(
    *, actor: Actor, request_id: int, keys: KeyMaterial
) -> tuple[ApprovalRequest, dict[str, str]]:
    """The key values an applied request produced, to its requester, once."""
    async with in_transaction():
        request = await _visible(actor, request_id, lock=True)
        if request.requested_by_id != actor.user.id:
            raise Forbidden("Only the person who made the request may claim what it produced.")
        if request.status is not ApprovalStatus.APPLIED:
            raise InvalidState(
                f"This request is {request.status_at(clock.now()).value}: nothing to claim."
            )
        if request.held is None:
            raise InvalidState("What this request produced was claimed already, or it made no key.")
        entitled = await may_still_claim(request, actor.user.id)
        values: dict[str, str] = (
            json.loads(keys.decrypt(request.held, key_set_id=request.id, slot=_HELD_SLOT))
            if entitled
            else {}
        )
        # Refused, the values are dropped for good: committed before the refusal.
        request.held = None
        request.claimed_at = clock.now() if entitled else None
        await request.save(update_fields=["held", "claimed_at"])
        if entitled:
            await _record(request, AuditAction.APPROVAL_CLAIMED, actor, names=sorted(values))
    if not entitled:
        raise Forbidden(
            "You no longer administer what this request produced (or its key set is revoked): "
            "its values are dropped."
        )
    return request, values


async def get_visible(*, actor: Actor, request_id: int) -> ApprovalRequest | None:
    """The request, for its requester and for admins of its scope; else None."""
    try:
        return await _visible(actor, request_id)
    except UserInputError:
        return None


async def _visible(actor: Actor, request_id: int, *, lock: bool = False) -> ApprovalRequest:
    requests = ApprovalRequest.filter(id=request_id)
    if lock:
        requests = requests.select_for_update()
    request = await requests.first()
    # Who left the organization sees (and claims) nothing of it any more.
    if request is None or not (
        (
            request.requested_by_id == actor.user.id
            and await Membership.exists(
                user_id=actor.user.id, organization_id=request.organization_id
            )
        )
        or await Membership.exists(
            user_id=actor.user.id,
            organization_id=request.organization_id,
            role__in=[OrganizationRole.OWNER, OrganizationRole.ADMIN],
        )
        or (
            request.system_id is not None
            and request.system_id
            in await administered_systems(user_id=actor.user.id, system_ids=[request.system_id])
        )
    ):
        raise NotFound("No approval request with this id.", field="requestId")
    return request


async def _pending(actor: Actor, request_id: int) -> ApprovalRequest:
    """The request, locked, if it can still be decided; else why not."""
    request = await _visible(actor, request_id, lock=True)
    status = request.status_at(clock.now())
    if status is ApprovalStatus.EXPIRED:
        raise InvalidState(
            "This request has expired: nothing was done. Make the change again to ask anew.",
            code=ErrorCode.EXPIRED,
        )
    if status is not ApprovalStatus.PENDING:
        raise InvalidState(f"This request was decided already ({status.value}): nothing was done.")
    return request


def _decide(request: ApprovalRequest, actor: Actor, status: ApprovalStatus) -> None:
    request.status = status
    request.decided_by_id = actor.user.id
    request.decided_at = clock.now()


async def _apply(
    request: ApprovalRequest,
    apply: Apply,
    keys: KeyMaterial,
    *,
    decided_by: Actor,
    mailer: Mailer | None,
) -> ApprovalRequest:
    """Applies an APPROVED request as its requester; a change the world no longer allows
    turns it REJECTED, and the refusal is raised."""
    requester = (
        await User.get_or_none(id=request.requested_by_id) if request.requested_by_id else None
    )
    try:
        if requester is None:
            raise InvalidState("The person who made this request no longer exists.")
        produced = await apply(request, Actor(user=requester))
    except KeyrackError as refusal:
        why = refusal.message if isinstance(refusal, UserInputError) else str(refusal)
        async with in_transaction():
            request.status = ApprovalStatus.REJECTED
            request.decision_reason = f"Not applied: {why}"[:500]
            await request.save(update_fields=["status", "decision_reason"])
            await _record(request, AuditAction.APPROVAL_REJECTED, decided_by, notApplied=why)
            told = await _tell_requester(
                request,
                decided_by,
                WebhookEvent.APPROVAL_REJECTED,
                f"Approved but not applied ({why}): {request.summary}",
                "Your request was approved, but not applied: nothing was changed.",
            )
        await mail(mailer, told)
        raise InvalidState(f"Approved, but not applied: {why}") from None
    async with in_transaction():
        request.status = ApprovalStatus.APPLIED
        if produced:
            request.held = keys.encrypt(
                json.dumps(produced), key_set_id=request.id, slot=_HELD_SLOT
            )
        await request.save(update_fields=["status", "held"])
        claim_note = " Claim its key values with claimApprovedRequest." if produced else ""
        told = await _tell_requester(
            request,
            decided_by,
            None,
            f"Approved and applied: {request.summary}.{claim_note}",
            f"Your request was approved and applied.{claim_note}",
        )
    await mail(mailer, told)
    return request


async def _tell_requester(
    request: ApprovalRequest,
    actor: Actor,
    event: WebhookEvent | None,
    message: str,
    headline: str,
) -> Told:
    requester = [request.requested_by_id] if request.requested_by_id is not None else []
    return await tell(
        request,
        actor=actor,
        event=event,
        kind=NotificationKind.APPROVAL_DECIDED,
        user_ids=requester,
        message=message,
        headline=headline,
    )


async def _record(
    request: ApprovalRequest, action: AuditAction, actor: Actor, **details: object
) -> None:
    await audit.record(
        organization_id=request.organization_id,
        action=action,
        actor=actor,
        system_id=request.system_id,
        target_label=request.summary[:200],
        details={
            "requestId": to_global_id("ApprovalRequest", request.id),
            "approvalAction": request.action.value,
            "requestedBy": (
                to_global_id("User", request.requested_by_id) if request.requested_by_id else None
            ),
            "reason": request.reason,
            **{key: value for key, value in details.items() if value is not None},
        },
    )
