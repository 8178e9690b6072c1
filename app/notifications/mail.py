"""Sending email through the configured SMTP server."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from app import metrics
from app.settings import Settings

logger = logging.getLogger("keyrack.notifications")

SMTP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True, repr=False)
class Mailer:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False

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
        )

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"Mailer(host={self.host!r}, port={self.port}, sender={self.sender!r})"

    async def send(self, messages: Sequence[EmailMessage]) -> None:
        """Sends every message over one connection.

        A recipient the server refuses is skipped; a connection that fails raises, and the
        caller retries the whole notice later.
        """
        if not messages:
            return
        try:
            await self._send(messages)
        except Exception:
            metrics.EMAILS.labels("failed").inc()
            raise

    async def _send(self, messages: Sequence[EmailMessage]) -> None:
        async with aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            start_tls=self.starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
            username=self.username or None,
            password=self.password or None,
        ) as smtp:
            for message in messages:
                message["From"] = self.sender
                try:
                    await smtp.send_message(message)
                    metrics.EMAILS.labels("sent").inc()
                except aiosmtplib.SMTPRecipientsRefused:
                    metrics.EMAILS.labels("refused").inc()
                    # A refusal of the address itself is final: retrying would only mail
                    # the others again. One line, without the address.
                    logger.warning("Mail server refused a recipient of %s", message["Subject"])
