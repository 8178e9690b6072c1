"""The key hygiene digest: every interval, each organization's admins get its findings.

Runs where KEYRACK_HYGIENE_DIGEST=weekly and SMTP is configured. An organization with no
findings gets no mail. `HygieneDigest` holds when each organization's digest was last
sent; a process claims a digest by moving that time forward with a conditional update,
so several processes send each digest once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from app import clock
from app.keysets.hygiene import KeySetHygiene, key_hygiene
from app.notifications.mail import SCHEDULED, Mailer, MailKind, quoted
from app.notifications.models import HygieneDigest
from app.organizations.models import ORGANIZATION_ADMIN_ROLES, Membership, Organization

logger = logging.getLogger("keyrack.notifications")

MAX_LISTED = 50  # key sets listed in one mail; the rest are counted


async def _claim(organization_id: int, now: datetime, interval: timedelta) -> bool:
    row = await HygieneDigest.get_or_none(organization_id=organization_id)
    if row is None:
        try:
            await HygieneDigest.create(organization_id=organization_id, sent_at=now)
        except IntegrityError:
            return False  # another process claimed it first
        return True
    if row.sent_at > now - interval:
        return False
    taken = await HygieneDigest.filter(id=row.id, sent_at=row.sent_at).update(sent_at=now)
    return bool(taken)


def _body(organization: Organization, found: list[KeySetHygiene]) -> str:
    kinds = Counter(finding.kind.value for item in found for finding in item.findings)
    lines = [
        f"Key hygiene of {quoted(organization.name)}: {len(found)} key set(s) need attention.",
        "",
        ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items())),
        "",
    ]
    for item in found[:MAX_LISTED]:
        lines.append(f"- {quoted(item.key_set.label)}")
        lines.extend(f"    {finding.kind.value}: {finding.message}" for finding in item.findings)
    if len(found) > MAX_LISTED:
        lines.append(f"... and {len(found) - MAX_LISTED} more: see Organization.keyHygiene.")
    return "\n".join(lines) + "\n"


async def run_digest_round(
    mailer: Mailer, *, interval: timedelta, now: datetime | None = None
) -> int:
    """Mails the digests that are due; how many organizations got one."""
    now = now or clock.now()
    sent = 0
    for organization in await Organization.all().order_by("id"):
        found = await key_hygiene(organization_id=organization.id, now=now)
        if not found or not await _claim(organization.id, now, interval):
            continue
        admins = await Membership.filter(
            organization_id=organization.id, role__in=list(ORGANIZATION_ADMIN_ROLES)
        ).select_related("user")
        try:
            await mailer.mail(
                MailKind.HYGIENE_DIGEST,
                [m.user.email for m in admins],
                lambda _: _body(organization, found),  # noqa: B023 - called at once
                requester=SCHEDULED,
            )
        except Exception as error:  # the server is away: give the claim back for a later round
            logger.warning(
                "Hygiene digest for organization %s not sent: %s",
                organization.id,
                type(error).__name__,
            )
            await HygieneDigest.filter(organization_id=organization.id, sent_at=now).delete()
            continue
        sent += 1
    return sent


class HygieneDigester:
    def __init__(self, mailer: Mailer, *, interval_seconds: float) -> None:
        self.mailer = mailer
        self.interval = timedelta(seconds=interval_seconds)
        # Rounds are cheap when nothing is due: look often enough that a digest is not
        # late by more than a tenth of its interval (and at most every hour).
        self.period = min(interval_seconds / 10, 3600.0)

    async def run_once(self) -> int:
        return await run_digest_round(self.mailer, interval=self.interval)
