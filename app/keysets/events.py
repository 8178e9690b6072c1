"""Announces that a key set changed, so cached verification answers can be dropped.

`announce` runs inside the change's transaction: on PostgreSQL it issues a NOTIFY,
which the server delivers to every listening process exactly when the transaction
commits (and never if it rolls back). `changed` runs after the commit and tells the
listeners in this process at once.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise.backends.base.client import BaseDBAsyncClient

from app import notices

CHANNEL = "keyrack_key_sets"

_listeners: list[Callable[[int], None]] = []


def subscribe(listener: Callable[[int], None]) -> Callable[[], None]:
    """Calls `listener(key_set_id)` after each change; returns the unsubscribe function."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


async def announce(connection: BaseDBAsyncClient, key_set_id: int) -> None:
    await notices.announce(connection, CHANNEL, key_set_id)


def changed(key_set_id: int) -> None:
    for listener in list(_listeners):
        listener(key_set_id)
