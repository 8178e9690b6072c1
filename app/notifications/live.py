"""Live delivery of the bell: each new notification to the subscriptions of its person.

`notify` rings the bell of each person it wrote to: on PostgreSQL by a NOTIFY on
`CHANNEL` inside the writing transaction, which the server delivers to every listening
process (this one included) when it commits and never if it rolls back; on SQLite, where
there is one process, by ringing this process's `Doorbells` at once.

A ring carries the person, not the rows: each of that person's subscriptions then reads
their notifications it has not delivered yet. On SQLite that read waits for the writing
transaction (Tortoise holds the one connection's lock until it commits or rolls back),
so it sees committed rows only. A ring only sets an event: no task is started from the
ringing code, which may run inside the writer's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from app import metrics
from app.notifications.models import Notification

CHANNEL = "keyrack_notifications"
# How many delivered ids a subscription remembers. Ids are taken when a row is inserted
# and a transaction may commit after a later one: the read asks for every row above the
# subscription's floor that it has not delivered, and the floor rises past the oldest
# remembered id only when more than this many are remembered.
REMEMBERED = 100


@dataclass(eq=False)
class Bell:
    """One subscription's doorbell: set when its person may have new notifications."""

    user_id: int
    rung: asyncio.Event = field(default_factory=asyncio.Event)


class Doorbells:
    """The subscriptions of this process, by person."""

    def __init__(self) -> None:
        self._bells: dict[int, set[Bell]] = {}

    def __len__(self) -> int:
        return sum(len(bells) for bells in self._bells.values())

    def add(self, user_id: int) -> Bell:
        bell = Bell(user_id)
        self._bells.setdefault(user_id, set()).add(bell)
        metrics.NOTIFICATION_SUBSCRIPTIONS.inc()
        return bell

    def remove(self, bell: Bell) -> None:
        bells = self._bells.get(bell.user_id, set())
        if bell in bells:
            bells.discard(bell)
            metrics.NOTIFICATION_SUBSCRIPTIONS.dec()
        if not bells:
            self._bells.pop(bell.user_id, None)

    def ring(self, user_id: int) -> None:
        for bell in self._bells.get(user_id, ()):
            bell.rung.set()

    def ring_many(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self.ring(user_id)

    def ring_all(self) -> None:
        """Rings every bell: rings may have been missed (the LISTEN connection was down)."""
        for user_id in list(self._bells):
            self.ring(user_id)


DOORBELLS = Doorbells()


async def _unseen(user_id: int, floor: int, delivered: set[int]) -> list[Notification]:
    rows = await Notification.filter(user_id=user_id, id__gt=floor).order_by("id")
    return [row for row in rows if row.id not in delivered]


async def follow(
    *,
    user_id: int,
    since: int | None,
    still_allowed: Callable[[], Awaitable[bool]],
    doorbells: Doorbells = DOORBELLS,
) -> AsyncIterator[Notification]:
    """Each notification of `user_id` with an id above `since` (from now on, when None), as
    it is committed, oldest first; ends when `still_allowed()` (asked before each
    delivery) says the caller's session has ended, delivering nothing more. The bell is
    taken down however the iteration ends."""
    bell = doorbells.add(user_id)
    try:
        floor = since if since is not None else await latest_id(user_id=user_id)
        delivered: set[int] = set()
        bell.rung.set()  # one look at once: what came between `since` and the bell
        while True:
            await bell.rung.wait()
            bell.rung.clear()
            fresh = await _unseen(user_id, floor, delivered)
            if fresh and not await still_allowed():
                return  # the session ended: the subscription completes
            for notification in fresh:
                delivered.add(notification.id)
                yield notification
            while len(delivered) > REMEMBERED:
                floor = min(delivered)
                delivered.discard(floor)
    finally:
        doorbells.remove(bell)


async def latest_id(*, user_id: int) -> int:
    """The id of the person's latest notification; 0 for none."""
    latest = await Notification.filter(user_id=user_id).order_by("-id").first()
    return latest.id if latest else 0
