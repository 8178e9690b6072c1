"""The scheduled full check of every organization's audit chain.

`auditIntegrity` recomputes only the entry at the last verified position and what came
after it; an older entry edited with its `hash` column left alone stays unseen until the
whole chain is recomputed. `run_full_checks` does that for every organization whose last
full check is older than the interval (KEYRACK_AUDIT_FULL_CHECK_HOURS). A break it finds
where the last full check found none (or another one) is told three ways: an
AUDIT_CHAIN_BROKEN audit entry, the AUDIT_CHAIN_BROKEN webhook event, and a mail to the
organization's owners; `auditIntegrity` reports the break from then on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import clock
from app.audit import service as audit
from app.audit.actions import AuditAction
from app.audit.integrity import Integrity, verify_chain
from app.audit.models import AuditChainState
from app.notifications.mail import SCHEDULED, Mailer, MailKind, quoted
from app.organizations.models import Membership, Organization, OrganizationRole
from app.webhooks.models import WebhookEvent
from app.webhooks.service import enqueue

logger = logging.getLogger("keyrack.audit")


@dataclass
class FullCheckRound:
    checked: int = 0
    # Organizations whose chain was found broken in this round (newly or again).
    broken: list[int] = field(default_factory=list)


def _due(state: AuditChainState | None, *, now: datetime, interval: timedelta) -> bool:
    """Never checked in full, checked longer ago than `interval`, or "checked" in the
    future (a time forged to put the check off)."""
    checked_at = state.full_checked_at if state else None
    return checked_at is None or checked_at <= now - interval or checked_at > now


async def _claim(state: AuditChainState | None, organization_id: int, now: datetime) -> bool:
    """Takes the organization's check for this round, unless another process has."""
    if state is None:
        try:
            await AuditChainState.create(organization_id=organization_id, full_checked_at=now)
        except IntegrityError:
            return False
        return True
    claimed = await AuditChainState.filter(
        id=state.id, full_checked_at=state.full_checked_at
    ).update(full_checked_at=now)
    return claimed == 1


async def run_full_checks(
    mailer: Mailer | None, *, interval: timedelta, now: datetime | None = None
) -> FullCheckRound:
    """One round: recomputes the chain of every organization due (see module)."""
    now = now or clock.now()
    states = {state.organization_id: state for state in await AuditChainState.all()}
    result = FullCheckRound()
    for organization_id in await Organization.all().order_by("id").values_list("id", flat=True):
        pk = int(organization_id)  # type: ignore[call-overload]
        state = states.get(pk)
        if not _due(state, now=now, interval=interval) or not await _claim(state, pk, now):
            continue
        before = state.full_check_broken_at if state else None
        integrity = await verify_chain(organization_id=pk)
        result.checked += 1
        if integrity.valid:
            continue
        result.broken.append(pk)
        if integrity.first_broken_sequence != before:
            await _tell(mailer, pk, integrity)
    return result


async def _tell(mailer: Mailer | None, organization_id: int, integrity: Integrity) -> None:
    """The audit entry and webhook of a break, then the owners' mail."""
    details = {
        "firstBrokenSequence": integrity.first_broken_sequence,
        "checkedEntries": integrity.checked_entries,
    }
    async with in_transaction():
        await audit.record(
            organization_id=organization_id,
            action=AuditAction.AUDIT_CHAIN_BROKEN,
            actor=None,
            details=details,
        )
        await enqueue(
            organization_id=organization_id,
            event=WebhookEvent.AUDIT_CHAIN_BROKEN,
            payload={"firstBrokenSequence": integrity.first_broken_sequence},
        )
    logger.error(
        "Audit chain of organization %s is broken at sequence %s",
        organization_id,
        integrity.first_broken_sequence,
    )
    if mailer is None:
        return
    try:
        organization = await Organization.get(id=organization_id)
        owners = await Membership.filter(
            organization_id=organization_id, role=OrganizationRole.OWNER
        ).select_related("user")
        await mailer.mail(
            MailKind.AUDIT_CHAIN_BROKEN,
            [owner.user.email for owner in owners],
            lambda _to: _body(organization, integrity),
            requester=SCHEDULED,
        )
    except Exception as error:  # the entry and webhook are recorded; the mail is a courtesy
        logger.warning(
            "Audit break mail for organization %s not sent: %s",
            organization_id,
            type(error).__name__,
        )


def _body(organization: Organization, integrity: Integrity) -> str:
    name = quoted(organization.name)
    return (
        f"The scheduled full check of the audit log of {name} found it broken at entry "
        f"{integrity.first_broken_sequence}: an entry was changed or removed outside "
        "Keyrack (the entries before it verify).\n\n"
        "Compare it with your last signed checkpoint (keyrack audit verify --checkpoint) "
        "and with an export kept outside Keyrack, and look into who had write access to "
        "the database.\n"
    )
