"""Who is told of each step of a request, and how: the bell and the webhook event are
written in the step's own transaction (`tell`), the mail goes once it has committed
(`mail`), bounded like every mail (`Mailer.reserve`).

Requested: those who may decide it (bell, mail). Decided (granted and applied, not
applied, rejected): the requester (bell, mail). Applied alone: every other owner (bell,
mail). Each step is also one webhook event of the organization's. What is told is the
request's summary and reasons, never its kept change: a key value is never in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.accounts.models import User
from app.approvals.models import ApprovalRequest
from app.context import Actor
from app.ids import to_global_id
from app.notifications.inbox import notify
from app.notifications.mail import Mailer, MailKind, Requester, quoted
from app.notifications.models import NotificationKind
from app.webhooks.models import WebhookEvent
from app.webhooks.service import enqueue

logger = logging.getLogger("keyrack.approvals")

_MAIL_OF = {
    NotificationKind.APPROVAL_REQUESTED: MailKind.APPROVAL_REQUESTED,
    NotificationKind.APPROVAL_DECIDED: MailKind.APPROVAL_DECIDED,
    NotificationKind.APPROVAL_APPLIED_ALONE: MailKind.APPROVAL_APPLIED_ALONE,
}


@dataclass(frozen=True)
class Told:
    """What a step told whom, to be mailed once the step has committed."""

    kind: MailKind
    user_ids: frozenset[int]
    body: str
    requester: Requester


def payload(request: ApprovalRequest) -> dict[str, Any]:
    """What a webhook event says about a request: never its kept change."""

    def user(pk: int | None) -> str | None:
        return to_global_id("User", pk) if pk is not None else None

    return {
        "approvalRequest": {
            "id": to_global_id("ApprovalRequest", request.id),
            "action": request.action.value,
            "status": request.status.value,
            "summary": request.summary,
            "reason": request.reason,
            "requestedBy": user(request.requested_by_id),
            "requestedAt": request.requested_at.isoformat(),
            "expiresAt": request.expires_at.isoformat(),
            "decidedBy": user(request.decided_by_id),
            "decisionReason": request.decision_reason,
            "systemId": to_global_id("System", request.system_id) if request.system_id else None,
        }
    }


async def announce(request: ApprovalRequest, event: WebhookEvent) -> None:
    """The organization's webhook event of a step, in the step's transaction."""
    await enqueue(organization_id=request.organization_id, event=event, payload=payload(request))


async def tell(
    request: ApprovalRequest,
    *,
    actor: Actor,
    event: WebhookEvent | None,
    kind: NotificationKind,
    user_ids: Iterable[int],
    message: str,
    headline: str,
) -> Told:
    """The bell of `user_ids` and the organization's webhook event (if any), in the caller's
    transaction; the mail to send after it, `headline` its first line (no text a user
    chose: that goes below it, quoted)."""
    told = frozenset(user_ids)
    await notify(
        user_ids=told,
        kind=kind,
        message=message,
        organization_id=request.organization_id,
        system_id=request.system_id,
    )
    if event is not None:
        await announce(request, event)
    return Told(
        _MAIL_OF[kind],
        told,
        _body(request, headline),
        Requester(user_id=actor.user.id, address=actor.ip_address),
    )


async def mail(mailer: Mailer | None, told: Told | None) -> None:
    """Mails what a committed step told; a failure is logged, the step stands."""
    if mailer is None or told is None or not told.user_ids:
        return
    try:
        people = await User.filter(id__in=sorted(told.user_ids)).order_by("email")
        await mailer.mail(
            told.kind, [p.email for p in people], lambda _: told.body, requester=told.requester
        )
    except Exception as error:  # recorded, audited and in the bell; the mail is a courtesy
        logger.warning("Approval mail (%s) not sent: %s", told.kind.value, type(error).__name__)


def _body(request: ApprovalRequest, headline: str) -> str:
    lines = [
        headline,
        "",
        f"Request: {to_global_id('ApprovalRequest', request.id)} ({request.action.value})",
        f"What: {quoted(request.summary)}",
    ]
    if request.reason:
        lines.append(f"Why it was asked: {quoted(request.reason)}")
    if request.decision_reason:
        lines.append(f"Decision: {quoted(request.decision_reason)}")
    lines += [
        f"Expires: {request.expires_at.strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        "Open Keyrack to see the exact change and decide it (approveRequest, rejectRequest).",
    ]
    return "\n".join(lines) + "\n"
