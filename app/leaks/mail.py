"""Telling a key set's admins that one of its keys was found in public."""

from __future__ import annotations

import asyncio
import logging

from app.keysets.models import KeySet, LeakAction
from app.leaks.models import KeyExposure
from app.notifications.mail import SCHEDULED, Mailer, MailKind, Requester, quoted
from app.notifications.people import key_set_people as recipients

logger = logging.getLogger("keyrack.leaks")

_DONE = {
    LeakAction.NOTIFY: "Nothing was changed (the organization's onLeak policy is NOTIFY): "
    "regenerate the key now.",
    LeakAction.DISABLE: "The key set was disabled (onLeak: DISABLE): regenerate the key, move "
    "your services to the new one, then enable the set again.",
    LeakAction.REVOKE: "The key set was revoked (onLeak: REVOKE): create a replacement.",
}

# Mail goes out after the report is answered; the tasks are kept here until they end.
_pending: set[asyncio.Task[None]] = set()


def _body(key_set: KeySet, exposure: KeyExposure) -> str:
    when = exposure.reported_at.strftime("%Y-%m-%d %H:%M UTC")
    where = exposure.url or "(no address given)"
    reporter = "GitHub secret scanning" if exposure.reported_by_id is None else "a user"
    return (
        f"The {exposure.slot.value.lower()} key of the key set {quoted(key_set.label)} "
        f"({exposure.hint}) was reported found in public at {when}.\n\n"
        f"Where: {where}\n"
        f"Reported by: {reporter} ({exposure.channel.value})\n\n"
        f"{_DONE[exposure.action]}\n"
    )


async def mail_exposure(
    mailer: Mailer, key_set: KeySet, exposure: KeyExposure, requester: Requester = SCHEDULED
) -> None:
    """Mails the admins of the key set's scope (and its creator); failures are logged."""
    try:
        people = await recipients(key_set)
        await mailer.mail(
            MailKind.KEY_EXPOSED,
            [person.email for person in people],
            lambda _: _body(key_set, exposure),
            requester=requester,
        )
    except Exception as error:  # the report is recorded and audited; the mail is a courtesy
        logger.warning(
            "Exposure mail for key set %s not sent: %s", key_set.id, type(error).__name__
        )


def mail_later(
    mailer: Mailer | None,
    key_set: KeySet | None,
    exposure: KeyExposure | None,
    requester: Requester = SCHEDULED,
) -> None:
    """Starts `mail_exposure` without waiting for it (a scanner wants its answer quickly)."""
    if mailer is None or key_set is None or exposure is None:
        return
    task = asyncio.create_task(mail_exposure(mailer, key_set, exposure, requester))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def settled() -> None:
    """Waits until every mail `mail_later` started so far is sent or given up."""
    await asyncio.gather(*_pending)
