"""Sending email through the configured SMTP server: every mail Keyrack sends goes through
`Mailer.reserve` and `Mailer.send` here.

A mail is first *reserved*: one place per hour in each of its buckets (its recipient, the
account and the client address that caused it, and for a password reset the account it
resets), each counted and decided in one statement (`app.accounts.throttle`), so that
concurrent requests cannot pass a limit together. Only a `Reserved` mail can be sent, and
only `reserve` makes one, so a new kind of mail cannot skip the limits. A subject is fixed
by the mail's kind: text that a user chose (an organization's, system's or key set's name)
goes in the body only, quoted. Each message goes to exactly the one address it was
reserved for, given to the SMTP server explicitly (never parsed from a header).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from enum import StrEnum

import aiosmtplib

from app import metrics
from app.accounts import throttle
from app.addresses import limit_key
from app.settings import Settings

logger = logging.getLogger("keyrack.notifications")

SMTP_TIMEOUT_SECONDS = 30
_HOUR = timedelta(hours=1)


class MailKind(StrEnum):
    """Every kind of mail Keyrack sends, each with its fixed subject."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of mail
    INVITATION = "invitation"
    KEY_SET_EXPIRING = "key_set_expiring"
    KEY_SET_EXPIRED = "key_set_expired"
    KEY_EXPOSED = "key_exposed"
    HYGIENE_DIGEST = "hygiene_digest"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    APPROVAL_APPLIED_ALONE = "approval_applied_alone"


SUBJECTS: dict[MailKind, str] = {
    MailKind.PASSWORD_RESET: "[Keyrack] Reset your password",
    MailKind.INVITATION: "[Keyrack] You are invited to join an organization",
    MailKind.KEY_SET_EXPIRING: "[Keyrack] A key set expires soon",
    MailKind.KEY_SET_EXPIRED: "[Keyrack] A key set has expired",
    MailKind.KEY_EXPOSED: "[Keyrack] A key was found in public",
    MailKind.HYGIENE_DIGEST: "[Keyrack] Key hygiene to review",
    MailKind.AUDIT_CHAIN_BROKEN: "[Keyrack] An audit log does not verify",
    MailKind.APPROVAL_REQUESTED: "[Keyrack] A change awaits your approval",
    MailKind.APPROVAL_DECIDED: "[Keyrack] Your approval request was decided",
    MailKind.APPROVAL_APPLIED_ALONE: "[Keyrack] A change was applied without a second person",
}


def quoted(text: str) -> str:
    """A name a user chose, on one line and in quotes, for a mail's body."""
    return '"' + " ".join(text.split()).replace('"', "'") + '"'


@dataclass(frozen=True)
class Requester:
    """Who caused a mail: the account and the client address, when someone did (a
    scheduled notice has neither and is bounded by its recipient only)."""

    user_id: int | None = None
    address: str | None = None


SCHEDULED = Requester()


@dataclass(frozen=True, repr=False)
class Reserved:
    """A mail allowed by every limit, its places taken; made only by `Mailer.reserve`."""

    kind: MailKind
    to: str
    places: tuple[throttle.Place, ...]

    def __repr__(self) -> str:  # the address stays out of logs
        return f"Reserved(kind={self.kind.value})"


@dataclass(frozen=True)
class MailLimits:
    """Mails per hour: to a recipient, caused by an account, from an address; resets."""

    per_recipient: int = 20
    per_sender: int = 20
    per_address: int = 30
    resets_per_account: int = 3


@dataclass(frozen=True, repr=False)
class Mailer:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    limits: MailLimits = field(default_factory=MailLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        """The configured mailer, or None when no SMTP host is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else "",
            starttls=settings.smtp_starttls,
            limits=MailLimits(
                per_recipient=settings.mail_per_recipient_per_hour,
                per_sender=settings.mail_per_sender_per_hour,
                per_address=settings.mail_per_address_per_hour,
                resets_per_account=settings.mail_resets_per_account_per_hour,
            ),
        )

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"Mailer(host={self.host!r}, port={self.port}, sender={self.sender!r})"

    def _buckets(self, kind: MailKind, to: str, requester: Requester) -> list[tuple[str, int]]:
        buckets = [(f"mail:to:{to.lower()}", self.limits.per_recipient)]
        if kind is MailKind.PASSWORD_RESET:
            buckets.append((f"mail:reset:{to.lower()}", self.limits.resets_per_account))
        if requester.user_id is not None:
            buckets.append((f"mail:user:{requester.user_id}", self.limits.per_sender))
        if requester.address is not None:
            # An IPv6 caller counts as its /64, as in every per-address limit.
            address = limit_key(requester.address)
            buckets.append((f"mail:address:{address}", self.limits.per_address))
        return buckets

    async def reserve(self, kind: MailKind, to: str, *, requester: Requester) -> Reserved | None:
        """A place for one mail of `kind` to `to`, or None (and nothing held) when a limit
        of the hour is reached."""
        places = []
        for bucket, limit in self._buckets(kind, to, requester):
            places.append(await throttle.reserve(bucket, throttle.Limit(limit, _HOUR)))
            if not places[-1].within:
                # Stop at the first full bucket: a mail that cannot go must not take,
                # even for a moment, a place in the next ones from a mail that can.
                await throttle.release(*places)
                metrics.EMAILS.labels("limited").inc()
                logger.info("A %s mail was not sent: a limit of the hour is reached", kind.value)
                return None
        return Reserved(kind, to, tuple(places))

    async def mail(
        self,
        kind: MailKind,
        recipients: Sequence[str],
        body: Callable[[str], str],
        *,
        requester: Requester,
    ) -> int:
        """Reserves and sends one mail of `kind` to each recipient that no limit holds
        back, `body(recipient)` its text; how many were sent."""
        letters = []
        for to in recipients:
            reserved = await self.reserve(kind, to, requester=requester)
            if reserved is not None:
                letters.append((reserved, body(to)))
        await self.send(letters)
        return len(letters)

    async def send(self, letters: Sequence[tuple[Reserved, str]]) -> None:
        """Sends every reserved mail with its body over one connection.

        A recipient the server refuses is skipped; a connection that fails raises (the
        places are handed back), and the caller retries later.
        """
        if not letters:
            return
        try:
            await self._send(letters)
        except Exception:
            metrics.EMAILS.labels("failed").inc()
            await throttle.release(*(place for reserved, _ in letters for place in reserved.places))
            raise

    async def _send(self, letters: Sequence[tuple[Reserved, str]]) -> None:
        async with aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            start_tls=self.starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
            username=self.username or None,
            password=self.password or None,
        ) as smtp:
            for reserved, body in letters:
                message = EmailMessage()
                message["From"] = self.sender
                message["To"] = reserved.to
                message["Subject"] = SUBJECTS[reserved.kind]
                message.set_content(body)
                try:
                    await smtp.send_message(message, sender=self.sender, recipients=[reserved.to])
                    metrics.EMAILS.labels("sent").inc()
                except aiosmtplib.SMTPRecipientsRefused:
                    metrics.EMAILS.labels("refused").inc()
                    # A refusal of the address itself is final: retrying would only mail
                    # the others again. One line, without the address.
                    logger.warning("Mail server refused the recipient of a %s mail", reserved.kind)
