"""Expiry notices: who is told, when, and making sure each notice goes out once.

A round finds key sets whose expiry is within the lead time (EXPIRING) or has passed
(EXPIRED), claims a notice for each by inserting a row that is unique per key set, kind
and expiry, then mails the key set's creator and the admins of its scope (and, with the
first claim of an EXPIRING notice, rings their bells). Several
processes may run rounds at once: the unique row decides which one sends. A notice
claimed but not sent (the mail server refused, the process died) is claimed again by a
later round once `retry_after` has passed. Webhook deliveries of a notice
(KEY_SET_EXPIRING, KEY_SET_EXPIRED) are queued in the transaction that first claims it,
so they are queued once, whether mail is configured or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import clock
from app.keysets.models import KeySet
from app.notifications import inbox
from app.notifications.mail import SCHEDULED, Mailer, MailKind, quoted
from app.notifications.models import ExpiryNotice, NoticeKind, NotificationKind
from app.notifications.people import key_set_people as recipients
from app.webhooks import service as webhooks
from app.webhooks.models import WebhookEvent

logger = logging.getLogger("keyrack.notifications")

# Key sets that expired longer ago than this get no notice: a newly configured mail
# server should not announce every expiry in the organization's history.
EXPIRED_LOOKBACK = timedelta(days=7)
RETRY_AFTER = timedelta(minutes=5)
# The claim time of a notice whose webhooks are queued but whose email nobody has tried.
UNCLAIMED = datetime(1970, 1, 1, tzinfo=UTC)
_EVENTS = {
    NoticeKind.EXPIRING: WebhookEvent.KEY_SET_EXPIRING,
    NoticeKind.EXPIRED: WebhookEvent.KEY_SET_EXPIRED,
}


@dataclass(frozen=True)
class RoundResult:
    sent: int  # notices handled: mailed (when mail is configured), webhooks queued
    failed: int  # notices claimed but not mailed; retried later


async def _claim(
    key_set: KeySet, kind: NoticeKind, expires_at: datetime, now: datetime, *, take_over: bool
) -> ExpiryNotice | None:
    """This process's claim on the notice, or None when another process has it.

    `take_over`: also claim a notice another process claimed long ago and never sent.
    """
    existing = await ExpiryNotice.get_or_none(
        key_set_id=key_set.id, kind=kind, expires_at=expires_at
    )
    if existing is None:
        try:
            # The webhook deliveries are queued with the first claim, and only with it.
            async with in_transaction():
                notice = await ExpiryNotice.create(
                    key_set_id=key_set.id, kind=kind, expires_at=expires_at, claimed_at=now
                )
                await webhooks.key_set_event(key_set, _EVENTS[kind])
                await _ring(key_set, kind, expires_at)
            return notice
        except IntegrityError:
            return None  # another process claimed it first
    if not take_over or existing.sent_at is not None or existing.claimed_at > now - RETRY_AFTER:
        return None
    # Claimed long ago and never sent: take it over, unless another process just did.
    taken = await ExpiryNotice.filter(id=existing.id, claimed_at=existing.claimed_at).update(
        claimed_at=now
    )
    if not taken:
        return None
    existing.claimed_at = now
    return existing


def _body(key_set: KeySet, kind: NoticeKind, expires_at: datetime) -> str:
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    label = quoted(key_set.label)
    organization = quoted(key_set.organization.name)
    scope = f"{organization} / {quoted(key_set.system.name)}" if key_set.system else organization
    if kind is NoticeKind.EXPIRING:
        return (
            f"The key set {label} expires at {when}; it is in {scope}.\n\n"
            "Services using its keys will be refused from then on. Move its expiry with\n"
            "extendKeySet, or create a replacement and move your pipelines over.\n"
        )
    return (
        f"The key set {label} expired at {when}; it is in {scope}.\n\n"
        "Its keys are refused. Move its expiry with extendKeySet if it is still\n"
        "needed, or revoke it.\n"
    )


async def _ring(key_set: KeySet, kind: NoticeKind, expires_at: datetime) -> None:
    """The bell of each recipient, with the first claim of an EXPIRING notice only."""
    if kind is not NoticeKind.EXPIRING:
        return
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    await inbox.notify(
        user_ids=[person.id for person in await recipients(key_set)],
        kind=NotificationKind.KEY_SET_EXPIRING,
        message=(
            f"The key set {quoted(key_set.label)} expires at {when}: extend it, or move its "
            "users to a replacement before then."
        ),
        key_set_id=key_set.id,
        organization_id=key_set.organization_id,
        system_id=key_set.system_id,
    )


_KINDS = {
    NoticeKind.EXPIRING: MailKind.KEY_SET_EXPIRING,
    NoticeKind.EXPIRED: MailKind.KEY_SET_EXPIRED,
}


async def run_round(
    mailer: Mailer | None, *, lead: timedelta, now: datetime | None = None
) -> RoundResult:
    """One pass over the key sets whose notices are due.

    Without a mailer, each notice is claimed for its webhooks and the bell only, and left
    for a process that can mail to take over.
    """
    now = now or clock.now()
    due = (
        await KeySet.filter(
            Q(revoked_at=None),
            Q(expires_at__not_isnull=True),
            Q(expires_at__lte=now + lead),
            Q(expires_at__gt=now - EXPIRED_LOOKBACK),
        )
        .select_related("organization", "system")
        .order_by("expires_at", "id")
    )
    # Every round sees the notices of earlier rounds again: one query tells which are
    # done (sent), or, for a process that cannot mail, already claimed by anyone.
    notices = await ExpiryNotice.filter(key_set_id__in=[k.id for k in due])
    known = {(n.key_set_id, n.kind, n.expires_at): n.sent_at is not None for n in notices}
    sent = failed = 0
    for key_set in due:
        expires_at = key_set.expires_at
        if expires_at is None:  # excluded by the query; narrows the type
            continue
        kind = NoticeKind.EXPIRED if expires_at <= now else NoticeKind.EXPIRING
        done = known.get((key_set.id, kind, expires_at))
        if done or (mailer is None and done is not None):
            continue
        notice = await _claim(key_set, kind, expires_at, now, take_over=mailer is not None)
        if notice is None:
            continue
        if mailer is None:
            # Its webhooks are queued; the email is left to a process that can send it,
            # which may take the claim over at once.
            notice.claimed_at = UNCLAIMED
            await notice.save(update_fields=["claimed_at"])
            sent += 1
            continue
        people = await recipients(key_set)
        try:
            await mailer.mail(
                _KINDS[kind],
                [person.email for person in people],
                lambda _: _body(key_set, kind, expires_at),  # noqa: B023 - called at once
                requester=SCHEDULED,
            )
        except Exception as error:  # the server is away: a later round retries
            logger.warning(
                "Expiry notice for key set %s not sent: %s", key_set.id, type(error).__name__
            )
            failed += 1
            continue
        notice.sent_at = clock.now()
        notice.recipients = len(people)
        await notice.save(update_fields=["sent_at", "recipients"])
        sent += 1
    return RoundResult(sent=sent, failed=failed)
