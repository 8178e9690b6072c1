"""Announces that a verifier was revoked, so no process keeps accepting it from its cache.

The same two steps as app.keysets.events: `announce` inside the transaction (a NOTIFY
on PostgreSQL, delivered to every listening process at commit), `changed` after it.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise.backends.base.client import BaseDBAsyncClient

from app import notices

CHANNEL = "keyrack_verifiers"

_listeners: list[Callable[[int], None]] = []


def subscribe(listener: Callable[[int], None]) -> Callable[[], None]:
    """Calls `listener(verifier_id)` after each change; returns the unsubscribe function."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


async def announce(connection: BaseDBAsyncClient, verifier_id: int) -> None:
    await notices.announce(connection, CHANNEL, verifier_id)


def changed(verifier_id: int) -> None:
    for listener in list(_listeners):
        listener(verifier_id)
