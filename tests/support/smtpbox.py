"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from testbed.net import free_port

# Invitation and reset tokens as Keyrack mails them: alone on an indented line.
TOKEN_LINE = re.compile(r"^    ([A-Za-z0-9_-]{43})\r?$", re.M)


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, part: str) -> list[str]:
        """Who received a message whose subject or body contains `part`, sorted."""
        return sorted(
            str(m["To"])
            for m in self.messages
            if part in str(m["Subject"]) or part in m.get_content()
        )

    def token_for(self, address: str) -> str:
        """The token in the last message to `address`."""
        mine = [m for m in self.messages if str(m["To"]) == address]
        assert mine, f"nothing was mailed to {address}"
        body = mine[-1].get_content()
        found = TOKEN_LINE.findall(body)
        assert len(found) == 1, body
        return str(found[0])

    async def wait_for(self, count: int) -> None:
        """Until `count` messages have arrived (they come in on the server's thread)."""
        for _ in range(500):
            if len(self.messages) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.messages)} messages arrived, not {count}")


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
